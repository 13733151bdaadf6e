"""Rule trees: validation against the allow-list, compilation to ORM filters, previews, the
per-customer check, dependency ordering and the readable rendering."""

import datetime as dt
from decimal import Decimal
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from callcenter.choices import (
    AccountRole,
    CustomerKind,
    CustomerStatus,
    Language,
    OrderStatus,
    SurveyKind,
    TicketKind,
)
from callcenter.errors import ApplicationError
from callcenter.models import Customer
from segments.choices import LifecycleStage, RfmSegmentName, SegmentKind, ValuePotential, ValueTier
from segments.rules import (
    FIELDS,
    MAX_GROUP_DEPTH,
    MAX_NODES,
    RuleError,
    rule_dependencies,
    rule_describe,
    rule_fields_catalog,
    rule_matches,
    rule_preview,
    rule_queryset,
    rule_validate,
    segment_dependency_order,
)
from tests.callcenter.factories import (
    BusinessCustomerFactory,
    CustomerFactory,
    InteractionFactory,
    OrderFactory,
    SurveyFactory,
    TicketFactory,
    UserFactory,
)
from tests.segments.factories import (
    CustomerMetricsFactory,
    SegmentFactory,
    SegmentMembershipFactory,
)
from tests.segments.test_behaviour import HABIT_FIELD_CASES
from tests.segments.test_reach_fields import REACH_FIELD_CASES

SHANGHAI = ZoneInfo("Asia/Shanghai")
AS_OF = dt.datetime(2025, 6, 1, 12, 0, tzinfo=SHANGHAI)
INJECTION = "x' OR 1=1 --"


def days_ago(days: float) -> dt.datetime:
    return AS_OF - dt.timedelta(days=days)


def cond(field: str, cmp: str, value: Any = None, **extra: Any) -> dict[str, Any]:
    node: dict[str, Any] = {"field": field, "cmp": cmp, **extra}
    if value is not None:
        node["value"] = value
    return node


def all_of(*children: Any, **extra: Any) -> dict[str, Any]:
    return {"op": "and", "children": list(children), **extra}


def any_of(*children: Any, **extra: Any) -> dict[str, Any]:
    return {"op": "or", "children": list(children), **extra}


@pytest.fixture
def world(db: None) -> SimpleNamespace:
    """Four active customers and one merged one, with metrics, events and memberships."""
    advisor = UserFactory(username="advisor1")
    alice = CustomerFactory(
        name="alice",
        city="上海",
        region="华东",
        language=Language.ZH_HANS,
        birthday=dt.date(1990, 3, 15),
        advisor=advisor,
        attributes={"vip": "yes", "age": "35", "tier_code": "A1"},
    )
    bob = CustomerFactory(
        name="bob",
        city="北京",
        region="华北",
        language=Language.EN,
        birthday=dt.date(1985, 7, 1),
        sms_opt_out=True,
        attributes={"age": 52, "vip": False},
    )
    corp = BusinessCustomerFactory(
        name="corp",
        company_name="ACME 有限公司",
        industry="Retail",
        employee_count=120,
        city="上海",
        do_not_contact=True,
        attributes={"age": "unknown"},
    )
    prospect = CustomerFactory(name="prospect", city="", region="", attributes={})
    CustomerFactory(name="merged", city="上海", status=CustomerStatus.MERGED, merged_into=alice)
    Customer.objects.filter(pk=bob.pk).update(created_at=dt.datetime(2024, 1, 10, tzinfo=SHANGHAI))
    Customer.objects.filter(pk=bob.pk).update(account=corp, account_role=AccountRole.FINANCE)

    CustomerMetricsFactory(
        customer=alice,
        frequency=5,
        monetary=Decimal("1500.00"),
        avg_order_value=Decimal("300.00"),
        orders_90d=4,
        spend_90d=Decimal("800.00"),
        interactions_30d=0,
        complaints_90d=0,
        last_nps=9,
        avg_sentiment_30d=0.5,
        last_contact_at=days_ago(40),
        first_order_at=days_ago(400),
        last_order_at=days_ago(10),
        r_score=5,
        f_score=4,
        m_score=5,
        rfm_code="545",
        rfm_segment=RfmSegmentName.CHAMPIONS,
        lifecycle_stage=LifecycleStage.ACTIVE,
        value_tier=ValueTier.HIGH,
        churn_probability=0.1,
        cluster=1,
        p_alive=0.9,
        expected_orders_90d=1.5,
        expected_orders_365d=5.0,
        expected_order_value=Decimal("300.00"),
        predicted_value_365d=Decimal("1800.00"),
        spend_lifetime=Decimal("1550.00"),
        value_potential=ValuePotential.KEEP,
    )
    CustomerMetricsFactory(
        customer=bob,
        frequency=1,
        monetary=Decimal("200.00"),
        avg_order_value=Decimal("200.00"),
        complaints_90d=2,
        interactions_30d=2,
        last_nps=3,
        avg_sentiment_30d=-0.4,
        last_contact_at=days_ago(3),
        first_order_at=days_ago(90),
        last_order_at=days_ago(90),
        r_score=2,
        f_score=1,
        m_score=2,
        rfm_code="212",
        rfm_segment=RfmSegmentName.AT_RISK,
        lifecycle_stage=LifecycleStage.DORMANT,
        value_tier=ValueTier.LOW,
        churn_probability=0.8,
        cluster=2,
        p_alive=0.3,
        expected_orders_90d=0.1,
        expected_orders_365d=0.4,
        expected_order_value=Decimal("200.00"),
        predicted_value_365d=Decimal("60.00"),
        spend_lifetime=Decimal("200.00"),
        value_potential=ValuePotential.STEADY,
    )
    CustomerMetricsFactory(
        customer=corp,
        last_order_at=days_ago(200),
        frequency=0,
        monetary=Decimal("0"),
        rfm_segment=RfmSegmentName.LOST,
        lifecycle_stage=LifecycleStage.LOST,
        value_tier=ValueTier.LOW,
        cluster=2,
    )

    for age in (1, 5, 29):
        OrderFactory(customer=alice, placed_at=days_ago(age), amount=Decimal("200.00"))
    OrderFactory(customer=alice, placed_at=days_ago(2), status=OrderStatus.REFUNDED)
    OrderFactory(customer=alice, placed_at=days_ago(100), amount=Decimal("50.00"))
    OrderFactory(customer=bob, placed_at=days_ago(90), amount=Decimal("200.00"))
    TicketFactory(customer=bob, kind=TicketKind.COMPLAINT, opened_at=days_ago(3))
    TicketFactory(customer=bob, kind=TicketKind.COMPLAINT, opened_at=days_ago(20))
    TicketFactory(customer=bob, kind=TicketKind.INQUIRY, opened_at=days_ago(25))
    TicketFactory(customer=corp, kind=TicketKind.COMPLAINT, opened_at=days_ago(60))
    InteractionFactory(customer=bob, occurred_at=days_ago(1))
    InteractionFactory(customer=bob, occurred_at=days_ago(6))
    InteractionFactory(customer=corp, occurred_at=days_ago(8))
    SurveyFactory(customer=alice, kind=SurveyKind.NPS, score=9, responded_at=days_ago(5))
    SurveyFactory(customer=bob, kind=SurveyKind.NPS, score=3, responded_at=days_ago(400))

    vip = SegmentFactory(slug="vip-list", name="VIP list")
    # Installed by a data migration, but a transactional test elsewhere may have flushed it.
    SegmentFactory(slug="rfm-champions", kind=SegmentKind.RFM, key="champions", rule=None)
    SegmentMembershipFactory(segment=vip, customer=alice, entered_at=days_ago(5))
    SegmentMembershipFactory(
        segment=vip, customer=bob, entered_at=days_ago(50), exited_at=days_ago(20)
    )
    return SimpleNamespace(alice=alice, bob=bob, corp=corp, prospect=prospect, advisor=advisor)


def names(tree: Any, as_of: dt.datetime = AS_OF) -> set[str]:
    return set(rule_queryset(tree=tree, as_of=as_of).values_list("name", flat=True))


ACTIVE = {"alice", "bob", "corp", "prospect"}

FIELD_CASES = [
    # profile
    (cond("kind", "eq", CustomerKind.BUSINESS), {"corp"}),
    (cond("kind", "ne", CustomerKind.BUSINESS), {"alice", "bob", "prospect"}),
    (cond("city", "eq", "上海"), {"alice", "corp"}),
    (cond("city", "ne", "上海"), {"bob"}),
    (cond("city", "in", ["北京", "广州"]), {"bob"}),
    (cond("city", "not_in", ["北京"]), {"alice", "corp"}),
    (cond("city", "is_set"), {"alice", "bob", "corp"}),
    (cond("city", "is_empty"), {"prospect"}),
    (cond("region", "contains", "东"), {"alice"}),
    (cond("company_name", "startswith", "acme"), {"corp"}),
    (cond("industry", "eq", "Retail"), {"corp"}),
    (cond("language", "eq", Language.EN), {"bob"}),
    (cond("language", "in", [Language.ZH_HANS]), {"alice", "corp", "prospect"}),
    (cond("employee_count", "gte", 100), {"corp"}),
    (cond("employee_count", "is_empty"), {"alice", "bob", "prospect"}),
    (cond("birthday_month", "eq", 3), {"alice"}),
    (cond("birthday_month", "between", [6, 8]), {"bob"}),
    (cond("created_at", "lt", "2024-06-01"), {"bob"}),
    (cond("created_at", "eq", "2024-01-10"), {"bob"}),
    (cond("advisor", "eq", "advisor1"), {"alice"}),
    (cond("advisor", "ne", "advisor1"), set()),
    (cond("has_advisor", "is_true"), {"alice"}),
    (cond("has_advisor", "is_false"), {"bob", "corp", "prospect"}),
    (cond("is_account_contact", "is_true"), {"bob"}),
    (cond("is_account_contact", "is_false"), {"alice", "corp", "prospect"}),
    (cond("account_role", "eq", AccountRole.FINANCE), {"bob"}),
    (cond("account_role", "in", [AccountRole.HR, AccountRole.FINANCE]), {"bob"}),
    (cond("account", "eq", "corp"), {"bob"}),
    (cond("account", "is_set"), {"bob"}),
    # consent
    (cond("sms_opt_out", "is_true"), {"bob"}),
    (cond("do_not_contact", "is_true"), {"corp"}),
    (cond("call_opt_out", "is_false"), ACTIVE),
    (cond("email_opt_out", "is_true"), set()),
    (cond("wechat_opt_out", "is_true"), set()),
    (cond("wecom_opt_out", "is_false"), ACTIVE),
    # custom attributes: JSON numbers and numeric text compare as numbers
    (cond("attributes.vip", "eq", "yes"), {"alice"}),
    (cond("attributes.vip", "is_true"), {"alice"}),
    (cond("attributes.vip", "is_false"), {"bob"}),
    (cond("attributes.age", "gt", 40), {"bob"}),
    (cond("attributes.age", "lte", 35), {"alice"}),
    (cond("attributes.age", "eq", 35), {"alice"}),
    (cond("attributes.age", "between", [30, 60]), {"alice", "bob"}),
    (cond("attributes.age", "ne", 35), {"bob", "corp"}),
    (cond("attributes.age", "in", ["35", "52"]), {"alice", "bob"}),
    (cond("attributes.age", "not_in", ["35"]), {"bob", "corp"}),
    (cond("attributes.age", "is_set"), {"alice", "bob", "corp"}),
    (cond("attributes.age", "is_empty"), {"prospect"}),
    (cond("attributes.tier_code", "startswith", "a"), {"alice"}),
    (cond("attributes.tier_code", "contains", "1"), {"alice"}),
    # metrics and scores: customers without metrics never match a comparison
    # the value model's predictions: null for the unscored (corp) and the never refreshed
    (cond("p_alive", "gte", 0.5), {"alice"}),
    (cond("p_alive", "is_empty"), {"corp", "prospect"}),
    (cond("expected_orders_90d", "lt", 1), {"bob"}),
    (cond("expected_orders_365d", "between", [1, 10]), {"alice"}),
    (cond("expected_order_value", "eq", 200), {"bob"}),
    (cond("predicted_value_365d", "gt", 100), {"alice"}),
    (cond("predicted_value_365d", "ne", 60), {"alice"}),
    (cond("spend_lifetime", "gte", 200), {"alice", "bob"}),
    (cond("value_potential", "eq", ValuePotential.KEEP), {"alice"}),
    (cond("value_potential", "is_empty"), {"corp", "prospect"}),
    (cond("recency_days", "gt", 60), {"bob", "corp"}),
    (cond("recency_days", "ne", 10), {"bob", "corp"}),
    (cond("recency_days", "is_empty"), {"prospect"}),
    (cond("frequency", "eq", 0), {"corp"}),
    (cond("frequency", "is_set"), {"alice", "bob", "corp"}),
    (cond("monetary", "gte", 1000), {"alice"}),
    (cond("monetary", "between", [100, 500.5]), {"bob"}),
    (cond("avg_order_value", "lt", 250), {"bob"}),
    (cond("orders_90d", "gte", 4), {"alice"}),
    (cond("spend_90d", "gt", 0), {"alice"}),
    (cond("interactions_30d", "eq", 2), {"bob"}),
    (cond("complaints_90d", "gte", 1), {"bob"}),
    (cond("last_nps", "lte", 6), {"bob"}),
    (cond("avg_sentiment_30d", "lt", 0), {"bob"}),
    (cond("days_since_contact", "gt", 30), {"alice"}),
    (cond("first_order_at", "lt", "2024-12-31"), {"alice"}),
    (cond("last_order_at", "gte", "2025-05-01"), {"alice"}),
    (cond("r_score", "eq", 5), {"alice"}),
    (cond("f_score", "lte", 2), {"bob"}),
    (cond("m_score", "gte", 2), {"alice", "bob"}),
    (cond("rfm_code", "eq", "545"), {"alice"}),
    (cond("rfm_segment", "eq", RfmSegmentName.CHAMPIONS), {"alice"}),
    (cond("rfm_segment", "ne", RfmSegmentName.CHAMPIONS), {"bob", "corp"}),
    (cond("rfm_segment", "is_empty"), {"prospect"}),
    (cond("lifecycle_stage", "in", [LifecycleStage.DORMANT, LifecycleStage.LOST]), {"bob", "corp"}),
    (cond("lifecycle_stage", "not_in", [LifecycleStage.LOST]), {"alice", "bob"}),
    (cond("value_tier", "eq", ValueTier.HIGH), {"alice"}),
    (cond("churn_probability", "gte", 0.5), {"bob"}),
    (cond("churn_probability", "is_empty"), {"corp", "prospect"}),
    (cond("cluster", "eq", 2), {"bob", "corp"}),
    # stored membership: open stays only
    (cond("segment", "in", ["vip-list"]), {"alice"}),
    (cond("segment", "not_in", ["vip-list"]), {"bob", "corp", "prospect"}),
    (cond("segment", "in", ["vip-list", "rfm-champions"]), {"alice"}),
    # events in the last N days as of AS_OF
    (cond("orders_count", "gte", 3, days=30), {"alice"}),
    (cond("orders_count", "eq", 4, days=365), {"alice"}),
    (cond("orders_count", "eq", 0, days=30), {"bob", "corp", "prospect"}),
    (cond("orders_count", "between", [1, 2], days=100), {"bob"}),
    (cond("spend_sum", "gt", 500, days=30), {"alice"}),
    (cond("spend_sum", "eq", 650, days=365), {"alice"}),
    (cond("spend_sum", "lt", 1, days=30), {"bob", "corp", "prospect"}),
    (cond("complaints_count", "gte", 2, days=30), {"bob"}),
    (cond("complaints_count", "gte", 1, days=90), {"bob", "corp"}),
    (cond("tickets_count", "eq", 3, days=30), {"bob"}),
    (cond("interactions_count", "gte", 2, days=7), {"bob"}),
    (cond("interactions_count", "ne", 0, days=7), {"bob"}),
    (cond("surveys_count", "gte", 1, days=30), {"alice"}),
    (cond("surveys_count", "gte", 1, days=3650), {"alice", "bob"}),
]


@pytest.mark.parametrize(("tree", "expected"), FIELD_CASES)
def test_each_field_compiles_and_matches_the_right_customers(
    world: SimpleNamespace, tree: dict[str, Any], expected: set[str]
) -> None:
    assert names(tree) == expected


@pytest.mark.parametrize(("tree", "expected"), FIELD_CASES)
def test_a_negated_group_is_the_exact_complement(
    world: SimpleNamespace, tree: dict[str, Any], expected: set[str]
) -> None:
    assert names(all_of(tree, **{"not": True})) == ACTIVE - expected


def test_every_allowed_field_is_exercised() -> None:
    tested = {tree["field"] for tree, _expected in FIELD_CASES}
    # Buying habits, service history, age and gender: tests/segments/test_behaviour.py.
    tested |= {condition["field"] for condition, _expected in HABIT_FIELD_CASES}
    # Reachability: tests/segments/test_reach_fields.py.
    tested |= {condition["field"] for condition, _expected in REACH_FIELD_CASES}
    assert set(FIELDS) <= tested


def test_and_or_nesting(world: SimpleNamespace) -> None:
    tree = all_of(
        cond("monetary", "gte", 100),
        any_of(cond("city", "eq", "北京"), cond("segment", "in", ["vip-list"])),
    )
    assert names(tree) == {"alice", "bob"}
    tree = any_of(
        all_of(cond("city", "eq", "上海"), cond("kind", "eq", CustomerKind.PERSON)),
        all_of(cond("recency_days", "is_empty"), any_of(cond("city", "is_empty"))),
    )
    assert names(tree) == {"alice", "prospect"}
    tree = all_of(
        cond("city", "eq", "上海"), any_of(cond("has_advisor", "is_true"), **{"not": True})
    )
    assert names(tree) == {"corp"}


def test_a_single_condition_is_a_valid_tree(world: SimpleNamespace) -> None:
    assert names(cond("value_tier", "eq", ValueTier.HIGH)) == {"alice"}


def test_merged_customers_never_match(world: SimpleNamespace) -> None:
    assert "merged" not in names(cond("city", "eq", "上海"))
    merged = Customer.objects.get(name="merged")
    assert not rule_matches(tree=cond("city", "eq", "上海"), customer_id=merged.pk, as_of=AS_OF)


def test_event_windows_are_relative_to_as_of(world: SimpleNamespace) -> None:
    # given: an order exactly at the window's start (excluded), one just inside, one after as_of
    carol = CustomerFactory(name="carol")
    OrderFactory(customer=carol, placed_at=days_ago(7))
    OrderFactory(customer=carol, placed_at=days_ago(7) + dt.timedelta(seconds=1))
    OrderFactory(customer=carol, placed_at=AS_OF)
    OrderFactory(customer=carol, placed_at=AS_OF + dt.timedelta(hours=1))
    # then: (as_of - days, as_of]
    assert "carol" in names(cond("orders_count", "eq", 2, days=7))
    assert "carol" in names(cond("orders_count", "eq", 1, days=1))
    assert "carol" in names(
        cond("orders_count", "eq", 2, days=1), as_of=AS_OF + dt.timedelta(hours=1)
    )
    assert names(cond("orders_count", "gte", 3, days=30), as_of=days_ago(10)) == set()
    assert names(cond("orders_count", "gte", 1, days=30), as_of=days_ago(10)) == {"alice"}


def test_naive_as_of_is_refused(world: SimpleNamespace) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        rule_queryset(tree=cond("city", "is_set"), as_of=dt.datetime(2025, 1, 1))  # noqa: DTZ001


def ok() -> dict[str, Any]:
    return cond("city", "eq", "上海")


def nested(depth: int) -> dict[str, Any]:
    tree = ok()
    for _level in range(depth):
        tree = all_of(tree)
    return tree


ERROR_CASES = [
    ("not-a-dict-root", ["x"], "", "a node must be a JSON object"),
    ("not-a-dict-child", all_of(ok(), "x"), "children[1]", "a node must be a JSON object"),
    ("neither", all_of({"cmp": "eq"}), "children[0]", "a node is either a group"),
    ("unknown-op", {"op": "xor", "children": [ok()]}, "", 'unknown group operator "xor"'),
    ("empty-children", all_of(ok(), any_of()), "children[1]", "non-empty list of children"),
    ("children-not-list", {"op": "and", "children": "x"}, "", "non-empty list of children"),
    ("not-flag", all_of(ok(), **{"not": "yes"}), "", '"not" must be true or false'),
    ("group-key", all_of(ok(), extra=1), "", 'unexpected key "extra"'),
    ("condition-key", all_of(cond("city", "eq", "x", sql="1")), "children[0]", "unexpected key"),
    (
        "unknown-field",
        all_of(ok(), ok(), any_of(cond("colour", "eq", "red"))),
        "children[2].children[0]",
        'unknown field "colour"',
    ),
    ("field-not-text", all_of(cond(1, "eq", "x")), "children[0]", "unknown field 1"),
    ("unknown-operator", all_of(cond("city", "like", "x")), "children[0]", 'operator "like"'),
    (
        "operator-for-type",
        all_of(cond("monetary", "contains", 1)),
        "children[0]",
        'operator "contains" is not allowed for number field "monetary"',
    ),
    (
        "operator-for-choice",
        all_of(cond("kind", "gt", "person")),
        "children[0]",
        'operator "gt" is not allowed for choice field "kind"',
    ),
    ("number-as-text", all_of(cond("monetary", "gte", "1000")), "children[0]", "a number"),
    ("bool-as-number", all_of(cond("monetary", "gte", True)), "children[0]", "a number"),
    ("nan", all_of(cond("monetary", "gte", float("nan"))), "children[0]", "a number"),
    ("huge", all_of(cond("monetary", "gte", 10**13)), "children[0]", "a number"),
    ("fraction-for-int", all_of(cond("frequency", "gt", 2.5)), "children[0]", "whole number"),
    ("out-of-bounds", all_of(cond("birthday_month", "eq", 13)), "children[0]", "from 1 to 12"),
    ("score-bounds", all_of(cond("r_score", "eq", 0)), "children[0]", "from 1 to 5"),
    ("bad-choice", all_of(cond("value_tier", "eq", "gold")), "children[0]", "invalid choice"),
    ("bad-date", all_of(cond("created_at", "gt", "2024-02-30")), "children[0]", "YYYY-MM-DD"),
    ("date-format", all_of(cond("created_at", "gt", "01/02/2024")), "children[0]", "YYYY-MM-DD"),
    ("empty-text", all_of(cond("city", "eq", "  ")), "children[0]", "non-empty text"),
    ("text-not-list", all_of(cond("city", "in", "上海")), "children[0]", "list of 1 to 500"),
    ("empty-list", all_of(cond("city", "in", [])), "children[0]", "list of 1 to 500"),
    ("long-list", all_of(cond("city", "in", ["x"] * 501)), "children[0]", "list of 1 to 500"),
    ("between-shape", all_of(cond("monetary", "between", [1])), "children[0]", "two values"),
    ("between-order", all_of(cond("monetary", "between", [5, 1])), "children[0]", "low value"),
    ("missing-value", all_of(cond("city", "eq")), "children[0]", 'operator "eq" needs a value'),
    ("value-not-taken", all_of(cond("city", "is_set", "x")), "children[0]", "takes no value"),
    (
        "missing-days",
        all_of(cond("orders_count", "gte", 1)),
        "children[0]",
        '"orders_count" needs "days"',
    ),
    ("days-zero", all_of(cond("orders_count", "gte", 1, days=0)), "children[0]", "from 1 to 3650"),
    ("days-big", all_of(cond("tickets_count", "gt", 1, days=3651)), "children[0]", "1 to 3650"),
    ("days-text", all_of(cond("orders_count", "gt", 1, days="30")), "children[0]", "1 to 3650"),
    ("days-bool", all_of(cond("orders_count", "gt", 1, days=True)), "children[0]", "1 to 3650"),
    ("days-elsewhere", all_of(cond("city", "eq", "x", days=3)), "children[0]", "only applies"),
    ("count-negative", all_of(cond("orders_count", "gt", -1, days=3)), "children[0]", "at least"),
    (
        "attribute-key",
        all_of(ok(), cond("attributes.a;drop", "eq", "x")),
        "children[1]",
        'invalid custom attribute key "a;drop"',
    ),
    ("attribute-empty-key", all_of(cond("attributes.", "is_set")), "children[0]", "invalid"),
    ("attribute-long-key", all_of(cond("attributes." + "k" * 65, "is_set")), "children[0]", "key"),
    ("attribute-gt-text", all_of(cond("attributes.age", "gt", "40")), "children[0]", "a number"),
    ("attribute-mixed", all_of(cond("attributes.a", "in", ["x", 1])), "children[0]", "only"),
    ("slug-format", all_of(cond("segment", "in", ["a b"])), "children[0]", "segment slugs"),
    ("segment-operator", all_of(cond("segment", "eq", "x")), "children[0]", "not allowed"),
    (
        "too-deep",
        nested(MAX_GROUP_DEPTH + 1),
        "children[0]" + ".children[0]" * (MAX_GROUP_DEPTH - 1),
        "nested at most 6 deep",
    ),
    ("too-many", all_of(*[ok()] * MAX_NODES), f"children[{MAX_NODES - 1}]", "at most 100"),
]


@pytest.mark.parametrize(
    ("tree", "path", "fragment"),
    [case[1:] for case in ERROR_CASES],
    ids=[case[0] for case in ERROR_CASES],
)
def test_bad_nodes_are_refused_with_their_path(
    db: None, tree: Any, path: str, fragment: str
) -> None:
    with pytest.raises(RuleError) as caught:
        rule_validate(tree=tree)
    assert caught.value.path == path
    assert caught.value.message.startswith(f"{path or 'root'}: ")
    assert fragment in caught.value.message
    assert caught.value.extra == {"path": path}


def test_limits_are_inclusive(db: None) -> None:
    rule_validate(tree=nested(MAX_GROUP_DEPTH))
    rule_validate(tree=all_of(*[ok()] * (MAX_NODES - 1)))
    rule_validate(tree=all_of(cond("city", "in", ["x"] * 500)))
    rule_validate(tree=cond("orders_count", "gte", 1, days=3650))


def test_error_messages_read_like_the_node(db: None) -> None:
    tree = all_of(ok(), ok(), cond("colour", "eq", "red"))
    with pytest.raises(RuleError, match=r'^children\[2\]: unknown field "colour"$'):
        rule_validate(tree=tree)
    tree = all_of(cond("monetary", "contains", "1"))
    expected = r'^children\[0\]: operator "contains" is not allowed for number field "monetary"$'
    with pytest.raises(RuleError, match=expected):
        rule_validate(tree=tree)
    assert issubclass(RuleError, ApplicationError)


def test_unknown_segment_slug_is_refused(world: SimpleNamespace) -> None:
    tree = all_of(ok(), any_of(ok(), cond("segment", "in", ["vip-list", "no-such"])))
    with pytest.raises(RuleError, match='unknown segment "no-such"') as caught:
        rule_validate(tree=tree)
    assert caught.value.path == "children[1].children[1]"
    with pytest.raises(RuleError):
        rule_queryset(tree=tree)


def test_invalid_tree_is_refused_by_every_entry_point(db: None) -> None:
    bad = cond("colour", "eq", "red")
    for call in (
        lambda: rule_queryset(tree=bad),
        lambda: rule_matches(tree=bad, customer_id=1),
        lambda: rule_preview(tree=bad),
        lambda: rule_dependencies(tree=bad),
        lambda: rule_describe(tree=bad),
    ):
        with pytest.raises(RuleError, match="colour"):
            call()


def test_values_are_sql_parameters_never_sql_text(world: SimpleNamespace) -> None:
    for tree in (
        cond("city", "eq", INJECTION),
        cond("city", "contains", INJECTION),
        cond("attributes.vip", "eq", INJECTION),
        cond("advisor", "in", [INJECTION]),
        any_of(cond("city", "eq", INJECTION), cond("attributes.x", "startswith", INJECTION)),
    ):
        assert names(tree) == set()
        sql, params = rule_queryset(tree=tree, as_of=AS_OF).query.sql_with_params()
        assert "1=1" not in sql
        assert any(INJECTION in str(param) for param in params)
    # the same text stored as data is found as data
    CustomerFactory(name="odd", city=INJECTION, attributes={"vip": INJECTION})
    assert names(cond("city", "eq", INJECTION)) == {"odd"}
    assert names(cond("attributes.vip", "eq", INJECTION)) == {"odd"}


def test_like_wildcards_in_values_are_literal(world: SimpleNamespace) -> None:
    CustomerFactory(name="pct", city="100%_city")
    assert names(cond("city", "contains", "%")) == {"pct"}
    assert names(cond("city", "startswith", "_")) == set()


def test_non_numeric_attribute_text_does_not_break_numeric_comparisons(
    world: SimpleNamespace,
) -> None:
    CustomerFactory(name="weird", attributes={"age": "1" * 400})
    CustomerFactory(name="object", attributes={"age": {"years": 3}})
    assert names(cond("attributes.age", "gte", 0)) == {"alice", "bob"}


def test_rule_matches_checks_one_customer_in_one_query(
    world: SimpleNamespace, django_assert_num_queries: Any
) -> None:
    tree = all_of(
        cond("monetary", "gte", 1000),
        any_of(
            cond("city", "eq", "上海"),
            cond("segment", "in", ["vip-list"]),
            cond("orders_count", "gte", 3, days=30),
            cond("attributes.age", "gt", 30),
        ),
    )
    with django_assert_num_queries(1):
        assert rule_matches(tree=tree, customer_id=world.alice.pk, as_of=AS_OF)
    with django_assert_num_queries(1):
        assert not rule_matches(tree=tree, customer_id=world.bob.pk, as_of=AS_OF)
    assert not rule_matches(tree=tree, customer_id=world.prospect.pk, as_of=AS_OF)
    # care-rule style conditions
    assert rule_matches(
        tree=all_of(
            cond("segment", "in", ["vip-list"]),
            cond("value_tier", "eq", ValueTier.HIGH),
            cond("lifecycle_stage", "eq", LifecycleStage.ACTIVE),
            cond("kind", "eq", CustomerKind.PERSON),
            cond("attributes.vip", "is_true"),
        ),
        customer_id=world.alice.pk,
    )


def test_rule_matches_treats_an_unknown_segment_as_empty(world: SimpleNamespace) -> None:
    tree = cond("segment", "not_in", ["gone"])
    assert rule_matches(tree=tree, customer_id=world.alice.pk)


def test_preview_returns_count_and_sample(
    world: SimpleNamespace, django_assert_num_queries: Any
) -> None:
    tree = cond("city", "is_set")
    with django_assert_num_queries(2):
        preview = rule_preview(tree=tree, sample_size=2, as_of=AS_OF)
    assert preview["count"] == 3
    first_two = sorted([world.alice, world.bob, world.corp], key=lambda c: c.pk)[:2]
    assert preview["sample"] == [
        {"id": c.pk, "external_id": c.external_id, "name": c.name, "city": c.city}
        for c in first_two
    ]
    # a tree naming segments costs one more query: their slugs are checked
    with django_assert_num_queries(3):
        preview = rule_preview(tree=cond("segment", "in", ["vip-list"]), as_of=AS_OF)
    assert preview == {
        "count": 1,
        "sample": [
            {
                "id": world.alice.pk,
                "external_id": world.alice.external_id,
                "name": "alice",
                "city": "上海",
            }
        ],
    }


def test_preview_sample_size_is_bounded(db: None) -> None:
    with pytest.raises(RuleError, match="sample size"):
        rule_preview(tree=ok(), sample_size=101)
    assert rule_preview(tree=ok(), sample_size=0) == {"count": 0, "sample": []}


def test_dependencies_and_refresh_order(db: None) -> None:
    tree = all_of(
        cond("segment", "in", ["b", "rfm-champions"]),
        any_of(cond("segment", "not_in", ["c"])),
    )
    assert rule_dependencies(tree=tree) == {"b", "rfm-champions", "c"}
    assert rule_dependencies(tree=ok()) == set()
    order = segment_dependency_order(
        segments={
            "a": tree,
            "b": cond("segment", "in", ["c"]),
            "c": cond("segment", "in", ["rfm-champions"]),
            "d": ok(),
            "broken": {"op": "??", "children": [cond("segment", "in", ["a"])]},
        }
    )
    assert sorted(order) == ["a", "b", "broken", "c", "d"]
    assert order.index("c") < order.index("b") < order.index("a") < order.index("broken")


def test_dependency_cycles_are_refused(db: None) -> None:
    with pytest.raises(RuleError, match="cycle: a → b → c → a"):
        segment_dependency_order(
            segments={
                "a": cond("segment", "in", ["b"]),
                "b": cond("segment", "in", ["c"]),
                "c": any_of(ok(), cond("segment", "not_in", ["a"])),
                "d": ok(),
            }
        )
    with pytest.raises(RuleError, match="cycle: a → a"):
        segment_dependency_order(segments={"a": cond("segment", "in", ["a"])})


def test_validating_a_segment_refuses_including_itself_or_a_cycle(world: SimpleNamespace) -> None:
    SegmentFactory(slug="uses-new", rule=cond("segment", "in", ["new-seg"]))
    with pytest.raises(RuleError, match="cannot include itself") as caught:
        rule_validate(tree=all_of(ok(), cond("segment", "in", ["new-seg"])), segment_slug="new-seg")
    assert caught.value.path == "children[1]"
    with pytest.raises(RuleError, match="cycle"):
        rule_validate(tree=cond("segment", "in", ["uses-new"]), segment_slug="new-seg")
    rule_validate(tree=cond("segment", "in", ["vip-list"]), segment_slug="new-seg")


def test_describe_renders_a_short_reason(db: None) -> None:
    tree = all_of(
        cond("monetary", "gte", 1000),
        any_of(cond("city", "eq", "上海"), cond("segment", "in", ["rfm-champions"])),
    )
    assert rule_describe(tree=tree) == (
        "monetary ≥ 1000 AND (city = 上海 OR segment in [rfm-champions])"
    )
    tree = any_of(
        cond("orders_count", "gte", 2, days=30),
        all_of(cond("sms_opt_out", "is_true"), cond("r_score", "between", [1, 2]), **{"not": True}),
        all_of(cond("created_at", "lt", "2024-01-01")),
        cond("churn_probability", "gt", 0.5),
        cond("attributes.age", "ne", 35),
    )
    assert rule_describe(tree=tree) == (
        "orders_count[30d] ≥ 2 OR NOT (sms_opt_out is true AND r_score between 1 and 2)"
        " OR created_at < 2024-01-01 OR churn_probability > 0.5 OR attributes.age ≠ 35"
    )
    long = all_of(*[cond("city", "eq", "上海")] * 40)
    short = rule_describe(tree=long, max_length=255)
    assert len(short) == 255
    assert short.endswith("…")


def test_fields_catalog_describes_every_field(db: None) -> None:
    catalog = rule_fields_catalog()
    by_name = {entry["name"]: entry for entry in catalog}
    assert set(FIELDS) | {"attributes."} == set(by_name)
    monetary = by_name["monetary"]
    assert monetary["type"] == "number"
    assert monetary["integer"] is False
    assert "contains" not in [op["value"] for op in monetary["operators"]]
    assert {op["value"] for op in by_name["value_tier"]["operators"]} >= {"eq", "in", "is_empty"}
    assert {c["value"] for c in by_name["value_tier"]["choices"]} == set(ValueTier.values)
    assert by_name["orders_count"]["needs_days"] is True
    assert by_name["birthday_month"]["min"] == 1
    assert by_name["birthday_month"]["max"] == 12
    assert by_name["attributes."]["pattern"] == r"^attributes\.[A-Za-z0-9_]{1,64}$"
    assert all(isinstance(entry["label"], str) and entry["label"] for entry in catalog)

"""The value model's fields in rules and the builder (probability still active, expected orders,
expected order value, predicted value, spend ever, the potential-value layer), and capacity
priority by predicted value."""

import datetime as dt
from collections import Counter
from decimal import Decimal
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from segments.choices import PriorityField, RunStatus, ValuePotential
from segments.models import RefreshRun, SegmentMembership
from segments.rules import RuleError, rule_fields_catalog, rule_queryset, rule_validate
from segments.services.memberships import rule_memberships_refresh
from segments.services.segments import segment_create
from tests.callcenter.factories import CustomerFactory
from tests.segments.factories import CustomerMetricsFactory

AS_OF = dt.datetime(2025, 6, 1, 12, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def cond(field: str, cmp: str, value: Any = None) -> dict[str, Any]:
    node: dict[str, Any] = {"field": field, "cmp": cmp}
    if value is not None:
        node["value"] = value
    return node


@pytest.fixture
def scored(db: None) -> SimpleNamespace:
    """Three customers the value model scored, one it did not (no orders), one never refreshed."""

    def customer(name: str, **metrics: Any) -> Any:
        row = CustomerFactory(name=name)
        if metrics:
            CustomerMetricsFactory(customer=row, **metrics)
        return row

    grower = customer(
        "grower",
        spend_lifetime=Decimal("300.00"),
        p_alive=0.95,
        expected_orders_90d=1.8,
        expected_orders_365d=6.2,
        expected_order_value=Decimal("410.50"),
        predicted_value_365d=Decimal("2400.00"),
        value_potential=ValuePotential.GROW,
    )
    keeper = customer(
        "keeper",
        spend_lifetime=Decimal("9000.00"),
        p_alive=0.8,
        expected_orders_90d=0.9,
        expected_orders_365d=3.1,
        expected_order_value=Decimal("520.00"),
        predicted_value_365d=Decimal("1500.00"),
        value_potential=ValuePotential.KEEP,
    )
    slipper = customer(
        "slipper",
        spend_lifetime=Decimal("7000.00"),
        p_alive=0.2,
        expected_orders_90d=0.05,
        expected_orders_365d=0.2,
        expected_order_value=Decimal("350.00"),
        predicted_value_365d=Decimal("70.00"),
        value_potential=ValuePotential.SLIPPING,
    )
    prospect = customer("prospect", spend_lifetime=Decimal("0"))
    customer("never")
    return SimpleNamespace(grower=grower, keeper=keeper, slipper=slipper, prospect=prospect)


def names(tree: Any) -> set[str]:
    return set(rule_queryset(tree=tree, as_of=AS_OF).values_list("name", flat=True))


SELECTION_CASES = [
    (cond("p_alive", "gte", 0.5), {"grower", "keeper"}),
    (cond("p_alive", "between", [0.1, 0.3]), {"slipper"}),
    (cond("p_alive", "is_empty"), {"prospect", "never"}),
    (cond("expected_orders_90d", "gt", 1), {"grower"}),
    (cond("expected_orders_365d", "lt", 1), {"slipper"}),
    (cond("expected_order_value", "gte", 400), {"grower", "keeper"}),
    (cond("predicted_value_365d", "gte", 1500), {"grower", "keeper"}),
    (cond("predicted_value_365d", "eq", 1500.0), {"keeper"}),
    (cond("predicted_value_365d", "ne", 70), {"grower", "keeper"}),
    (cond("predicted_value_365d", "is_set"), {"grower", "keeper", "slipper"}),
    (cond("spend_lifetime", "gt", 5000), {"keeper", "slipper"}),
    (cond("spend_lifetime", "eq", 0), {"prospect"}),
    (cond("value_potential", "eq", ValuePotential.GROW), {"grower"}),
    (
        cond("value_potential", "in", [ValuePotential.KEEP, ValuePotential.SLIPPING]),
        {"keeper", "slipper"},
    ),
    (cond("value_potential", "ne", ValuePotential.GROW), {"keeper", "slipper"}),
    (cond("value_potential", "not_in", [ValuePotential.GROW]), {"keeper", "slipper"}),
    # blank for the prospect (scored, no orders), no row for the customer never refreshed
    (cond("value_potential", "is_empty"), {"prospect", "never"}),
    (cond("value_potential", "is_set"), {"grower", "keeper", "slipper"}),
    # the example: high predicted value, low past spend
    (
        {
            "op": "and",
            "children": [
                cond("predicted_value_365d", "gte", 1000),
                cond("spend_lifetime", "lt", 1000),
            ],
        },
        {"grower"},
    ),
]


@pytest.mark.parametrize(("tree", "expected"), SELECTION_CASES)
def test_value_fields_select_the_right_customers(
    scored: SimpleNamespace, tree: dict[str, Any], expected: set[str]
) -> None:
    assert names(tree) == expected


@pytest.mark.parametrize(
    ("tree", "message"),
    [
        (cond("p_alive", "gt", 1.5), '"p_alive" needs a number from 0 to 1, not 1.5'),
        (cond("p_alive", "lt", -0.1), '"p_alive" needs a number from 0 to 1, not -0.1'),
        (cond("p_alive", "eq", "high"), '"p_alive" needs a number, not "high"'),
        (cond("expected_orders_90d", "gte", -1), '"expected_orders_90d" needs a number at least 0'),
        (
            cond("predicted_value_365d", "between", [500, 100]),
            '"between" needs the low value first',
        ),
        (cond("predicted_value_365d", "gt", True), '"predicted_value_365d" needs a number'),
        (cond("spend_lifetime", "contains", "9"), 'operator "contains" is not allowed'),
        (
            cond("value_potential", "eq", "rich"),
            'invalid choice "rich" for "value_potential" (choose from: grow, keep, slipping, '
            "steady)",
        ),
        (cond("value_potential", "gt", "grow"), 'operator "gt" is not allowed'),
        (cond("value_potential", "in", []), 'operator "in" needs a list of 1 to 500 values'),
    ],
)
def test_bad_values_are_refused_with_a_clear_error(tree: dict[str, Any], message: str) -> None:
    with pytest.raises(RuleError) as refused:
        rule_validate(tree=tree)

    assert message in refused.value.message


def test_fractions_are_kept_for_float_and_money_fields() -> None:
    # an int-typed field would refuse 0.25; these are float and decimal
    rule_validate(tree=cond("p_alive", "gte", 0.25))
    rule_validate(tree=cond("expected_orders_90d", "gte", 0.5))
    rule_validate(tree=cond("predicted_value_365d", "gte", 99.99))


def test_the_builder_catalog_offers_the_value_fields() -> None:
    catalog = {entry["name"]: entry for entry in rule_fields_catalog()}

    p_alive = catalog["p_alive"]
    assert (p_alive["family"], p_alive["type"], p_alive["integer"]) == ("metrics", "number", False)
    assert (p_alive["min"], p_alive["max"]) == (0, 1)
    assert catalog["expected_orders_90d"]["min"] == 0
    assert catalog["expected_orders_90d"]["integer"] is False
    assert catalog["predicted_value_365d"]["integer"] is False
    assert {"expected_orders_365d", "expected_order_value", "spend_lifetime"} <= set(catalog)
    potential = catalog["value_potential"]
    assert potential["type"] == "choice"
    assert [choice["value"] for choice in potential["choices"]] == list(ValuePotential.values)
    assert {op["value"] for op in potential["operators"]} >= {"eq", "in", "is_empty", "is_set"}


def test_the_builder_catalog_is_translated(scored: SimpleNamespace) -> None:
    from django.utils import translation

    with translation.override("zh-hans"):
        catalog = {entry["name"]: entry for entry in rule_fields_catalog()}

    assert catalog["predicted_value_365d"]["label"] != "predicted value, 365 days"
    assert (
        catalog["value_potential"]["choices"][0]["label"]
        != "Grow: high predicted, lower past value"
    )


def test_a_capped_segment_keeps_the_highest_predicted_values(
    scored: SimpleNamespace, supervisor_user: Any
) -> None:
    # given a rule segment of everyone with metrics, capped to two by predicted value
    segment = segment_create(
        name="Worth calling",
        rule=cond("spend_lifetime", "gte", 0),
        capacity=2,
        priority_field=PriorityField.PREDICTED_VALUE,
        created_by=supervisor_user,
    )
    run = RefreshRun.objects.create(
        as_of=AS_OF, window_days=365, status=RunStatus.RUNNING, started_at=timezone.now()
    )

    # when the memberships are computed
    rule_memberships_refresh(
        run_id=run.pk, as_of=AS_OF, now=timezone.now(), builtin_moves=Counter()
    )

    # then the two with the highest predicted value stay, whatever they spent before
    members = set(
        SegmentMembership.objects.filter(segment=segment, exited_at__isnull=True).values_list(
            "customer_id", flat=True
        )
    )
    assert members == {scored.grower.pk, scored.keeper.pk}

    # and ascending keeps the lowest predicted value first; no prediction goes last
    segment.priority_descending = False
    segment.save()
    rule_memberships_refresh(
        run_id=run.pk, as_of=AS_OF, now=timezone.now(), builtin_moves=Counter()
    )
    members = set(
        SegmentMembership.objects.filter(segment=segment, exited_at__isnull=True).values_list(
            "customer_id", flat=True
        )
    )
    assert members == {scored.slipper.pk, scored.keeper.pk}

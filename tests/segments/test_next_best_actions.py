"""Next best actions: validation of the rules admins write (condition, placeholders, values),
and their evaluation for one customer (which rules fire, in order, placeholders filled, one
query for all rules, the cache dropped by writes)."""

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone, translation

from callcenter.choices import CustomerStatus
from callcenter.errors import ApplicationError
from callcenter.models import Customer
from segments.choices import ValuePotential
from segments.models import CustomerBehaviour, CustomerReach, NextBestAction
from segments.next_best_actions import (
    next_best_actions_for_customer,
    placeholders_check,
    placeholders_fill,
)
from segments.rules import RuleError
from segments.services.next_best_actions import (
    next_best_action_create,
    next_best_action_delete,
    next_best_action_move,
    next_best_action_update,
)
from tests.callcenter.factories import CustomerFactory, UserFactory
from tests.segments.factories import CustomerMetricsFactory

pytestmark = pytest.mark.django_db

OVERDUE = {
    "op": "and",
    "children": [
        {"field": "top_category", "cmp": "is_set"},
        {"field": "overdue_ratio", "cmp": "gte", "value": 1.2},
    ],
}


def habits(customer: Customer, **values: Any) -> CustomerBehaviour:
    return CustomerBehaviour.objects.create(
        customer=customer, refreshed_at=timezone.now(), **values
    )


@pytest.fixture
def overdue_buyer() -> Customer:
    """Buys tea every 40 days; last paid order 65 days ago (25 days overdue)."""
    customer = CustomerFactory(name="Zhao Lei")
    CustomerMetricsFactory(
        customer=customer,
        last_order_at=timezone.now() - dt.timedelta(days=65, hours=2),
        predicted_value_365d=Decimal("1234.50"),
        p_alive=0.81,
        value_potential=ValuePotential.GROW,
    )
    habits(
        customer,
        top_category="Tea",
        top_category_share=0.62,
        median_gap_days=40.0,
        usual_hour=19,
        preferred_channel="app",
    )
    return customer


@pytest.fixture
def only_custom_rules() -> None:
    """The installed defaults off, so a test sees only its own rules."""
    NextBestAction.objects.update(is_active=False)


def create(**values: Any) -> NextBestAction:
    fields: dict[str, Any] = {
        "name": "Offer the usual category",
        "condition": OVERDUE,
        "action_text": "Offer {top_category}.",
        "reason_text": "Usually buys {top_category} every {median_gap_days} days, "
        "{overdue_days} days overdue.",
        "created_by": None,
        **values,
    }
    return next_best_action_create(**fields)


# -- validation -------------------------------------------------------------------------------


def test_unknown_placeholder_is_refused_with_its_name_and_the_allowed_ones() -> None:
    with pytest.raises(ApplicationError) as refused:
        placeholders_check("Offer {top_categroy}.", field="action_text")

    assert '"{top_categroy}"' in refused.value.message
    assert "{top_category}" in refused.value.message
    assert refused.value.extra == {"field": "action_text"}


@pytest.mark.parametrize(
    "text", ["Offer {top_category", "Offer }", "{top_category.__class__}", "{0}", "{}"]
)
def test_braces_that_are_not_placeholders_are_refused(text: str) -> None:
    with pytest.raises(ApplicationError):
        placeholders_check(text, field="reason_text")


def test_placeholders_are_filled_by_name_only() -> None:
    filled = placeholders_fill("Offer {top_category} ({name})", {"top_category": "Tea"})

    assert filled == "Offer Tea (—)"


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"action_text": "Offer {category}."}, "action_text"),
        ({"reason_text": "overdue by {days}"}, "reason_text"),
        ({"action_text": "  "}, "action_text"),
        ({"name": ""}, "name"),
        ({"position": -1}, "position"),
        ({"channel": "pigeon"}, "channel"),
    ],
)
def test_bad_values_are_refused_and_nothing_is_saved(values: dict[str, Any], field: str) -> None:
    before = NextBestAction.objects.count()

    with pytest.raises(ApplicationError) as refused:
        create(**values)

    assert refused.value.extra.get("field") == field
    assert NextBestAction.objects.count() == before


def test_a_bad_condition_is_refused_naming_its_node() -> None:
    tree = {"op": "and", "children": [{"field": "top_category", "cmp": "gte", "value": 3}]}

    with pytest.raises(RuleError) as refused:
        create(condition=tree)

    assert refused.value.path == "children[0]"
    assert not NextBestAction.objects.filter(name="Offer the usual category").exists()


def test_the_defaults_are_installed_valid_and_translated_while_unchanged() -> None:
    defaults = NextBestAction.objects.exclude(key="").order_by("position")

    assert [rule.key for rule in defaults] == [
        "resolve-complaint",
        "overdue-category",
        "slipping-retention",
        "grow-upsell",
    ]
    for rule in defaults:
        placeholders_check(rule.action_text, field="action_text")
        placeholders_check(rule.reason_text, field="reason_text")
        next_best_action_update(action=rule, updated_by=None, condition=rule.condition)
    overdue = defaults.get(key="overdue-category")
    with translation.override("zh-hans"):
        assert overdue.display("action_text") == "推荐{top_category}。"
    next_best_action_update(action=overdue, updated_by=None, action_text="Offer {top_category}!")
    with translation.override("zh-hans"):
        assert overdue.display("action_text") == "Offer {top_category}!"


# -- evaluation -------------------------------------------------------------------------------


def test_matching_rules_fire_in_position_order_with_placeholders_filled(
    overdue_buyer: Customer, only_custom_rules: None
) -> None:
    create(name="Second", position=20)
    create(
        name="First",
        position=10,
        condition={
            "op": "and",
            "children": [{"field": "value_potential", "cmp": "eq", "value": "grow"}],
        },
        action_text="Upsell call for {name}",
        reason_text="Predicted {predicted_value}, alive {p_alive_percent}%, hour {usual_hour}",
        channel="call",
    )
    create(
        name="Not matching",
        position=5,
        condition={"op": "and", "children": [{"field": "last_csat", "cmp": "lte", "value": 2}]},
    )

    shown = next_best_actions_for_customer(customer_id=overdue_buyer.pk)

    assert [item["name"] for item in shown] == ["First", "Second"]
    assert shown[0]["action"] == "Upsell call for Zhao Lei"
    assert shown[0]["reason"] == "Predicted 1,234.50, alive 81%, hour 19"
    assert shown[0]["channel_label"] == "Call"
    assert shown[1]["action"] == "Offer Tea."
    assert shown[1]["reason"] == "Usually buys Tea every 40 days, 25 days overdue."


def test_a_receptive_customer_gets_the_best_time_and_channel_from_reachability(
    overdue_buyer: Customer, only_custom_rules: None
) -> None:
    CustomerReach.objects.create(
        customer=overdue_buyer,
        best_call_hour=19,
        best_channel="call",
        call_answer_share=0.75,
        reachability=0.75,
        receptiveness=0.6,
        refreshed_at=timezone.now(),
    )
    create(
        name="Call when they answer",
        condition={
            "op": "and",
            "children": [{"field": "receptiveness", "cmp": "gte", "value": 0.5}],
        },
        action_text="Call about {top_category} at {best_call_hour}:00",
        reason_text="Best reached by {best_channel}; answered {receptiveness_percent}% of touches",
    )

    shown = next_best_actions_for_customer(customer_id=overdue_buyer.pk)

    assert [item["action"] for item in shown] == ["Call about Tea at 19:00"]
    assert shown[0]["reason"] == "Best reached by Call; answered 60% of touches"


def test_at_most_three_are_shown_and_inactive_rules_never(
    overdue_buyer: Customer, only_custom_rules: None
) -> None:
    for position in range(1, 6):
        create(name=f"Rule {position}", position=position)
    create(name="Off", position=0, is_active=False)

    shown = next_best_actions_for_customer(customer_id=overdue_buyer.pk)

    assert [item["name"] for item in shown] == ["Rule 1", "Rule 2", "Rule 3"]


def test_inactive_customers_and_customers_without_figures_match_nothing_that_needs_them(
    overdue_buyer: Customer, only_custom_rules: None
) -> None:
    create()
    plain = CustomerFactory()

    assert next_best_actions_for_customer(customer_id=plain.pk) == []
    Customer.objects.filter(pk=overdue_buyer.pk).update(
        status=CustomerStatus.MERGED, merged_into=plain
    )
    assert next_best_actions_for_customer(customer_id=overdue_buyer.pk) == []


def test_a_rule_without_reason_text_gives_its_condition_as_the_reason(
    overdue_buyer: Customer, only_custom_rules: None
) -> None:
    create(reason_text="")

    shown = next_best_actions_for_customer(customer_id=overdue_buyer.pk)

    assert shown[0]["reason"] == "top_category is set AND overdue_ratio ≥ 1.2"


def test_all_rules_take_one_query_whatever_their_joins(
    overdue_buyer: Customer, django_assert_num_queries: Any
) -> None:
    # Conditions reaching other tables: events (subqueries), memberships (EXISTS), the
    # advisor (a join), custom attributes; plus the installed defaults.
    create(
        name="Joins",
        condition={
            "op": "or",
            "children": [
                {"field": "orders_count", "cmp": "gte", "value": 0, "days": 30},
                {"field": "segment", "cmp": "in", "value": ["potential-grow"]},
                {"field": "advisor", "cmp": "eq", "value": "li.na"},
                {"field": "attributes.vip", "cmp": "is_true"},
            ],
        },
    )
    next_best_actions_for_customer(customer_id=overdue_buyer.pk)  # fills the rules' cache

    with django_assert_num_queries(1):
        shown = next_best_actions_for_customer(customer_id=overdue_buyer.pk)

    assert "Joins" in [item["name"] for item in shown]
    assert len({item["id"] for item in shown}) == len(shown)


def test_writes_drop_the_cached_rules(overdue_buyer: Customer, only_custom_rules: None) -> None:
    admin = UserFactory()
    rule = create()
    assert len(next_best_actions_for_customer(customer_id=overdue_buyer.pk)) == 1

    next_best_action_update(action=rule, updated_by=admin, action_text="Call about {top_category}")
    assert next_best_actions_for_customer(customer_id=overdue_buyer.pk)[0]["action"] == (
        "Call about Tea"
    )
    next_best_action_update(action=rule, updated_by=admin, is_active=False)
    assert next_best_actions_for_customer(customer_id=overdue_buyer.pk) == []
    next_best_action_delete(action=rule, deleted_by=admin)
    assert not NextBestAction.objects.filter(pk=rule.pk).exists()


def test_moving_a_rule_swaps_it_with_its_neighbour(only_custom_rules: None) -> None:
    NextBestAction.objects.all().delete()
    first = create(name="A", position=10)
    second = create(name="B", position=10)

    next_best_action_move(action=second, up=True, moved_by=None)

    assert list(NextBestAction.objects.values_list("name", flat=True)) == ["B", "A"]
    next_best_action_move(action=first, up=True, moved_by=None)
    assert list(NextBestAction.objects.values_list("name", flat=True)) == ["A", "B"]


def test_the_kept_statement_answers_for_each_customer_and_follows_a_changed_condition(
    overdue_buyer: Customer, only_custom_rules: None
) -> None:
    rule = create(action_text="Offer {top_category} to {name}")
    other = CustomerFactory(name="Qian Yu")
    CustomerMetricsFactory(customer=other, last_order_at=timezone.now() - dt.timedelta(days=90))
    habits(other, top_category="Coffee", median_gap_days=30.0)

    first = next_best_actions_for_customer(customer_id=overdue_buyer.pk)
    second = next_best_actions_for_customer(customer_id=other.pk)

    assert [item["action"] for item in first] == ["Offer Tea to Zhao Lei"]
    assert [item["action"] for item in second] == ["Offer Coffee to Qian Yu"]
    narrower = {"op": "and", "children": [{"field": "top_category", "cmp": "eq", "value": "Tea"}]}
    next_best_action_update(action=rule, updated_by=None, condition=narrower)
    assert next_best_actions_for_customer(customer_id=other.pk) == []
    assert len(next_best_actions_for_customer(customer_id=overdue_buyer.pk)) == 1

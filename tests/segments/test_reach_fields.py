"""Reachability in segments: the rule fields (family "Reachability") and their validation, and
capacity priority by the expected value of a touch (predicted value x churn probability x
reachability)."""

import datetime as dt
from collections import Counter
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from django.utils import timezone, translation

from callcenter.models import Customer
from segments.choices import PriorityField, RunStatus
from segments.models import CustomerReach, RefreshRun, SegmentMembership
from segments.rules import RuleError, rule_fields_catalog, rule_queryset, rule_validate
from segments.selectors import touch_value
from segments.services.memberships import rule_memberships_refresh
from segments.services.segments import segment_create
from tests.callcenter.factories import CustomerFactory
from tests.segments.factories import CustomerMetricsFactory

AS_OF = timezone.now()


def _reach(customer: Customer, **fields: Any) -> CustomerReach:
    return CustomerReach.objects.create(customer=customer, refreshed_at=AS_OF, **fields)


@pytest.fixture
def reached(db: None) -> SimpleNamespace:
    """A caller who answers at 10 and converts, a texter whose phone stopped working, and a
    customer with nothing counted (no row)."""
    caller = CustomerFactory(name="Caller")
    _reach(
        caller,
        calls_attempted=4,
        calls_answered=3,
        call_answer_share=0.75,
        best_call_hour=10,
        has_working_phone=True,
        call_response_share=0.5,
        call_conversion_share=0.25,
        reachability=0.75,
        receptiveness=0.5,
    )
    texter = CustomerFactory(name="Texter")
    _reach(
        texter,
        sms_sent=5,
        sms_delivered_share=0.8,
        email_sent=2,
        email_delivered_share=1.0,
        has_working_phone=False,
        sms_response_share=0.2,
        sms_conversion_share=0.0,
        reachability=0.8,
        receptiveness=0.2,
    )
    silent = CustomerFactory(name="Silent")
    return SimpleNamespace(caller=caller, texter=texter, silent=silent)


REACH_FIELD_CASES = [
    ({"field": "call_answer_share", "cmp": "gte", "value": 0.7}, {"Caller"}),
    ({"field": "call_answer_share", "cmp": "is_empty"}, {"Texter", "Silent"}),
    ({"field": "best_call_hour", "cmp": "between", "value": [9, 11]}, {"Caller"}),
    ({"field": "has_working_phone", "cmp": "is_true"}, {"Caller"}),
    # Without a row there is no working phone either.
    ({"field": "has_working_phone", "cmp": "is_false"}, {"Texter", "Silent"}),
    ({"field": "sms_delivered_share", "cmp": "gt", "value": 0.5}, {"Texter"}),
    ({"field": "email_delivered_share", "cmp": "eq", "value": 1}, {"Texter"}),
    ({"field": "reachability", "cmp": "gte", "value": 0.75}, {"Caller", "Texter"}),
    ({"field": "reachability", "cmp": "is_empty"}, {"Silent"}),
    ({"field": "receptiveness", "cmp": "lt", "value": 0.3}, {"Texter"}),
    ({"field": "call_response_share", "cmp": "eq", "value": 0.5}, {"Caller"}),
    ({"field": "sms_response_share", "cmp": "is_set"}, {"Texter"}),
    ({"field": "call_conversion_share", "cmp": "gt", "value": 0}, {"Caller"}),
    ({"field": "sms_conversion_share", "cmp": "eq", "value": 0}, {"Texter"}),
]


def _names(tree: dict[str, Any]) -> set[str]:
    return set(rule_queryset(tree=tree, as_of=AS_OF).values_list("name", flat=True))


@pytest.mark.parametrize(("condition", "expected"), REACH_FIELD_CASES)
def test_rules_on_reachability_select_the_right_customers(
    reached: SimpleNamespace, condition: dict[str, Any], expected: set[str]
) -> None:
    assert _names({"op": "and", "children": [condition]}) == expected
    negated = {"op": "and", "not": True, "children": [condition]}
    assert _names(negated) == {"Caller", "Texter", "Silent"} - expected


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ({"field": "best_call_hour", "cmp": "eq", "value": 24}, "best_call_hour"),
        ({"field": "best_call_hour", "cmp": "eq", "value": 9.5}, "best_call_hour"),
        ({"field": "reachability", "cmp": "gt", "value": 1.5}, "reachability"),
        ({"field": "call_answer_share", "cmp": "lt", "value": -0.1}, "call_answer_share"),
        ({"field": "has_working_phone", "cmp": "eq", "value": True}, "has_working_phone"),
        ({"field": "receptiveness", "cmp": "gt", "value": "high"}, "receptiveness"),
    ],
)
def test_bad_values_on_reachability_fields_are_refused_clearly(
    db: None, condition: dict[str, Any], message: str
) -> None:
    with pytest.raises(RuleError) as caught:
        rule_validate(tree={"op": "and", "children": [condition]})
    assert message in str(caught.value)


def test_the_builder_lists_the_reachability_family_in_both_languages(db: None) -> None:
    catalog = {entry["name"]: entry for entry in rule_fields_catalog()}
    assert catalog["reachability"]["family_label"] == "Reachability"
    assert catalog["best_call_hour"]["integer"] is True
    assert catalog["best_call_hour"]["max"] == 23
    assert catalog["has_working_phone"]["type"] == "bool"
    with translation.override("zh-hans"):
        catalog = {entry["name"]: entry for entry in rule_fields_catalog()}
    assert catalog["reachability"]["family_label"] == "可达性"
    assert catalog["call_answer_share"]["label"] != "share of calls answered (0-1)"


@pytest.fixture
def valued(db: None) -> SimpleNamespace:
    """Expected touch values: saver 1000 x 0.8 x 0.9 = 720; unreachable 5000 x 0.9 x 0 = 0;
    spender (no prediction: spend 2000) x 0.5 x unknown reachability 0.5 = 500; a customer
    without metrics has none (last)."""
    saver = CustomerFactory(name="saver")
    CustomerMetricsFactory(
        customer=saver,
        predicted_value_365d=Decimal("1000"),
        monetary=Decimal("10"),
        churn_probability=0.8,
    )
    _reach(saver, reachability=0.9)
    unreachable = CustomerFactory(name="unreachable")
    CustomerMetricsFactory(
        customer=unreachable,
        predicted_value_365d=Decimal("5000"),
        monetary=Decimal("5000"),
        churn_probability=0.9,
    )
    _reach(unreachable, reachability=0.0)
    spender = CustomerFactory(name="spender")
    CustomerMetricsFactory(customer=spender, monetary=Decimal("2000"), churn_probability=0.5)
    unknown = CustomerFactory(name="unknown")
    return SimpleNamespace(saver=saver, unreachable=unreachable, spender=spender, unknown=unknown)


def test_touch_value_multiplies_value_churn_and_reachability(valued: SimpleNamespace) -> None:
    values = dict(Customer.objects.annotate(value=touch_value()).values_list("name", "value"))
    assert values["saver"] == pytest.approx(720)
    assert values["unreachable"] == 0
    assert values["spender"] == pytest.approx(500)
    assert values["unknown"] is None


def test_a_capped_segment_keeps_the_highest_touch_values(
    valued: SimpleNamespace, supervisor_user: Any
) -> None:
    segment = segment_create(
        name="Worth a call",
        rule={"op": "and", "children": [{"field": "monetary", "cmp": "gte", "value": 0}]},
        capacity=2,
        priority_field=PriorityField.TOUCH_VALUE,
        created_by=supervisor_user,
    )
    run = RefreshRun.objects.create(
        as_of=AS_OF, window_days=365, status=RunStatus.RUNNING, started_at=timezone.now()
    )

    rule_memberships_refresh(
        run_id=run.pk, as_of=AS_OF, now=timezone.now(), builtin_moves=Counter()
    )

    members = set(
        SegmentMembership.objects.filter(segment=segment, exited_at__isnull=True).values_list(
            "customer__name", flat=True
        )
    )
    # Spend alone would keep "unreachable" (5000) and "spender" (2000).
    assert members == {"saver", "spender"}

    segment.priority_descending = False
    segment.save()
    rule_memberships_refresh(
        run_id=run.pk,
        as_of=AS_OF + dt.timedelta(seconds=1),
        now=timezone.now(),
        builtin_moves=Counter(),
    )
    members = set(
        SegmentMembership.objects.filter(segment=segment, exited_at__isnull=True).values_list(
            "customer__name", flat=True
        )
    )
    assert members == {"unreachable", "spender"}

"""Care rules: checked triggers, conditions and steps; versions, audit and differences."""

from typing import Any

import pytest

from callcenter.errors import ApplicationError
from callcenter.models import AuditLog
from care.choices import EventType, StepChannel
from care.models import CareRule, CareRuleVersion, CareStep, MessageTemplate
from care.selectors import rule_version_diff
from care.services.rules import (
    care_rule_activate,
    care_rule_create,
    care_rule_deactivate,
    care_rule_update,
)
from care.services.templates import template_create
from care.services.triggers import trigger_matches, trigger_params_validate
from outreach.models import Queue
from tests.callcenter.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def sms_template() -> MessageTemplate:
    return template_create(
        name="Hello", channel="sms", variants={"en": {"body": "Hello {{ customer.name }}"}}
    )


@pytest.fixture
def script() -> MessageTemplate:
    return template_create(name="Script", channel="call_script", variants={"en": {"body": "Call"}})


@pytest.fixture
def general_queue() -> Queue:
    return Queue.objects.create(slug="general", name="General")


def _rule(sms_template: MessageTemplate, **overrides: Any) -> CareRule:
    values: dict[str, Any] = {
        "name": "NPS detractors",
        "trigger_type": EventType.SURVEY_SUBMITTED,
        "trigger_params": {"kind": "nps", "max_score": 6},
        "steps": [{"channel": "sms", "template_id": sms_template.pk, "sla_minutes": 60}],
    }
    values.update(overrides)
    return care_rule_create(**values)


@pytest.mark.parametrize(
    ("trigger", "params", "message"),
    [
        ("survey_submitted", {"kind": "nps", "max_score": 11}, '"max_score" must be a whole'),
        ("survey_submitted", {"kind": "csat", "max_score": 7}, '"max_score" must be from 1 to 5'),
        ("survey_submitted", {"min_score": 9, "max_score": 6}, "min_score must not be above"),
        ("survey_submitted", {"score": 3}, 'takes no parameter "score"'),
        ("interaction_logged", {"sentiment_below": -2}, '"sentiment_below" must be a number'),
        ("interaction_logged", {"channel": "fax"}, "unknown value fax"),
        ("ticket_opened", {"kind": "rant"}, "unknown value rant"),
        ("segment_entered", {}, 'needs the parameter "segment"'),
        ("segment_entered", {"segment": "no-such-segment"}, "unknown segment no-such-segment"),
        ("inactivity", {"days": 45}, "No inactivity events are raised after 45 days"),
        ("nonsense", {}, "Unknown trigger: nonsense"),
        ("birthday", ["x"], "must be a JSON object"),
    ],
)
def test_trigger_parameters_are_checked_per_trigger(
    trigger: str, params: Any, message: str
) -> None:
    with pytest.raises(ApplicationError, match=message):
        trigger_params_validate(trigger_type=trigger, params=params)


def test_valid_trigger_parameters_of_the_issue() -> None:
    for trigger, params in [
        ("survey_submitted", {"kind": "nps", "max_score": 6}),
        ("survey_submitted", {"min_score": 9}),
        ("interaction_logged", {"sentiment_below": -0.6, "channel": "call"}),
        ("inactivity", {"days": 60}),
        ("segment_entered", {"segment": "lifecycle-churn-risk"}),
        ("ticket_opened", {"kind": "complaint"}),
    ]:
        assert trigger_params_validate(trigger_type=trigger, params=params) == params


@pytest.mark.parametrize(
    ("params", "payload", "expected"),
    [
        ({"kind": "nps", "max_score": 6}, {"kind": "nps", "score": 6}, True),
        ({"kind": "nps", "max_score": 6}, {"kind": "nps", "score": 7}, False),
        ({"kind": "nps", "max_score": 6}, {"kind": "csat", "score": 2}, False),
        ({"min_score": 9}, {"kind": "nps", "score": 10}, True),
        (
            {"sentiment_below": -0.6, "channel": "call"},
            {"channel": "call", "sentiment": -0.7},
            True,
        ),
        ({"sentiment_below": -0.6}, {"channel": "call", "sentiment": -0.6}, False),
        ({"sentiment_below": -0.6}, {"channel": "call", "sentiment": None}, False),
        ({"min_amount": 100}, {"amount": "99.99"}, False),
        ({"min_amount": 100}, {"amount": "100.00"}, True),
        ({"days": 60}, {"days": 120}, False),
        ({}, {}, True),
    ],
)
def test_trigger_matching(params: dict, payload: dict, expected: bool) -> None:
    assert trigger_matches(params=params, payload=payload) is bool(expected)


def test_create_checks_conditions_and_steps_naming_the_bad_one(
    sms_template: MessageTemplate, script: MessageTemplate, general_queue: Queue
) -> None:
    with pytest.raises(ApplicationError, match="conditions: root: unknown field"):
        _rule(sms_template, conditions={"field": "shoe_size", "cmp": "eq", "value": 42})
    with pytest.raises(ApplicationError, match=r"steps\[0\]: a sms step needs a template"):
        _rule(sms_template, steps=[{"channel": "sms"}])
    with pytest.raises(ApplicationError, match=r"steps\[0\]: a sms step needs a sms template"):
        _rule(sms_template, steps=[{"channel": "sms", "template_id": script.pk}])
    with pytest.raises(ApplicationError, match=r"steps\[0\]: unknown queue nowhere"):
        _rule(
            sms_template,
            steps=[{"channel": "call", "name": "Call", "assignee_target": "nowhere"}],
        )
    with pytest.raises(ApplicationError, match=r"steps\[1\].conditions: root: unknown operator"):
        _rule(
            sms_template,
            steps=[
                {"channel": "sms", "template_id": sms_template.pk},
                {
                    "channel": "call",
                    "template_id": script.pk,
                    "assignee_target": "general",
                    "conditions": {"field": "value_tier", "cmp": "like", "value": "high"},
                },
            ],
        )
    with pytest.raises(ApplicationError, match=r"steps\[0\]: unknown escalation shout"):
        _rule(
            sms_template,
            steps=[
                {
                    "channel": "call",
                    "template_id": script.pk,
                    "assignee_target": "general",
                    "escalation": "shout",
                }
            ],
        )
    with pytest.raises(ApplicationError, match="Unknown stop condition: moon"):
        _rule(sms_template, stop_conditions=["moon"])
    with pytest.raises(ApplicationError, match="control group share"):
        _rule(sms_template, holdout_share=0.95)
    assert not CareRule.objects.exists()


def test_every_change_is_a_version_with_a_snapshot_and_an_audit_entry(
    sms_template: MessageTemplate, script: MessageTemplate, general_queue: Queue
) -> None:
    admin = UserFactory(role="admin")
    rule = _rule(sms_template, created_by=admin)
    first_step = rule.steps.get()

    # when: a call step is added before the SMS, with a delay, SLA, queue and conditions
    care_rule_update(
        rule=rule,
        updated_by=admin,
        note="add a call",
        priority=5,
        steps=[
            {
                "channel": "call",
                "template_id": script.pk,
                "delay_value": 2,
                "delay_unit": "days",
                "business_hours_only": True,
                "assignee_rule": "queue",
                "assignee_target": "general",
                "sla_minutes": 240,
                "touch_kind": "service",
                "conditions": {"field": "value_tier", "cmp": "eq", "value": "high"},
                "only_if_no_response": True,
            },
            {"id": first_step.pk, "channel": "sms", "template_id": sms_template.pk},
        ],
    )
    care_rule_activate(rule=rule, activated_by=admin)

    rule.refresh_from_db()
    assert rule.version == 3
    assert list(rule.versions.order_by("version").values_list("version", "note")) == [
        (1, "created"),
        (2, "add a call"),
        (3, "activated"),
    ]
    steps = list(rule.steps.order_by("position"))
    assert [(s.position, s.channel) for s in steps] == [(1, StepChannel.CALL), (2, StepChannel.SMS)]
    assert steps[1].pk == first_step.pk  # kept its identity, moved to position 2
    snapshot = rule.versions.get(version=2).snapshot
    assert snapshot["priority"] == 5
    assert snapshot["steps"][0]["sla_minutes"] == 240
    assert snapshot["steps"][0]["only_if_no_response"] is True
    assert snapshot["span_minutes"] == 2 * 24 * 60
    assert list(
        AuditLog.objects.filter(object_type="care_rule", object_id=str(rule.pk))
        .order_by("id")
        .values_list("action", "data__version")
    ) == [("care_rule.create", 1), ("care_rule.update", 2), ("care_rule.activate", 3)]


def test_a_change_that_changes_nothing_makes_no_version(sms_template: MessageTemplate) -> None:
    rule = _rule(sms_template)
    step = rule.steps.get()

    care_rule_update(
        rule=rule,
        name=rule.name,
        steps=[{"id": step.pk, "channel": "sms", "template_id": sms_template.pk}],
    )

    assert CareRuleVersion.objects.filter(rule=rule).count() == 1


def test_a_refused_change_changes_nothing(sms_template: MessageTemplate) -> None:
    rule = _rule(sms_template)

    with pytest.raises(ApplicationError):
        care_rule_update(rule=rule, name="Renamed", trigger_params={"max_score": 42})

    rule.refresh_from_db()
    assert (rule.name, rule.version) == ("NPS detractors", 1)


def test_activation_needs_a_step_and_deactivation_is_versioned(
    sms_template: MessageTemplate,
) -> None:
    empty = _rule(sms_template, name="Empty", steps=[])
    with pytest.raises(ApplicationError, match="needs at least one step"):
        care_rule_activate(rule=empty)

    rule = _rule(sms_template)
    care_rule_activate(rule=rule)
    care_rule_deactivate(rule=rule)
    care_rule_deactivate(rule=rule)

    rule.refresh_from_db()
    assert (rule.is_active, rule.version) == (False, 3)


def test_version_diff_shows_changed_fields_and_steps(
    sms_template: MessageTemplate, script: MessageTemplate, general_queue: Queue
) -> None:
    rule = _rule(sms_template)
    step = rule.steps.get()
    care_rule_update(
        rule=rule,
        cooldown_days=30,
        steps=[
            {"id": step.pk, "channel": "sms", "template_id": sms_template.pk, "sla_minutes": 120},
            {"channel": "call", "template_id": script.pk, "assignee_target": "general"},
        ],
    )

    diff = rule_version_diff(rule=rule, from_version=1, to_version=2)

    assert diff["fields"] == {"cooldown_days": {"from": 0, "to": 30}}
    assert diff["steps"]["changed"] == [
        {"id": step.pk, "position": 1, "fields": {"sla_minutes": {"from": 60, "to": 120}}}
    ]
    assert [s["channel"] for s in diff["steps"]["added"]] == ["call"]
    assert diff["steps"]["removed"] == []
    with pytest.raises(ApplicationError, match="has no version 9"):
        rule_version_diff(rule=rule, from_version=1, to_version=9)


def test_removing_a_step_deletes_it(sms_template: MessageTemplate) -> None:
    rule = _rule(
        sms_template,
        steps=[
            {"channel": "sms", "template_id": sms_template.pk},
            {"channel": "sms", "template_id": sms_template.pk, "delay_value": 1},
        ],
    )
    keep = rule.steps.get(position=2)

    care_rule_update(
        rule=rule, steps=[{"id": keep.pk, "channel": "sms", "template_id": sms_template.pk}]
    )

    assert list(CareStep.objects.filter(rule=rule).values_list("pk", "position")) == [(keep.pk, 1)]

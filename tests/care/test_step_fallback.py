"""A step's fallback channel ("WeChat, else SMS"): checked, stored, frozen in versions, shown
in diffs, the API and the rule editor."""

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from callcenter.errors import ApplicationError
from care.choices import EventType, StepChannel
from care.models import CareRule, MessageTemplate
from care.selectors import rule_version_diff
from care.services.rules import care_rule_create, care_rule_update
from care.services.templates import template_create
from outreach.models import Queue

pytestmark = pytest.mark.django_db


@pytest.fixture
def text_template() -> MessageTemplate:
    return template_create(
        name="Hello", channel="sms", variants={"zh-hans": {"body": "{{ customer.name }}，您好"}}
    )


def _rule(steps: list[dict[str, Any]]) -> CareRule:
    return care_rule_create(
        name="Welcome", trigger_type=EventType.CUSTOMER_CREATED, trigger_params={}, steps=steps
    )


def test_a_wechat_step_may_fall_back_to_sms_and_the_version_keeps_it(
    text_template: MessageTemplate,
) -> None:
    rule = _rule(
        [{"channel": "wechat", "template_id": text_template.pk, "fallback_channel": "sms"}]
    )

    step = rule.steps.get()
    assert (step.channel, step.fallback_channel) == (StepChannel.WECHAT, StepChannel.SMS)
    (snapshot_step,) = rule.versions.get().snapshot["steps"]
    assert snapshot_step["fallback_channel"] == "sms"


def test_fallback_is_blank_by_default(text_template: MessageTemplate) -> None:
    rule = _rule([{"channel": "wecom", "template_id": text_template.pk}])
    assert rule.steps.get().fallback_channel == ""


@pytest.mark.parametrize(
    ("step", "message"),
    [
        ({"channel": "wechat", "fallback_channel": "wechat"}, "a wechat step cannot fall back"),
        ({"channel": "wechat", "fallback_channel": "fax"}, "cannot fall back to fax"),
        ({"channel": "wechat", "fallback_channel": "email"}, "cannot fall back to email"),
        ({"channel": "wechat", "fallback_channel": ["sms"]}, "cannot fall back to"),
        (
            {
                "channel": "call",
                "name": "Call",
                "assignee_target": "general",
                "fallback_channel": "sms",
            },
            "a call step cannot",
        ),
    ],
)
def test_a_bad_fallback_is_refused_naming_the_step_and_nothing_is_saved(
    text_template: MessageTemplate, step: dict[str, Any], message: str
) -> None:
    Queue.objects.create(slug="general", name="General")
    if step["channel"] != "call":
        step = {**step, "template_id": text_template.pk}
    with pytest.raises(ApplicationError, match=rf"steps\[0\]: .*{message}") as caught:
        _rule([step])
    assert caught.value.extra["field"] == "steps[0]"
    assert not CareRule.objects.exists()


def test_the_version_diff_shows_a_changed_fallback(text_template: MessageTemplate) -> None:
    rule = _rule([{"channel": "wechat", "template_id": text_template.pk}])
    step = rule.steps.get()
    care_rule_update(
        rule=rule,
        steps=[
            {
                "id": step.pk,
                "channel": "wechat",
                "template_id": text_template.pk,
                "fallback_channel": "sms",
            }
        ],
    )
    diff = rule_version_diff(rule=rule, from_version=1, to_version=2)
    assert diff["steps"]["changed"] == [
        {"id": step.pk, "position": 1, "fields": {"fallback_channel": {"from": "", "to": "sms"}}}
    ]


def test_the_api_shows_the_fallback(admin_client: Client, text_template: MessageTemplate) -> None:
    _rule([{"channel": "wechat", "template_id": text_template.pk, "fallback_channel": "sms"}])
    response = admin_client.get("/api/care/rules/")
    assert response.status_code == 200
    rows = response.json()
    rows = rows["results"] if isinstance(rows, dict) else rows
    assert rows[0]["steps"][0]["fallback_channel"] == "sms"


def _management(total: int) -> dict[str, str]:
    return {
        "steps-TOTAL_FORMS": str(total),
        "steps-INITIAL_FORMS": "0",
        "steps-MIN_NUM_FORMS": "0",
        "steps-MAX_NUM_FORMS": "20",
    }


def _editor_data(template: MessageTemplate, fallback: str) -> dict[str, str]:
    step = {
        "channel": StepChannel.WECHAT,
        "template": str(template.pk),
        "delay_value": "0",
        "delay_unit": "hours",
        "sla_minutes": "60",
        "escalation": "reassign",
        "touch_kind": "proactive",
        "ORDER": "1",
        "fallback_channel": fallback,
    }
    return {
        "name": "Welcome on WeChat",
        "description": "",
        "trigger_type": "customer_created",
        "conditions": "",
        "priority": "0",
        "category": "service",
        "cooldown_days": "0",
        "holdout_percent": "0",
        "note": "",
        **_management(1),
        **{f"steps-0-{key}": value for key, value in step.items()},
    }


def test_the_rule_editor_offers_and_saves_the_fallback(
    admin_client: Client, text_template: MessageTemplate
) -> None:
    page = admin_client.get(reverse("care-rule-create"))
    assert 'name="steps-__prefix__-fallback_channel"' in page.content.decode()

    response = admin_client.post(reverse("care-rule-create"), _editor_data(text_template, "sms"))

    assert response.status_code == 302
    step = CareRule.objects.get(name="Welcome on WeChat").steps.get()
    assert (step.channel, step.fallback_channel) == (StepChannel.WECHAT, StepChannel.SMS)


def test_the_rule_editor_refuses_an_unknown_fallback(
    admin_client: Client, text_template: MessageTemplate
) -> None:
    response = admin_client.post(reverse("care-rule-create"), _editor_data(text_template, "fax"))
    assert response.status_code == 400
    assert "fax" in response.content.decode()
    assert not CareRule.objects.exists()

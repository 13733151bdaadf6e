"""Care rule pages: the list, the editor (create, change, reorder, errors next to the field,
nothing saved on error), activation and the version history."""

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation

from callcenter.choices import Role
from care.choices import StepChannel, TemplateChannel
from care.models import CareRule, CareSettings, MessageTemplate, TemplateVariant
from care.services.rules import care_rule_create, care_rule_update
from care.services.templates import template_create
from outreach.models import Queue
from tests.callcenter.factories import UserFactory
from tests.segments.factories import SegmentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def sms_template() -> MessageTemplate:
    template = MessageTemplate.objects.create(name="Apology", slug="apology", channel="sms")
    TemplateVariant.objects.create(
        template=template, language="en", body="Sorry {{ customer.name }}"
    )
    return template


@pytest.fixture
def queue() -> Queue:
    return Queue.objects.get_or_create(slug="general", defaults={"name": "General"})[0]


def _management(total: int, initial: int = 0) -> dict[str, Any]:
    return {
        "steps-TOTAL_FORMS": str(total),
        "steps-INITIAL_FORMS": str(initial),
        "steps-MIN_NUM_FORMS": "0",
        "steps-MAX_NUM_FORMS": "20",
    }


def _step(index: int, **fields: Any) -> dict[str, Any]:
    values = {
        "channel": StepChannel.SMS,
        "delay_value": "0",
        "delay_unit": "hours",
        "sla_minutes": "60",
        "escalation": "reassign",
        "touch_kind": "proactive",
        "ORDER": str(index + 1),
        **fields,
    }
    return {f"steps-{index}-{key}": value for key, value in values.items()}


def _rule_data(**fields: Any) -> dict[str, Any]:
    return {
        "name": "Complaint apology",
        "description": "",
        "trigger_type": "ticket_opened",
        "tp_ticket_opened__kind": "complaint",
        "conditions": "",
        "category": "service",
        "priority": "5",
        "cooldown_days": "0",
        "holdout_percent": "10",
        "stop_conditions": ["ticket_resolved"],
        "note": "",
        **fields,
    }


def test_admin_creates_a_rule_with_two_steps_in_the_order_given(
    admin_client: Client, sms_template: MessageTemplate, queue: Queue
) -> None:
    data = {
        **_rule_data(),
        **_management(2),
        **_step(0, template=str(sms_template.pk), ORDER="2"),
        **_step(
            1,
            channel=StepChannel.CALL,
            name="Call back",
            delay_value="1",
            delay_unit="days",
            assignee_rule="queue",
            assignee_target="general",
            ORDER="1",
        ),
    }

    response = admin_client.post(reverse("care-rule-create"), data)

    rule = CareRule.objects.get(name="Complaint apology")
    assert response.status_code == 302
    assert response["Location"] == reverse("care-rule-edit", args=[rule.pk])
    assert not rule.is_active
    assert rule.trigger_params == {"kind": "complaint"}
    assert rule.holdout_share == pytest.approx(0.1)
    assert rule.stop_conditions == ["ticket_resolved"]
    assert (rule.category, rule.priority) == ("service", 5)
    assert rule.versions.get().snapshot["category"] == "service"
    steps = list(rule.steps.order_by("position"))
    assert [(s.channel, s.name) for s in steps] == [("call", "Call back"), ("sms", "")]
    assert steps[0].assignee_target == "general"
    assert steps[1].template_id == sms_template.pk
    assert rule.versions.count() == 1


def test_a_step_error_is_shown_on_that_step_and_nothing_is_saved(
    admin_client: Client, sms_template: MessageTemplate, queue: Queue
) -> None:
    data = {
        **_rule_data(),
        **_management(2),
        **_step(0, template=str(sms_template.pk)),
        **_step(
            1,
            channel=StepChannel.CALL,
            name="Call",
            assignee_rule="queue",
            assignee_target="no-such-queue",
        ),
    }

    response = admin_client.post(reverse("care-rule-create"), data)

    assert response.status_code == 400
    assert not CareRule.objects.exists()
    html = response.content.decode()
    assert "unknown queue no-such-queue" in html
    # In the second step's card: after the first step's fields, before the second's.
    assert html.index('name="steps-0-conditions"') < html.index("unknown queue")
    assert html.index("unknown queue") < html.index('name="steps-1-channel"')


def test_an_invalid_condition_tree_is_refused_next_to_the_conditions(
    admin_client: Client, sms_template: MessageTemplate
) -> None:
    data = {
        **_rule_data(conditions='{"op": "and", "children": [{"field": "nope", "cmp": "eq"}]}'),
        **_management(1),
        **_step(0, template=str(sms_template.pk)),
    }

    response = admin_client.post(reverse("care-rule-create"), data)

    assert response.status_code == 400
    assert not CareRule.objects.exists()
    assert response.context["form"].errors["conditions"]


def test_bad_trigger_parameters_are_refused_next_to_them(
    admin_client: Client, sms_template: MessageTemplate
) -> None:
    data = {
        **_rule_data(tp_ticket_opened__kind="praise"),
        **_management(1),
        **_step(0, template=str(sms_template.pk)),
    }

    response = admin_client.post(reverse("care-rule-create"), data)

    assert response.status_code == 400
    errors = " ".join(response.context["form"].errors["tp_ticket_opened__kind"])
    assert '"kind"' in errors
    assert "praise" in errors
    assert not CareRule.objects.exists()


def _existing_rule(template: MessageTemplate) -> CareRule:
    return care_rule_create(
        name="Wake-up",
        trigger_type="inactivity",
        trigger_params={"days": 60},
        steps=[
            {"channel": "sms", "template_id": template.pk, "name": "first"},
            {"channel": "sms", "template_id": template.pk, "name": "second", "delay_value": 2},
        ],
    )


def test_editing_reorders_and_removes_steps_and_makes_a_new_version(
    admin_client: Client, sms_template: MessageTemplate
) -> None:
    rule = _existing_rule(sms_template)
    first, second = rule.steps.order_by("position")
    page = admin_client.get(reverse("care-rule-edit", args=[rule.pk]))
    assert page.status_code == 200
    data = {
        **_rule_data(name="Wake-up v2", trigger_type="inactivity", tp_inactivity__days="60"),
        "note": "second step first",
        **_management(2, initial=2),
        **_step(0, id=str(first.pk), name="first", template=str(sms_template.pk), DELETE="on"),
        **_step(
            1, id=str(second.pk), name="second", template=str(sms_template.pk), delay_value="3"
        ),
    }

    response = admin_client.post(reverse("care-rule-edit", args=[rule.pk]), data)

    assert response.status_code == 302
    rule.refresh_from_db()
    assert rule.name == "Wake-up v2"
    assert rule.version == 2
    assert list(rule.steps.values_list("pk", "position", "delay_value")) == [(second.pk, 1, 3)]
    assert rule.versions.get(version=2).note == "second step first"


def test_activating_a_rule_switches_it_on_and_back_off(
    admin_client: Client, sms_template: MessageTemplate
) -> None:
    rule = _existing_rule(sms_template)

    response = admin_client.post(reverse("care-rule-activate", args=[rule.pk]))
    rule.refresh_from_db()
    assert response.status_code == 302
    assert rule.is_active

    admin_client.post(reverse("care-rule-deactivate", args=[rule.pk]))
    rule.refresh_from_db()
    assert not rule.is_active


def test_a_rule_without_steps_is_not_activated_and_says_why(admin_client: Client) -> None:
    rule = CareRule.objects.create(name="Empty", slug="empty", trigger_type="birthday")

    response = admin_client.post(reverse("care-rule-activate", args=[rule.pk]), follow=True)

    rule.refresh_from_db()
    assert not rule.is_active
    assert "needs at least one step" in response.content.decode()


def test_supervisors_read_rules_but_may_not_edit(
    supervisor_client: Client, sms_template: MessageTemplate
) -> None:
    rule = _existing_rule(sms_template)

    assert supervisor_client.get(reverse("care-rules")).status_code == 200
    assert supervisor_client.get(reverse("care-rule-history", args=[rule.pk])).status_code == 200
    assert supervisor_client.get(reverse("care-rule-edit", args=[rule.pk])).status_code == 403
    edit = supervisor_client.post(
        reverse("care-rule-edit", args=[rule.pk]), {**_rule_data(), **_management(0)}
    )
    assert edit.status_code == 403
    assert supervisor_client.post(reverse("care-rule-create"), _rule_data()).status_code == 403
    assert supervisor_client.post(reverse("care-rule-activate", args=[rule.pk])).status_code == 403
    rule.refresh_from_db()
    assert rule.name == "Wake-up"
    assert not rule.is_active


def test_agents_may_open_no_care_page(client: Client, sms_template: MessageTemplate) -> None:
    rule = _existing_rule(sms_template)
    client.force_login(UserFactory(role=Role.AGENT))

    for url in (
        reverse("care-rules"),
        reverse("care-rule-history", args=[rule.pk]),
        reverse("care-rule-edit", args=[rule.pk]),
        reverse("care-templates"),
        reverse("care-template-edit", args=[sms_template.pk]),
        reverse("care-effectiveness"),
        reverse("care-dashboard-kpis"),
        reverse("care-customer-picker") + "?q=a",
    ):
        assert client.get(url).status_code == 403, url
    assert client.post(reverse("care-rule-activate", args=[rule.pk])).status_code == 403
    assert client.post(reverse("care-template-preview")).status_code == 403


def test_the_rule_list_shows_status_steps_and_recent_results_in_fixed_queries(
    supervisor_client: Client,
    sms_template: MessageTemplate,
    django_assert_num_queries: Any,
) -> None:
    for index in range(3):
        rule = _existing_rule(sms_template)
        if index:
            CareRule.objects.filter(pk=rule.pk).update(is_active=True)
    supervisor_client.get(reverse("care-rules"))  # warm the session and role caches

    # request savepoint and release, session, user, roles; enrolled and tasks per rule;
    # rules; their steps (with templates); the segments' names (trigger parameters in words)
    with django_assert_num_queries(10):
        response = supervisor_client.get(reverse("care-rules"))

    html = response.content.decode()
    assert response.status_code == 200
    assert html.count('data-rule="wake-up') == 3
    assert "2 rules are active." in html


def test_the_history_shows_a_readable_diff_of_the_latest_change(
    supervisor_client: Client, sms_template: MessageTemplate
) -> None:
    rule = _existing_rule(sms_template)
    care_rule_update(rule=rule, holdout_share=0.2, note="more control")

    response = supervisor_client.get(reverse("care-rule-history", args=[rule.pk]))

    html = response.content.decode()
    assert "Changes from version 1 to 2" in html
    assert "Control group share" in html
    assert "20%" in html  # in percent, as the editor asks for it
    assert "more control" in html


def test_the_history_tells_every_field_in_words_not_codes(
    supervisor_client: Client, sms_template: MessageTemplate
) -> None:
    rule = _existing_rule(sms_template)
    first, second = rule.steps.order_by("position")
    other = template_create(name="Gentle nudge", channel="sms", variants={"en": {"body": "Hey"}})
    vip = SegmentFactory(name="VIP callers", slug="vip-callers")
    settings = CareSettings.load()
    settings.inactivity_days = [60, 90]
    settings.save()
    care_rule_update(
        rule=rule,
        trigger_params={"days": 90},
        conditions={"field": "monetary", "cmp": "gte", "value": 1000},
        steps=[
            {"id": first.pk, "channel": "sms", "template_id": other.pk, "name": "first"},
            {
                "id": second.pk,
                "channel": "sms",
                "template_id": sms_template.pk,
                "name": "second",
                "delay_value": 2,
                "conditions": {"field": "segment", "cmp": "in", "value": [vip.slug]},
            },
        ],
    )
    url = reverse("care-rule-history", args=[rule.pk])

    html = supervisor_client.get(url).content.decode()
    chinese = supervisor_client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()

    assert "Days without activity: 60" in html
    assert "Days without activity: 90" in html
    assert "Spend in window at least 1,000" in html
    assert "Member of VIP callers" in html
    assert "Gentle nudge" in html
    assert sms_template.name in html
    assert "{&quot;days&quot;" not in html
    assert "&quot;field&quot;" not in html
    assert "无活动天数: 90" in chinese
    assert "属于分群：VIP callers" in chinese


def test_the_history_compares_chosen_versions_and_reports_unknown_ones(
    supervisor_client: Client, sms_template: MessageTemplate
) -> None:
    rule = _existing_rule(sms_template)
    first = rule.steps.order_by("position").first()
    care_rule_update(
        rule=rule,
        steps=[{"id": first.pk, "channel": "sms", "template_id": sms_template.pk}],
    )
    url = reverse("care-rule-history", args=[rule.pk])

    removed = supervisor_client.get(url, {"from": 1, "to": 2}).content.decode()
    unknown = supervisor_client.get(url, {"from": 1, "to": 9}).content.decode()

    assert "Step removed" in removed
    assert "has no version 9" in unknown


def test_the_editor_lists_templates_once_whatever_the_number_of_steps(
    admin_client: Client, sms_template: MessageTemplate, django_assert_max_num_queries: Any
) -> None:
    rule = _existing_rule(sms_template)
    MessageTemplate.objects.create(
        name="Script", slug="script", channel=TemplateChannel.CALL_SCRIPT
    )
    admin_client.get(reverse("care-rule-edit", args=[rule.pk]))

    with django_assert_max_num_queries(12):
        response = admin_client.get(reverse("care-rule-edit", args=[rule.pk]))

    assert response.status_code == 200
    assert response.content.decode().count(f'value="{sms_template.pk}" selected') == 2


def test_the_rule_list_shows_a_call_step_without_a_template(
    supervisor_client: Client, queue: Queue
) -> None:
    care_rule_create(
        name="Call only",
        trigger_type="birthday",
        steps=[{"channel": "call", "name": "Birthday call", "assignee_target": "general"}],
    )

    response = supervisor_client.get(reverse("care-rules"))

    assert response.status_code == 200
    assert "Birthday call" in response.content.decode()


def test_the_history_shows_choices_by_their_labels_in_the_pages_language(
    supervisor_client: Client, sms_template: MessageTemplate
) -> None:
    rule = _existing_rule(sms_template)
    first = rule.steps.order_by("position").first()
    Queue.objects.create(name="General", slug="general")
    care_rule_update(
        rule=rule,
        category="retention",
        stop_conditions=["customer_replied"],
        steps=[
            {
                "id": first.pk,
                "channel": "call",
                "name": "Call",
                "assignee_target": "general",
                "escalation": "notify",
            }
        ],
    )
    url = reverse("care-rule-history", args=[rule.pk])

    html = supervisor_client.get(url).content.decode()
    with translation.override("zh-hans"):
        chinese = supervisor_client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()

    assert "Notify supervisors" in html
    assert "Customer replied" in html
    assert "Retention" in html
    assert ">notify<" not in html
    assert ">retention<" not in html
    assert "留存" in chinese


def test_an_admin_installs_the_default_plans_from_the_empty_rule_list(
    admin_client: Client,
) -> None:
    supervisor_client = Client()
    supervisor_client.force_login(UserFactory(role=Role.SUPERVISOR))
    empty = admin_client.get(reverse("care-rules")).content.decode()
    supervisors = supervisor_client.get(reverse("care-rules")).content.decode()

    response = admin_client.post(reverse("care-playbook-install"), follow=True)
    again = admin_client.post(reverse("care-playbook-install"), follow=True)

    assert "data-install-playbook" in empty
    assert "data-install-playbook" not in supervisors
    assert "An admin can install the default care plans." in supervisors
    rules = CareRule.objects.count()
    assert rules > 0
    assert not CareRule.objects.filter(is_active=True).exists()
    assert f"Default care plans installed: {rules} rules" in response.content.decode()
    assert "installed: 0 rules and 0 templates" in again.content.decode()
    assert CareRule.objects.count() == rules
    assert supervisor_client.post(reverse("care-playbook-install")).status_code == 403


def test_a_default_rule_reads_in_chinese_and_stays_a_default_when_saved_unchanged(
    admin_client: Client, sms_template: MessageTemplate
) -> None:
    """The playbook's names are stored in English and shown in the reader's language; saving
    the Chinese editor without touching them keeps the English defaults (so the English page
    still reads English), a changed name is stored as typed."""
    rule = care_rule_create(
        name="Complaint: apology and follow-up",
        description="NPS 0-6: a supervisor calls within 24 h.",
        trigger_type="inactivity",
        trigger_params={"days": 60},
        steps=[{"channel": "sms", "template_id": sms_template.pk, "name": "Apology SMS"}],
    )
    step = rule.steps.get()
    url = reverse("care-rule-edit", args=[rule.pk])
    chinese = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}

    page = admin_client.get(url, **chinese).content.decode()
    rules = admin_client.get(reverse("care-rules"), **chinese).content.decode()

    assert 'value="投诉：致歉并跟进"' in page
    assert "NPS 0-6 分：主管 24 小时内致电。" in page
    assert 'value="致歉短信"' in page
    assert "投诉：致歉并跟进" in rules
    assert "无活动天数：60" in rules  # the trigger's parameter in words, not days=60
    data = {
        **_rule_data(
            name="投诉：致歉并跟进",
            description="NPS 0-6 分：主管 24 小时内致电。",
            trigger_type="inactivity",
            tp_inactivity__days="60",
            category="marketing",
        ),
        **_management(1, initial=1),
        **_step(0, id=str(step.pk), name="致歉短信", template=str(sms_template.pk)),
    }

    assert admin_client.post(url, data, **chinese).status_code == 302
    rule.refresh_from_db()
    assert (rule.name, rule.description) == (
        "Complaint: apology and follow-up",
        "NPS 0-6: a supervisor calls within 24 h.",
    )
    assert rule.steps.get().name == "Apology SMS"

    data["name"] = "投诉安抚"
    assert admin_client.post(url, data, **chinese).status_code == 302
    rule.refresh_from_db()
    assert rule.name == "投诉安抚"

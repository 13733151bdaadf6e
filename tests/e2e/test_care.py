"""Care pages in the browser: an admin builds and switches on a rule with two steps after
previewing its template; supervisors read the rules and reports but the server refuses them
the editor."""

from collections.abc import Callable
from typing import Any

from playwright.sync_api import expect

from callcenter.choices import Role
from care.models import CareRule
from care.services.rules import care_rule_create
from care.services.templates import template_create
from outreach.models import Queue
from tests.callcenter.factories import CustomerFactory
from tests.e2e.conftest import shot


def test_admin_previews_a_template_creates_a_two_step_rule_and_activates_it(
    logged_in: Callable[..., Any],
) -> None:
    template = template_create(
        name="E2E apology",
        slug="e2e-apology",
        channel="sms",
        variants={"zh-hans": {"body": "{{ customer.name }}您好，非常抱歉。{{ opt_out_hint }}"}},
    )
    Queue.objects.get_or_create(slug="e2e-care", defaults={"name": "E2E care"})
    CustomerFactory(name="E2E 王芳", external_id="E2E-CARE-1")
    page = logged_in(Role.ADMIN, "e2e_care_admin")

    # Preview the template for a customer picked by search.
    page.goto(f"/care/templates/{template.pk}/")
    page.fill("#picker-q", "E2E 王芳")
    page.get_by_role("button", name="E2E 王芳").click()
    expect(page.locator("#picker-chosen")).to_contain_text("E2E 王芳")
    page.click("[data-preview]")
    rendered = page.locator("[data-rendered]")
    expect(rendered).to_contain_text("E2E 王芳您好，非常抱歉。回复TD退订")
    expect(rendered.locator("[data-sms-parts]")).to_contain_text("1 SMS part")
    shot(page, "care-template-preview")

    # Build the rule: an SMS now, a call task a day later.
    page.goto("/care/rules/new/")
    page.fill("#id_name", "E2E complaint care")
    page.select_option("#id_trigger_type", "date_reached")
    expect(page.locator("#id_tp_date_reached__field")).to_be_visible()
    expect(page.locator("#id_tp_date_reached__field_key")).to_be_hidden()
    page.select_option("#id_tp_date_reached__field", "attr:")
    expect(page.locator("#id_tp_date_reached__field_key")).to_be_visible()
    expect(page.locator("#id_tp_holiday__holiday")).to_be_hidden()
    page.select_option("#id_trigger_type", "ticket_opened")
    expect(page.locator("#id_tp_date_reached__field")).to_be_hidden()
    page.select_option("#id_tp_ticket_opened__kind", "complaint")
    page.fill("#id_holdout_percent", "10")
    page.select_option("#id_category", "service")
    page.check("input[name=stop_conditions][value=ticket_resolved]")
    page.select_option("#id_steps-0-channel", "sms")
    page.select_option("#id_steps-0-template", label="E2E apology")
    page.click("[data-step-add]")
    second = page.locator("[data-step]").nth(1)
    expect(second).to_be_visible()
    second.locator("select[name$='-channel']").select_option("call")
    expect(second.locator("input[name$='-assignee_target']")).to_be_visible()
    second.locator("input[name$='-name']").fill("Call back")
    second.locator("input[name$='-delay_value']").fill("1")
    second.locator("select[name$='-delay_unit']").select_option("days")
    second.locator("select[name$='-assignee_rule']").select_option("queue")
    second.locator("input[name$='-assignee_target']").fill("e2e-care")
    shot(page, "care-rule-editor")
    page.click("[data-save]")

    expect(page.locator(".flash-success")).to_contain_text("created")
    expect(page.locator("[data-rule-status]")).to_have_text("Inactive")
    page.click("[data-activate]")
    expect(page.locator("[data-rule-status]")).to_have_text("Active")

    rule = CareRule.objects.get(name="E2E complaint care")
    assert rule.is_active
    assert rule.trigger_params == {"kind": "complaint"}
    assert rule.category == "service"
    assert list(rule.steps.order_by("position").values_list("channel", "name")) == [
        ("sms", ""),
        ("call", "Call back"),
    ]
    page.get_by_role("link", name="Version history").click()
    expect(page.locator(".care-diff")).to_contain_text("Yes")
    expect(page.locator(".care-versions li")).to_have_count(2)
    shot(page, "care-rule-history")

    page.goto("/care/rules/")
    expect(page.locator(f"tr[data-rule='{rule.slug}']")).to_contain_text("Active")
    shot(page, "care-rules")


def test_admin_switches_to_the_holiday_trigger_picks_a_holiday_and_saves(
    logged_in: Callable[..., Any],
) -> None:
    template_create(
        name="E2E greeting", slug="e2e-greeting", channel="sms", variants={"en": {"body": "Hi"}}
    )
    page = logged_in(Role.ADMIN, "e2e_holiday_admin")

    page.goto("/care/rules/new/")
    page.fill("#id_name", "E2E holiday greeting")
    holiday = page.locator("#id_tp_holiday__holiday")
    expect(holiday).to_be_hidden()
    page.select_option("#id_trigger_type", "holiday")
    expect(holiday).to_be_visible()
    expect(page.locator("#id_tp_ticket_opened__kind")).to_be_hidden()
    expect(holiday.locator("option[value=any]")).to_have_text("Any holiday")
    holiday.select_option("Spring Festival")
    # Out of range first: the server refuses it beside the field and keeps the choices.
    page.fill("#id_tp_holiday__offset_days", "-31")
    page.fill("#id_tp_holiday__at_hour", "10")
    page.select_option("#id_steps-0-channel", "sms")
    page.select_option("#id_steps-0-template", label="E2E greeting")
    page.click("[data-save]")
    error = page.locator("[data-trigger-fields=holiday] [data-param=offset_days] .field-error")
    expect(error).to_contain_text("offset_days")
    expect(page.locator("#id_tp_holiday__holiday")).to_have_value("Spring Festival")
    assert not CareRule.objects.filter(name="E2E holiday greeting").exists()
    page.fill("#id_tp_holiday__offset_days", "-3")
    shot(page, "care-rule-holiday-trigger")
    page.click("[data-save]")

    expect(page.locator(".flash-success")).to_contain_text("created")
    rule = CareRule.objects.get(name="E2E holiday greeting")
    assert rule.trigger_type == "holiday"
    assert rule.trigger_params == {"holiday": "Spring Festival", "offset_days": -3, "at_hour": 10}
    expect(page.locator("#id_tp_holiday__holiday")).to_have_value("Spring Festival")


def test_supervisor_reads_rules_and_reports_but_the_editor_is_refused(
    logged_in: Callable[..., Any],
) -> None:
    template = template_create(
        name="E2E wake-up", slug="e2e-wake-up", channel="sms", variants={"en": {"body": "Hi"}}
    )
    rule = care_rule_create(
        name="E2E read-only rule",
        trigger_type="birthday",
        steps=[{"channel": "sms", "template_id": template.pk}],
    )
    page = logged_in(Role.SUPERVISOR, "e2e_care_supervisor")

    page.goto("/care/rules/")
    row = page.locator(f"tr[data-rule='{rule.slug}']")
    expect(row).to_be_visible()
    assert row.get_by_text("Edit").count() == 0

    response = page.goto(f"/care/rules/{rule.pk}/edit/")
    assert response is not None
    assert response.status == 403

    page.goto("/care/effectiveness/")
    expect(page.locator(f"tr[data-rule-id='{rule.pk}']")).to_contain_text("No evidence yet")
    shot(page, "care-effectiveness")

    page.goto("/care/kpis/?days=30")
    expect(page.locator("[data-kpi=tasks_created]")).to_be_visible()
    page.get_by_role("link", name="7 days").click()
    expect(page.locator(".care-kpis-head h2")).to_contain_text("7 days")
    expect(page.locator("canvas[data-chart=tasks]")).to_be_visible()
    page.wait_for_function(
        "() => window.Chart && Chart.getChart(document.querySelector('canvas[data-chart=nps]'))"
    )
    shot(page, "care-kpis")

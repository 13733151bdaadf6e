"""The rule editor in the browser: an admin builds a journey whose first SMS waits for a reply
and branches on a Chinese keyword, sees it drawn as a flow, and is shown the path of a bad
branch (nothing saved)."""

from collections.abc import Callable
from typing import Any

from playwright.sync_api import expect

from callcenter.choices import Role
from care.models import CareRule
from care.services.templates import template_create
from tests.e2e.conftest import shot


def test_admin_builds_a_journey_that_branches_on_a_reply(
    logged_in: Callable[..., Any],
) -> None:
    template_create(
        name="E2E reminder", slug="e2e-reminder", channel="sms", variants={"en": {"body": "Hi"}}
    )
    page = logged_in(Role.ADMIN, "e2e_journey_admin")

    # Build it: "ask" waits 24 h for a reply; "还款" -> "thanks"; nothing -> the end.
    page.goto("/care/rules/new/")
    page.fill("#id_name", "E2E journey")
    page.select_option("#id_trigger_type", "external")
    page.fill("#id_tp_external__name", "e2e_due")
    page.fill("#id_stop_events", "payment_received")
    page.select_option("#id_steps-0-channel", "sms")
    page.select_option("#id_steps-0-template", label="E2E reminder")
    page.fill("#id_steps-0-key", "ask")
    page.select_option("#id_steps-0-wait_for", "sms_reply")
    page.locator("[data-step]").first.locator("[data-step-waits] summary").click()
    page.fill("#id_steps-0-wait_hours", "24")
    page.select_option("#id_steps-0-branch_0_match", "keywords")
    page.fill("#id_steps-0-branch_0_values", "还款，pay")
    page.fill("#id_steps-0-branch_0_goto", "thanks")
    page.fill("#id_steps-0-timeout_goto", "nowhere")
    page.click("[data-step-add]")
    second = page.locator("[data-step]").nth(1)
    second.locator("select[name$='-channel']").select_option("sms")
    second.locator("select[name$='-template']").select_option(label="E2E reminder")
    second.locator("input[name$='-key']").fill("thanks")
    page.click("[data-save]")

    # A branch going nowhere is shown with its path, and nothing is saved.
    expect(page.locator(".care-step-error").first).to_contain_text(
        "steps[0].branches[1].goto: no step has the key nowhere"
    )
    assert not CareRule.objects.filter(name="E2E journey").exists()

    page.fill("#id_steps-0-timeout_goto", "end")
    page.click("[data-save]")

    expect(page.locator(".flash-success")).to_contain_text("created")
    flow = page.locator("#journey-flow")
    expect(flow).to_contain_text("Waits up to 24 h for: An SMS reply")
    expect(flow).to_contain_text("The reply contains: 还款, pay →")
    expect(flow).to_contain_text("Nothing within 24 h →")
    expect(flow.locator("[data-journey-step='thanks']")).to_be_visible()
    shot(page, "care-journey-flow")
    rule = CareRule.objects.get(name="E2E journey")
    assert rule.stop_conditions == ["external:payment_received"]
    ask, thanks = rule.steps.order_by("position")
    assert ask.branches == [
        {"if": {"keywords": ["还款", "pay"]}, "goto": "thanks"},
        {"if": "timeout", "goto": "end"},
    ]
    assert (ask.key, ask.wait_hours, thanks.key) == ("ask", 24, "thanks")

"""Next best actions in a real browser: an admin writes a rule with the segments' rule builder
(its live count of matching customers included) and an agent's desk card for a matching
caller shows the action and its reason, placeholders filled."""

from collections.abc import Callable
from typing import Any

from playwright.sync_api import expect

from callcenter.choices import Role
from callcenter.services.customers import customer_create
from segments.models import NextBestAction
from tests.e2e.conftest import shot


def test_admin_writes_a_rule_in_the_builder_and_the_agents_card_shows_it(
    logged_in: Callable[..., Any],
) -> None:
    customer = customer_create(name="Tea E2E", phones=["13800138777"], city="E2E-Teaville")
    admin = logged_in(Role.ADMIN, "e2e_nba_admin")

    admin.goto("/next-best-actions/")
    admin.get_by_role("link", name="New next best action").click()
    admin.fill("input[name=name]", "E2E tea tasting")
    admin.fill("input[name=position]", "1")
    builder = admin.locator("[data-rule-builder]")
    builder.get_by_role("button", name="Add condition").click()
    condition = builder.locator(".rb-condition").first
    condition.locator("select.rb-field").select_option("city")
    condition.locator("select.rb-cmp").select_option("eq")
    condition.locator("input.rb-value").fill("E2E-Teaville")
    expect(builder.locator(".rb-count")).to_have_text("1")
    admin.fill("textarea[name=action_text]", "Invite {name} to the tea tasting")
    admin.fill("textarea[name=reason_text]", "Lives in the tasting's city")
    admin.select_option("select[name=channel]", "call")
    shot(admin, "next-best-action-editor")
    admin.get_by_role("button", name="Save next best action").click()

    expect(admin.locator("#next-best-action-table")).to_contain_text("E2E tea tasting")
    rule = NextBestAction.objects.get(name="E2E tea tasting")
    assert rule.condition["children"][0] == {
        "field": "city",
        "cmp": "eq",
        "value": "E2E-Teaville",
    }

    agent = logged_in(Role.AGENT, "e2e_nba_agent")
    agent.goto("/desk/")
    agent.fill("input[name=phone]", "138 0013 8777")
    agent.get_by_role("button", name="Look up").click()
    card = agent.locator(f"#desk-card-{customer.pk}")
    actions = card.get_by_test_id("desk-next-best-actions")
    expect(actions).to_contain_text("Invite Tea E2E to the tea tasting")
    expect(actions).to_contain_text("Why: Lives in the tasting's city")
    shot(agent, "desk-next-best-action")

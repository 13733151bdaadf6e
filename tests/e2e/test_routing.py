"""The routing rules editor in a real browser: an admin adds a To B rule (translated labels,
Chinese UI), sees it in the ordered list, edits and deletes it; a new business ticket then
follows the rule to the industry specialist."""

from collections.abc import Callable
from typing import Any

from playwright.sync_api import expect

from callcenter.choices import CustomerKind, Role, TicketKind
from callcenter.models import AgentProfile, Ticket
from callcenter.services.activity import ticket_open
from outreach.models import RoutingRule
from tests.callcenter.factories import BusinessCustomerFactory, UserFactory
from tests.e2e.conftest import shot
from tests.outreach.factories import QueueFactory


def test_admin_edits_routing_rules(logged_in: Callable[..., Any]) -> None:
    specialist = UserFactory(role=Role.AGENT, username="e2e_routing_specialist")
    AgentProfile.objects.create(user=specialist, skills=["zh-hans", "industry:retail"])
    queue = QueueFactory(slug="e2e-to-b", name="E2E To B", members=[specialist])
    page = logged_in(Role.ADMIN, "e2e_routing_admin")

    # an admin adds a rule: business customers go to the To B queue
    page.goto("/routing-rules/")
    page.locator("header").get_by_role("link", name="New routing rule").click()
    page.get_by_label("Name").fill("E2E To B retail")
    page.get_by_label("Position").fill("5")
    page.locator("input[name=customer_kinds][value=business]").check()
    page.get_by_label("Industries").fill("Retail")
    page.get_by_label("Queue").select_option(str(queue.pk))
    page.get_by_role("button", name="Save routing rule").click()

    rows = page.locator("#routing-rules tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("E2E To B retail")
    expect(rows.first).to_contain_text("E2E To B")
    shot(page, "routing-rules")
    rule = RoutingRule.objects.get(name="E2E To B retail")
    assert (rule.customer_kinds, rule.industries) == ([CustomerKind.BUSINESS], ["Retail"])

    # a bad skill is refused on the page, nothing changes
    page.get_by_role("link", name="Edit").click()
    page.get_by_label("Required skills").fill("Big Spender")
    page.get_by_role("button", name="Save routing rule").click()
    expect(page.locator(".field-error")).to_contain_text("Not a skill")
    rule.refresh_from_db()
    assert rule.required_skills == []

    # the rule routes a retail business's ticket to the specialist
    ticket = ticket_open(
        customer=BusinessCustomerFactory(industry="Retail"),
        kind=TicketKind.COMPLAINT,
        subject="E2E outage",
    )
    assert Ticket.objects.get(pk=ticket.pk).assignee == specialist

    # the admin deletes the rule
    page.goto("/routing-rules/")
    page.get_by_role("button", name="Delete").click()
    expect(page.locator(".empty-state")).to_be_visible()
    assert not RoutingRule.objects.filter(pk=rule.pk).exists()


def test_chinese_labels_of_the_editor(logged_in: Callable[..., Any]) -> None:
    QueueFactory(slug="e2e-general-zh", name="E2E general")
    page = logged_in(Role.ADMIN, "e2e_routing_admin_zh", locale="zh-CN")
    page.goto("/routing-rules/new/")
    expect(page.get_by_role("heading", name="新建分配规则")).to_be_visible()
    expect(page.get_by_text("所需技能").first).to_be_visible()
    shot(page, "routing-rule-form-zh")

"""Agents see contact details masked and show one number when they must dial it: on the
customer page and on the desk card, with a reason, in English and in Chinese."""

from collections.abc import Callable
from typing import Any

from playwright.sync_api import expect

from callcenter.choices import Role
from callcenter.models import AuditLog
from callcenter.services.customer_access import AUDIT_REVEAL
from callcenter.services.customers import customer_create
from tests.e2e.conftest import shot


def test_an_agent_shows_a_number_on_the_customer_page_for_a_reason(
    logged_in: Callable[..., Any],
) -> None:
    customer = customer_create(name="Reveal E2E", phones=["13800138321"])
    page = logged_in(Role.AGENT, "e2e_reveal_agent")

    page.goto(f"/customers/{customer.pk}/")
    contacts = page.locator(".contact-list")
    expect(contacts).to_contain_text("+8613*****8321")
    contacts.get_by_text("Show number").click()
    contacts.get_by_label("Why do you need it? (recorded in the audit log)").fill(
        "Callback the customer asked for"
    )
    contacts.get_by_role("button", name="Show", exact=True).click()

    expect(contacts).to_contain_text("+86 138 0013 8321")
    expect(contacts).to_contain_text("Shown to you only; recorded in the audit log.")
    shot(page, "customer-reveal")
    entry = AuditLog.objects.get(action=AUDIT_REVEAL, object_id=str(customer.pk))
    assert entry.actor == page.user
    assert entry.data["reason"] == "Callback the customer asked for"


def test_an_agent_shows_a_number_on_the_desk_card_in_chinese(
    logged_in: Callable[..., Any],
) -> None:
    customer_create(name="王芳 Reveal E2E", phones=["13800138654"])
    page = logged_in(Role.AGENT, "e2e_reveal_desk", locale="zh-CN")
    page.goto("/desk/?phone=13800138654")
    card = page.locator(".desk-card")
    expect(card).to_contain_text("+8613*****8654")
    expect(card).not_to_contain_text("138 0013 8654")

    card.get_by_text("显示号码").click()
    card.get_by_label("为什么需要？（记入审计日志）").fill("客户要求回电")
    card.get_by_role("button", name="显示", exact=True).click()

    expect(card).to_contain_text("+86 138 0013 8654")
    expect(card).to_contain_text("仅向您显示；已记入审计日志。")
    shot(page, "desk-reveal-zh")

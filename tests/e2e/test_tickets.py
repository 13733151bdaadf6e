"""The ticket workspace in a real browser, in English and Simplified Chinese: the list's SLA
column (colour and time left, nearest due first), then responding to a ticket from its page."""

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from callcenter.choices import Role, TicketStatus
from callcenter.models import Ticket, TicketUpdate
from tests.callcenter.factories import CustomerFactory, TicketFactory
from tests.e2e.conftest import shot
from tests.service.factories import sla_for

LABELS = {
    "en": {
        "breached": "Breached",
        "warning": "Breaching soon",
        "overdue": "overdue",
        "respond": "Record response",
        "recorded": "Response recorded.",
        "responded": "Responded to the customer",
    },
    "zh": {
        "breached": "已超时",
        "warning": "即将超时",
        "overdue": "已逾期",
        "respond": "记录回复",
        "recorded": "回复已记录。",
        "responded": "已回复客户",
    },
}


@pytest.mark.parametrize("language", ["en", "zh"])
def test_agent_sees_sla_time_left_and_responds(
    logged_in: Callable[..., Any], language: str
) -> None:
    labels = LABELS[language]
    page = logged_in(Role.AGENT, f"e2e_tickets_{language}")
    now = timezone.now()
    customer = CustomerFactory(name=f"Ticket Customer {language} E2E")
    late = TicketFactory(customer=customer, assignee=page.user, subject=f"Parcel lost {language}")
    sla_for(late, first_response_due_at=now - dt.timedelta(minutes=30))
    soon = TicketFactory(customer=customer, subject=f"Refund slow {language}")
    sla_for(soon, first_response_due_at=now + dt.timedelta(minutes=50), warned_at=now)
    if language == "zh":
        page.get_by_role("button", name="简体中文").click()
        page.wait_for_load_state()

    page.goto("/tickets/")

    rows = page.locator("#ticket-table tbody tr")
    expect(rows).to_have_count(2)
    first_sla = rows.first.locator(".sla-badge")
    expect(rows.first).to_contain_text(f"Parcel lost {language}")
    expect(first_sla).to_have_class("badge badge-red sla-badge")
    expect(first_sla).to_contain_text(labels["breached"])
    expect(first_sla).to_contain_text(labels["overdue"])
    expect(rows.nth(1).locator(".sla-badge")).to_have_class("badge badge-amber sla-badge")
    expect(rows.nth(1).locator(".sla-badge")).to_contain_text(labels["warning"])
    shot(page, f"ticket-list-{language}")

    rows.first.locator("a.cell-link").click()
    page.fill("#respond-form textarea[name=text]", "包裹已找到，明天送达。")
    page.select_option("#respond-form select[name=channel]", "call")
    page.get_by_role("button", name=labels["respond"]).click()

    expect(page.locator(".flash-success")).to_contain_text(labels["recorded"])
    expect(page.locator("#ticket-history")).to_contain_text(labels["responded"])
    expect(page.locator("#ticket-history")).to_contain_text("包裹已找到，明天送达。")
    shot(page, f"ticket-page-{language}")
    late.refresh_from_db()
    assert late.status == TicketStatus.IN_PROGRESS
    assert late.first_responded_at is not None
    assert TicketUpdate.objects.filter(ticket=late, kind="responded").count() == 1
    assert Ticket.objects.filter(pk=soon.pk, assignee__isnull=True).exists()

"""Queues in a real browser: an agent completes a call from their queue, a supervisor
reassigns tasks in bulk on the board, the server refuses the board to agents, and the customer
page shows care plans, tasks and duplicates with the supervisors' link to the merge."""

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.utils import timezone
from playwright.sync_api import expect

from callcenter.choices import CustomerStatus, Role
from callcenter.models import Customer, Interaction, MergeProposal
from care.choices import StepChannel
from outreach.choices import TaskStatus
from outreach.models import OutreachTask
from tests.callcenter.factories import CustomerFactory, UserFactory
from tests.e2e.conftest import shot
from tests.outreach.factories import CallTaskFactory, enrollment_with_step


def _call(assignee: Any, name: str, *, hours_late: float = 0, **kwargs: Any) -> OutreachTask:
    due = timezone.now() - dt.timedelta(hours=hours_late + 0.1)
    return CallTaskFactory(
        assignee=assignee,
        customer=CustomerFactory(name=name),
        due_at=due,
        deadline_at=due + dt.timedelta(hours=1),
        body=f"Call {name} about the renewal.",
        **kwargs,
    )


def test_agent_completes_a_call_from_their_queue(logged_in: Callable[..., Any]) -> None:
    page = logged_in(Role.AGENT, "e2e_queue_agent")
    overdue = _call(page.user, "Overdue Customer E2E", hours_late=3)
    _call(page.user, "On Time Customer E2E")

    page.goto("/queue/")

    rows = page.locator("#queue-now tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("Overdue Customer E2E")
    expect(rows.first.locator(".countdown")).to_contain_text("overdue")
    expect(rows.nth(1).locator(".countdown")).to_contain_text("left")
    shot(page, "my-queue")

    row = page.locator(f"#task-{overdue.pk}")
    row.locator("select[name=outcome]").first.select_option("reached")
    row.locator("input[name=notes]").fill("Renewed for a year")
    row.get_by_role("button", name="Complete").click()

    expect(page.locator(f"#task-{overdue.pk}.row-done")).to_contain_text("Reached")
    overdue.refresh_from_db()
    assert (overdue.status, overdue.outcome) == (TaskStatus.DONE, "reached")
    assert Interaction.objects.filter(customer=overdue.customer, outcome="reached").exists()


def test_supervisor_reassigns_tasks_in_bulk(logged_in: Callable[..., Any]) -> None:
    away = UserFactory(role=Role.AGENT, username="e2e_away_agent")
    cover = UserFactory(role=Role.AGENT, username="e2e_cover_agent")
    tasks = [_call(away, f"Bulk Customer {index} E2E", hours_late=2) for index in range(3)]
    page = logged_in(Role.SUPERVISOR, "e2e_board_supervisor")

    page.goto(f"/queues/?show=all&agent={away.pk}")
    expect(page.locator(".task-check")).to_have_count(3)
    page.locator(f".task-check[value='{tasks[0].pk}']").check()
    page.locator(f".task-check[value='{tasks[1].pk}']").check()
    expect(page.locator("#selected-count")).to_have_text("2")
    page.select_option("select[name=assignee]", str(cover.pk))
    page.fill("input[name=reason]", "Sick leave")
    shot(page, "queue-board")
    page.get_by_role("button", name="Reassign selected").click()

    expect(page.locator(".flash-success")).to_contain_text("2 tasks reassigned.")
    assignees = dict(
        OutreachTask.objects.filter(pk__in=[t.pk for t in tasks]).values_list("pk", "assignee")
    )
    assert assignees == {tasks[0].pk: cover.pk, tasks[1].pk: cover.pk, tasks[2].pk: away.pk}


def test_agent_gets_403_on_the_queue_board(logged_in: Callable[..., Any]) -> None:
    page = logged_in(Role.AGENT, "e2e_board_agent")

    response = page.goto("/queues/")

    assert response is not None
    assert response.status == 403


def test_customer_page_shows_care_tasks_and_duplicates(logged_in: Callable[..., Any]) -> None:
    customer = CustomerFactory(name="张伟 E2E")
    twin = CustomerFactory(name="张 伟 E2E")
    MergeProposal.objects.create(
        customer_a=customer, customer_b=twin, score=0.91, reasons=["same phone"]
    )
    enrollment_with_step(customer=customer, channel=StepChannel.CALL)
    CallTaskFactory(customer=customer)
    page = logged_in(Role.SUPERVISOR, "e2e_page_supervisor")

    page.goto(f"/customers/{customer.pk}/")

    expect(page.locator("#care-enrollments")).to_contain_text("Active")
    expect(page.locator("#customer-tasks")).to_contain_text("Pending")
    expect(page.locator("#merge-suggestions")).to_contain_text("张 伟 E2E")
    shot(page, "customer-page")
    page.locator("#merge-suggestions").get_by_test_id("review-merge").click()
    expect(page.get_by_test_id("survivor")).to_contain_text("张伟 E2E")
    page.get_by_test_id("confirm-merge").click()
    expect(page.locator(".flash-success")).to_contain_text("was merged into 张伟 E2E")
    twin.refresh_from_db()
    assert twin.merged_into_id == customer.pk
    # The tombstone protects its survivor from deletion; let the cleanup delete both.
    Customer.objects.filter(pk=twin.pk).update(merged_into=None, status=CustomerStatus.ACTIVE)

"""Times people schedule (manual tasks, their deadlines, callbacks) must lie within a year of
now: a typo such as year 9999 overflowed the date arithmetic (due time plus the SLA span) and
answered 500, on the desk, the queue page and the API."""

import datetime as dt

import pytest
from django.test import Client
from rest_framework.test import APIClient

from callcenter.choices import Role
from outreach.models import OutreachTask
from tests.callcenter.factories import CustomerFactory, PhoneFactory, UserFactory
from tests.outreach.factories import CallTaskFactory

pytestmark = pytest.mark.django_db

FAR = ("9999-12-31T23:59", "0001-01-01T00:00", "2200-01-01T00:00")


@pytest.fixture
def supervisor() -> object:
    return UserFactory(role=Role.SUPERVISOR, username="bounds_supervisor")


@pytest.mark.parametrize("when", FAR)
@pytest.mark.parametrize("field", ["due_at", "deadline_at"])
def test_the_api_refuses_a_manual_task_far_from_now(
    supervisor: object, when: str, field: str
) -> None:
    client = APIClient()
    client.force_authenticate(supervisor)
    customer = CustomerFactory()
    times = {"due_at": "2026-01-01T10:00:00+08:00", field: f"{when}:00+08:00"}
    before = OutreachTask.objects.count()

    response = client.post(
        "/api/outreach/tasks/",
        {"customer": customer.pk, "channel": "call", **times},
        format="json",
    )

    assert response.status_code == 400, response.content
    body = response.json()
    assert body.get("field") == field or field in body  # ours, or DRF's own refusal
    assert OutreachTask.objects.count() == before


@pytest.mark.parametrize("when", ["9999-12-31T23:59:00+08:00", "2200-01-01T00:00:00Z"])
def test_the_api_refuses_a_callback_far_ahead(supervisor: object, when: str) -> None:
    client = APIClient()
    client.force_authenticate(supervisor)
    task = CallTaskFactory(assignee=supervisor)

    response = client.post(
        f"/api/outreach/tasks/{task.pk}/reschedule/",
        {"callback_at": when, "outcome": "no_answer"},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["field"] == "callback_at"
    task.refresh_from_db()
    assert task.outcome == ""
    assert not OutreachTask.objects.filter(idempotency_key=f"callback:{task.pk}").exists()


def test_the_desk_refuses_a_callback_in_year_9999(client: Client) -> None:
    agent = UserFactory(role=Role.AGENT, username="bounds_agent")
    client.force_login(agent)
    customer = PhoneFactory().customer

    response = client.post(
        f"/desk/customers/{customer.pk}/callback/",
        {"callback_at": "9999-12-31T23:59", "notes": "call back"},
    )

    assert response.status_code == 422
    assert "366 days" in response.content.decode()
    assert not OutreachTask.objects.filter(customer=customer).exists()


def test_the_queue_page_refuses_a_callback_in_year_9999(client: Client) -> None:
    agent = UserFactory(role=Role.AGENT, username="bounds_queue_agent")
    client.force_login(agent)
    task = CallTaskFactory(assignee=agent)

    response = client.post(
        f"/queue/{task.pk}/reschedule/",
        {"callback_at": "9999-12-31T23:59", "outcome": "no_answer"},
        follow=True,
    )

    assert response.status_code == 200
    assert "366 days" in response.content.decode()
    assert not OutreachTask.objects.filter(idempotency_key=f"callback:{task.pk}").exists()


def test_a_callback_next_week_is_still_fine(supervisor: object) -> None:
    client = APIClient()
    client.force_authenticate(supervisor)
    task = CallTaskFactory(assignee=supervisor)
    when = (dt.datetime.now(dt.UTC) + dt.timedelta(days=7)).isoformat()

    response = client.post(
        f"/api/outreach/tasks/{task.pk}/reschedule/",
        {"callback_at": when, "outcome": "callback_requested"},
        format="json",
    )

    assert response.status_code == 201

"""Element ids are unique on the main pages, and every label points at a field of the page:
the agent desk with a caller's card (its forms share field names), the unknown caller's form,
a card answered with errors, the agent's queue, the customer page, the dashboard and the
clusters page."""

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from callcenter.choices import Role
from segments.choices import LifecycleStage, ValueTier
from segments.models import ClusterProfile, RefreshRun
from tests.callcenter.factories import (
    CustomerFactory,
    InteractionFactory,
    OrderFactory,
    PhoneFactory,
    TicketFactory,
    UserFactory,
)
from tests.html_ids import NO_ID_PROBLEMS, id_problems
from tests.outreach.factories import CallTaskFactory
from tests.segments.factories import CustomerMetricsFactory

pytestmark = pytest.mark.django_db

PHONE = "+8613800138000"


@pytest.fixture
def caller() -> Any:
    customer = CustomerFactory(name="王芳")
    PhoneFactory(customer=customer, value=PHONE)
    CustomerMetricsFactory(
        customer=customer, lifecycle_stage=LifecycleStage.ACTIVE, value_tier=ValueTier.HIGH
    )
    OrderFactory(customer=customer)
    InteractionFactory(customer=customer, reason="delivery")
    TicketFactory(customer=customer, subject="Parcel lost")
    CallTaskFactory(customer=customer, body="Ask about the parcel.")
    return customer


def _as(client: Client, role: str) -> Client:
    client.force_login(UserFactory(role=role, username=f"ids_{role}"))
    return client


def test_the_desk_with_a_callers_card_has_unique_ids(client: Client, caller: Any) -> None:
    html = _as(client, Role.AGENT).get(reverse("desk"), {"phone": PHONE}).content.decode()

    assert "王芳" in html
    # The card's forms (log the call, open a ticket, schedule a callback) are all there.
    for field in ("log-notes", "ticket-subject", "callback-notes", "callback-callback_at"):
        assert f'id="{field}"' in html
    assert id_problems(html) == NO_ID_PROBLEMS


def test_the_desk_with_an_unknown_caller_has_unique_ids(client: Client) -> None:
    html = _as(client, Role.AGENT).get(reverse("desk"), {"phone": "13900000001"}).content.decode()

    assert 'id="new-caller-name"' in html
    assert id_problems(html) == NO_ID_PROBLEMS


def test_a_card_answered_with_errors_keeps_its_ids_unique(client: Client, caller: Any) -> None:
    response = _as(client, Role.AGENT).post(
        reverse("desk-log-call", args=[caller.pk]),
        {"phone": PHONE, "reason": "", "direction": "inbound"},
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 422
    assert id_problems(response.content.decode()) == NO_ID_PROBLEMS


def test_the_queue_with_several_calls_has_unique_ids(client: Client) -> None:
    agent = UserFactory(role=Role.AGENT, username="ids_queue_agent")
    for _ in range(3):
        CallTaskFactory(assignee=agent)
    client.force_login(agent)

    html = client.get(reverse("my-queue")).content.decode()

    assert html.count('class="row-forms"') == 3
    assert id_problems(html) == NO_ID_PROBLEMS


def test_the_customer_page_has_unique_ids(client: Client, caller: Any) -> None:
    for role in (Role.AGENT, Role.SUPERVISOR):
        page = _as(Client(), role).get(reverse("customer-detail", args=[caller.pk]))

        assert page.status_code == 200
        assert id_problems(page.content.decode()) == NO_ID_PROBLEMS


def test_the_dashboard_and_clusters_pages_have_unique_ids(client: Client, caller: Any) -> None:
    run = RefreshRun.objects.create(as_of=timezone.now(), window_days=365)
    for number in range(3):
        ClusterProfile.objects.create(
            run=run, number=number, label=f"Cluster {number}", size=5, mean_frequency=2,
            mean_monetary=300, mean_r=3, mean_f=2, mean_m=4, mean_complaints=0.1,
        )  # fmt: skip
    client = _as(client, Role.SUPERVISOR)

    for name in ("dashboard", "clusters", "home"):
        page = client.get(reverse(name))

        assert page.status_code == 200
        assert id_problems(page.content.decode()) == NO_ID_PROBLEMS, name

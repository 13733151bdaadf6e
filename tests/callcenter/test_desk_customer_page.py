"""The customer page's care plans, outreach tasks and duplicate suggestions, and the merge
button only supervisors and admins may use."""

from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from callcenter.choices import CustomerStatus, MergeProposalStatus, Role
from callcenter.models import Customer, MergeProposal
from care.choices import StepChannel
from tests.callcenter.factories import CustomerFactory, UserFactory
from tests.outreach.factories import CallTaskFactory, enrollment_with_step


@pytest.fixture
def pair(db: None) -> tuple[Customer, Customer, MergeProposal]:
    first = CustomerFactory(name="王芳")
    second = CustomerFactory(name="王 芳")
    proposal = MergeProposal.objects.create(
        customer_a=first, customer_b=second, score=0.93, reasons=["same phone"]
    )
    return first, second, proposal


def _login(client: Client, role: str) -> Client:
    client.force_login(UserFactory(role=role, username=f"page_{role}"))
    return client


def test_page_lists_care_plans_tasks_and_duplicates_with_a_merge_button_for_supervisors(
    client: Client, pair: tuple[Customer, Customer, MergeProposal]
) -> None:
    first, second, _proposal = pair
    enrollment, _step = enrollment_with_step(customer=first, channel=StepChannel.CALL)
    CallTaskFactory(customer=first)

    html = _login(client, Role.SUPERVISOR).get(reverse("customer-detail", args=[first.pk]))
    html = html.content.decode()

    assert enrollment.rule.name in html
    assert 'id="customer-tasks"' in html
    assert "Pending" in html
    assert "王 芳" in html
    assert "same phone" in html
    assert reverse("customer-merge", args=[first.pk]) in html


def test_agents_see_duplicates_but_no_merge_button_and_get_403_on_the_post(
    client: Client, pair: tuple[Customer, Customer, MergeProposal]
) -> None:
    first, _second, proposal = pair
    client = _login(client, Role.AGENT)

    html = client.get(reverse("customer-detail", args=[first.pk])).content.decode()
    response = client.post(
        reverse("customer-merge", args=[first.pk]),
        {"proposal": proposal.pk, "survivor": first.pk},
    )

    assert "王 芳" in html
    assert reverse("customer-merge", args=[first.pk]) not in html
    assert response.status_code == 403
    proposal.refresh_from_db()
    assert proposal.status == MergeProposalStatus.OPEN


def test_supervisor_merges_keeping_the_chosen_customer(
    client: Client, pair: tuple[Customer, Customer, MergeProposal]
) -> None:
    first, second, proposal = pair

    response = _login(client, Role.SUPERVISOR).post(
        reverse("customer-merge", args=[first.pk]),
        {"proposal": proposal.pk, "survivor": second.pk},
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("customer-detail", args=[second.pk])
    first.refresh_from_db()
    assert (first.status, first.merged_into_id) == (CustomerStatus.MERGED, second.pk)


def test_a_decided_or_foreign_proposal_is_refused_with_a_message(
    client: Client, pair: tuple[Customer, Customer, MergeProposal]
) -> None:
    first, _second, proposal = pair
    stranger = CustomerFactory()
    client = _login(client, Role.ADMIN)

    response = client.post(
        reverse("customer-merge", args=[stranger.pk]),
        {"proposal": proposal.pk, "survivor": stranger.pk},
        follow=True,
    )

    assert "no longer open" in response.content.decode()
    first.refresh_from_db()
    assert first.status == CustomerStatus.ACTIVE


def test_the_new_sections_do_not_add_queries_per_row(
    client: Client, pair: tuple[Customer, Customer, MergeProposal]
) -> None:
    first, _second, _proposal = pair
    client = _login(client, Role.SUPERVISOR)
    url = reverse("customer-detail", args=[first.pk])
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for index in range(6):
        enrollment_with_step(customer=first, channel=StepChannel.CALL)
        CallTaskFactory(customer=first, assignee=UserFactory(username=f"assignee{index}"))
        MergeProposal.objects.create(customer_a=first, customer_b=CustomerFactory(), score=0.8)

    with CaptureQueriesContext(connection) as many:
        client.get(url)

    assert len(few) == len(many)


def test_merge_needs_a_post(client: Client, pair: Any) -> None:
    first, _second, _proposal = pair
    client = _login(client, Role.SUPERVISOR)

    assert client.get(reverse("customer-merge", args=[first.pk])).status_code == 405

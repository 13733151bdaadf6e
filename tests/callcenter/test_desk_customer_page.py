"""The customer page's care plans, outreach tasks and duplicate suggestions, and the link to
the merge confirmation only supervisors and admins may use (tests/callcenter/test_duplicates.py
covers the confirmation and the merge)."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from callcenter.choices import MergeProposalStatus, Role
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


def test_page_lists_care_plans_tasks_and_duplicates_with_a_merge_link_for_supervisors(
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
    assert f"{reverse('merge-proposal-merge', args=[_proposal.pk])}?keep={first.pk}" in html


def test_agents_see_duplicates_but_no_merge_link_and_get_403_on_the_post(
    client: Client, pair: tuple[Customer, Customer, MergeProposal]
) -> None:
    first, _second, proposal = pair
    client = _login(client, Role.AGENT)

    html = client.get(reverse("customer-detail", args=[first.pk])).content.decode()
    response = client.post(reverse("merge-proposal-merge", args=[proposal.pk]), {"keep": first.pk})

    assert "王 芳" in html
    assert reverse("merge-proposal-merge", args=[proposal.pk]) not in html
    assert response.status_code == 403
    proposal.refresh_from_db()
    assert proposal.status == MergeProposalStatus.OPEN


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

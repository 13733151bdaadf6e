"""The duplicates page: who may use it, its empty state, the evidence in words (masked by role on
the customer page), the merge confirmation's counts of what moves, merge, dismiss, bad ids, the
finder from the browser and from the beat schedule, and flat query counts."""

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, connections
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from callcenter.choices import ContactKind, CustomerStatus, MergeProposalStatus, Role
from callcenter.models import AuditLog, Customer, CustomerMerge, MergeProposal
from callcenter.schedules import PERIODIC_TASKS
from callcenter.services.identity import merge_moves_preview
from callcenter.services.identity.finder import FINDER_LOCK_KEY
from callcenter.tasks import merge_proposals_find_task
from tests.callcenter.factories import (
    CustomerFactory,
    EmailFactory,
    InteractionFactory,
    OrderFactory,
    PhoneFactory,
    SurveyFactory,
    TicketFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

LIST_URL = reverse("merge-proposals")
FIND_URL = reverse("merge-proposals-find")


def _client(role: str) -> Client:
    client = Client()
    client.force_login(UserFactory(role=role, username=f"dup_{role}"))
    return client


def _proposal_with_history() -> MergeProposal:
    """Two customers sharing an email; the second one has history of every kind."""
    kept = CustomerFactory(name="Lin Hui", city="")
    other = CustomerFactory(name="Lin  Hui", city="")
    EmailFactory(customer=kept, value="lin.hui@example.com")
    EmailFactory(customer=other, value="lin.hui@example.com", is_primary=False)
    PhoneFactory(customer=other, value="+8613912345678")
    PhoneFactory(customer=other, value="+8613912345679", is_primary=False)
    OrderFactory(customer=other)
    OrderFactory(customer=other)
    InteractionFactory(customer=other)
    TicketFactory(customer=other)
    SurveyFactory(customer=other)
    return MergeProposal.objects.create(
        customer_a=kept,
        customer_b=other,
        score=0.8,
        reasons=[
            {"kind": "email", "value": "lin.hui@example.com"},
            {"kind": "name", "value": "Lin Hui ~ Lin  Hui", "similarity": 0.88},
        ],
    )


# --- who may use it -------------------------------------------------------------------------


@pytest.mark.parametrize(("role", "status"), [(Role.AGENT, 403), (Role.SUPERVISOR, 200)])
def test_only_supervisors_and_admins_open_the_page(role: str, status: int) -> None:
    proposal = _proposal_with_history()
    client = _client(role)

    assert client.get(LIST_URL).status_code == status
    assert client.get(reverse("merge-proposal-merge", args=[proposal.pk])).status_code == status


def test_agents_are_refused_every_action_and_nothing_changes(
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    proposal = _proposal_with_history()
    CustomerFactory(name="Twin", city="")
    client = _client(Role.AGENT)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        found = client.post(FIND_URL)
    merged = client.post(
        reverse("merge-proposal-merge", args=[proposal.pk]), {"keep": proposal.customer_a_id}
    )
    dismissed = client.post(reverse("merge-proposal-dismiss", args=[proposal.pk]))

    assert (found.status_code, merged.status_code, dismissed.status_code) == (403, 403, 403)
    assert callbacks == []
    proposal.refresh_from_db()
    assert proposal.status == MergeProposalStatus.OPEN
    assert not CustomerMerge.objects.exists()


def test_the_navigation_links_the_page_for_supervisors_and_admins_only() -> None:
    for role, shown in ((Role.AGENT, False), (Role.SUPERVISOR, True), (Role.ADMIN, True)):
        html = _client(role).get(reverse("home")).content.decode()
        assert (f'href="{LIST_URL}"' in html) is shown, role


# --- the empty state and the finder ---------------------------------------------------------


def test_empty_page_says_so_and_offers_the_finder() -> None:
    html = _client(Role.SUPERVISOR).get(LIST_URL).content.decode()

    assert "No duplicate proposals" in html
    assert 'data-testid="no-duplicates"' in html
    assert f'action="{FIND_URL}"' in html
    assert 'data-testid="find-duplicates"' in html
    assert "csrfmiddlewaretoken" in html


def test_find_now_runs_the_finder_and_lists_its_proposals(
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    first = CustomerFactory(name="Zhou Min", city="")
    second = CustomerFactory(name="Zhou Ming", city="")
    EmailFactory(customer=first, value="zm@example.com")
    EmailFactory(customer=second, value="zm@example.com")
    client = _client(Role.ADMIN)

    with django_capture_on_commit_callbacks(execute=True):
        started = client.post(FIND_URL)
    response = client.get(started["Location"])

    proposal = MergeProposal.objects.get()
    assert (proposal.customer_a_id, proposal.customer_b_id) == (first.pk, second.pk)
    html = response.content.decode()
    assert "Looking for duplicates" in html
    assert "Same email zm@example.com" in html
    assert reverse("merge-proposal-merge", args=[proposal.pk]) in html


def test_the_finder_runs_every_night() -> None:
    nightly = [job for job in PERIODIC_TASKS if job.task.endswith("merge_proposals_find_task")]

    assert [job.crontab for job in nightly] == [{"minute": "50", "hour": "3"}]


# --- the list -------------------------------------------------------------------------------


def test_list_shows_score_and_evidence_in_words_not_python_dicts() -> None:
    proposal = _proposal_with_history()

    html = _client(Role.SUPERVISOR).get(LIST_URL).content.decode()

    assert "0.80" in html
    assert "Same email lin.hui@example.com" in html
    assert "Similar names Lin Hui ~ Lin  Hui (88% alike)" in html
    assert "{&#x27;kind&#x27;" not in html
    assert "'kind'" not in html
    assert reverse("merge-proposal-dismiss", args=[proposal.pk]) in html


def test_list_speaks_chinese() -> None:
    _proposal_with_history()

    html = _client(Role.SUPERVISOR).get(LIST_URL, HTTP_ACCEPT_LANGUAGE="zh-hans").content
    html = html.decode()

    assert "相同邮箱 lin.hui@example.com" in html
    assert "重复客户" in html
    assert "审核并合并" in html


def test_customer_page_shows_evidence_in_words_masked_for_agents() -> None:
    proposal = _proposal_with_history()
    url = reverse("customer-detail", args=[proposal.customer_a_id])

    agent = _client(Role.AGENT).get(url).content.decode()
    supervisor = _client(Role.SUPERVISOR).get(url).content.decode()

    assert "Same email l***@example.com" in agent
    assert "lin.hui@example.com" not in agent
    assert "Same email lin.hui@example.com" in supervisor
    assert "'kind'" not in agent
    assert "&#x27;kind&#x27;" not in agent


def test_api_gives_the_evidence_in_words_too() -> None:
    _proposal_with_history()

    response = _client(Role.SUPERVISOR).get(reverse("api-merge-proposal-list"))

    assert response.json()["results"][0]["evidence"] == [
        "Same email lin.hui@example.com",
        "Similar names Lin Hui ~ Lin  Hui (88% alike)",
    ]


def test_list_query_count_is_flat(django_assert_max_num_queries: Callable[..., Any]) -> None:
    _proposal_with_history()
    client = _client(Role.SUPERVISOR)
    client.get(LIST_URL)
    with CaptureQueriesContext(connection) as one:
        client.get(LIST_URL)
    for index in range(15):
        a, b = CustomerFactory(name=f"A{index}"), CustomerFactory(name=f"B{index}")
        MergeProposal.objects.create(
            customer_a=a, customer_b=b, score=0.5, reasons=[{"kind": "city", "value": "上海"}]
        )

    with django_assert_max_num_queries(len(one)):
        response = client.get(LIST_URL)

    assert response.content.decode().count("data-proposal=") == 16


# --- confirmation, merge, dismiss -----------------------------------------------------------


def test_confirmation_shows_what_moves_and_the_merge_moves_exactly_that() -> None:
    proposal = _proposal_with_history()
    kept, other = proposal.customer_a, proposal.customer_b
    client = _client(Role.SUPERVISOR)
    url = reverse("merge-proposal-merge", args=[proposal.pk])

    page = client.get(url, {"keep": kept.pk})
    preview = merge_moves_preview(survivor=kept, merged=other)
    response = client.post(url, {"keep": kept.pk})

    html = page.content.decode()
    assert preview.contact_points == {ContactKind.PHONE: 2}
    assert preview.contact_duplicates == 1
    assert preview.rows["callcenter.order"] == 2
    assert preview.rows["callcenter.interaction"] == 1
    assert preview.rows["callcenter.ticket"] == 1
    assert preview.rows["callcenter.surveyresponse"] == 1
    shown = (("Phone numbers", 2), ("Orders", 2), ("Tickets", 1), ("Survey responses", 1))
    for label, count in shown:
        assert f'<th scope="row">{label}</th><td class="num">{count}</td>' in html, label
    assert "Merge Lin  Hui into Lin Hui?" in html
    assert f"?keep={other.pk}" in html
    record = CustomerMerge.objects.get()
    moved = {
        label: count
        for label, count in record.moved.items()
        if count and ":" not in label and label != "callcenter.contactpoint"
    }
    assert moved == preview.rows
    assert record.moved["callcenter.contactpoint"] == sum(preview.contact_points.values())
    assert response.status_code == 302
    assert response["Location"] == reverse("customer-detail", args=[kept.pk])
    other.refresh_from_db()
    assert (other.status, other.merged_into_id) == (CustomerStatus.MERGED, kept.pk)
    proposal.refresh_from_db()
    assert proposal.status == MergeProposalStatus.MERGED


def test_keeping_the_other_customer_merges_the_other_way() -> None:
    proposal = _proposal_with_history()
    kept, other = proposal.customer_b, proposal.customer_a
    client = _client(Role.ADMIN)
    url = reverse("merge-proposal-merge", args=[proposal.pk])

    html = client.get(url, {"keep": kept.pk}).content.decode()
    client.post(url, {"keep": kept.pk})

    assert "Merge Lin Hui into Lin  Hui?" in html
    other.refresh_from_db()
    assert other.merged_into_id == kept.pk


def test_dismiss_closes_the_pair_for_good() -> None:
    proposal = _proposal_with_history()
    client = _client(Role.SUPERVISOR)

    response = client.post(reverse("merge-proposal-dismiss", args=[proposal.pk]), follow=True)

    proposal.refresh_from_db()
    assert proposal.status == MergeProposalStatus.DISMISSED
    assert "stay two customers" in response.content.decode()
    assert AuditLog.objects.filter(action="merge_proposal.dismiss").count() == 1
    assert not Customer.objects.filter(status=CustomerStatus.MERGED).exists()


@pytest.mark.parametrize("method", ["get", "post"])
def test_bad_ids_are_404_and_change_nothing(method: str) -> None:
    proposal = _proposal_with_history()
    decided = MergeProposal.objects.create(
        customer_a=CustomerFactory(),
        customer_b=CustomerFactory(),
        score=0.5,
        status=MergeProposalStatus.DISMISSED,
    )
    stranger = CustomerFactory()
    client = _client(Role.SUPERVISOR)
    merge = reverse("merge-proposal-merge", args=[proposal.pk])
    send = getattr(client, method)

    answers = [
        send(reverse("merge-proposal-merge", args=[10**9])).status_code,
        send(reverse("merge-proposal-merge", args=[decided.pk])).status_code,
        send(merge, {"keep": stranger.pk}).status_code,
        send(merge, {"keep": "²"}).status_code,
        client.post(reverse("merge-proposal-dismiss", args=[10**9])).status_code,
        client.post(reverse("merge-proposal-dismiss", args=[decided.pk])).status_code,
    ]

    assert answers == [404] * 6
    proposal.refresh_from_db()
    decided.refresh_from_db()
    assert (proposal.status, decided.status) == (
        MergeProposalStatus.OPEN,
        MergeProposalStatus.DISMISSED,
    )
    assert not CustomerMerge.objects.exists()


def test_a_second_finder_run_is_skipped_while_one_holds_the_lock() -> None:
    first = CustomerFactory(name="Lock A", city="")
    EmailFactory(customer=first, value="lock@example.com")
    EmailFactory(customer=CustomerFactory(name="Lock B", city=""), value="lock@example.com")
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", [FINDER_LOCK_KEY])
        skipped = merge_proposals_find_task()
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", [FINDER_LOCK_KEY])
        ran = merge_proposals_find_task()
    finally:
        other.close()

    assert skipped == "skipped: another run is under way"
    assert ran == {"found": 1, "created": 1, "updated": 0}

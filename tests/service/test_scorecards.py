"""Agent scorecards: each figure on hand-made data, the team's average, the sums that match
the care KPIs, who sees which card (pages and API), and fixed queries."""

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
import time_machine
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from callcenter.choices import SurveyKind
from care.choices import StepChannel
from care.selectors_reports import care_kpis
from outreach.choices import TaskOutcome, TaskStatus
from segments.choices import SegmentKind
from segments.models import Segment, SegmentMembership
from service.selectors.scorecards import agent_scorecards, scorecard_period
from tests.callcenter.factories import CustomerFactory, OrderFactory, SurveyFactory
from tests.outreach.factories import CallTaskFactory, TaskFactory
from tests.service.conftest import sla_ticket
from tests.service.factories import SlaPolicyFactory

pytestmark = pytest.mark.django_db


def _call(agent: User | None, *, outcome: str, hours_ago: float = 2, **kwargs: Any) -> Any:
    now = timezone.now()
    return CallTaskFactory(
        assignee=agent,
        status=TaskStatus.DONE,
        outcome=outcome,
        due_at=now - dt.timedelta(hours=hours_ago + 2),
        deadline_at=now - dt.timedelta(hours=hours_ago - 1),
        completed_at=now - dt.timedelta(hours=hours_ago),
        **kwargs,
    )


@pytest.fixture
def work(teams: dict[str, User]) -> dict[str, Any]:
    now = timezone.now()
    ann, bob, cy = teams["ann"], teams["bob"], teams["cy"]
    # ann: three calls done (two reached), one call missed its deadline (still pending)
    dormant_customer = CustomerFactory()
    buyer = CustomerFactory()
    _call(ann, outcome=TaskOutcome.REACHED, customer=dormant_customer)
    _call(ann, outcome=TaskOutcome.CONVERTED, customer=buyer)
    _call(ann, outcome=TaskOutcome.NO_ANSWER)
    CallTaskFactory(
        assignee=ann,
        due_at=now - dt.timedelta(hours=5),
        deadline_at=now - dt.timedelta(hours=1),
    )
    # bob: one call done late
    late = CallTaskFactory(
        assignee=bob,
        status=TaskStatus.DONE,
        outcome=TaskOutcome.REACHED,
        due_at=now - dt.timedelta(hours=6),
        deadline_at=now - dt.timedelta(hours=5),
        completed_at=now - dt.timedelta(hours=1),
    )
    # automated: an SMS sent in time, no agent
    TaskFactory(
        status=TaskStatus.SENT,
        due_at=now - dt.timedelta(hours=3),
        deadline_at=now - dt.timedelta(hours=2),
        sent_at=now - dt.timedelta(hours=3),
    )
    # the dormant customer ann called: dormant at the touch, ordered 2 hours later; NPS 4 -> 8
    dormant = Segment.objects.get(kind=SegmentKind.LIFECYCLE, key="dormant")
    SegmentMembership.objects.create(
        segment=dormant, customer=dormant_customer, entered_at=now - dt.timedelta(days=40)
    )
    OrderFactory(customer=dormant_customer, placed_at=now - dt.timedelta(minutes=30))
    SurveyFactory(customer=dormant_customer, score=4, responded_at=now - dt.timedelta(days=9))
    SurveyFactory(customer=dormant_customer, score=8, responded_at=now - dt.timedelta(minutes=5))
    # the buyer: bought before, not again since
    OrderFactory(customer=buyer, placed_at=now - dt.timedelta(days=50))
    # bob's customer answered NPS only after
    SurveyFactory(customer=late.customer, score=10, responded_at=now - dt.timedelta(minutes=5))
    # CSAT: ann 5 and 3, cy 4, one about nobody
    for agent, score in ((ann, 5), (ann, 3), (cy, 4), (None, 2)):
        SurveyFactory(
            kind=SurveyKind.CSAT,
            agent=agent,
            score=score,
            responded_at=now - dt.timedelta(hours=1),
        )
    # tickets: ann met a first response, cy breached one; one unassigned breached
    policy = SlaPolicyFactory()
    due = now - dt.timedelta(hours=1)
    sla_ticket(
        assignee=ann,
        policy=policy,
        first_due=due,
        first_at=due - dt.timedelta(minutes=10),
        first_minutes=5,
        resolution_due=due,
        resolved_at=due - dt.timedelta(minutes=1),
        resolution_minutes=50,
    )
    sla_ticket(assignee=cy, policy=policy, first_due=due)
    sla_ticket(assignee=None, policy=policy, first_due=due)
    return {"now": now}


def _cards(start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
    scorecards = agent_scorecards(start=start, end=end)
    return {card.username: card for card in scorecards.cards}


def test_each_figure_follows_its_definition(work: dict[str, Any]) -> None:
    now = work["now"]

    cards = _cards(now - dt.timedelta(days=7), now)

    ann = cards["ann"].figures
    assert ann.tasks_completed == 3
    assert ann.reach_rate == pytest.approx(2 / 3)
    assert (ann.task_sla_due, ann.task_sla_met) == (4, 3)
    assert (ann.first_due, ann.first_met, ann.resolution_due, ann.resolution_met) == (1, 1, 1, 1)
    assert ann.csat == pytest.approx(4)
    assert ann.csat_count == 2
    assert ann.customers == 3
    assert ann.nps_change == pytest.approx(4)
    assert (ann.dormant, ann.woken) == (1, 1)
    assert ann.wakeup_rate == pytest.approx(1)
    # earlier buyers: the one who bought 50 days ago (not again); the dormant one had not
    assert (ann.past_buyers, ann.repurchased) == (1, 0)
    bob = cards["bob"].figures
    assert (bob.task_sla_due, bob.task_sla_met) == (1, 0)
    assert bob.nps_pairs == 0
    cy = cards["cy"].figures
    assert (cy.first_due, cy.first_met) == (1, 0)
    assert cy.tasks_completed == 0


def test_the_team_average_pools_its_members(work: dict[str, Any]) -> None:
    now = work["now"]

    cards = _cards(now - dt.timedelta(days=7), now)

    north = cards["ann"].team_average
    assert cards["bob"].team_average == north
    assert north["tasks_completed"] == pytest.approx(2)  # (3 + 1) / 2 agents
    assert north["reach_rate"] == pytest.approx(3 / 4)
    assert north["task_sla_compliance"] == pytest.approx(3 / 5)
    assert cards["cy"].team_average["csat"] == pytest.approx(4)


@pytest.mark.parametrize("days", [7, 30])
def test_the_cards_add_up_to_the_care_kpis(work: dict[str, Any], days: int) -> None:
    kpis = care_kpis(days=days, now=work["now"])

    scorecards = agent_scorecards(start=kpis.start, end=kpis.end)

    every = [card.figures for card in scorecards.cards] + [scorecards.unassigned]
    assert sum(f.tasks_completed for f in every) == kpis.tasks_completed == 4
    assert sum(f.task_sla_due for f in every) == kpis.sla_due == 6
    assert sum(f.task_sla_met for f in every) == kpis.sla_met == 4
    assert sum(f.csat_count for f in every) == kpis.csat_answers == 4
    assert sum(f.csat_sum for f in every) / kpis.csat_answers == pytest.approx(kpis.csat)


def test_a_week_and_a_month_are_local_calendar_periods() -> None:
    wednesday = dt.date(2026, 3, 11)
    far_future = timezone.make_aware(dt.datetime(2030, 1, 1))  # noqa: DTZ001 - made aware

    week = scorecard_period(kind="week", on=wednesday, now=far_future)
    month = scorecard_period(kind="month", on=wednesday, now=far_future)

    assert timezone.localtime(week[0]).date() == dt.date(2026, 3, 9)
    assert timezone.localtime(week[1]).date() == dt.date(2026, 3, 15)
    assert timezone.localtime(month[0]).date() == dt.date(2026, 3, 1)
    assert timezone.localtime(month[1]).date() == dt.date(2026, 3, 31)


def test_an_agent_sees_only_their_own_card_on_the_page(
    work: dict[str, Any], teams: dict[str, User], client: Client
) -> None:
    client.force_login(teams["ann"])

    response = client.get(reverse("service-scorecards"), {"period": "month"})

    html = response.content.decode()
    assert response.status_code == 200
    assert html.count("data-scorecard=") == 1
    assert f'data-scorecard="{teams["ann"].pk}"' in html
    assert "data-teams" not in html
    assert "data-unassigned" not in html
    assert "bob" not in html


@pytest.fixture
def midweek() -> Iterator[None]:
    """The clock on a Wednesday noon (local), so the work of the last hours falls in this
    week whatever the hour the tests run (on a Monday morning it would not)."""
    with time_machine.travel(dt.datetime(2026, 11, 25, 4, tzinfo=dt.UTC), tick=True):
        yield


def test_an_agent_gets_only_their_own_card_from_the_api(
    midweek: None, work: dict[str, Any], teams: dict[str, User], client: Client
) -> None:
    client.force_login(teams["bob"])

    data = client.get(reverse("api-service-scorecards"), {"period": "week"}).json()

    assert [card["agent"]["id"] for card in data["cards"]] == [teams["bob"].pk]
    assert data["teams"] == []
    assert data["unassigned"] is None
    # the team's average is there, nobody's own figures
    assert data["cards"][0]["team_average"]["tasks_completed"] == pytest.approx(2)


def test_a_supervisor_sees_every_card_and_the_teams(
    midweek: None, work: dict[str, Any], teams: dict[str, User], supervisor_client: Client
) -> None:
    page = supervisor_client.get(reverse("service-scorecards"))
    data = supervisor_client.get(reverse("api-service-scorecards")).json()

    html = page.content.decode()
    for user in teams.values():
        assert f'data-scorecard="{user.pk}"' in html
    assert 'data-team="North"' in html
    assert {card["agent"]["name"] for card in data["cards"]} >= {"ann", "bob", "cy"}
    assert {team["team"] for team in data["teams"]} >= {"North", "South"}
    assert data["unassigned"]["csat_count"] == 1


def test_bad_periods_are_refused_by_the_api_and_ignored_by_the_page(
    teams: dict[str, User], client: Client
) -> None:
    client.force_login(teams["ann"])

    future = (timezone.localdate() + dt.timedelta(days=40)).isoformat()
    api = client.get(reverse("api-service-scorecards"), {"period": "year", "date": future})
    page = client.get(reverse("service-scorecards"), {"period": "year", "date": "9999-12-31"})

    assert api.status_code == 400
    assert set(api.json()) >= {"period", "date"}
    assert page.status_code == 200
    assert page.context["kind"] == "week"


def test_the_page_takes_the_same_queries_whatever_the_data(
    work: dict[str, Any], supervisor_client: Client, django_assert_num_queries: Any
) -> None:
    url = reverse("service-scorecards")
    supervisor_client.get(url)

    # request savepoint and release, session, user, roles; tasks, tickets, CSAT, outcomes,
    # agents with their teams
    with django_assert_num_queries(10):
        supervisor_client.get(url, {"period": "month"})
    for index in range(3):
        _call(None, outcome=TaskOutcome.REACHED, channel=StepChannel.CALL)
        SurveyFactory(kind=SurveyKind.CSAT, score=5, responded_at=timezone.now())
        del index
    with django_assert_num_queries(10):
        response = supervisor_client.get(url, {"period": "month"})
    assert response.status_code == 200

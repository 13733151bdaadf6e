"""The SLA report: compliance, breaches and percentiles per policy, team, agent and week on
hand-made clocks; who may read it; its queries do not grow with the data."""

import datetime as dt
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from callcenter.choices import Role
from service.selectors.sla_report import report_period, sla_report
from tests.callcenter.factories import UserFactory
from tests.service.conftest import sla_ticket
from tests.service.factories import SlaPolicyFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def clocks(teams: dict[str, User]) -> dict[str, Any]:
    """Five first-response targets of policy B2C and two of VIP, decided this week."""
    now = timezone.now()
    b2c, vip = SlaPolicyFactory(name="B2C"), SlaPolicyFactory(name="VIP")
    due = now - dt.timedelta(hours=1)
    # ann: met in 10 and 20 minutes; answered late after 90; bob: met in 30; cy: never answered
    for minutes in (10, 20):
        sla_ticket(
            assignee=teams["ann"],
            policy=b2c,
            first_due=due,
            first_at=due - dt.timedelta(minutes=30),
            first_minutes=minutes,
        )
    sla_ticket(
        assignee=teams["ann"],
        policy=b2c,
        first_due=due,
        first_at=due + dt.timedelta(minutes=30),
        first_minutes=90,
    )
    sla_ticket(
        assignee=teams["bob"],
        policy=b2c,
        first_due=due,
        first_at=due - dt.timedelta(minutes=5),
        first_minutes=30,
    )
    sla_ticket(assignee=teams["cy"], policy=b2c, first_due=due)
    # VIP: one resolved in time (a met target decided before its due moment), one unassigned
    # and not due yet (undecided: counts nowhere)
    sla_ticket(
        assignee=teams["cy"],
        policy=vip,
        first_due=now + dt.timedelta(hours=1),
        first_at=now - dt.timedelta(minutes=1),
        first_minutes=40,
        resolution_due=now + dt.timedelta(hours=5),
        resolved_at=now - dt.timedelta(minutes=1),
        resolution_minutes=120,
    )
    sla_ticket(assignee=None, policy=vip, first_due=now + dt.timedelta(hours=1))
    # last year: outside any period shown
    year_ago = now - dt.timedelta(days=365)
    sla_ticket(assignee=teams["ann"], policy=b2c, first_due=year_ago)
    return {"b2c": b2c, "vip": vip}


def test_compliance_breaches_and_percentiles_follow_their_definitions(
    clocks: dict[str, Any], teams: dict[str, User]
) -> None:
    start, end = report_period(weeks=8)

    report = sla_report(start=start, end=end)

    total = report.total
    assert (total.first_due, total.first_met, total.first_breached) == (6, 4, 2)
    # answered: 10, 20, 90, 30, 40 -> p50 30; p90 = 40 + 0.6 * (90 - 40)
    assert total.first_p50 == pytest.approx(30)
    assert total.first_p90 == pytest.approx(70)
    assert (total.resolution_due, total.resolution_met) == (1, 1)
    assert total.resolution_p50 == pytest.approx(120)
    policies = {row.label: row.figures for row in report.by_policy}
    assert (policies["B2C"].first_due, policies["B2C"].first_met) == (5, 3)
    assert policies["B2C"].first_compliance == pytest.approx(0.6)
    assert (policies["VIP"].first_due, policies["VIP"].first_met) == (1, 1)
    teams_rows = {row.label: row.figures for row in report.by_team}
    assert (teams_rows["North"].first_due, teams_rows["North"].first_met) == (4, 3)
    assert (teams_rows["South"].first_due, teams_rows["South"].first_met) == (2, 1)
    agents = {row.key: row for row in report.by_agent}
    ann = agents[teams["ann"].pk]
    assert (ann.figures.first_due, ann.figures.first_met, ann.team) == (3, 2, "North")
    assert ann.figures.first_p50 == pytest.approx(20)
    assert sum(row.figures.first_due for row in report.by_week) == 6
    assert len(report.by_week) in (8, 9)


def test_an_empty_period_reads_as_nothing_decided(db: Any) -> None:
    start, end = report_period(weeks=4)

    report = sla_report(start=start, end=end)

    assert report.total.first_due == 0
    assert report.total.first_compliance is None
    assert report.total.first_p50 is None
    assert report.by_policy == []


def test_the_page_shows_every_section_in_fixed_queries(
    clocks: dict[str, Any], supervisor_client: Client, django_assert_num_queries: Any
) -> None:
    url = reverse("service-sla-report")
    supervisor_client.get(url)

    # request savepoint and release, session, user, roles; the report
    with django_assert_num_queries(6):
        response = supervisor_client.get(url, {"weeks": 4})

    html = response.content.decode()
    assert response.status_code == 200
    for section in ("policy", "team", "agent", "week"):
        assert f'data-sla-section="{section}"' in html
    assert 'id="sla-chart-data"' in html
    assert "chart.umd.min.js" in html
    assert "B2C" in html


def test_agents_may_not_read_the_report(client: Client) -> None:
    client.force_login(UserFactory(role=Role.AGENT))

    page = client.get(reverse("service-sla-report"))
    api = client.get(reverse("api-service-sla-report"))

    assert page.status_code == 403
    assert api.status_code == 403


def test_the_api_gives_the_same_figures_and_refuses_bad_weeks(
    clocks: dict[str, Any], supervisor_client: Client
) -> None:
    response = supervisor_client.get(reverse("api-service-sla-report"), {"weeks": 8})
    bad = supervisor_client.get(reverse("api-service-sla-report"), {"weeks": 0})

    data = response.json()
    assert data["total"]["first_response"] == {
        "due": 6,
        "met": 4,
        "breached": 2,
        "compliance": pytest.approx(4 / 6),
        "p50_minutes": pytest.approx(30),
        "p90_minutes": pytest.approx(70),
    }
    assert {row["label"] for row in data["by_policy"]} == {"B2C", "VIP"}
    assert bad.status_code == 400
    assert "weeks" in bad.json()

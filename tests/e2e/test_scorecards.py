"""Scorecards and the SLA report in the browser: an agent sees only their own card (and no
SLA report), a supervisor every card and the teams, in English and in Chinese; the SLA
report draws its chart under the CSP."""

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.utils import timezone
from playwright.sync_api import expect

from callcenter.choices import Role
from callcenter.models import AgentProfile
from outreach.choices import TaskOutcome, TaskStatus
from service.selectors.scorecards import scorecard_period
from tests.callcenter.factories import UserFactory
from tests.e2e.conftest import shot
from tests.outreach.factories import CallTaskFactory
from tests.service.conftest import sla_ticket
from tests.service.factories import SlaPolicyFactory


def _work(agent: Any, *, calls: int) -> None:
    """`calls` reached call tasks the agent completed this local week: two hours ago, or half
    way between the week's start and now when the test runs in the week's first hours."""
    now = timezone.now()
    week_start, _end = scorecard_period(kind="week", on=timezone.localdate(now), now=now)
    done = max(now - dt.timedelta(hours=2), week_start + (now - week_start) / 2)
    for _ in range(calls):
        CallTaskFactory(
            assignee=agent,
            status=TaskStatus.DONE,
            outcome=TaskOutcome.REACHED,
            due_at=done - dt.timedelta(hours=1),
            deadline_at=done + dt.timedelta(hours=1),
            completed_at=done,
        )


def test_an_agent_sees_only_their_own_scorecard(logged_in: Callable[..., Any]) -> None:
    page = logged_in(Role.AGENT, "e2e_card_agent")
    AgentProfile.objects.create(user=page.user, team="North")
    colleague = UserFactory(role=Role.AGENT, username="e2e_card_colleague")
    AgentProfile.objects.create(user=colleague, team="North")
    _work(page.user, calls=2)
    _work(colleague, calls=4)

    page.goto("/")
    page.get_by_role("link", name="My scorecard").click()

    expect(page.get_by_role("heading", name="My scorecard", level=1)).to_be_visible()
    cards = page.locator("[data-scorecard]")
    expect(cards).to_have_count(1)
    tasks = cards.locator("[data-line=tasks_completed]")
    expect(tasks.locator("[data-value]")).to_have_text("2")
    expect(tasks.locator("[data-team-average]")).to_have_text("3")
    expect(page.get_by_text("e2e_card_colleague")).to_have_count(0)
    expect(page.get_by_role("link", name="SLA report")).to_have_count(0)
    shot(page, "scorecard-agent")

    response = page.goto("/service/sla/report/")
    assert response is not None
    assert response.status == 403


def test_a_supervisor_sees_every_card_in_chinese(logged_in: Callable[..., Any]) -> None:
    page = logged_in(Role.SUPERVISOR, "e2e_card_supervisor")
    for name, team, calls in (("e2e_card_ann", "North", 1), ("e2e_card_cy", "South", 3)):
        agent = UserFactory(role=Role.AGENT, username=name)
        AgentProfile.objects.create(user=agent, team=team)
        _work(agent, calls=calls)

    page.goto("/service/scorecards/")
    expect(page.get_by_role("heading", name="Agent scorecards", level=1)).to_be_visible()
    expect(page.locator("[data-team=North]")).to_be_visible()
    expect(page.locator("[data-team=South]")).to_be_visible()
    page.get_by_role("link", name="Month").click()
    page.wait_for_url("**period=month**")
    assert page.locator("[data-scorecard]").count() >= 2

    page.get_by_role("button", name="简体中文").click()
    page.wait_for_load_state()

    expect(page.get_by_role("heading", name="坐席绩效", level=1)).to_be_visible()
    expect(page.get_by_role("columnheader", name="班组平均").first).to_be_visible()
    expect(page.get_by_text("已完成任务").first).to_be_visible()
    shot(page, "zh-scorecards-supervisor")


def test_the_sla_report_draws_its_chart(logged_in: Callable[..., Any]) -> None:
    page = logged_in(Role.SUPERVISOR, "e2e_sla_supervisor")
    agent = UserFactory(role=Role.AGENT, username="e2e_sla_agent")
    AgentProfile.objects.create(user=agent, team="North")
    due = timezone.now() - dt.timedelta(hours=1)
    sla_ticket(
        assignee=agent,
        policy=SlaPolicyFactory(name="E2E B2C"),
        first_due=due,
        first_at=due - dt.timedelta(minutes=20),
        first_minutes=12,
    )
    errors: list[str] = []
    page.on(
        "console", lambda message: errors.append(message.text) if message.type == "error" else None
    )

    page.goto("/")
    page.get_by_role("link", name="SLA report").click()

    expect(page.get_by_role("heading", name="SLA report", level=1)).to_be_visible()
    expect(page.locator("[data-sla-section=policy]")).to_contain_text("E2E B2C")
    page.wait_for_function(
        "() => window.Chart && window.Chart.getChart(document.querySelector('[data-sla-chart]'))"
    )
    assert not [error for error in errors if "Content Security Policy" in error]
    shot(page, "sla-report")

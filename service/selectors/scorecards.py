"""Agent scorecards: what each agent did in a week or month and what came of it, beside the
average of their team.

Definitions (the period is [start, end]; an agent's tasks and tickets are those assigned to
them):

- tasks completed: tasks done in the period (outreach's `completed`, as the care KPIs count).
- reach rate: call tasks done in the period with an outcome meaning the customer was on the
  line (outreach's REACHED_OUTCOMES) / call tasks done in the period.
- task deadlines due and met: the care KPIs' SLA compliance (outreach.selectors_reports:
  deadlines of every channel in the period, still owed; met when done or sent by then);
  automated tasks have no assignee and fall in the "unassigned" line, so the lines add up to
  the care KPIs' totals.
- ticket SLA: first-response and resolution targets of their tickets decided in the period
  (service.selectors.sla_report).
- CSAT: CSAT answers about the agent (SurveyResponse.agent) received in the period: average
  and count (answers about nobody in particular fall in the "unassigned" line).
- customers cared for: customers with a task the agent completed in the period, each touched
  at the agent's first such completion. Of them:
  - NPS change: the customer's last NPS answer after the touch minus the last before it, over
    customers with both (average);
  - dormant wake-up rate: customers in the dormant lifecycle stage at the touch (their
    lifecycle membership history) who placed a paid order within ATTRIBUTION_DAYS after it;
  - repurchase rate: customers who had bought before the touch and placed a paid order within
    ATTRIBUTION_DAYS after it.

The team's average beside each figure is the team's pooled rate (its members' numerators over
their denominators; counts divided by the members). Five statements whatever the data:
tasks, tickets, CSAT, customer outcomes, and the agents with their teams.
"""

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Count, Q, Sum
from django.utils import timezone

from callcenter.choices import OrderStatus, Role, SurveyKind
from callcenter.models import SurveyResponse
from callcenter.roles import MANAGER_ROLES, has_role
from care.choices import StepChannel
from care.selectors_reports import ATTRIBUTION_DAYS
from outreach.choices import TaskStatus
from outreach.models import OutreachTask
from outreach.selectors_reports import deadline_met, deadline_owed
from outreach.services.guardrails import REACHED_OUTCOMES
from segments.choices import LifecycleStage, SegmentKind
from service.selectors.sla_report import sla_by_assignee

PERIOD_KINDS = ("week", "month")

# Per agent and customer the first completion in the period, then per such customer the
# facts the outcomes need (MATERIALIZED: the aggregates read each fact several times, and an
# inlined CTE would run its subqueries once per reading); grouped per agent.
OUTCOMES_SQL = """
    WITH touches AS (
        SELECT assignee_id AS agent_id, customer_id, min(completed_at) AS touched_at
        FROM outreach_outreachtask
        WHERE status = %(done)s AND assignee_id IS NOT NULL
          AND completed_at >= %(start)s AND completed_at <= %(end)s
        GROUP BY assignee_id, customer_id
    ), facts AS MATERIALIZED (
        SELECT t.agent_id,
            (SELECT s.score FROM callcenter_surveyresponse s
             WHERE s.customer_id = t.customer_id AND s.kind = %(nps)s
               AND s.responded_at < t.touched_at
             ORDER BY s.responded_at DESC, s.id DESC LIMIT 1) AS nps_before,
            (SELECT s.score FROM callcenter_surveyresponse s
             WHERE s.customer_id = t.customer_id AND s.kind = %(nps)s
               AND s.responded_at > t.touched_at
             ORDER BY s.responded_at DESC, s.id DESC LIMIT 1) AS nps_after,
            EXISTS (SELECT 1 FROM segments_segmentmembership m
                    WHERE m.segment_id = ANY(ARRAY(
                        SELECT g.id FROM segments_segment g
                        WHERE g.kind = %(lifecycle)s AND g.key = %(dormant)s))
                      AND m.customer_id = t.customer_id AND m.entered_at <= t.touched_at
                      AND (m.exited_at IS NULL OR m.exited_at > t.touched_at)) AS dormant,
            EXISTS (SELECT 1 FROM callcenter_order o
                    WHERE o.customer_id = t.customer_id AND o.status = %(paid)s
                      AND o.placed_at < t.touched_at) AS bought_before,
            EXISTS (SELECT 1 FROM callcenter_order o
                    WHERE o.customer_id = t.customer_id AND o.status = %(paid)s
                      AND o.placed_at > t.touched_at
                      AND o.placed_at <= t.touched_at + %(window)s) AS ordered_after
        FROM touches t
    )
    SELECT agent_id,
        count(*) AS customers,
        count(*) FILTER (WHERE nps_before IS NOT NULL AND nps_after IS NOT NULL) AS nps_pairs,
        coalesce(sum(nps_after - nps_before)
                 FILTER (WHERE nps_before IS NOT NULL AND nps_after IS NOT NULL), 0)
            AS nps_change_sum,
        count(*) FILTER (WHERE dormant) AS dormant,
        count(*) FILTER (WHERE dormant AND ordered_after) AS woken,
        count(*) FILTER (WHERE bought_before) AS past_buyers,
        count(*) FILTER (WHERE bought_before AND ordered_after) AS repurchased
    FROM facts
    GROUP BY agent_id
"""


def _ratio(part: float, whole: float) -> float | None:
    return part / whole if whole else None


@dataclass(frozen=True)
class ScoreFigures:
    """The counts behind one card (an agent's, a team's or the unassigned line); rates are
    derived so that sums of cards are sums of counts."""

    tasks_completed: int = 0
    calls_completed: int = 0
    calls_reached: int = 0
    task_sla_due: int = 0
    task_sla_met: int = 0
    first_due: int = 0
    first_met: int = 0
    resolution_due: int = 0
    resolution_met: int = 0
    csat_count: int = 0
    csat_sum: int = 0
    customers: int = 0
    nps_pairs: int = 0
    nps_change_sum: int = 0
    dormant: int = 0
    woken: int = 0
    past_buyers: int = 0
    repurchased: int = 0

    def plus(self, other: "ScoreFigures") -> "ScoreFigures":
        return ScoreFigures(
            **{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)}
        )

    @property
    def reach_rate(self) -> float | None:
        return _ratio(self.calls_reached, self.calls_completed)

    @property
    def task_sla_compliance(self) -> float | None:
        return _ratio(self.task_sla_met, self.task_sla_due)

    @property
    def first_compliance(self) -> float | None:
        return _ratio(self.first_met, self.first_due)

    @property
    def resolution_compliance(self) -> float | None:
        return _ratio(self.resolution_met, self.resolution_due)

    @property
    def csat(self) -> float | None:
        return _ratio(self.csat_sum, self.csat_count)

    @property
    def nps_change(self) -> float | None:
        return _ratio(self.nps_change_sum, self.nps_pairs)

    @property
    def wakeup_rate(self) -> float | None:
        return _ratio(self.woken, self.dormant)

    @property
    def repurchase_rate(self) -> float | None:
        return _ratio(self.repurchased, self.past_buyers)

    def as_dict(self, members: int = 1) -> dict[str, Any]:
        """The figures a card shows; counts are per member (`members` > 1: a team's average
        per agent)."""
        return {
            "tasks_completed": self.tasks_completed / members,
            "reach_rate": self.reach_rate,
            "calls_completed": self.calls_completed / members,
            "task_sla_compliance": self.task_sla_compliance,
            "task_sla_due": self.task_sla_due / members,
            "task_sla_met": self.task_sla_met / members,
            "first_response_compliance": self.first_compliance,
            "first_response_due": self.first_due / members,
            "resolution_compliance": self.resolution_compliance,
            "resolution_due": self.resolution_due / members,
            "csat": self.csat,
            "csat_count": self.csat_count / members,
            "customers": self.customers / members,
            "nps_change": self.nps_change,
            "nps_pairs": self.nps_pairs / members,
            "wakeup_rate": self.wakeup_rate,
            "dormant": self.dormant / members,
            "repurchase_rate": self.repurchase_rate,
            "past_buyers": self.past_buyers / members,
        }


@dataclass(frozen=True)
class AgentCard:
    agent_id: int
    name: str
    username: str
    team: str
    figures: ScoreFigures
    team_average: dict[str, Any]


@dataclass(frozen=True)
class TeamCard:
    team: str
    members: int
    figures: ScoreFigures

    @property
    def average(self) -> dict[str, Any]:
        return self.figures.as_dict(max(self.members, 1))


@dataclass(frozen=True)
class Scorecards:
    start: dt.datetime
    end: dt.datetime
    cards: list[AgentCard]
    teams: list[TeamCard] = field(default_factory=list)
    # Work no agent carries (automated tasks, unassigned tickets, CSAT about nobody); with
    # the cards it adds up to the care KPIs.
    unassigned: ScoreFigures = field(default_factory=ScoreFigures)


def scorecard_period(
    *, kind: str, on: dt.date, now: dt.datetime | None = None
) -> tuple[dt.datetime, dt.datetime]:
    """The local week (Monday on) or month holding `on`, ending now if it has not ended."""
    if kind == "month":
        first = on.replace(day=1)
        following = (first + dt.timedelta(days=32)).replace(day=1)
    else:
        first = on - dt.timedelta(days=on.weekday())
        following = first + dt.timedelta(days=7)
    start = timezone.make_aware(dt.datetime.combine(first, dt.time.min))
    end = timezone.make_aware(dt.datetime.combine(following, dt.time.min)) - dt.timedelta(
        microseconds=1
    )
    return start, min(end, now or timezone.now())


def _counts(row: Mapping[str, Any], key: str) -> dict[str, int]:
    """A grouped row's counts, without its grouping key."""
    return {name: int(value or 0) for name, value in row.items() if name != key}


def _task_rows(start: dt.datetime, end: dt.datetime) -> dict[int | None, dict[str, int]]:
    completed = Q(status=TaskStatus.DONE, completed_at__gte=start, completed_at__lte=end)
    calls = completed & Q(channel=StepChannel.CALL)
    owed = deadline_owed(start, end)
    rows = (
        OutreachTask.objects.filter(completed | owed)
        .values("assignee_id")
        .annotate(
            tasks_completed=Count("pk", filter=completed),
            calls_completed=Count("pk", filter=calls),
            calls_reached=Count("pk", filter=calls & Q(outcome__in=REACHED_OUTCOMES)),
            task_sla_due=Count("pk", filter=owed),
            task_sla_met=Count("pk", filter=owed & deadline_met()),
        )
        .order_by()
    )
    return {row["assignee_id"]: _counts(row, "assignee_id") for row in rows}


def _csat_rows(start: dt.datetime, end: dt.datetime) -> dict[int | None, dict[str, int]]:
    rows = (
        SurveyResponse.objects.filter(
            kind=SurveyKind.CSAT, responded_at__gte=start, responded_at__lte=end
        )
        .values("agent_id")
        .annotate(csat_count=Count("pk"), csat_sum=Sum("score"))
        .order_by()
    )
    return {row["agent_id"]: _counts(row, "agent_id") for row in rows}


def _outcome_rows(start: dt.datetime, end: dt.datetime) -> dict[int | None, dict[str, int]]:
    params: dict[str, Any] = {
        "start": start,
        "end": end,
        "done": TaskStatus.DONE.value,
        "nps": SurveyKind.NPS.value,
        "lifecycle": SegmentKind.LIFECYCLE.value,
        "dormant": LifecycleStage.DORMANT.value,
        "paid": OrderStatus.PAID.value,
        "window": dt.timedelta(days=ATTRIBUTION_DAYS),
    }
    with connection.cursor() as cursor:
        cursor.execute(OUTCOMES_SQL, params)
        names = [column.name for column in cursor.description]
        rows = [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]
    return {row["agent_id"]: _counts(row, "agent_id") for row in rows}


def _ticket_rows(start: dt.datetime, end: dt.datetime) -> dict[int | None, dict[str, int]]:
    return {
        agent_id: {
            "first_due": sla.first_due,
            "first_met": sla.first_met,
            "resolution_due": sla.resolution_due,
            "resolution_met": sla.resolution_met,
        }
        for agent_id, sla in sla_by_assignee(start=start, end=end).items()
    }


def _display_name(user: Any) -> str:
    return user.get_full_name() or user.username


def agent_scorecards(*, start: dt.datetime, end: dt.datetime) -> Scorecards:
    """Every agent's card for [start, end] (agents by role, and anyone else who carried work
    in it), their teams' pooled figures, and the unassigned line."""
    by_agent: dict[int | None, ScoreFigures] = {}
    for rows in (
        _task_rows(start, end),
        _ticket_rows(start, end),
        _csat_rows(start, end),
        _outcome_rows(start, end),
    ):
        for agent_id, row in rows.items():
            figures = by_agent.get(agent_id, ScoreFigures())
            by_agent[agent_id] = replace(figures, **row)
    unassigned = by_agent.pop(None, ScoreFigures())
    users = (
        get_user_model()
        .objects.filter(Q(groups__name=Role.AGENT) | Q(pk__in=list(by_agent)))
        .select_related("agent_profile")
        .distinct()
        .order_by("username")
    )
    people = []
    for user in users:
        profile = getattr(user, "agent_profile", None)
        people.append((user, profile.team if profile else ""))
    teams: dict[str, list[ScoreFigures]] = {}
    for user, team in people:
        teams.setdefault(team, []).append(by_agent.get(user.pk, ScoreFigures()))
    team_cards = {
        team: TeamCard(team=team, members=len(members), figures=_sum(members))
        for team, members in teams.items()
    }
    cards = [
        AgentCard(
            agent_id=user.pk,
            name=_display_name(user),
            username=user.username,
            team=team,
            figures=by_agent.get(user.pk, ScoreFigures()),
            team_average=team_cards[team].average,
        )
        for user, team in people
    ]
    return Scorecards(
        start=start,
        end=end,
        cards=cards,
        teams=sorted(team_cards.values(), key=lambda card: (card.team == "", card.team)),
        unassigned=unassigned,
    )


def _sum(figures: list[ScoreFigures]) -> ScoreFigures:
    total = ScoreFigures()
    for one in figures:
        total = total.plus(one)
    return total


def scorecards_for(*, user: Any, start: dt.datetime, end: dt.datetime) -> Scorecards:
    """What `user` may see: supervisors and admins every card, team and the unassigned line;
    anyone else only their own card (with their team's average) and nothing more."""
    scorecards = agent_scorecards(start=start, end=end)
    if has_role(user, MANAGER_ROLES):
        return scorecards
    return Scorecards(
        start=start,
        end=end,
        cards=[card for card in scorecards.cards if card.agent_id == user.pk],
    )

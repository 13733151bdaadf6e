"""The SLA report: compliance with first-response and resolution targets per policy, team,
agent and week, with the business minutes each took (p50, p90) and the breaches.

When a target counts: a ticket's target (first response, resolution) belongs to the period in
which it was decided: the moment it was met when met by its due moment, otherwise its due
moment (a miss is decided when the time runs out, a late answer does not move it). Only
decided targets count, so a ticket whose clock still runs and is not yet due counts nowhere.

- due: targets decided in the period; met: of them, met by the due moment; breached: the rest.
- compliance: met / due.
- p50, p90: the percentiles (continuous, `percentile_cont`) of the business minutes taken
  (TicketSla.first_response_minutes, resolution_minutes) by the decided targets that were
  answered, late ones included.

The team is the `AgentProfile.team` of the ticket's assignee. One SQL statement gives every
grouping at once (GROUPING SETS); a second reads nothing more, so the size of the data does not
change the number of queries.
"""

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.utils import timezone

DEFAULT_WEEKS = 8
MAX_WEEKS = 52

# Each ticket's two targets as rows: which, its due moment, when it was met, the minutes it
# took; restricted to targets that may have been decided from %(start)s on (decided <= due).
TARGETS_SQL = """
    SELECT s.policy_id, t.assignee_id, x.target, x.minutes,
           x.met_at IS NOT NULL AND x.met_at <= x.due AS met,
           LEAST(COALESCE(x.met_at, x.due), x.due) AS decided_at
    FROM service_ticketsla s
    JOIN callcenter_ticket t ON t.id = s.ticket_id
    CROSS JOIN LATERAL (VALUES
        ('first', s.first_response_due_at, s.first_response_at, s.first_response_minutes),
        ('resolution', s.resolution_due_at, s.resolved_at, s.resolution_minutes)
    ) AS x (target, due, met_at, minutes)
    WHERE x.due >= %(start)s
"""

# Per grouping: due, met and minutes' percentiles of both targets.
FIGURES_SQL = """
    count(*) FILTER (WHERE target = 'first') AS first_due,
    count(*) FILTER (WHERE target = 'first' AND met) AS first_met,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY minutes) FILTER (WHERE target = 'first')
        AS first_p50,
    percentile_cont(0.9) WITHIN GROUP (ORDER BY minutes) FILTER (WHERE target = 'first')
        AS first_p90,
    count(*) FILTER (WHERE target = 'resolution') AS resolution_due,
    count(*) FILTER (WHERE target = 'resolution' AND met) AS resolution_met,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY minutes) FILTER (WHERE target = 'resolution')
        AS resolution_p50,
    percentile_cont(0.9) WITHIN GROUP (ORDER BY minutes) FILTER (WHERE target = 'resolution')
        AS resolution_p90
"""

REPORT_SQL = f"""
    WITH decided AS (
        SELECT d.*, NULLIF(ap.team, '') AS team,
               date_trunc('week', d.decided_at AT TIME ZONE %(tz)s)::date AS week
        FROM ({TARGETS_SQL}) d
        LEFT JOIN callcenter_agentprofile ap ON ap.user_id = d.assignee_id
        WHERE d.decided_at >= %(start)s AND d.decided_at <= %(end)s
    )
    SELECT CASE
               WHEN GROUPING(d.policy_id) = 0 THEN 'policy'
               WHEN GROUPING(d.assignee_id) = 0 THEN 'agent'
               WHEN GROUPING(d.team) = 0 THEN 'team'
               WHEN GROUPING(d.week) = 0 THEN 'week'
               ELSE 'total'
           END AS dimension,
           d.policy_id, max(p.name) AS policy_name, d.assignee_id,
           max(COALESCE(NULLIF(TRIM(u.first_name || ' ' || u.last_name), ''), u.username))
               AS agent_name,
           d.team, d.week,
           {FIGURES_SQL}
    FROM decided d
    LEFT JOIN service_slapolicy p ON p.id = d.policy_id
    LEFT JOIN auth_user u ON u.id = d.assignee_id
    GROUP BY GROUPING SETS ((d.policy_id), (d.team), (d.assignee_id, d.team), (d.week), ())
"""  # noqa: S608 - module constants

# Per assignee only (the scorecards): the same figures.
BY_ASSIGNEE_SQL = f"""
    SELECT d.assignee_id, {FIGURES_SQL}
    FROM ({TARGETS_SQL}) d
    WHERE d.decided_at >= %(start)s AND d.decided_at <= %(end)s
    GROUP BY d.assignee_id
"""  # noqa: S608 - module constants


@dataclass(frozen=True)
class SlaFigures:
    """Targets decided, met and breached, and the minutes taken, for first response and
    resolution."""

    first_due: int = 0
    first_met: int = 0
    first_p50: float | None = None
    first_p90: float | None = None
    resolution_due: int = 0
    resolution_met: int = 0
    resolution_p50: float | None = None
    resolution_p90: float | None = None

    @property
    def first_breached(self) -> int:
        return self.first_due - self.first_met

    @property
    def resolution_breached(self) -> int:
        return self.resolution_due - self.resolution_met

    @property
    def first_compliance(self) -> float | None:
        return self.first_met / self.first_due if self.first_due else None

    @property
    def resolution_compliance(self) -> float | None:
        return self.resolution_met / self.resolution_due if self.resolution_due else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "first_response": {
                "due": self.first_due,
                "met": self.first_met,
                "breached": self.first_breached,
                "compliance": self.first_compliance,
                "p50_minutes": self.first_p50,
                "p90_minutes": self.first_p90,
            },
            "resolution": {
                "due": self.resolution_due,
                "met": self.resolution_met,
                "breached": self.resolution_breached,
                "compliance": self.resolution_compliance,
                "p50_minutes": self.resolution_p50,
                "p90_minutes": self.resolution_p90,
            },
        }


FIGURE_FIELDS = (
    "first_due",
    "first_met",
    "first_p50",
    "first_p90",
    "resolution_due",
    "resolution_met",
    "resolution_p50",
    "resolution_p90",
)


def _figures(row: dict[str, Any]) -> SlaFigures:
    return SlaFigures(**{name: row[name] for name in FIGURE_FIELDS})


@dataclass(frozen=True)
class SlaRow:
    """One line of the report: what it is about (`key`: a policy or agent id, a team name, a
    week's Monday; None for tickets without one) and its figures."""

    key: Any
    label: str
    figures: SlaFigures
    team: str | None = None


@dataclass(frozen=True)
class SlaReport:
    start: dt.datetime
    end: dt.datetime
    weeks: list[dt.date]
    total: SlaFigures
    by_policy: list[SlaRow] = field(default_factory=list)
    by_team: list[SlaRow] = field(default_factory=list)
    by_agent: list[SlaRow] = field(default_factory=list)
    by_week: list[SlaRow] = field(default_factory=list)


def report_period(*, weeks: int, now: dt.datetime | None = None) -> tuple[dt.datetime, dt.datetime]:
    """From the local Monday starting the week `weeks - 1` weeks before this one, to now."""
    end = now or timezone.now()
    today = timezone.localtime(end).date()
    monday = today - dt.timedelta(days=today.weekday() + 7 * (weeks - 1))
    start = timezone.make_aware(dt.datetime.combine(monday, dt.time.min))
    return start, end


def _rows(cursor: Any, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    cursor.execute(sql, params)
    names = [column.name for column in cursor.description]
    return [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]


def sla_report(*, start: dt.datetime, end: dt.datetime) -> SlaReport:
    """Compliance and times of the targets decided in [start, end], per policy, team, agent
    and local week (one statement)."""
    params = {"start": start, "end": end, "tz": timezone.get_current_timezone_name()}
    with connection.cursor() as cursor:
        rows = _rows(cursor, REPORT_SQL, params)
    first_week = timezone.localtime(start).date()
    first_week -= dt.timedelta(days=first_week.weekday())
    last = timezone.localtime(end).date()
    weeks = []
    while first_week <= last:
        weeks.append(first_week)
        first_week += dt.timedelta(days=7)
    total = SlaFigures()
    by: dict[str, list[SlaRow]] = {"policy": [], "team": [], "agent": [], "week": []}
    week_rows: dict[dt.date, SlaFigures] = {}
    for row in rows:
        figures = _figures(row)
        dimension = row["dimension"]
        if dimension == "total":
            total = figures
        elif dimension == "policy":
            by["policy"].append(SlaRow(row["policy_id"], row["policy_name"] or "", figures))
        elif dimension == "team":
            by["team"].append(SlaRow(row["team"], row["team"] or "", figures))
        elif dimension == "agent":
            by["agent"].append(
                SlaRow(row["assignee_id"], row["agent_name"] or "", figures, team=row["team"])
            )
        else:
            week_rows[row["week"]] = figures
    return SlaReport(
        start=start,
        end=end,
        weeks=weeks,
        total=total,
        by_policy=sorted(by["policy"], key=lambda r: (r.key is None, r.label)),
        by_team=sorted(by["team"], key=lambda r: (r.key is None, r.label)),
        by_agent=sorted(by["agent"], key=lambda r: (r.key is None, r.label)),
        by_week=[
            SlaRow(week, week.isoformat(), week_rows.get(week, SlaFigures())) for week in weeks
        ],
    )


def sla_by_assignee(*, start: dt.datetime, end: dt.datetime) -> dict[int | None, SlaFigures]:
    """Per assignee id (None: unassigned tickets), the figures of the targets decided in
    [start, end] (one statement)."""
    with connection.cursor() as cursor:
        rows = _rows(cursor, BY_ASSIGNEE_SQL, {"start": start, "end": end})
    return {row["assignee_id"]: _figures(row) for row in rows}

"""Service reports: the SLA report (supervisors and admins) and the agent scorecards (agents
their own card, supervisors and admins every card)."""

import datetime as dt
from typing import Any

from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from callcenter.http import AuthenticatedHttpRequest
from callcenter.numbers import whole_number
from callcenter.roles import MANAGER_ROLES, STAFF_ROLES, has_role
from callcenter.views import role_required
from service.selectors.scorecards import PERIOD_KINDS, scorecard_period, scorecards_for
from service.selectors.sla_report import (
    DEFAULT_WEEKS,
    MAX_WEEKS,
    SlaFigures,
    report_period,
    sla_report,
)

WEEK_CHOICES = (4, 8, 13, 26, 52)
# Scorecards reach back no further than this (and never into the future).
OLDEST_SCORECARD_DATE = dt.date(2000, 1, 1)


def report_weeks(raw: str) -> int | None:
    """The number of weeks asked for, or None when it is not a whole number in 1..MAX_WEEKS."""
    weeks = whole_number(raw) if raw else DEFAULT_WEEKS
    if weeks is None or not 1 <= weeks <= MAX_WEEKS:
        return None
    return weeks


def scorecard_date(raw: str) -> dt.date | None:
    """The date of the period asked for (today when empty), or None when it is not a date
    between OLDEST_SCORECARD_DATE and today."""
    today = timezone.localdate()
    if not raw:
        return today
    try:
        day = dt.date.fromisoformat(raw)
    except ValueError:
        return None
    return day if OLDEST_SCORECARD_DATE <= day <= today else None


# The lines of a scorecard: figure key, label, how it reads, and the count it rests on.
CARD_LINES: tuple[tuple[str, Any, str, str | None], ...] = (
    ("tasks_completed", _("Tasks completed"), "count", None),
    ("reach_rate", _("Reach rate"), "percent", "calls_completed"),
    ("task_sla_compliance", _("Task deadlines met"), "percent", "task_sla_due"),
    ("first_response_compliance", _("First response SLA"), "percent", "first_response_due"),
    ("resolution_compliance", _("Resolution SLA"), "percent", "resolution_due"),
    ("csat", _("CSAT (1-5)"), "score", "csat_count"),
    ("customers", _("Customers cared for"), "count", None),
    ("nps_change", _("NPS change"), "change", "nps_pairs"),
    ("wakeup_rate", _("Dormant wake-up rate"), "percent", "dormant"),
    ("repurchase_rate", _("Repurchase within 30 days"), "percent", "past_buyers"),
)


def _reading(value: float | None, style: str) -> str:
    if value is None:
        return "—"
    if style == "percent":
        return f"{number_format(100 * value, 0)}%"
    if style == "score":
        return number_format(value, 2)
    if style == "change":
        return ("+" if value > 0 else "") + number_format(value, 1)
    return number_format(value, 0 if float(value).is_integer() else 1)


def card_lines(figures: dict[str, Any], team: dict[str, Any]) -> list[dict[str, Any]]:
    """A card's lines: the agent's reading, the count behind it and the team's average."""
    return [
        {
            "key": key,
            "label": label,
            "value": _reading(figures[key], style),
            "base": None if base is None else _reading(figures[base], "count"),
            "team": _reading(team[key], style),
        }
        for key, label, style, base in CARD_LINES
    ]


def _percent(value: float | None) -> float | None:
    return None if value is None else round(100 * value, 1)


def sla_chart(weeks: list[Any]) -> dict[str, list[Any]]:
    """Per week: first-response and resolution compliance in percent, and the breaches."""
    return {
        "labels": [row.label for row in weeks],
        "first": [_percent(row.figures.first_compliance) for row in weeks],
        "resolution": [_percent(row.figures.resolution_compliance) for row in weeks],
        "breached": [row.figures.first_breached + row.figures.resolution_breached for row in weeks],
    }


@require_GET
@role_required(MANAGER_ROLES)
def sla_report_view(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Compliance of first response and resolution per policy, team, agent and week over the
    last `?weeks=` weeks (8 by default), with percentiles of the time taken."""
    weeks = report_weeks(request.GET.get("weeks", "")) or DEFAULT_WEEKS
    start, end = report_period(weeks=weeks)
    report = sla_report(start=start, end=end)
    context = {
        "report": report,
        "weeks": weeks,
        "week_choices": WEEK_CHOICES,
        "sections": [
            ("policy", report.by_policy),
            ("team", report.by_team),
            ("agent", report.by_agent),
            ("week", report.by_week),
        ],
        "chart": sla_chart(report.by_week),
        "empty": SlaFigures(),
    }
    return render(request, "service/sla_report.html", context)


@require_GET
@role_required(STAFF_ROLES)
def scorecards_view(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Scorecards of a week or month (`?period=week|month`, `?date=` a day in it): an agent
    sees their own card beside their team's average; supervisors and admins see every card
    and the teams."""
    kind = request.GET.get("period", "week")
    if kind not in PERIOD_KINDS:
        kind = "week"
    on = scorecard_date(request.GET.get("date", "")) or timezone.localdate()
    start, end = scorecard_period(kind=kind, on=on)
    scorecards = scorecards_for(user=request.user, start=start, end=end)
    local_start = timezone.localtime(start).date()
    previous = local_start - dt.timedelta(days=1)
    following = timezone.localtime(end).date() + dt.timedelta(days=1)
    context = {
        "scorecards": scorecards,
        "cards": [
            {"card": card, "lines": card_lines(card.figures.as_dict(), card.team_average)}
            for card in scorecards.cards
        ],
        "teams": [
            {"team": team, "lines": card_lines(team.average, team.average)}
            for team in scorecards.teams
        ],
        "kind": kind,
        "kinds": PERIOD_KINDS,
        "on": on,
        "start_date": local_start,
        "end_date": timezone.localtime(end).date(),
        "previous": previous if previous >= OLDEST_SCORECARD_DATE else None,
        "following": following if following <= timezone.localdate() else None,
        "is_manager": has_role(request.user, MANAGER_ROLES),
    }
    return render(request, "service/scorecards.html", context)

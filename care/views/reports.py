"""Care reports: effectiveness per rule against its control group, and the KPI panel the
supervisor dashboard loads (also a page of its own)."""

import datetime as dt
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET

from callcenter.http import AuthenticatedHttpRequest
from callcenter.numbers import whole_number
from callcenter.roles import MANAGER_ROLES
from callcenter.views import role_required
from care.selectors_reports import (
    ATTRIBUTION_DAYS,
    DEFAULT_KPI_DAYS,
    KPI_PERIODS,
    MIN_GROUP_SIZE,
    VERDICT_LABELS,
    RuleEffect,
    care_kpis,
    rule_effectiveness,
)

EFFECTIVENESS_PERIODS = (90, 365)


def _is_htmx(request: HttpRequest) -> bool:
    return (
        request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-History-Restore-Request") != "true"
    )


def _percent(value: float | None) -> float | None:
    return None if value is None else value * 100


def _effect_row(effect: RuleEffect) -> dict[str, Any]:
    """A rule's effect with its rates in percent and its uplift in percentage points."""
    uplift = effect.uplift
    return {
        "effect": effect,
        "reach": _percent(effect.reach_rate),
        "response": _percent(effect.response_rate),
        "control_response": _percent(effect.control_response_rate),
        "treated": _percent(uplift.treated_rate),
        "control": _percent(uplift.control_rate),
        "uplift": _percent(uplift.difference),
        "low": _percent(uplift.low),
        "high": _percent(uplift.high),
    }


def _period(request: HttpRequest, allowed: tuple[int, ...]) -> int | None:
    """The `days` query parameter when it is one of `allowed`, else None."""
    days = whole_number(request.GET.get("days", ""))
    return days if days in allowed else None


@require_GET
@role_required(MANAGER_ROLES)
def effectiveness_view(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Per rule: enrolled, control, reached, responded, converted and the conversion uplift
    over the control group with its 95% interval and a verdict."""
    days = _period(request, EFFECTIVENESS_PERIODS)
    since = timezone.now() - dt.timedelta(days=days) if days else None
    effects = rule_effectiveness(since=since)
    context = {
        "effects": effects,
        "rows": [_effect_row(effect) for effect in effects],
        "days": days,
        "periods": EFFECTIVENESS_PERIODS,
        "verdicts": VERDICT_LABELS,
        "attribution_days": ATTRIBUTION_DAYS,
        "min_group": MIN_GROUP_SIZE,
    }
    return render(request, "care/effectiveness.html", context)


@require_GET
@role_required(MANAGER_ROLES)
def kpis_view(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The care KPIs of the last 7, 30 or 90 days (`?days=`): a fragment for htmx requests
    (the supervisor dashboard), a page of its own otherwise."""
    days = _period(request, KPI_PERIODS)
    kpis = care_kpis(days=days or DEFAULT_KPI_DAYS)
    context = {"kpis": kpis, "periods": KPI_PERIODS}
    template = "care/partials/kpis.html" if _is_htmx(request) else "care/kpis.html"
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response

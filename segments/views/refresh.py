"""Refresh now: start a refresh (or join the running one), its live progress, and the history."""

from typing import TypedDict

from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from callcenter.http import AuthenticatedHttpRequest
from callcenter.views import role_required
from segments.choices import RunStatus
from segments.models import RefreshRun
from segments.selectors import refresh_runs
from segments.services.refresh_runs import PHASES, refresh_progress, segment_refresh_request
from segments.tasks import segment_refresh_task
from segments.views import MANAGERS

HISTORY_LENGTH = 20
# Names for the phases a run reports; an unknown phase is shown as the engine names it.
PHASE_LABELS = {
    "queued": _("Waiting for a worker"),
    "aggregate": _("Aggregating orders and contacts"),
    "score": _("Scoring RFM, tiers and lifecycle"),
    "churn": _("Scoring churn risk"),
    "value": _("Scoring predicted value"),
    "clusters": _("Finding behaviour clusters"),
    "write": _("Writing metrics"),
    "memberships": _("Updating segment members"),
    "behaviour": _("Computing buying habits and service history"),
    "rules": _("Updating rule segment members"),
    "snapshots": _("Recording segment sizes"),
    "done": _("Done"),
}


# Short names of the phases for the history's timings, and of what started a run
# (`RefreshRun.trigger`); an unknown one is shown as stored.
PHASE_NAMES = {
    "aggregate": pgettext_lazy("refresh phase", "aggregation"),
    "score": pgettext_lazy("refresh phase", "scoring"),
    "churn": pgettext_lazy("refresh phase", "churn"),
    "value": pgettext_lazy("refresh phase", "value"),
    "clusters": pgettext_lazy("refresh phase", "clusters"),
    "write": pgettext_lazy("refresh phase", "writing"),
    "memberships": pgettext_lazy("refresh phase", "members"),
    "behaviour": pgettext_lazy("refresh phase", "habits"),
    "rules": pgettext_lazy("refresh phase", "rule segments"),
    "snapshots": pgettext_lazy("refresh phase", "snapshots"),
}
TRIGGER_LABELS = {
    "manual": _("started from the page"),
    "command": _("started from the command line"),
    "api": _("started over the API"),
    "schedule": _("scheduled"),
}


def phase_label(phase: str) -> str:
    """The readable name of a refresh phase."""
    return str(PHASE_LABELS.get(phase, phase))


class HistoryRow(TypedDict):
    """A run, what started it, and its phase timings (readable name, seconds) in the order
    the phases run."""

    run: RefreshRun
    trigger: str
    phases: list[tuple[str, float]]


def _history(limit: int = HISTORY_LENGTH) -> list[HistoryRow]:
    """The latest runs, each with its phase timings in the order the phases run."""
    order = {name: index for index, (name, _share) in enumerate(PHASES)}
    return [
        {
            "run": run,
            "trigger": str(TRIGGER_LABELS.get(run.trigger, run.trigger)),
            "phases": [
                (str(PHASE_NAMES.get(name, name)), seconds)
                for name, seconds in sorted(
                    ((name, seconds) for name, seconds in run.timings.items() if name != "total"),
                    key=lambda item: order.get(item[0], len(order)),
                )
            ],
        }
        for run in refresh_runs()[:limit]
    ]


def _progress_context(run: RefreshRun) -> dict[str, object]:
    progress = refresh_progress(run=run)
    phase = str(progress.get("phase") or run.phase)
    return {
        "run": run,
        "phase": phase,
        "phase_label": phase_label(phase),
        "percent": 100 if run.status == RunStatus.SUCCEEDED else progress.get("percent", 0),
        "running": run.status == RunStatus.RUNNING,
    }


@require_http_methods(["GET", "POST"])
@role_required(MANAGERS)
def refresh_view(request: AuthenticatedHttpRequest) -> HttpResponse:
    """GET: the run history and the button. POST: start a refresh (or join the running one)
    and answer with its progress bar, which polls itself until the run ends, and the history
    (swapped out of band) listing the run from the start."""
    if request.method == "POST":
        run, created = segment_refresh_request(requested_by=request.user, trigger="manual")
        if created:
            transaction.on_commit(lambda: segment_refresh_task.delay(run.pk), robust=True)
        if request.headers.get("HX-Request") != "true":
            # Without JavaScript: the page shows the running refresh and its history.
            return redirect("segment-refresh")
        context = {**_progress_context(run), "joined": not created, "runs": _history()}
        return render(request, "segments/partials/refresh_started.html", context)
    runs = _history()
    running = next((r["run"] for r in runs if r["run"].status == RunStatus.RUNNING), None)
    context = {
        "runs": runs,
        "progress": _progress_context(running) if running is not None else None,
    }
    return render(request, "segments/refresh.html", context)


@require_GET
@role_required(MANAGERS)
def refresh_progress_view(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """The progress bar of one run; it stops polling once the run has finished."""
    run = get_object_or_404(RefreshRun, pk=pk)
    return render(request, "segments/partials/refresh_progress.html", _progress_context(run))


@require_GET
@role_required(MANAGERS)
def refresh_history_view(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The run history table, reloaded when a run finishes."""
    context = {"runs": _history()}
    return render(request, "segments/partials/run_history.html", context)

"""The CSV upload page: supervisors and admins choose a kind and a file and see the result.

A small file is imported within the request and the page shows the result. A large one is
imported by a worker: the page then shows the run's phase and percent, polling
`import-run` every second (htmx) until the run ends, then the result in the same place.
"""

from typing import Any

from django import forms
from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_http_methods

from callcenter.choices import IMPORT_PENDING_STATUSES, ImportKind
from callcenter.errors import ApplicationError
from callcenter.http import AuthenticatedHttpRequest
from callcenter.models import ImportRun
from callcenter.numbers import whole_number
from callcenter.roles import MANAGER_ROLES
from callcenter.services.imports import (
    IMPORT_KINDS,
    import_progress,
    import_size_message,
    import_upload,
    import_upload_limit,
)
from callcenter.uploads import REFUSED_SIZE_ATTRIBUTE
from callcenter.views import role_required

# Runs listed under the form.
RECENT_RUNS = 10
# Names of the phases a background run reports.
PHASE_LABELS = {
    "queued": _("Waiting for a worker"),
    "reading": _("Reading and checking rows"),
    "checking": _("Checking references"),
    "writing": _("Writing"),
    "events": _("Announcing events"),
    "done": _("Done"),
}


class ImportForm(forms.Form):
    kind = forms.ChoiceField(label=_("What the file holds"), choices=ImportKind.choices)
    file = forms.FileField(label=_("CSV file"))
    no_events = forms.BooleanField(
        label=_("Load history: do not trigger care plans"),
        required=False,
        help_text=_("Use this for past orders, calls and tickets."),
    )

    def __init__(self, *args: Any, refused_size: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.refused_size = refused_size
        self.fields["file"].help_text = _(
            "Up to %(max)s; a file above %(sync)s is imported in the background."
        ) % {
            "max": filesizeformat(import_upload_limit()),
            "sync": filesizeformat(settings.IMPORT_SYNC_MAX_KB * 1024),
        }
        if refused_size is not None:
            # The upload handler skipped the file; say why instead of "no file".
            self.fields["file"].required = False

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        if self.refused_size is not None:
            self.add_error("file", import_size_message(self.refused_size))
        return cleaned


def _recent_runs() -> list[ImportRun]:
    return list(ImportRun.objects.select_related("started_by").order_by("-id")[:RECENT_RUNS])


def _run_context(run: ImportRun) -> dict[str, Any]:
    progress = import_progress(run=run)
    phase = str(progress["phase"])
    return {
        "run": run,
        "pending": run.status in IMPORT_PENDING_STATUSES,
        "phase_label": PHASE_LABELS.get(phase, phase),
        "percent": progress["percent"],
        "rows_read": progress["rows"],
        "unchanged": max(run.rows - run.created - run.updated, 0),
    }


@role_required(MANAGER_ROLES)
@require_http_methods(["GET", "POST"])
def import_csv_view(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Show the form; on POST import the file (all rows or none) and show the run, or its
    progress when a worker imports it (then the page is reloaded as `?run=ID`)."""
    form = ImportForm(
        request.POST or None,
        request.FILES or None,
        refused_size=getattr(request, REFUSED_SIZE_ATTRIBUTE, None),
    )
    run = None
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            run = import_upload(
                kind=form.cleaned_data["kind"],
                file=upload.file,
                file_name=upload.name,
                started_by=request.user,
                announce=not form.cleaned_data["no_events"],
            )
        except ApplicationError as exc:
            form.add_error("file", exc.message)
        else:
            if run.status in IMPORT_PENDING_STATUSES:
                return redirect(f"{reverse('import-csv')}?run={run.pk}")
            form = ImportForm(initial={"kind": run.kind})
    elif request.method == "GET" and (run_id := whole_number(request.GET.get("run", ""))):
        run = ImportRun.objects.filter(pk=run_id).first()
    context = {
        "form": form,
        **(_run_context(run) if run is not None else {"run": None}),
        "columns": [
            (
                ImportKind(kind).label if kind in ImportKind.values else kind,
                [(column.name, column.required) for column in spec.columns],
            )
            for kind, spec in IMPORT_KINDS.items()
        ],
        "recent": _recent_runs(),
    }
    return render(request, "callcenter/import.html", context)


@role_required(MANAGER_ROLES)
@require_GET
def import_run_view(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """One run's progress or result (the fragment the Import page polls); once the run has
    ended it also refreshes the list of recent imports."""
    run = get_object_or_404(ImportRun.objects.select_related("started_by"), pk=pk)
    context = _run_context(run)
    if not context["pending"]:
        context["recent"] = _recent_runs()
    return render(request, "callcenter/partials/import_run.html", context)

"""The CSV upload page: supervisors and admins choose a kind and a file and see the result."""

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

from callcenter.choices import ImportKind
from callcenter.models import ImportRun
from callcenter.roles import MANAGER_ROLES, has_role
from callcenter.services.imports import IMPORT_KINDS, csv_import

# Runs listed under the form.
RECENT_RUNS = 10


class ImportForm(forms.Form):
    kind = forms.ChoiceField(label=_("What the file holds"), choices=ImportKind.choices)
    file = forms.FileField(label=_("CSV file"))
    no_events = forms.BooleanField(
        label=_("Load history: do not trigger care plans"),
        required=False,
        help_text=_("Use this for past orders, calls and tickets."),
    )


@login_required
@require_http_methods(["GET", "POST"])
def import_csv_view(request: HttpRequest) -> HttpResponse:
    """Show the form; on POST import the file (all rows or none) and show the run."""
    if not has_role(request.user, MANAGER_ROLES):
        raise PermissionDenied
    form = ImportForm(request.POST or None, request.FILES or None)
    run = None
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        run = csv_import(
            kind=form.cleaned_data["kind"],
            file=upload.file,
            file_name=upload.name,
            started_by=request.user,
            announce=not form.cleaned_data["no_events"],
        )
        form = ImportForm(initial={"kind": run.kind})
    context = {
        "form": form,
        "run": run,
        "unchanged": run.rows - run.created - run.updated if run else 0,
        "columns": [
            (kind, [(column.name, column.required) for column in spec.columns])
            for kind, spec in IMPORT_KINDS.items()
        ],
        "recent": ImportRun.objects.select_related("started_by").order_by("-id")[:RECENT_RUNS],
    }
    return render(request, "callcenter/import.html", context)

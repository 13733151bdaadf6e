"""Care rule pages: the list (supervisors read), the editor and activation (admins), and the
version history with a readable diff (supervisors read)."""

from typing import Any

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from callcenter.choices import Role
from callcenter.errors import ApplicationError
from callcenter.generated import generated_text
from callcenter.http import AuthenticatedHttpRequest
from callcenter.roles import MANAGER_ROLES
from callcenter.views import role_required
from care.choices import EventType
from care.forms import (
    RuleForm,
    StepFormSet,
    service_error_attach,
    step_initial,
    template_choices,
    trigger_params_text,
)
from care.models import CareRule
from care.playbook import playbook_install
from care.selectors import rule_list, rule_version_diff, rule_versions
from care.selectors_reports import rule_recent_results
from care.services.journeys import journey_outline, step_key
from care.services.rules import (
    care_rule_activate,
    care_rule_create,
    care_rule_deactivate,
    care_rule_update,
    rule_snapshot,
)
from care.services.step_serializers import queue_choices
from care.views.rule_diff import readable_diff, step_title
from segments.models import Segment

ADMIN_ONLY = (Role.ADMIN,)
# The notes the rule services write on their own, in the interface language.
VERSION_NOTES = {
    "created": gettext_lazy("Rule created"),
    "activated": gettext_lazy("Rule activated"),
    "deactivated": gettext_lazy("Rule deactivated"),
}
RECENT_DAYS = 30


@require_GET
@role_required(MANAGER_ROLES)
def rule_list_view(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Rules with status, trigger, steps and what they did in the last 30 days."""
    recent = rule_recent_results(days=RECENT_DAYS)
    rules = list(rule_list())
    segment_names = {
        segment.slug: segment.display_name
        for segment in Segment.objects.only("slug", "name", "kind", "key")
    }
    rows = [
        {
            "rule": rule,
            "recent": recent.get(rule.pk, {"enrolled": 0, "tasks": 0}),
            "trigger_params": trigger_params_text(
                rule.trigger_type, rule.trigger_params or {}, segment_names
            ),
        }
        for rule in rules
    ]
    context = {
        "rows": rows,
        "recent_days": RECENT_DAYS,
        "active_count": sum(1 for rule in rules if rule.is_active),
    }
    return render(request, "care/rule_list.html", context)


@require_POST
@role_required(ADMIN_ONLY)
def playbook_install_view(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Install the default care plans (templates, queues, rules switched off) from the rule
    list's empty state, as `manage.py install_playbook` does; running it again adds nothing."""
    result = playbook_install(installed_by=request.user)
    messages.success(
        request,
        _(
            "Default care plans installed: %(rules)s rules and %(templates)s templates, switched "
            "off. Open a rule to review it, then switch on the ones you want."
        )
        % {"rules": result["rules_created"], "templates": result["templates_created"]},
    )
    return redirect("care-rules")


def _step_forms_in_order(steps: Any) -> list[Any]:
    """The step forms as the editor shows them: a re-shown valid formset in the order the
    user gave (then the removed and untouched ones), otherwise as posted."""
    if not steps.is_bound or not steps.is_valid():
        return list(steps.forms)
    ordered = list(steps.ordered_forms)
    return ordered + [form for form in steps.forms if form not in ordered]


def journey_flow(snapshot_steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The saved journey as the editor draws it (a nested list with branches in words)."""
    titles = {step_key(step): step_title(step) for step in snapshot_steps}
    return journey_outline(snapshot_steps, titles)


def _editor_context(
    rule: CareRule | None,
    form: RuleForm,
    steps: Any,
    error_path: str = "",
    flow: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "rule": rule,
        "flow": flow or [],
        "form": form,
        "steps": steps,
        "step_forms": _step_forms_in_order(steps),
        "queues": queue_choices(),
        "conditions_error_path": error_path,
    }


def _keep_generated(
    rule: CareRule, fields: dict[str, Any], step_rows: list[dict[str, Any]]
) -> None:
    """The editor shows a default name or description (the playbook's) in the reader's
    language; sent back unchanged it stays the stored default, only a changed text is stored
    as typed."""
    for name in ("name", "description"):
        stored = getattr(rule, name)
        if fields.get(name) == generated_text(stored):
            fields[name] = stored
    stored_steps: dict[int, str] = dict(rule.steps.values_list("pk", "name"))
    for row in step_rows:
        step_name = stored_steps.get(row["id"]) if isinstance(row.get("id"), int) else None
        if step_name is not None and row.get("name") == generated_text(step_name):
            row["name"] = step_name


@require_http_methods(["GET", "POST"])
@role_required(ADMIN_ONLY)
def rule_edit_view(request: AuthenticatedHttpRequest, pk: int | None = None) -> HttpResponse:
    """Create or change a rule and its steps; nothing is saved unless everything is valid."""
    rule = get_object_or_404(CareRule, pk=pk) if pk is not None else None
    choices = template_choices()
    error_path = ""
    flow = None
    if request.method == "POST":
        form = RuleForm(request.POST)
        steps = StepFormSet(request.POST, prefix="steps", form_kwargs={"template_choices": choices})
        if form.is_valid() and steps.is_valid():
            step_forms = list(steps.ordered_forms)
            step_rows = [step_form.service_step() for step_form in step_forms]
            fields = form.service_fields()
            if rule is not None:
                _keep_generated(rule, fields, step_rows)
            try:
                if rule is None:
                    rule = care_rule_create(steps=step_rows, created_by=request.user, **fields)
                    messages.success(request, _("Rule “%(name)s” created.") % {"name": rule})
                else:
                    care_rule_update(
                        rule=rule,
                        updated_by=request.user,
                        steps=step_rows,
                        note=form.cleaned_data["note"],
                        **fields,
                    )
                    messages.success(request, _("Rule “%(name)s” saved.") % {"name": rule})
            except ApplicationError as exc:
                service_error_attach(exc, form, step_forms)
                if exc.extra.get("field") == "conditions":
                    error_path = str(exc.extra.get("path") or "")
            else:
                return redirect("care-rule-edit", pk=rule.pk)
        status = 400
    else:
        status = 200
        if rule is None:
            # ?trigger_type= starts a new rule on that trigger, its parameters shown.
            trigger = request.GET.get("trigger_type", "")
            form = RuleForm(initial={"trigger_type": trigger} if trigger in EventType else {})
            initial: list[dict[str, Any]] = [{}]
        else:
            rule_initial = RuleForm.initial_for(rule)
            for name in ("name", "description"):
                rule_initial[name] = generated_text(rule_initial[name])
            form = RuleForm(initial=rule_initial)
            saved_steps = rule_snapshot(rule)["steps"]
            initial = [step_initial(step) for step in saved_steps]
            for step in initial:
                step["name"] = generated_text(step.get("name") or "")
            flow = journey_flow(saved_steps)
        steps = StepFormSet(
            prefix="steps", initial=initial, form_kwargs={"template_choices": choices}
        )
    context = _editor_context(rule, form, steps, error_path, flow)
    return render(request, "care/rule_form.html", context, status=status)


@require_POST
@role_required(ADMIN_ONLY)
def rule_activate_view(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Switch a rule on (it needs a step)."""
    rule = get_object_or_404(CareRule, pk=pk)
    try:
        care_rule_activate(rule=rule, activated_by=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Rule “%(name)s” is active.") % {"name": rule})
    return redirect("care-rule-edit", pk=rule.pk)


@require_POST
@role_required(ADMIN_ONLY)
def rule_deactivate_view(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Switch a rule off; customers already enrolled keep their plans."""
    rule = get_object_or_404(CareRule, pk=pk)
    care_rule_deactivate(rule=rule, deactivated_by=request.user)
    messages.success(request, _("Rule “%(name)s” is switched off.") % {"name": rule})
    return redirect("care-rule-edit", pk=rule.pk)


def _version_number(text: str | None, default: int) -> int:
    try:
        return int(text) if text else default
    except ValueError:
        return default


@require_GET
@role_required(MANAGER_ROLES)
def rule_history_view(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """The versions of a rule and the differences between two of them (by default the latest
    and the one before)."""
    rule = get_object_or_404(CareRule, pk=pk)
    versions = list(rule_versions(rule=rule))
    for version in versions:
        version.note_label = VERSION_NOTES.get(version.note, version.note)
    diff = None
    error = ""
    if len(versions) >= 2:
        to_version = _version_number(request.GET.get("to"), versions[0].version)
        from_version = _version_number(request.GET.get("from"), to_version - 1)
        snapshots = {version.version: version.snapshot for version in versions}
        try:
            diff = readable_diff(
                rule_version_diff(rule=rule, from_version=from_version, to_version=to_version),
                before=snapshots.get(from_version) or {},
                after=snapshots.get(to_version) or {},
            )
        except ApplicationError as exc:
            error = exc.message
    context = {
        "rule": rule,
        "versions": versions,
        "diff": diff,
        "error": error,
    }
    return render(request, "care/rule_history.html", context)

"""Next best actions (segments.models.NextBestAction): supervisors see the rules in the order
the desk tries them; admins add, change, reorder and remove them with the segments' rule
builder (segments.services.next_best_actions, audited)."""

import json
from typing import Any

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from callcenter.choices import InteractionChannel, Role
from callcenter.errors import ApplicationError
from callcenter.http import AuthenticatedHttpRequest
from callcenter.roles import has_role
from callcenter.views import role_required
from segments.forms import NextBestActionForm
from segments.models import NextBestAction
from segments.next_best_actions import placeholders_help
from segments.rules import RuleError, rule_describe
from segments.services.next_best_actions import (
    next_best_action_create,
    next_best_action_delete,
    next_best_action_move,
    next_best_action_update,
)
from segments.views import MANAGERS

ADMINS = (Role.ADMIN,)
EMPTY_RULE = {"op": "and", "children": []}


def _row(action: NextBestAction) -> dict[str, Any]:
    try:
        condition = rule_describe(tree=action.condition)
    except RuleError as exc:
        condition = exc.message
    return {
        "action": action,
        "name": action.display("name"),
        "action_text": action.display("action_text"),
        "reason_text": action.display("reason_text"),
        "condition": condition,
        "channel": InteractionChannel(action.channel).label if action.channel else "",
    }


@require_GET
@role_required(MANAGERS)
def next_best_action_list_view(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The rules in the order the desk tries them, with their condition in words."""
    rules = NextBestAction.objects.order_by("position", "pk")
    return render(
        request,
        "segments/next_best_action_list.html",
        {"rows": [_row(rule) for rule in rules], "can_edit": has_role(request.user, ADMINS)},
    )


# The texts an installed default shows in the reader's language (NextBestAction.display).
TRANSLATED_FIELDS = ("name", "action_text", "reason_text")


def _save(
    form: NextBestActionForm, request: AuthenticatedHttpRequest, action: NextBestAction | None
) -> NextBestAction | None:
    """Create or update through the service; its refusals become form errors."""
    values = dict(form.cleaned_data)
    if action is not None:
        # An installed default's text sent back as shown (translated) stays the default.
        for name in TRANSLATED_FIELDS:
            if values.get(name) == action.display(name):
                values[name] = getattr(action, name)
    try:
        if action is None:
            return next_best_action_create(created_by=request.user, **values)
        return next_best_action_update(action=action, updated_by=request.user, **values)
    except RuleError as exc:
        form.add_error("condition", exc.message)
        form.rule_error_path = exc.path
    except ApplicationError as exc:
        field = exc.extra.get("field")
        form.add_error(field if field in form.fields else None, exc.message)
    return None


@require_http_methods(["GET", "POST"])
@role_required(ADMINS)
def next_best_action_editor_view(
    request: AuthenticatedHttpRequest, pk: int | None = None
) -> HttpResponse:
    """New rule (no pk) or change one; saving goes back to the list."""
    action = get_object_or_404(NextBestAction, pk=pk) if pk is not None else None
    if request.method == "POST":
        form = NextBestActionForm(request.POST)
        if form.is_valid():
            saved = _save(form, request, action)
            if saved is not None:
                messages.success(
                    request,
                    _("Next best action saved; it applies to the next desk card."),
                )
                return redirect("next-best-actions")
    elif action is not None:
        form = NextBestActionForm(
            initial={
                "name": action.display("name"),
                "position": action.position,
                "is_active": action.is_active,
                "condition": json.dumps(action.condition, ensure_ascii=False),
                "action_text": action.display("action_text"),
                "reason_text": action.display("reason_text"),
                "channel": action.channel,
            }
        )
    else:
        form = NextBestActionForm(initial={"condition": json.dumps(EMPTY_RULE)})
    error_path = getattr(form, "rule_error_path", None)
    context = {
        "form": form,
        "action": action,
        "placeholders": placeholders_help(),
        # A refusal that names a node is shown beside it by the builder, others below it.
        "rule_error_path": error_path,
        "rule_error_message": form.errors["condition"][0] if error_path is not None else "",
    }
    return render(
        request,
        "segments/next_best_action_form.html",
        context,
        status=400 if form.errors else 200,
    )


@require_POST
@role_required(ADMINS)
def next_best_action_move_view(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Move a rule one place up (`direction=up`) or down in the order the desk tries them."""
    action = get_object_or_404(NextBestAction, pk=pk)
    next_best_action_move(
        action=action, up=request.POST.get("direction") == "up", moved_by=request.user
    )
    return redirect("next-best-actions")


@require_POST
@role_required(ADMINS)
def next_best_action_delete_view(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Remove a rule."""
    action = get_object_or_404(NextBestAction, pk=pk)
    next_best_action_delete(action=action, deleted_by=request.user)
    messages.success(request, _("Next best action removed."))
    return redirect("next-best-actions")

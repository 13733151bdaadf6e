"""Guardrails and settings: one page, one form per section; a POST saves one section.

The sections belong to the apps that own the settings (care's guardrails; segments' lifecycle
and tier thresholds, RFM grid and refresh schedule). Each app registers its sections in
`settings_sections` from its `AppConfig.ready()` (`<app>/parts/settings.py`), so this page never
imports them: it loads every section's state, builds the forms, and saves the posted one
through the section, that is through the owning app's service.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django import forms as django_forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from callcenter.choices import Role
from callcenter.errors import ApplicationError
from callcenter.extensions import Registry
from callcenter.http import AuthenticatedHttpRequest
from callcenter.roles import MANAGER_ROLES, has_role
from callcenter.views import role_required


def _no_details(_state: Any) -> dict[str, Any]:
    return {}


@dataclass(frozen=True)
class SettingsSection:
    """A section of the settings page, contributed by the app that owns its settings.

    `load()` reads the current state; `form(state, data)` builds the section's form, bound to
    `data` (the POST) only when this section was posted; `save(form, state, user)` saves a
    valid form through the owning app's service, raising ValidationError or ApplicationError
    when the service refuses (the page puts the error on the form: with the form's
    `add_service_error` for a ValidationError when it has one, else next to the field it names).
    `template` renders the section's card with `form`, `details` (what `details(state)` returns),
    `can_edit` and `failed` (the section posted and refused); `scripts` are its static files.
    """

    title: str | Promise
    template: str
    load: Callable[[], Any]
    form: Callable[[Any, QueryDict | None], django_forms.Form]
    save: Callable[[Any, Any, Any], None]
    details: Callable[[Any], dict[str, Any]] = _no_details
    scripts: tuple[str, ...] = ()


# The page's sections in order, keyed by the name posted as `section` (also the card's anchor).
settings_sections: Registry[SettingsSection] = Registry("settings sections")


def _add_error(form: Any, error: ValidationError | ApplicationError) -> None:
    """Put a service error next to its field when it names one of the form's fields."""
    if isinstance(error, ApplicationError):
        field = error.extra.get("field")
        form.add_error(field if field in form.fields else None, error.message)
    elif hasattr(error, "error_dict"):
        for field, errors in error.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error)


def _save(
    section: SettingsSection, form: Any, request: AuthenticatedHttpRequest, state: Any
) -> bool:
    """Save one valid section through its service; False (errors on the form) when refused."""
    try:
        section.save(form, state, request.user)
    except (ValidationError, ApplicationError) as error:
        if isinstance(error, ValidationError) and hasattr(form, "add_service_error"):
            form.add_service_error(error)
        else:
            _add_error(form, error)
        return False
    return True


@require_http_methods(["GET", "POST"])
@role_required(MANAGER_ROLES)
def settings_view(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Show every section; admins save one section per POST (supervisors read only)."""
    can_edit = has_role(request.user, (Role.ADMIN,))
    if request.method == "POST" and not can_edit:
        raise PermissionDenied
    posted = request.POST.get("section") if request.method == "POST" else None
    sections = settings_sections.items()
    states = {key: section.load() for key, section in sections}
    forms = {
        key: section.form(states[key], request.POST if key == posted else None)
        for key, section in sections
    }
    if posted is not None:
        section = settings_sections.get(posted)
        if section is None:
            return HttpResponse(_("Unknown settings section."), status=400)
        form = forms[posted]
        if form.is_valid() and _save(section, form, request, states[posted]):
            messages.success(request, _("Settings saved."))
            return redirect(reverse("manage-settings") + f"#{posted}")
    context = {
        "can_edit": can_edit,
        "forms": forms,
        "failed": posted,
        "sections": [
            {
                "key": key,
                "title": section.title,
                "template": section.template,
                "form": forms[key],
                "details": section.details(states[key]),
            }
            for key, section in sections
        ],
        "scripts": [script for _key, section in sections for script in section.scripts],
    }
    return render(request, "manage/settings.html", context, status=400 if posted else 200)

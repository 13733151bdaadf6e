"""Care's section of the settings page (callcenter.views.manage.settings): the contact
guardrails, saved through `care_settings_update` (which audits the change)."""

from typing import Any

from django.http import QueryDict
from django.utils.translation import gettext_lazy as _

from callcenter.views.manage.settings import SettingsSection, settings_sections
from care.forms import CareSettingsForm
from care.models import CareSettings
from care.services.settings import care_settings_update


def _guardrails_form(settings: CareSettings, data: QueryDict | None) -> CareSettingsForm:
    return CareSettingsForm(data, initial=CareSettingsForm.initial_from(settings))


def _guardrails_save(form: CareSettingsForm, settings: CareSettings, user: Any) -> None:
    """Save only what changed, so an unchanged form writes no audit entry."""
    changes = form.changes(settings)
    if changes:
        care_settings_update(updated_by=user, **changes)


GUARDRAILS = SettingsSection(
    title=_("Contact guardrails"),
    template="care/partials/settings_guardrails.html",
    load=CareSettings.load,
    form=_guardrails_form,
    save=_guardrails_save,
)


def register() -> None:
    """Add the guardrails section to the settings page (from CareConfig.ready)."""
    settings_sections.register("guardrails", GUARDRAILS, order=10)

"""Forms of the admin area (/manage/): users and roles, audit filters, and the widgets the
settings sections share.

Forms only parse and check input; `callcenter.services.users` validates the whole change again
and saves it with an audit entry. The settings sections are parts of the apps that own them
(callcenter.views.manage.settings). The user forms get the fields of the apps above (outreach's
call queues) from `user_form_parts`, which those apps fill in their `AppConfig.ready()`
(`<app>/parts/user_form.py`).
"""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db.models import Prefetch
from django.utils.dates import WEEKDAYS
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from callcenter.choices import CalendarDayKind, Role
from callcenter.extensions import Registry

User = get_user_model()

# ISO weekdays (1 = Monday) with their translated names.
ISO_WEEKDAYS = [(str(index + 1), name) for index, name in WEEKDAYS.items()]


class TimeInput(forms.TimeInput):
    input_type = "time"

    def __init__(self) -> None:
        super().__init__(format="%H:%M")


class CheckboxRow(forms.CheckboxSelectMultiple):
    """Checkboxes laid out in one row (see manage.css)."""

    def __init__(self) -> None:
        super().__init__(attrs={"class": "check-row"})


@dataclass(frozen=True)
class UserFormPart:
    """What an app above callcenter adds to the user pages of the admin area.

    `fields()` are added after callcenter's to the new-user and profile forms, and `template`
    renders them inside those forms (with `form`). `initial(user)` gives their current values
    for the profile form. `save(user=, data=, changed_by=)` saves them from the form's cleaned
    data, inside the page's transaction and after callcenter's own change; it returns whether
    anything changed, and raises ValidationError when refused. On the user list, the part adds
    a column titled `list_title` whose cells `list_cell` renders (with `u`, the user), from the
    rows `list_prefetch()` prefetches.
    """

    fields: Callable[[], dict[str, forms.Field]]
    template: str
    initial: Callable[[Any], dict[str, Any]]
    save: Callable[..., bool]
    list_title: str | Promise
    list_cell: str
    list_prefetch: Callable[[], list[Prefetch]]


user_form_parts: Registry[UserFormPart] = Registry("user form parts")


class UserPartsForm(forms.Form):
    """A user form with the fields of the registered `user_form_parts` after its own."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for part in user_form_parts:
            self.fields.update(part.fields())


def _role_choices() -> list[tuple[str, str | Promise]]:
    return [(role.value, role.label) for role in (Role.AGENT, Role.SUPERVISOR, Role.ADMIN)]


class UserCreateForm(UserPartsForm):
    username = forms.CharField(label=_("User name"), max_length=150)
    first_name = forms.CharField(label=_("First name"), max_length=150, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=150, required=False)
    email = forms.EmailField(label=_("Email"), required=False)
    role = forms.ChoiceField(label=_("Role"), choices=_role_choices)
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    extension = forms.CharField(
        label=_("Extension"),
        max_length=32,
        required=False,
        help_text=_("The telephony extension screen-pops are sent to."),
    )


class UserProfileForm(UserPartsForm):
    first_name = forms.CharField(label=_("First name"), max_length=150, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=150, required=False)
    email = forms.EmailField(label=_("Email"), required=False)
    extension = forms.CharField(
        label=_("Extension"),
        max_length=32,
        required=False,
        help_text=_("The telephony extension screen-pops are sent to."),
    )
    is_available = forms.BooleanField(
        label=_("Takes call tasks"),
        required=False,
        help_text=_("Off: new call tasks go to colleagues (e.g. on leave)."),
    )
    daily_task_limit = forms.IntegerField(
        label=_("Call tasks per day"),
        required=False,
        min_value=1,
        max_value=1000,
        help_text=_("Empty: the limit of the contact guardrails."),
    )


class UserRoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=_role_choices)


class PasswordSetForm(forms.Form):
    password = forms.CharField(
        label=_("New password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password_again = forms.CharField(
        label=_("New password again"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if data.get("password") and data.get("password") != data.get("password_again"):
            self.add_error("password_again", _("The two passwords differ."))
        return data


class UserFilterForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False)
    role = forms.ChoiceField(
        label=_("Role"), required=False, choices=lambda: [("", _("All roles")), *_role_choices()]
    )
    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[("", _("All")), ("active", _("Active")), ("inactive", _("Deactivated"))],
    )


# Days the audit log can be filtered by: a day at the edge of the calendar (9999-12-31) has no
# following midnight to filter up to.
AUDIT_DATE_RANGE = [
    MinValueValidator(dt.date(2000, 1, 1)),
    MaxValueValidator(dt.date(2999, 12, 31)),
]


class AuditFilterForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), required=False)
    actor = forms.ModelChoiceField(
        label=_("Actor"), required=False, queryset=User.objects.none(), empty_label=_("Anyone")
    )
    date_from = forms.DateField(
        label=_("From"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        validators=AUDIT_DATE_RANGE,
    )
    date_to = forms.DateField(
        label=_("To"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        validators=AUDIT_DATE_RANGE,
    )
    customer = forms.CharField(
        label=_("Customer"),
        required=False,
        help_text=_("Customer id or external id."),
    )

    def __init__(
        self, *args: Any, kinds: list[tuple[str, str]], actors: Any, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        kind, actor = self.fields["kind"], self.fields["actor"]
        assert isinstance(kind, forms.ChoiceField)  # the fields declared above
        assert isinstance(actor, forms.ModelChoiceField)
        kind.choices = [("", _("All kinds")), *kinds]
        actor.queryset = actors

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        start: dt.date | None = data.get("date_from")
        end: dt.date | None = data.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", _("The end is before the start."))
        return data


class CalendarDayForm(forms.Form):
    """A date an admin adds to the holiday calendar; the service checks it again."""

    day = forms.DateField(
        label=_("Date"), widget=forms.DateInput(attrs={"type": "date"}), validators=AUDIT_DATE_RANGE
    )
    kind = forms.ChoiceField(label=_("Kind"), choices=CalendarDayKind.choices)
    name = forms.CharField(label=pgettext_lazy("holiday", "Name"), max_length=100)
    reason = forms.CharField(label=_("Reason"), max_length=255)

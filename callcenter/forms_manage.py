"""Forms of the admin area (/manage/): guardrails and settings, users and roles, audit filters.

Forms only parse and check input; the services in `care`, `segments`, `outreach` and
`callcenter.services.users` validate the whole change again and save it with an audit entry.
"""

import datetime as dt
from collections.abc import Iterator
from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.forms.models import fields_for_model
from django.utils.dates import WEEKDAYS
from django.utils.translation import gettext_lazy as _

from callcenter.choices import Role
from callcenter.numbers import whole_number
from care.models import CareSettings
from outreach.models import Queue
from segments.models import RfmSegmentDefinition, SegmentSettings

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


def _number_list(value: str, *, low: int, high: int) -> list[int]:
    numbers = []
    for part in value.replace("，", ",").split(","):
        part = part.strip()
        if not part:
            continue
        number = whole_number(part)
        if number is None or not low <= number <= high:
            raise ValidationError(
                _("Enter whole numbers from %(low)d to %(high)d, separated by commas."),
                params={"low": low, "high": high},
            )
        numbers.append(number)
    return sorted(set(numbers))


class CareSettingsForm(forms.Form):
    """Care guardrails: quiet and business hours, frequency cap, retries, limits."""

    quiet_start = forms.TimeField(label=_("Quiet hours start"), widget=TimeInput())
    quiet_end = forms.TimeField(
        label=_("Quiet hours end"),
        widget=TimeInput(),
        help_text=_("No SMS or automated call between these times (customer's local time)."),
    )
    business_start = forms.TimeField(label=_("Business hours start"), widget=TimeInput())
    business_end = forms.TimeField(label=_("Business hours end"), widget=TimeInput())
    business_days = forms.MultipleChoiceField(
        label=_("Business days"), choices=ISO_WEEKDAYS, widget=CheckboxRow()
    )
    frequency_cap = forms.IntegerField(
        label=_("Proactive touches at most"), min_value=1, max_value=100
    )
    frequency_window_days = forms.IntegerField(
        label=_("Per this many days"), min_value=1, max_value=365
    )
    agent_daily_limit = forms.IntegerField(
        label=_("Call tasks per agent per day"), min_value=1, max_value=1000
    )
    max_attempts = forms.IntegerField(
        label=_("Send attempts before giving up"), min_value=1, max_value=20
    )
    retry_base_seconds = forms.IntegerField(
        label=_("First retry after (seconds)"), min_value=1, max_value=86400
    )
    stop_words = forms.CharField(
        label=_("Extra opt-out words"),
        required=False,
        help_text=_("Separated by commas. STOP, UNSUBSCRIBE, 退订 and TD always work."),
    )
    inactivity_days = forms.CharField(
        label=_("Inactivity events after (days)"),
        required=False,
        help_text=_("Days without an order that raise an inactivity event, e.g. 60, 120."),
    )

    @staticmethod
    def initial_from(settings: CareSettings) -> dict[str, Any]:
        return {
            "quiet_start": settings.quiet_start,
            "quiet_end": settings.quiet_end,
            "business_start": settings.business_start,
            "business_end": settings.business_end,
            "business_days": [str(day) for day in settings.business_days],
            "frequency_cap": settings.frequency_cap,
            "frequency_window_days": settings.frequency_window_days,
            "agent_daily_limit": settings.agent_daily_limit,
            "max_attempts": settings.max_attempts,
            "retry_base_seconds": settings.retry_base_seconds,
            "stop_words": ", ".join(settings.stop_words),
            "inactivity_days": ", ".join(str(day) for day in settings.inactivity_days),
        }

    def clean_business_days(self) -> list[int]:
        return sorted(int(day) for day in self.cleaned_data["business_days"])

    def clean_stop_words(self) -> list[str]:
        words = [w.strip() for w in self.cleaned_data["stop_words"].replace("，", ",").split(",")]
        words = [w for w in words if w]
        if any(len(word) > 32 for word in words):
            raise ValidationError(_("Each word may have at most 32 characters."))
        return words

    def clean_inactivity_days(self) -> list[int]:
        return _number_list(self.cleaned_data["inactivity_days"], low=1, high=3650)

    def changes(self, settings: CareSettings) -> dict[str, Any]:
        """The cleaned values that differ from `settings`."""
        return {
            name: value
            for name, value in self.cleaned_data.items()
            if getattr(settings, name) != value
        }


SEGMENT_SETTINGS_FIELDS = [
    "new_days",
    "dormant_days",
    "lost_days",
    "window_days",
    "tier_method",
    "high_percentile",
    "medium_percentile",
    "high_threshold",
    "medium_threshold",
    "business_high_threshold",
    "business_medium_threshold",
]
LIFECYCLE_FIELDS = SEGMENT_SETTINGS_FIELDS[:4]
TIER_FIELDS = SEGMENT_SETTINGS_FIELDS[4:]


class SegmentSettingsForm(forms.Form):
    """Lifecycle and value-tier thresholds; labels and limits come from the model."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields.update(fields_for_model(SegmentSettings, fields=SEGMENT_SETTINGS_FIELDS))

    @staticmethod
    def initial_from(settings: SegmentSettings) -> dict[str, Any]:
        return {name: getattr(settings, name) for name in SEGMENT_SETTINGS_FIELDS}

    def lifecycle_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in LIFECYCLE_FIELDS]

    def tier_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in TIER_FIELDS]


RANGE_PARTS = ("r_min", "r_max", "fm_min", "fm_max")
RANGE_LABELS = (_("R from"), _("R to"), _("FM from"), _("FM to"))


class RfmGridForm(forms.Form):
    """The ranges of every RFM segment definition and its segment's display name.

    Fields are named `<definition>-<part>`; `row_errors` holds errors per definition.
    """

    def __init__(
        self,
        *args: Any,
        definitions: list[RfmSegmentDefinition],
        names: dict[str, str],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.definitions = definitions
        self.row_errors: dict[str, list[str]] = {}
        for definition in definitions:
            key = definition.name
            label = definition.get_name_display()
            self.fields[f"{key}-label"] = forms.CharField(
                label=_("Name"),
                max_length=120,
                initial=names.get(key, label),
                widget=forms.TextInput(attrs={"aria-label": f"{label}: {_('Name')}"}),
            )
            for part, part_label in zip(RANGE_PARTS, RANGE_LABELS, strict=True):
                self.fields[f"{key}-{part}"] = forms.IntegerField(
                    label=part_label,
                    min_value=1,
                    max_value=5,
                    initial=getattr(definition, part),
                    widget=forms.NumberInput(
                        attrs={"class": "score-input", "aria-label": f"{label}: {part_label}"}
                    ),
                )

    def rows(self) -> Iterator[dict[str, Any]]:
        for definition in self.definitions:
            key = definition.name
            yield {
                "key": key,
                "label": definition.get_name_display(),
                "name": self[f"{key}-label"],
                "parts": [self[f"{key}-{part}"] for part in RANGE_PARTS],
                "errors": self.row_errors.get(key, [])
                + [
                    e
                    for part in ("label", *RANGE_PARTS)
                    for e in self.errors.get(f"{key}-{part}", [])
                ],
            }

    def ranges(self) -> dict[str, tuple[int, int, int, int]]:
        data = self.cleaned_data
        return {
            d.name: tuple(data[f"{d.name}-{part}"] for part in RANGE_PARTS)  # type: ignore[misc]
            for d in self.definitions
        }

    def names(self) -> dict[str, str]:
        return {d.name: self.cleaned_data[f"{d.name}-label"] for d in self.definitions}

    def add_service_error(self, error: ValidationError) -> None:
        """Spread a service's ValidationError over rows (keyed by definition) or the form."""
        if hasattr(error, "error_dict"):
            for key, errors in error.message_dict.items():
                if key in {d.name for d in self.definitions}:
                    self.row_errors.setdefault(key, []).extend(errors)
                else:
                    self.add_error(None, errors)
        else:
            self.add_error(None, error)


class RefreshScheduleForm(forms.Form):
    """When the scheduled segment refresh runs."""

    run_at = forms.TimeField(
        label=_("Run at"),
        widget=TimeInput(),
        help_text=_("Business time zone."),
    )
    days = forms.MultipleChoiceField(label=_("On"), choices=ISO_WEEKDAYS, widget=CheckboxRow())
    enabled = forms.BooleanField(label=_("Scheduled refresh on"), required=False)

    def clean_days(self) -> list[int]:
        return sorted(int(day) for day in self.cleaned_data["days"])


def _role_choices() -> list[tuple[str, str]]:
    return [(role.value, role.label) for role in (Role.AGENT, Role.SUPERVISOR, Role.ADMIN)]


class QueueChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Queue) -> str:
        return obj.name


def _queue_field() -> QueueChoiceField:
    return QueueChoiceField(
        label=_("Call queues"),
        queryset=Queue.objects.order_by("name"),
        required=False,
        widget=forms.CheckboxSelectMultiple(attrs={"class": "check-row"}),
    )


class UserCreateForm(forms.Form):
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
    queues = _queue_field()


class UserProfileForm(forms.Form):
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
    queues = _queue_field()


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
        data = super().clean()
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
        self.fields["kind"].choices = [("", _("All kinds")), *kinds]
        self.fields["actor"].queryset = actors

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        start: dt.date | None = data.get("date_from")
        end: dt.date | None = data.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", _("The end is before the start."))
        return data

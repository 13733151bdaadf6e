"""Forms of the SLA pages: the policy editor (conditions as multi-selects with translated
labels, targets in hours and minutes) and the business calendar editor (a weekday grid of up to
two intervals a day, and the calendar's own dates). They check shapes; the services in
service.services.sla_admin validate the content, and their errors are shown next to the field
they name (`service_error_attach`)."""

import datetime as dt
from typing import Any
from zoneinfo import available_timezones

from django import forms
from django.utils.translation import gettext_lazy as _

from callcenter.choices import CustomerKind, InteractionChannel, TicketKind, TicketPriority
from callcenter.errors import ApplicationError
from segments.choices import LifecycleStage, ValueTier
from segments.models import Segment
from service.models import BusinessCalendar, SlaPolicy

WEEKDAY_LABELS = [
    _("Monday"),
    _("Tuesday"),
    _("Wednesday"),
    _("Thursday"),
    _("Friday"),
    _("Saturday"),
    _("Sunday"),
]
TARGETS = (
    ("first_response", _("First response within")),
    ("next_response", _("Next response within")),
    ("resolution", _("Resolution within")),
)
# Targets up to a year, in hours.
MAX_HOURS = 366 * 24


class SegmentChoiceField(forms.ModelMultipleChoiceField):
    """Segments by their name in the user's language (built-in ones translated)."""

    def label_from_instance(self, obj: Any) -> str:
        return str(obj.display_name)


def _multi(label: Any, choices: Any) -> forms.MultipleChoiceField:
    return forms.MultipleChoiceField(
        label=label,
        choices=choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: any."),
    )


class SlaPolicyForm(forms.Form):
    """A policy's conditions, calendar, targets and escalation."""

    name = forms.CharField(label=_("Name"), max_length=100)
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)
    ticket_kinds = _multi(_("Ticket kinds"), TicketKind.choices)
    priorities = _multi(_("Priorities"), TicketPriority.choices)
    channels = _multi(_("Channels"), InteractionChannel.choices)
    customer_kinds = _multi(_("Customer kinds"), CustomerKind.choices)
    value_tiers = _multi(_("Value tiers"), ValueTier.choices)
    lifecycle_stages = _multi(_("Lifecycle stages"), LifecycleStage.choices)
    segments = SegmentChoiceField(
        label=_("Segments"),
        queryset=Segment.objects.filter(is_active=True).order_by("kind", "name"),
        required=False,
        help_text=_("The customer is in any of them. None chosen: any."),
    )
    calendar = forms.ModelChoiceField(
        label=_("Business calendar"),
        queryset=BusinessCalendar.objects.order_by("name"),
        required=False,
        empty_label=_("Around the clock (24x7)"),
    )
    first_response_hours = forms.IntegerField(
        label=_("hours"), min_value=0, max_value=MAX_HOURS, required=False
    )
    first_response_mins = forms.IntegerField(
        label=_("minutes"), min_value=0, max_value=59, required=False
    )
    next_response_hours = forms.IntegerField(
        label=_("hours"), min_value=0, max_value=MAX_HOURS, required=False
    )
    next_response_mins = forms.IntegerField(
        label=_("minutes"), min_value=0, max_value=59, required=False
    )
    resolution_hours = forms.IntegerField(
        label=_("hours"), min_value=0, max_value=MAX_HOURS, required=False
    )
    resolution_mins = forms.IntegerField(
        label=_("minutes"), min_value=0, max_value=59, required=False
    )
    warn_at_percent = forms.IntegerField(
        label=_("Warn at (% of the time used)"), min_value=1, max_value=99, initial=75
    )
    escalate_reassign = forms.BooleanField(
        label=_("At a breach, reassign to a colleague with room"), required=False, initial=True
    )
    escalate_notify = forms.BooleanField(
        label=_("At a breach, notify supervisors"), required=False, initial=True
    )

    CONDITIONS = (
        "ticket_kinds",
        "priorities",
        "channels",
        "customer_kinds",
        "value_tiers",
        "lifecycle_stages",
    )

    def targets(self) -> list[tuple[Any, forms.BoundField, forms.BoundField]]:
        """(label, hours field, minutes field) of each target, for the template."""
        return [(label, self[f"{key}_hours"], self[f"{key}_mins"]) for key, label in TARGETS]

    def conditions(self) -> list[forms.BoundField]:
        return [self[name] for name in self.CONDITIONS]

    @staticmethod
    def initial_of(policy: SlaPolicy) -> dict[str, Any]:
        initial: dict[str, Any] = {
            "name": policy.name,
            "is_active": policy.is_active,
            "segments": list(policy.segments.all()),
            "calendar": policy.calendar,
            "warn_at_percent": policy.warn_at_percent,
            "escalate_reassign": policy.escalate_reassign,
            "escalate_notify": policy.escalate_notify,
        }
        for name in SlaPolicyForm.CONDITIONS:
            initial[name] = list(getattr(policy, name))
        for key, _label in TARGETS:
            minutes = getattr(policy, f"{key}_minutes")
            if minutes is not None:
                initial[f"{key}_hours"], initial[f"{key}_mins"] = divmod(minutes, 60)
        return initial

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for key, _label in TARGETS:
            hours, mins = cleaned.get(f"{key}_hours"), cleaned.get(f"{key}_mins")
            if (hours or 0) * 60 + (mins or 0) == 0 and (hours, mins) != (None, None):
                self.add_error(
                    f"{key}_hours", _("A target is at least a minute; leave both empty for none.")
                )
        return cleaned

    def service_fields(self) -> dict[str, Any]:
        data = self.cleaned_data
        fields: dict[str, Any] = {
            name: data[name]
            for name in (
                "name",
                "is_active",
                *self.CONDITIONS,
                "warn_at_percent",
                "escalate_reassign",
                "escalate_notify",
            )
        }
        fields["segment_ids"] = sorted(segment.pk for segment in data["segments"])
        fields["calendar_id"] = data["calendar"].pk if data["calendar"] else None
        for key, _label in TARGETS:
            hours, mins = data.get(f"{key}_hours"), data.get(f"{key}_mins")
            total = (hours or 0) * 60 + (mins or 0)
            fields[f"{key}_minutes"] = total or None
        return fields


def _time_field(label: Any) -> forms.TimeField:
    return forms.TimeField(
        label=label, required=False, widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )


def _clock(value: dt.time | None) -> str:
    return "" if value is None else value.strftime("%H:%M")


class BusinessCalendarForm(forms.Form):
    """A calendar's name, time zone, holiday rule and weekday grid (up to two intervals a day;
    an end of 00:00 means midnight)."""

    name = forms.CharField(label=_("Name"), max_length=100)
    timezone = forms.ChoiceField(label=_("Time zone"), choices=[])
    follows_public_holidays = forms.BooleanField(
        label=_("Closed on public holidays, open on make-up working days"),
        required=False,
        initial=True,
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        zone_field = self.fields["timezone"]
        assert isinstance(zone_field, forms.ChoiceField)
        zone_field.choices = [(zone, zone) for zone in sorted(available_timezones())]
        zone_field.widget.attrs["translate"] = "no"  # IANA names are codes
        for day in range(7):
            for part in ("start1", "end1", "start2", "end2"):
                self.fields[f"d{day}_{part}"] = _time_field(f"{WEEKDAY_LABELS[day]} {part}")

    def grid(self) -> list[tuple[Any, list[forms.BoundField]]]:
        """(weekday label, [start1, end1, start2, end2]) rows for the template."""
        return [
            (
                WEEKDAY_LABELS[day],
                [self[f"d{day}_{part}"] for part in ("start1", "end1", "start2", "end2")],
            )
            for day in range(7)
        ]

    @staticmethod
    def initial_of(calendar: BusinessCalendar) -> dict[str, Any]:
        initial: dict[str, Any] = {
            "name": calendar.name,
            "timezone": calendar.timezone,
            "follows_public_holidays": calendar.follows_public_holidays,
        }
        for key, intervals in (calendar.hours or {}).items():
            for index, (start, end) in enumerate(intervals[:2], start=1):
                initial[f"d{key}_start{index}"] = start
                initial[f"d{key}_end{index}"] = "00:00" if end == "24:00" else end
        return initial

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for day in range(7):
            for index in (1, 2):
                start, end = cleaned.get(f"d{day}_start{index}"), cleaned.get(f"d{day}_end{index}")
                if (start is None) != (end is None):
                    self.add_error(f"d{day}_start{index}", _("Give both a start and an end."))
        return cleaned

    def service_fields(self) -> dict[str, Any]:
        data = self.cleaned_data
        hours: dict[str, list[list[str]]] = {}
        for day in range(7):
            intervals = []
            for index in (1, 2):
                start, end = data.get(f"d{day}_start{index}"), data.get(f"d{day}_end{index}")
                if start is not None and end is not None:
                    end_text = "24:00" if end == dt.time(0, 0) else _clock(end)
                    intervals.append([_clock(start), end_text])
            if intervals:
                hours[str(day)] = intervals
        return {
            "name": data["name"],
            "timezone": data["timezone"],
            "follows_public_holidays": data["follows_public_holidays"],
            "hours": hours,
        }


class CalendarDateForm(forms.Form):
    """A date of one calendar: closed, or open with its hours."""

    day = forms.DateField(label=_("Date"), widget=forms.DateInput(attrs={"type": "date"}))
    is_open = forms.BooleanField(label=_("Open (with these hours)"), required=False)
    start = _time_field(_("From"))
    end = _time_field(_("To"))
    reason = forms.CharField(label=_("Reason"), max_length=255)

    def service_fields(self) -> dict[str, Any]:
        data = self.cleaned_data
        hours = None
        if data["is_open"] and data.get("start") is not None and data.get("end") is not None:
            end_text = "24:00" if data["end"] == dt.time(0, 0) else _clock(data["end"])
            hours = [[_clock(data["start"]), end_text]]
        return {
            "day": data["day"],
            "is_open": data["is_open"],
            "hours": hours,
            "reason": data["reason"],
        }


def service_error_attach(exc: ApplicationError, form: forms.Form, aliases: dict[str, str]) -> None:
    """Show a service error next to the field it names (else at the top of the form)."""
    field = str(exc.extra.get("field") or "")
    field = aliases.get(field, field)
    if field in form.fields:
        form.add_error(field, exc.message)
    else:
        form.add_error(None, exc.message)

"""Admins' edits of SLA policies and business calendars: validated, versioned and audited.

A policy's definition is frozen in an SlaPolicyVersion on every real change (as care rules'
versions); each ticket records the version it was matched with, so an edit never changes the
promise made to a ticket already open. The order of policies (which one wins) is audited too
but is not part of a version. Calendars carry a version number bumped on each change, and
every change (hours, dates) is audited with its before and after.
"""

import datetime as dt
from typing import Any
from zoneinfo import available_timezones

from django.contrib.auth.models import User
from django.db import models, transaction
from django.db.models import Max
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from callcenter.choices import CustomerKind, InteractionChannel, TicketKind, TicketPriority
from callcenter.errors import ApplicationError
from callcenter.services.audit import audit_log_record
from segments.choices import LifecycleStage, ValueTier
from segments.models import Segment
from service.models import BusinessCalendar, BusinessCalendarDate, SlaPolicy, SlaPolicyVersion
from service.services.business_time import parse_intervals, parse_week

# The longest target a policy may set: a year of minutes.
MAX_TARGET_MINUTES = 366 * 24 * 60
# Gap between positions, so a move rewrites only the two policies it swaps.
POSITION_STEP = 10

CONDITION_CHOICES: dict[str, type[models.TextChoices]] = {
    "ticket_kinds": TicketKind,
    "priorities": TicketPriority,
    "channels": InteractionChannel,
    "customer_kinds": CustomerKind,
    "value_tiers": ValueTier,
    "lifecycle_stages": LifecycleStage,
}
TARGET_FIELDS = ("first_response_minutes", "next_response_minutes", "resolution_minutes")
FLAG_FIELDS = ("is_active", "escalate_reassign", "escalate_notify")
POLICY_FIELDS = (
    "name",
    *CONDITION_CHOICES,
    "segment_ids",
    "calendar_id",
    *TARGET_FIELDS,
    "warn_at_percent",
    *FLAG_FIELDS,
)

# Labels of a version's fields, for the history's differences.
FIELD_LABELS = {
    "name": gettext_lazy("Name"),
    "is_active": gettext_lazy("Active"),
    "ticket_kinds": gettext_lazy("Ticket kinds"),
    "priorities": gettext_lazy("Priorities"),
    "channels": gettext_lazy("Channels"),
    "customer_kinds": gettext_lazy("Customer kinds"),
    "value_tiers": gettext_lazy("Value tiers"),
    "lifecycle_stages": gettext_lazy("Lifecycle stages"),
    "segments": gettext_lazy("Segments"),
    "calendar": gettext_lazy("Business calendar"),
    "first_response_minutes": gettext_lazy("First response within"),
    "next_response_minutes": gettext_lazy("Next response within"),
    "resolution_minutes": gettext_lazy("Resolution within"),
    "warn_at_percent": gettext_lazy("Warn at (% of the time used)"),
    "escalate_reassign": gettext_lazy("At a breach, reassign"),
    "escalate_notify": gettext_lazy("At a breach, notify supervisors"),
}


def _error(message: str, field: str) -> ApplicationError:
    return ApplicationError(message, extra={"field": field})


def _clean_policy(values: dict[str, Any]) -> dict[str, Any]:
    unknown = set(values) - set(POLICY_FIELDS)
    if unknown:
        raise ApplicationError(
            _("Unknown fields: %(fields)s") % {"fields": ", ".join(sorted(unknown))}
        )
    cleaned = dict(values)
    if "name" in cleaned:
        cleaned["name"] = str(cleaned["name"] or "").strip()
        if not cleaned["name"] or len(cleaned["name"]) > 100:
            raise _error(_("Give the policy a name of at most 100 characters."), "name")
    for name, choices in CONDITION_CHOICES.items():
        if name not in cleaned:
            continue
        items = cleaned[name] or []
        if not isinstance(items, list) or any(item not in choices.values for item in items):
            raise _error(_("Unknown value in %(field)s.") % {"field": FIELD_LABELS[name]}, name)
        cleaned[name] = [value for value in choices.values if value in items]
    if "segment_ids" in cleaned:
        ids = cleaned["segment_ids"] or []
        if not isinstance(ids, list) or any(
            isinstance(pk, bool) or not isinstance(pk, int) for pk in ids
        ):
            raise _error(_("Segments are a list of ids."), "segment_ids")
        found = set(Segment.objects.filter(pk__in=ids).values_list("pk", flat=True))
        if found != set(ids):
            raise _error(_("Unknown segment."), "segment_ids")
        cleaned["segment_ids"] = sorted(found)
    if "calendar_id" in cleaned and cleaned["calendar_id"] is not None:
        calendar_id = cleaned["calendar_id"]
        if isinstance(calendar_id, bool) or not isinstance(calendar_id, int):
            raise _error(_("Unknown business calendar."), "calendar_id")
        if not BusinessCalendar.objects.filter(pk=calendar_id).exists():
            raise _error(_("Unknown business calendar."), "calendar_id")
    for name in TARGET_FIELDS:
        value = cleaned.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            raise _error(_("A target is a whole number of minutes."), name)
        if not 1 <= value <= MAX_TARGET_MINUTES:
            raise _error(_("A target is between 1 minute and a year."), name)
    if "warn_at_percent" in cleaned:
        value = cleaned["warn_at_percent"]
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 99:
            raise _error(_("Warn at 1 to 99 percent of the time."), "warn_at_percent")
    for name in FLAG_FIELDS:
        if name in cleaned and not isinstance(cleaned[name], bool):
            raise _error(_("Yes or no."), name)
    return cleaned


def policy_snapshot(policy: SlaPolicy) -> dict[str, Any]:
    """A policy's definition as stored in its versions (segments and calendar by id and
    name, so the history reads after either is renamed or removed)."""
    calendar = policy.calendar
    return {
        "name": policy.name,
        "is_active": policy.is_active,
        **{name: list(getattr(policy, name)) for name in CONDITION_CHOICES},
        "segments": [
            [segment.pk, segment.name] for segment in policy.segments.order_by("pk").all()
        ],
        "calendar": None if calendar is None else [calendar.pk, calendar.name],
        **{name: getattr(policy, name) for name in TARGET_FIELDS},
        "warn_at_percent": policy.warn_at_percent,
        "escalate_reassign": policy.escalate_reassign,
        "escalate_notify": policy.escalate_notify,
    }


def _version_record(
    policy: SlaPolicy, *, changed_by: User | None, action: str, force: bool = False
) -> SlaPolicyVersion | None:
    snapshot = policy_snapshot(policy)
    latest = policy.versions.order_by("-version").first()
    if latest is not None and not force and latest.snapshot == snapshot:
        return None
    number = latest.version + 1 if latest is not None else 1
    SlaPolicy.objects.filter(pk=policy.pk).update(version=number)
    policy.version = number
    version = SlaPolicyVersion.objects.create(
        policy=policy,
        version=number,
        snapshot=snapshot,
        changed_by=changed_by if changed_by is not None and changed_by.is_authenticated else None,
    )
    audit_log_record(
        actor=changed_by,
        action=action,
        object_type="sla_policy",
        object_id=policy.pk,
        data={"version": number, "name": policy.name},
    )
    return version


def _apply(policy: SlaPolicy, cleaned: dict[str, Any]) -> list[int] | None:
    segment_ids = cleaned.pop("segment_ids", None)
    for key, value in cleaned.items():
        setattr(policy, key, value)
    return segment_ids


@transaction.atomic
def sla_policy_create(*, created_by: User | None, **fields: Any) -> SlaPolicy:
    """A new policy, last in the order; version 1."""
    cleaned = _clean_policy(fields)
    if "name" not in cleaned:
        raise _error(_("Give the policy a name of at most 100 characters."), "name")
    top = SlaPolicy.objects.aggregate(top=Max("position"))["top"] or 0
    policy = SlaPolicy(position=top + POSITION_STEP)
    segment_ids = _apply(policy, cleaned)
    policy.save()
    if segment_ids:
        policy.segments.set(segment_ids)
    _version_record(policy, changed_by=created_by, action="sla_policy.create", force=True)
    return policy


@transaction.atomic
def sla_policy_update(*, policy: SlaPolicy, updated_by: User | None, **fields: Any) -> SlaPolicy:
    """Change a policy; a real change makes a new version (tickets keep theirs)."""
    policy = SlaPolicy.objects.select_for_update().get(pk=policy.pk)
    cleaned = _clean_policy(fields)
    segment_ids = _apply(policy, cleaned)
    policy.save()
    if segment_ids is not None:
        policy.segments.set(segment_ids)
    _version_record(policy, changed_by=updated_by, action="sla_policy.update")
    return policy


@transaction.atomic
def sla_policy_move(*, policy: SlaPolicy, direction: str, moved_by: User | None) -> SlaPolicy:
    """Swap a policy with its neighbour above ("up") or below ("down"); audited."""
    if direction not in ("up", "down"):
        raise _error(_("Move up or down."), "direction")
    ordered = list(SlaPolicy.objects.select_for_update().order_by("position", "id"))
    index = next(i for i, row in enumerate(ordered) if row.pk == policy.pk)
    other = index - 1 if direction == "up" else index + 1
    if not 0 <= other < len(ordered):
        return ordered[index]
    ordered[index], ordered[other] = ordered[other], ordered[index]
    for position, row in enumerate(ordered, start=1):
        row.position = position * POSITION_STEP
    SlaPolicy.objects.bulk_update(ordered, ["position"])
    audit_log_record(
        actor=moved_by,
        action="sla_policy.move",
        object_type="sla_policy",
        object_id=policy.pk,
        data={"direction": direction, "order": [row.pk for row in ordered]},
    )
    return ordered[other]


def _label(field: str, value: Any) -> str:
    if value is None or value == []:
        return "-"
    if field in CONDITION_CHOICES:
        labels = dict(CONDITION_CHOICES[field].choices)
        return ", ".join(str(labels.get(item, item)) for item in value)
    if field == "segments":
        return ", ".join(str(name) for _pk, name in value)
    if field == "calendar":
        return str(value[1])
    if field in TARGET_FIELDS:
        return minutes_label(value)
    if isinstance(value, bool):
        return str(_("Yes") if value else _("No"))
    return str(value)


def minutes_label(minutes: int | None) -> str:
    """90 -> "1 h 30 min" (translated)."""
    if minutes is None:
        return "-"
    hours, rest = divmod(minutes, 60)
    if hours and rest:
        return _("%(hours)d h %(minutes)d min") % {"hours": hours, "minutes": rest}
    if hours:
        return _("%(hours)d h") % {"hours": hours}
    return _("%(minutes)d min") % {"minutes": rest}


def policy_versions_diff(
    older: dict[str, Any] | None, newer: dict[str, Any]
) -> list[tuple[str, str, str]]:
    """What changed between two snapshots, as (label, before, after) in the user's language."""
    rows = []
    for field, label in FIELD_LABELS.items():
        before = None if older is None else older.get(field)
        after = newer.get(field)
        if older is not None and before == after:
            continue
        if older is None and after in (None, [], ""):
            continue
        rows.append((str(label), _label(field, before), _label(field, after)))
    return rows


# ---------------------------------------------------------------------------------------------
# Calendars


def _calendar_snapshot(calendar: BusinessCalendar) -> dict[str, Any]:
    return {
        "name": calendar.name,
        "timezone": calendar.timezone,
        "hours": calendar.hours,
        "follows_public_holidays": calendar.follows_public_holidays,
    }


def _clean_calendar(values: dict[str, Any], calendar: BusinessCalendar | None) -> dict[str, Any]:
    allowed = {"name", "timezone", "hours", "follows_public_holidays"}
    unknown = set(values) - allowed
    if unknown:
        raise ApplicationError(
            _("Unknown fields: %(fields)s") % {"fields": ", ".join(sorted(unknown))}
        )
    cleaned = dict(values)
    if "name" in cleaned:
        cleaned["name"] = str(cleaned["name"] or "").strip()
        if not cleaned["name"] or len(cleaned["name"]) > 100:
            raise _error(_("Give the calendar a name of at most 100 characters."), "name")
        taken = BusinessCalendar.objects.filter(name=cleaned["name"])
        if calendar is not None:
            taken = taken.exclude(pk=calendar.pk)
        if taken.exists():
            raise _error(_("Another calendar has this name."), "name")
    if "timezone" in cleaned and cleaned["timezone"] not in available_timezones():
        raise _error(_("Unknown time zone."), "timezone")
    if "hours" in cleaned:
        try:
            week = parse_week(cleaned["hours"])
        except ApplicationError as error:
            raise _error(error.message, "hours") from None
        if not week:
            raise _error(_("Open the calendar on at least one weekday."), "hours")
        cleaned["hours"] = {str(day): cleaned["hours"][str(day)] for day in sorted(week)}
    if "follows_public_holidays" in cleaned and not isinstance(
        cleaned["follows_public_holidays"], bool
    ):
        raise _error(_("Yes or no."), "follows_public_holidays")
    return cleaned


@transaction.atomic
def business_calendar_create(*, created_by: User | None, **fields: Any) -> BusinessCalendar:
    """A new calendar (it needs a name and hours on at least one weekday); audited."""
    cleaned = _clean_calendar(fields, None)
    if "name" not in cleaned:
        raise _error(_("Give the calendar a name of at most 100 characters."), "name")
    if "hours" not in cleaned:
        raise _error(_("Open the calendar on at least one weekday."), "hours")
    calendar = BusinessCalendar.objects.create(**cleaned)
    audit_log_record(
        actor=created_by,
        action="business_calendar.create",
        object_type="business_calendar",
        object_id=calendar.pk,
        data={"after": _calendar_snapshot(calendar)},
    )
    return calendar


@transaction.atomic
def business_calendar_update(
    *, calendar: BusinessCalendar, updated_by: User | None, **fields: Any
) -> BusinessCalendar:
    """Change a calendar; a real change bumps its version and is audited. Tickets keep the
    dues already computed; new dues count in the new hours."""
    calendar = BusinessCalendar.objects.select_for_update().get(pk=calendar.pk)
    cleaned = _clean_calendar(fields, calendar)
    before = _calendar_snapshot(calendar)
    for key, value in cleaned.items():
        setattr(calendar, key, value)
    after = _calendar_snapshot(calendar)
    if after == before:
        return calendar
    calendar.version += 1
    calendar.save()
    audit_log_record(
        actor=updated_by,
        action="business_calendar.update",
        object_type="business_calendar",
        object_id=calendar.pk,
        data={"version": calendar.version, "before": before, "after": after},
    )
    return calendar


@transaction.atomic
def business_calendar_date_add(
    *,
    calendar: BusinessCalendar,
    day: dt.date,
    is_open: bool,
    hours: Any,
    reason: str,
    added_by: User | None,
) -> BusinessCalendarDate:
    """A date of this calendar (closed, or open with its hours); one per day; audited."""
    reason = (reason or "").strip()
    if not reason:
        raise _error(_("Say why (e.g. company outing)."), "reason")
    if len(reason) > 255:
        raise _error(_("The reason is at most 255 characters."), "reason")
    if is_open:
        try:
            intervals = parse_intervals(hours or [])
        except ApplicationError as error:
            raise _error(error.message, "hours") from None
        if not intervals:
            raise _error(_("Give the hours of an open day."), "hours")
    else:
        hours = []
    calendar = BusinessCalendar.objects.select_for_update().get(pk=calendar.pk)
    if calendar.dates.filter(day=day).exists():
        raise _error(
            _("%(day)s is already in this calendar; remove it first.") % {"day": day.isoformat()},
            "day",
        )
    entry = BusinessCalendarDate.objects.create(
        calendar=calendar, day=day, is_open=is_open, hours=hours, reason=reason
    )
    BusinessCalendar.objects.filter(pk=calendar.pk).update(version=calendar.version + 1)
    audit_log_record(
        actor=added_by,
        action="business_calendar.date_add",
        object_type="business_calendar",
        object_id=calendar.pk,
        data={"day": day.isoformat(), "is_open": is_open, "hours": hours, "reason": reason},
    )
    return entry


@transaction.atomic
def business_calendar_date_remove(*, entry: BusinessCalendarDate, removed_by: User | None) -> None:
    """Remove a date of a calendar (audited)."""
    calendar = BusinessCalendar.objects.select_for_update().get(pk=entry.calendar_id)
    audit_log_record(
        actor=removed_by,
        action="business_calendar.date_remove",
        object_type="business_calendar",
        object_id=calendar.pk,
        data={
            "day": entry.day.isoformat(),
            "is_open": entry.is_open,
            "hours": entry.hours,
            "reason": entry.reason,
        },
    )
    entry.delete()
    BusinessCalendar.objects.filter(pk=calendar.pk).update(version=calendar.version + 1)

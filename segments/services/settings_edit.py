"""Changing what admins tune in segmentation: thresholds, the RFM grid and the refresh schedule.

Every change is validated before anything is saved and recorded in the audit log with the
values before and after.
"""

from decimal import Decimal
from typing import Any

from django.conf import settings as django_settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from callcenter.services.audit import audit_log_record
from segments.choices import SegmentKind
from segments.models import RfmSegmentDefinition, Segment, SegmentSettings

SETTINGS_EDITABLE = frozenset(
    {
        "window_days",
        "new_days",
        "dormant_days",
        "lost_days",
        "churn_threshold",
        "tier_method",
        "high_threshold",
        "medium_threshold",
        "business_high_threshold",
        "business_medium_threshold",
        "high_percentile",
        "medium_percentile",
    }
)
SCORES = range(1, 6)
# The periodic task of the scheduled refresh (see callcenter/schedules.py).
REFRESH_TASK = "segments.tasks.segment_refresh_scheduled_task"


def _plain(value: Any) -> Any:
    """A JSON-friendly copy of a field value for the audit log."""
    return str(value) if isinstance(value, Decimal) else value


def _settings_check(settings: SegmentSettings) -> None:
    errors: dict[str, str] = {}
    if settings.dormant_days >= settings.lost_days:
        errors["lost_days"] = _("Lost must come after dormant: use more days than dormant.")
    if settings.new_days >= settings.lost_days:
        errors["new_days"] = _("New must be shorter than lost.")
    if settings.medium_threshold > settings.high_threshold:
        errors["medium_threshold"] = _("Medium value must not exceed high value.")
    if settings.business_medium_threshold > settings.business_high_threshold:
        errors["business_medium_threshold"] = _("Medium value must not exceed high value.")
    if settings.high_percentile + settings.medium_percentile > 1:
        errors["medium_percentile"] = _("High and medium shares together must not exceed 1.")
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def segment_settings_update(*, updated_by: User | None, **fields: Any) -> SegmentSettings:
    """Change lifecycle and value-tier thresholds; takes effect at the next refresh.

    Raises ValidationError (per field) and saves nothing when any value is bad.
    """
    unknown = set(fields) - SETTINGS_EDITABLE
    if unknown:
        raise ValidationError(
            _("Unknown fields: %(fields)s") % {"fields": ", ".join(sorted(unknown))}
        )
    SegmentSettings.load()
    settings = SegmentSettings.objects.select_for_update().get(pk=1)
    before = {name: getattr(settings, name) for name in fields}
    for name, value in fields.items():
        setattr(settings, name, value)
    settings.full_clean(validate_constraints=False)
    _settings_check(settings)
    settings.validate_constraints()
    changed = sorted(name for name in fields if getattr(settings, name) != before[name])
    if not changed:
        return settings
    settings.save(update_fields=changed)
    audit_log_record(
        actor=updated_by,
        action="segment_settings.update",
        object_type="segment_settings",
        object_id=settings.pk,
        data={
            "before": {name: _plain(before[name]) for name in changed},
            "after": {name: _plain(getattr(settings, name)) for name in changed},
        },
    )
    return settings


def rfm_grid_cells(ranges: list[tuple[str, int, int, int, int]]) -> dict[tuple[int, int], str]:
    """Which segment each (R, FM) cell falls in when `ranges` are tried in order."""
    cells: dict[tuple[int, int], str] = {}
    for name, r_min, r_max, fm_min, fm_max in ranges:
        for r in range(r_min, r_max + 1):
            for fm in range(fm_min, fm_max + 1):
                cells.setdefault((r, fm), name)
    return cells


@transaction.atomic
def rfm_grid_update(
    *,
    updated_by: User | None,
    ranges: dict[str, tuple[int, int, int, int]],
    names: dict[str, str] | None = None,
) -> None:
    """Change the R and FM ranges of RFM segments and the names their segments are shown with.

    `ranges` maps a definition's name (an RfmSegmentName value) to (R from, R to, FM from,
    FM to). Every one of the 25 cells must stay covered. Raises ValidationError keyed by the
    definition name (or `__all__`) and saves nothing when the grid is bad.
    """
    definitions = list(RfmSegmentDefinition.objects.select_for_update().order_by("position"))
    by_name = {d.name: d for d in definitions}
    unknown = set(ranges) - set(by_name)
    if unknown:
        raise ValidationError(
            _("Unknown RFM segments: %(names)s") % {"names": ", ".join(sorted(unknown))}
        )
    errors: dict[str, str] = {}
    for name, (r_min, r_max, fm_min, fm_max) in ranges.items():
        values = (r_min, r_max, fm_min, fm_max)
        if not all(isinstance(v, int) and v in SCORES for v in values):
            errors[name] = _("Scores go from 1 to 5.")
        elif r_min > r_max or fm_min > fm_max:
            errors[name] = _("“From” must not be above “to”.")
    if errors:
        raise ValidationError(errors)
    before = {d.name: [d.r_min, d.r_max, d.fm_min, d.fm_max] for d in definitions}
    after = {d.name: list(ranges.get(d.name, before[d.name])) for d in definitions}
    cells = rfm_grid_cells(
        [
            (name, r_min, r_max, fm_min, fm_max)
            for name, (r_min, r_max, fm_min, fm_max) in after.items()
        ]
    )
    missing = [f"R{r}/FM{fm}" for r in SCORES for fm in SCORES if (r, fm) not in cells]
    if missing:
        raise ValidationError(
            _("These cells belong to no segment: %(cells)s") % {"cells": ", ".join(missing)}
        )
    changed = [d for d in definitions if after[d.name] != before[d.name]]
    for definition in changed:
        definition.r_min, definition.r_max, definition.fm_min, definition.fm_max = after[
            definition.name
        ]
    RfmSegmentDefinition.objects.bulk_update(changed, ["r_min", "r_max", "fm_min", "fm_max"])
    renamed = _rfm_names_update(names or {})
    if not changed and not renamed:
        return
    data: dict[str, Any] = {
        "before": {d.name: before[d.name] for d in changed},
        "after": {d.name: after[d.name] for d in changed},
    }
    for key, (old, new) in renamed.items():
        data["before"][f"{key} name"] = old
        data["after"][f"{key} name"] = new
    audit_log_record(
        actor=updated_by,
        action="rfm_grid.update",
        object_type="rfm_grid",
        data=data,
    )


def _rfm_names_update(names: dict[str, str]) -> dict[str, tuple[str, str]]:
    """Rename built-in RFM segments; returns {key: (old, new)} of those that changed."""
    clean = {key: value.strip() for key, value in names.items()}
    empty = [key for key, value in clean.items() if not value]
    if empty:
        raise ValidationError({key: _("The name must not be empty.") for key in empty})
    segments = list(
        Segment.objects.select_for_update().filter(kind=SegmentKind.RFM, key__in=list(clean))
    )
    renamed: dict[str, tuple[str, str]] = {}
    for segment in segments:
        if segment.name != clean[segment.key]:
            renamed[segment.key] = (segment.name, clean[segment.key])
            segment.name = clean[segment.key]
    Segment.objects.bulk_update([s for s in segments if s.key in renamed], ["name"])
    return renamed


def _cron_days(iso_days: list[int]) -> str:
    """ISO weekdays (1 = Monday) as a crontab day_of_week field (0 = Sunday)."""
    if not iso_days or set(iso_days) == set(range(1, 8)):
        return "*"
    return ",".join(str(day) for day in sorted({day % 7 for day in iso_days}))


def refresh_schedule_iso_days(day_of_week: str) -> list[int]:
    """The ISO weekdays of a crontab day_of_week field written by this module ("*" = all)."""
    if day_of_week.strip() == "*":
        return list(range(1, 8))
    days = []
    for part in day_of_week.split(","):
        if part.strip().isdigit():
            days.append(int(part) % 7 or 7)
    return sorted(set(days))


def refresh_schedule_task() -> Any:
    """The periodic task of the scheduled refresh, installing the declared schedules if needed."""
    from django_celery_beat.models import PeriodicTask

    from callcenter.schedules import periodic_tasks_install

    task = PeriodicTask.objects.select_related("crontab").filter(task=REFRESH_TASK).first()
    if task is None:
        periodic_tasks_install()
        task = PeriodicTask.objects.select_related("crontab").get(task=REFRESH_TASK)
    return task


@transaction.atomic
def refresh_schedule_update(
    *,
    updated_by: User | None,
    hour: int,
    minute: int,
    iso_days: list[int],
    enabled: bool,
) -> Any:
    """Run the scheduled refresh at hour:minute (business time zone) on the given weekdays."""
    from django_celery_beat.models import CrontabSchedule

    errors: dict[str, str] = {}
    if not 0 <= hour <= 23 or not 0 <= minute <= 59:
        errors["run_at"] = _("Enter a time of day.")
    if not iso_days or not set(iso_days) <= set(range(1, 8)):
        errors["days"] = _("Choose at least one day.")
    if errors:
        raise ValidationError(errors)
    task = refresh_schedule_task()
    crontab = task.crontab
    before = {
        "minute": crontab.minute if crontab else None,
        "hour": crontab.hour if crontab else None,
        "day_of_week": crontab.day_of_week if crontab else None,
        "enabled": task.enabled,
    }
    schedule, _created = CrontabSchedule.objects.get_or_create(
        minute=str(minute),
        hour=str(hour),
        day_of_week=_cron_days(iso_days),
        day_of_month="*",
        month_of_year="*",
        timezone=django_settings.TIME_ZONE,
    )
    after = {
        "minute": schedule.minute,
        "hour": schedule.hour,
        "day_of_week": schedule.day_of_week,
        "enabled": enabled,
    }
    if after == before:
        return task
    task.crontab = schedule
    task.interval = None
    task.enabled = enabled
    task.save()
    audit_log_record(
        actor=updated_by,
        action="refresh_schedule.update",
        object_type="periodic_task",
        object_id=task.pk,
        data={"before": before, "after": after},
    )
    return task

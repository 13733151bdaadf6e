"""Segments' sections of the settings page (callcenter.views.manage.settings): lifecycle and
value-tier thresholds, the RFM grid with its segment names, and the refresh schedule, each
saved through its service in `segments.services.settings_edit` (which audits the change)."""

import datetime as dt
from typing import Any

from django.http import QueryDict
from django.utils.translation import gettext_lazy as _

from callcenter.views.manage.settings import SettingsSection, settings_sections
from segments.choices import SegmentKind
from segments.forms import RefreshScheduleForm, RfmGridForm, SegmentThresholdsForm
from segments.models import RfmSegmentDefinition, Segment, SegmentSettings
from segments.services.settings_edit import (
    SCORES,
    refresh_schedule_iso_days,
    refresh_schedule_task,
    refresh_schedule_update,
    rfm_grid_cells,
    rfm_grid_update,
    segment_settings_update,
)


def _thresholds_form(settings: SegmentSettings, data: QueryDict | None) -> SegmentThresholdsForm:
    return SegmentThresholdsForm(data, initial=SegmentThresholdsForm.initial_from(settings))


def _thresholds_save(form: SegmentThresholdsForm, _settings: SegmentSettings, user: Any) -> None:
    segment_settings_update(updated_by=user, **form.cleaned_data)


def _rfm_display_names() -> dict[str, tuple[str, str]]:
    """Each RFM segment's name as stored and as shown (a default name in the reader's
    language, see Segment.display_name)."""
    segments = Segment.objects.filter(kind=SegmentKind.RFM).only("key", "name", "kind")
    return {segment.key: (segment.name, segment.display_name) for segment in segments}


def _rfm_load() -> tuple[list[RfmSegmentDefinition], dict[str, str]]:
    """The definitions in the order they are tried, and the RFM segments' display names."""
    definitions = list(RfmSegmentDefinition.objects.order_by("position"))
    names = {key: shown for key, (_stored, shown) in _rfm_display_names().items()}
    return definitions, names


def _rfm_form(state: tuple[list[Any], dict[str, str]], data: QueryDict | None) -> RfmGridForm:
    definitions, names = state
    return RfmGridForm(data, definitions=definitions, names=names)


def _rfm_save(form: RfmGridForm, _state: Any, user: Any) -> None:
    # A default name sent back as shown (translated) stays the default: only a changed name
    # is stored as typed.
    current = _rfm_display_names()
    names = {
        key: current[key][0] if key in current and name == current[key][1] else name
        for key, name in form.names().items()
    }
    rfm_grid_update(updated_by=user, ranges=form.ranges(), names=names)


def _rfm_grid(state: tuple[list[RfmSegmentDefinition], dict[str, str]]) -> dict[str, Any]:
    """Rows of the saved R x FM grid (R 5 at the top), each cell naming its segment."""
    definitions, names = state
    cells = rfm_grid_cells([(d.name, d.r_min, d.r_max, d.fm_min, d.fm_max) for d in definitions])
    grid = [
        {
            "r": r,
            "cells": [
                {"key": cells.get((r, fm), ""), "name": names.get(cells.get((r, fm), ""), "")}
                for fm in SCORES
            ],
        }
        for r in reversed(SCORES)
    ]
    return {"grid": grid, "scores": list(SCORES)}


def _schedule_initial(task: Any) -> dict[str, Any]:
    crontab = task.crontab
    if crontab is None or not crontab.hour.isdigit() or not crontab.minute.isdigit():
        return {"run_at": None, "days": [], "enabled": task.enabled}
    return {
        "run_at": dt.time(int(crontab.hour), int(crontab.minute)),
        "days": [str(day) for day in refresh_schedule_iso_days(crontab.day_of_week)],
        "enabled": task.enabled,
    }


def _schedule_form(task: Any, data: QueryDict | None) -> RefreshScheduleForm:
    return RefreshScheduleForm(data, initial=_schedule_initial(task))


def _schedule_save(form: RefreshScheduleForm, _task: Any, user: Any) -> None:
    run_at: dt.time = form.cleaned_data["run_at"]
    refresh_schedule_update(
        updated_by=user,
        hour=run_at.hour,
        minute=run_at.minute,
        iso_days=form.cleaned_data["days"],
        enabled=form.cleaned_data["enabled"],
    )


THRESHOLDS = SettingsSection(
    title=_("Lifecycle & value tiers"),
    template="segments/partials/settings_thresholds.html",
    load=SegmentSettings.load,
    form=_thresholds_form,
    save=_thresholds_save,
)
RFM = SettingsSection(
    title=_("RFM segments"),
    template="segments/partials/settings_rfm.html",
    load=_rfm_load,
    form=_rfm_form,
    save=_rfm_save,
    details=_rfm_grid,
    scripts=("js/manage/rfm_grid.js",),
)
SCHEDULE = SettingsSection(
    title=_("Refresh schedule"),
    template="segments/partials/settings_schedule.html",
    load=refresh_schedule_task,
    form=_schedule_form,
    save=_schedule_save,
    details=lambda task: {"task": task},
)


def register() -> None:
    """Add segments' sections to the settings page, after care's guardrails (from
    SegmentsConfig.ready)."""
    settings_sections.register("thresholds", THRESHOLDS, order=20)
    settings_sections.register("rfm", RFM, order=30)
    settings_sections.register("schedule", SCHEDULE, order=40)

"""Campaigns: create and edit (supervisors and admins), launch, pause, resume, cancel, and the
periodic pass that starts due runs and finishes campaigns with nothing left to do.

Every service checks its whole input first and raises ApplicationError naming the field, so
bad input changes nothing. Launching checks the audience fits the call queues' capacity (the
same check a run makes when it starts) and creates the first pending run; a run due now starts
in the background (`care.tasks.campaign_run_start_task`), and the periodic pass starts any run
whose message was lost and the next runs of recurring campaigns.
"""

import datetime as dt
from typing import Any

from django.contrib.auth.models import User
from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _

from callcenter.errors import ApplicationError
from callcenter.jobs import enqueue_on_commit
from care.choices import (
    CampaignRecurrence,
    CampaignRunStatus,
    CampaignStatus,
    EnrollmentStatus,
    EventType,
    StepChannel,
)
from care.models import Campaign, CampaignRun, CareRule, Enrollment
from care.services.campaigns import executors
from care.services.campaigns.preview import campaign_preview
from care.services.campaigns.runs import (
    campaign_enrollments_sql,
    campaign_run_start,
    empty_audience_error,
)
from care.services.campaigns.schedule import occurrence_next
from segments.models import Segment
from segments.rules import rule_validate

# The reason cancelled work and stopped enrollments show.
CANCEL_REASON = "campaign_cancelled"
PACED_CHANNELS = (StepChannel.SMS, StepChannel.EMAIL, StepChannel.AUTO_CALL)
MAX_PER_HOUR = 1_000_000
MAX_DATES = 100
# How far ahead a campaign may start or end (beyond it a typo, year 9999, would only overflow
# the date arithmetic).
MAX_AHEAD = dt.timedelta(days=366)
MAX_ENDS_AHEAD = dt.timedelta(days=5 * 366)
EDITABLE = (CampaignStatus.DRAFT,)
FIELDS = (
    "name",
    "description",
    "rule",
    "segment",
    "audience_rule",
    "recurrence",
    "starts_at",
    "weekdays",
    "month_day",
    "run_dates",
    "ends_at",
    "holdout_share",
    "max_per_hour",
)


def _error(field: str, message: str) -> ApplicationError:
    return ApplicationError(message, extra={"field": field})


def _clean_rule(value: Any) -> CareRule:
    rule = value if isinstance(value, CareRule) else CareRule.objects.filter(pk=value).first()
    if rule is None:
        raise _error("rule", _("Unknown journey."))
    if rule.trigger_type != EventType.CAMPAIGN:
        raise _error(
            "rule",
            _('The journey must be a rule triggered by "Campaign" (it is triggered by %(t)s).')
            % {"t": rule.get_trigger_type_display()},
        )
    if not rule.steps.exists():
        raise _error("rule", _("The journey has no steps."))
    return rule


def _clean_audience(data: dict[str, Any]) -> tuple[Segment | None, Any]:
    segment, tree = data.get("segment"), data.get("audience_rule")
    if (segment is None) == (tree is None):
        raise _error("segment", _("Choose either a segment or an audience rule, not both."))
    if segment is not None:
        found = segment if isinstance(segment, Segment) else None
        if found is None:
            found = Segment.objects.filter(pk=segment).first()
        if found is None:
            raise _error("segment", _("Unknown segment."))
        return found, None
    rule_validate(tree=tree)
    return None, tree


def _clean_schedule(data: dict[str, Any]) -> dict[str, Any]:
    recurrence = data.get("recurrence") or CampaignRecurrence.ONCE
    if recurrence not in CampaignRecurrence.values:
        raise _error("recurrence", _("Unknown recurrence: %(v)s") % {"v": recurrence})
    starts_at = data.get("starts_at")
    if not isinstance(starts_at, dt.datetime) or timezone.is_naive(starts_at):
        raise _error("starts_at", _("Give the start as a date and time with a time zone."))
    now = timezone.now()
    if starts_at > now + MAX_AHEAD:
        raise _error("starts_at", _("A campaign starts within a year from now."))
    ends_at = data.get("ends_at")
    if ends_at is not None and (
        not isinstance(ends_at, dt.datetime) or timezone.is_naive(ends_at) or ends_at <= starts_at
    ):
        raise _error("ends_at", _("The end must be a date and time after the start."))
    if ends_at is not None and ends_at > now + MAX_ENDS_AHEAD:
        raise _error("ends_at", _("A campaign ends within five years from now."))
    weekdays = data.get("weekdays") or []
    month_day = data.get("month_day")
    run_dates = data.get("run_dates") or []
    if recurrence == CampaignRecurrence.WEEKLY and (
        not isinstance(weekdays, list)
        or not weekdays
        or any(
            not isinstance(day, int) or isinstance(day, bool) or not 1 <= day <= 7
            for day in weekdays
        )
    ):
        raise _error("weekdays", _("A weekly campaign needs weekdays from 1 (Monday) to 7."))
    if recurrence == CampaignRecurrence.MONTHLY and (
        not isinstance(month_day, int) or isinstance(month_day, bool) or not 1 <= month_day <= 28
    ):
        raise _error("month_day", _("A monthly campaign needs a day of the month from 1 to 28."))
    if recurrence == CampaignRecurrence.DATES:
        if not isinstance(run_dates, list) or not run_dates or len(run_dates) > MAX_DATES:
            raise _error(
                "run_dates", _("List from 1 to %(n)s dates (YYYY-MM-DD).") % {"n": MAX_DATES}
            )
        cleaned = []
        for value in run_dates:
            try:
                day = parse_date(value) if isinstance(value, str) else None
            except ValueError:
                day = None
            if day is None:
                raise _error("run_dates", _("Not a date (YYYY-MM-DD): %(v)s") % {"v": value})
            if not now.date() - MAX_AHEAD <= day <= now.date() + MAX_ENDS_AHEAD:
                raise _error("run_dates", _("A date too far away: %(v)s") % {"v": value})
            cleaned.append(day.isoformat())
        run_dates = sorted(set(cleaned))
    return {
        "recurrence": recurrence,
        "starts_at": starts_at,
        "ends_at": ends_at,
        "weekdays": sorted(set(weekdays)) if recurrence == CampaignRecurrence.WEEKLY else [],
        "month_day": month_day if recurrence == CampaignRecurrence.MONTHLY else None,
        "run_dates": run_dates if recurrence == CampaignRecurrence.DATES else [],
    }


def _clean_pacing(value: Any) -> dict[str, int]:
    if value in (None, ""):
        return {}
    if not isinstance(value, dict):
        raise _error("max_per_hour", _('Sends per hour must be an object, e.g. {"sms": 2000}.'))
    cleaned = {}
    for channel, limit in value.items():
        if channel not in PACED_CHANNELS:
            raise _error(
                "max_per_hour",
                _("Unknown channel %(c)s; use %(allowed)s.")
                % {"c": channel, "allowed": ", ".join(PACED_CHANNELS)},
            )
        if limit in (None, ""):
            continue
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_PER_HOUR:
            raise _error(
                "max_per_hour",
                _("Sends per hour of %(c)s must be a whole number from 1 to %(max)s.")
                % {"c": channel, "max": MAX_PER_HOUR},
            )
        cleaned[channel] = limit
    return cleaned


def _clean(data: dict[str, Any]) -> dict[str, Any]:
    unknown = set(data) - set(FIELDS)
    if unknown:
        raise _error(sorted(unknown)[0], _("Unknown field."))
    name = (data.get("name") or "").strip()
    if not name or len(name) > 120:
        raise _error("name", _("Give the campaign a name of at most 120 characters."))
    holdout = data.get("holdout_share", 0.0)
    if not isinstance(holdout, int | float) or isinstance(holdout, bool) or not 0 <= holdout <= 0.9:
        raise _error("holdout_share", _("The control group share must be from 0 to 0.9."))
    segment, tree = _clean_audience(data)
    return {
        "name": name,
        "description": data.get("description") or "",
        "rule": _clean_rule(data.get("rule")),
        "segment": segment,
        "audience_rule": tree,
        "holdout_share": float(holdout),
        "max_per_hour": _clean_pacing(data.get("max_per_hour")),
        **_clean_schedule(data),
    }


def campaign_create(*, created_by: User | None, **data: Any) -> Campaign:
    """A draft campaign from checked input."""
    return Campaign.objects.create(created_by=created_by, **_clean(data))


@transaction.atomic
def campaign_update(*, campaign: Campaign, **data: Any) -> Campaign:
    """Change a draft campaign; `data` holds the fields to change (the rest are kept)."""
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.status not in EDITABLE:
        raise _error("status", _("Only a draft campaign can be changed."))
    current = {
        "name": campaign.name,
        "description": campaign.description,
        "rule": campaign.rule_id,
        "segment": campaign.segment_id,
        "audience_rule": campaign.audience_rule,
        "recurrence": campaign.recurrence,
        "starts_at": campaign.starts_at,
        "weekdays": campaign.weekdays,
        "month_day": campaign.month_day,
        "run_dates": campaign.run_dates,
        "ends_at": campaign.ends_at,
        "holdout_share": campaign.holdout_share,
        "max_per_hour": campaign.max_per_hour,
    }
    if "segment" in data and data["segment"] is not None:
        current["audience_rule"] = None
    if "audience_rule" in data and data["audience_rule"] is not None:
        current["segment"] = None
    cleaned = _clean({**current, **data})
    for key, value in cleaned.items():
        setattr(campaign, key, value)
    campaign.save()
    return campaign


@transaction.atomic
def campaign_launch(
    *, campaign: Campaign, launched_by: User, now: dt.datetime | None = None
) -> Campaign:
    """Schedule a draft campaign: its first run is created, and started in the background when
    due. Refused (nothing written) when the journey or audience is no longer valid, no one is
    in the audience now, the schedule has no occurrence left, or the call steps do not fit the
    queues' capacity."""
    now = now or timezone.now()
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.status != CampaignStatus.DRAFT:
        raise _error("status", _("Only a draft campaign can be launched."))
    _clean_rule(campaign.rule_id)
    first = occurrence_next(
        recurrence=campaign.recurrence,
        starts_at=campaign.starts_at,
        after=None
        if campaign.recurrence == CampaignRecurrence.ONCE
        else now - dt.timedelta(minutes=1),
        weekdays=campaign.weekdays,
        month_day=campaign.month_day,
        dates=campaign.run_dates,
        ends_at=campaign.ends_at,
    )
    if first is None:
        raise _error("starts_at", _("The schedule has no occurrence left."))
    preview = campaign_preview(campaign=campaign, now=max(first, now))
    if not preview.members:
        raise empty_audience_error("segment" if campaign.segment_id else "audience_rule")
    if preview.error:
        raise _error("rule", preview.error)
    campaign.status = CampaignStatus.SCHEDULED
    campaign.launched_by = launched_by
    campaign.next_run_at = first
    campaign.status_reason = ""
    campaign.save()
    run, _created = CampaignRun.objects.get_or_create(campaign=campaign, scheduled_for=first)
    if first <= now:
        enqueue_on_commit("care.tasks.campaign_run_start_task", run.pk)
    return campaign


# The statuses whose pending work is not dispatched (see care.selectors_campaigns).
FROZEN = (CampaignStatus.PAUSED, CampaignStatus.CANCELLED)
# A settling job not done after this long lost its message: the periodic pass runs it.
SETTLE_LOST_AFTER = dt.timedelta(minutes=5)


def _decide(campaign: Campaign, fields: list[str]) -> None:
    """Record the decision now and move the tasks in the background after commit: until the
    job has run, the dispatcher and the queues skip the campaign's pending tasks."""
    campaign.work_pending = True
    campaign.save(update_fields=[*fields, "work_pending", "updated_at"])
    enqueue_on_commit("care.tasks.campaign_work_settle_task", campaign.pk)


@transaction.atomic
def campaign_pause(*, campaign: Campaign, now: dt.datetime | None = None) -> Campaign:
    """Pause now: no new run starts and none of the campaign's pending work is dispatched or
    shown in queues from this commit; a background job then holds the pending tasks."""
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.status not in (CampaignStatus.SCHEDULED, CampaignStatus.RUNNING):
        raise _error("status", _("Only a scheduled or running campaign can be paused."))
    campaign.status = CampaignStatus.PAUSED
    campaign.paused_at = now or timezone.now()
    _decide(campaign, ["status", "paused_at"])
    return campaign


@transaction.atomic
def campaign_resume(*, campaign: Campaign, now: dt.datetime | None = None) -> Campaign:
    """Resume now (runs start again); a background job releases the paused work moved later by
    as long as the pause lasted, so its pacing per hour and day carries on from now. Pauses
    whose job has not run yet add up."""
    now = now or timezone.now()
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.status != CampaignStatus.PAUSED or campaign.paused_at is None:
        raise _error("status", _("Only a paused campaign can be resumed."))
    shift = max(now - campaign.paused_at, dt.timedelta(0))
    campaign.resume_shift = (campaign.resume_shift or dt.timedelta(0)) + shift
    started = campaign.runs.filter(status=CampaignRunStatus.STARTED).exists()
    campaign.status = CampaignStatus.RUNNING if started else CampaignStatus.SCHEDULED
    campaign.paused_at = None
    _decide(campaign, ["status", "paused_at", "resume_shift"])
    return campaign


STOP_SQL = """
UPDATE care_enrollment SET status = %(stopped)s, stop_reason = %(reason)s, finished_at = %(now)s
WHERE status = %(active)s AND id IN ({enrollments})
"""


@transaction.atomic
def campaign_cancel(*, campaign: Campaign, now: dt.datetime | None = None) -> Campaign:
    """Cancel now (no further run starts, nothing more is dispatched); a background job then
    cancels the open work and stops the active enrollments, both with the reason
    "campaign_cancelled"."""
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.status in (CampaignStatus.CANCELLED, CampaignStatus.FINISHED):
        raise _error("status", _("The campaign is already over."))
    campaign.runs.filter(status=CampaignRunStatus.PENDING).delete()
    campaign.status = CampaignStatus.CANCELLED
    campaign.status_reason = CANCEL_REASON
    campaign.next_run_at = None
    campaign.paused_at = None
    campaign.resume_shift = None
    _decide(campaign, ["status", "status_reason", "next_run_at", "paused_at", "resume_shift"])
    return campaign


@transaction.atomic
def campaign_work_settle(*, campaign_id: int, now: dt.datetime | None = None) -> int:
    """Move the campaign's tasks to its status as it is now (whatever decisions came since the
    job was enqueued): paused, the pending tasks are held; running or scheduled, the pending
    and held tasks are pending again moved later by the pauses' length; cancelled, the open
    and held tasks are cancelled and the active enrollments stopped. Safe twice: a settled
    campaign is left alone. Returns how many tasks moved."""
    now = now or timezone.now()
    campaign = Campaign.objects.select_for_update().filter(pk=campaign_id).first()
    if campaign is None or not campaign.work_pending:
        return 0
    sql, params = campaign_enrollments_sql(campaign.pk)
    moved = 0
    if campaign.status == CampaignStatus.PAUSED:
        moved = executors.work_hold(enrollments_sql=sql, params=params)
    elif campaign.status == CampaignStatus.CANCELLED:
        moved = executors.work_cancel(enrollments_sql=sql, params=params, reason=CANCEL_REASON)
        with connection.cursor() as cursor:
            cursor.execute(
                STOP_SQL.format(enrollments=sql),
                {
                    **params,
                    "stopped": EnrollmentStatus.STOPPED,
                    "active": EnrollmentStatus.ACTIVE,
                    "reason": CANCEL_REASON,
                    "now": now,
                },
            )
    elif campaign.resume_shift is not None:
        # Tasks still pending were frozen too (their pause's job had not run): hold them
        # first, so every paused task moves by the same shift.
        executors.work_hold(enrollments_sql=sql, params=params)
        moved = executors.work_release(
            enrollments_sql=sql, params=params, shift=campaign.resume_shift
        )
    campaign.work_pending = False
    if campaign.status != CampaignStatus.PAUSED:
        # Paused again before a resume's job ran: its shift waits for the next resume.
        campaign.resume_shift = None
    campaign.save(update_fields=["work_pending", "resume_shift", "updated_at"])
    return moved


def campaigns_tick(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Start the due pending runs of scheduled and running campaigns (each in its own
    transaction), then mark finished the campaigns with no run to come and no active
    enrollment. Returns the counts."""
    now = now or timezone.now()
    # Decisions whose job's message was lost (a job still running holds the row: this waits
    # for it, then finds nothing left to do).
    lost = list(
        Campaign.objects.filter(work_pending=True, updated_at__lt=now - SETTLE_LOST_AFTER)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for campaign_id in lost:
        campaign_work_settle(campaign_id=campaign_id, now=now)
    due = list(
        CampaignRun.objects.filter(
            status=CampaignRunStatus.PENDING,
            scheduled_for__lte=now,
            campaign__status__in=[CampaignStatus.SCHEDULED, CampaignStatus.RUNNING],
            # A resume still settling would move the new run's tasks too: next pass.
            campaign__work_pending=False,
        )
        .order_by("scheduled_for", "pk")
        .values_list("pk", flat=True)
    )
    for run_id in due:
        campaign_run_start(run_id=run_id, now=now)
    active = Enrollment.objects.filter(
        campaign_member__run__campaign=OuterRef("pk"), status=EnrollmentStatus.ACTIVE
    )
    pending = CampaignRun.objects.filter(campaign=OuterRef("pk"), status=CampaignRunStatus.PENDING)
    # A scheduled campaign gets here when its only run failed (the run says why).
    finished = (
        Campaign.objects.filter(
            status__in=[CampaignStatus.RUNNING, CampaignStatus.SCHEDULED],
            next_run_at__isnull=True,
        )
        .filter(~Exists(active), ~Exists(pending))
        .update(status=CampaignStatus.FINISHED, updated_at=now)
    )
    return {"runs_started": len(due), "finished": finished, "settled": len(lost)}

"""Starting a campaign run, set-based: freeze the audience, enroll it into the journey, pace and
plan its steps.

A run starts once: its row is locked and its status checked, and every insert is keyed (one
member per run and customer, one event per run and customer, one enrollment per rule, customer
and event, one task per enrollment and step), so starting a run twice creates nothing twice.

1. Freeze: one INSERT ... SELECT of the audience (open segment memberships, or the customers a
   rule tree matches) into care_campaignmember, an exact hold-out share drawn at random as
   control, and every member ranked by value (spend in the metrics window), highest first.
2. Enroll: one statement inserts a processed `campaign` event per member (for the journey's
   rule only: a per-rule event), an enrollment per event, and links each member to it.
3. Arbitrate (care.services.arbitration.plans_arbitrate_enrolled): a member already in a
   running plan of the journey's category with equal or higher priority is held back, a lower
   one is preempted; only the enrollments still active are planned.
4. Pace and plan: for each step of the journey's first chain (from the first step up to and
   including the first step that waits, care.services.journeys; the branches are planned when
   an outcome or the timeout moves the wait, as for rules), one statement gives every treated
   member a due time and hands the rows to the executor (outreach makes tasks):
   - messages and automated calls: the treated spread evenly at most N per hour per channel
     (the campaign's `max_per_hour`), value first: due = start + delay + (rank - 1) h / N;
   - call tasks: across days by the room of the step's queue (agents x daily limit minus what
     is already due that day, business days only), value first; a day's calls fall due at the
     start of business hours (or at start + delay if later). `width_bucket` over the days'
     cumulative room finds each member's day (a binary search, no join over days).
   The step that waits records the wait on each enrollment, from that member's due time.
"""

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from callcenter.choices import CustomerStatus
from callcenter.errors import ApplicationError
from care.choices import (
    CampaignRecurrence,
    CampaignRunStatus,
    CampaignStatus,
    EnrollmentStatus,
    EventSource,
    EventType,
    StepChannel,
)
from care.models import Campaign, CampaignRun, CareRule, CareRuleVersion, CareSettings
from care.services.arbitration import plans_arbitrate_enrolled
from care.services.campaigns import executors
from care.services.campaigns.schedule import center_zone, occurrence_next
from care.services.journeys import journey_chain, step_key, step_waits
from care.services.rules import step_delay_minutes
from segments.rules import rule_queryset


class EmptyAudience(ApplicationError):
    """The audience has no active customer at the moment: a launch is refused, a run skipped."""


def empty_audience_error(field: str = "segment") -> EmptyAudience:
    """The error a launch, the preview and a run give when the audience is empty."""
    return EmptyAudience(_("No one is in this audience now."), extra={"field": field})


# How many days ahead call steps may be spread (beyond it the campaign does not fit).
CALL_HORIZON_DAYS = 92

SEGMENT_AUDIENCE_SQL = """
SELECT m.customer_id FROM segments_segmentmembership m
JOIN callcenter_customer c ON c.id = m.customer_id
WHERE m.segment_id = %(campaign_segment)s AND m.exited_at IS NULL AND c.status = %(campaign_active)s
"""

RULE_AUDIENCE_SQL = "SELECT a.id AS customer_id FROM ({query}) a"

FREEZE_SQL = """
INSERT INTO care_campaignmember (run_id, customer_id, is_control, rank)
SELECT %(campaign_run)s, a.customer_id, a.is_control,
       row_number() OVER (PARTITION BY a.is_control ORDER BY a.value DESC, a.customer_id)
FROM (
    SELECT d.customer_id, d.value,
           row_number() OVER (ORDER BY random()) <= round(count(*) OVER () * %(campaign_holdout)s)
               AS is_control
    FROM (
        SELECT DISTINCT s.customer_id, COALESCE(cm.monetary, 0) AS value
        FROM ({audience}) s
        LEFT JOIN segments_customermetrics cm ON cm.customer_id = s.customer_id
    ) d
) a
ON CONFLICT (run_id, customer_id) DO NOTHING
"""

ENROLL_SQL = """
WITH ev AS (
    INSERT INTO care_event
        (type, customer_id, payload, source, occurred_at, created_at, client, idempotency_key,
         processed_at, attempts, last_error)
    SELECT %(type)s, m.customer_id,
           jsonb_build_object('rule', %(rule)s, 'campaign', %(campaign)s, 'run', %(run)s),
           %(source)s, %(now)s, %(now)s, '', 'campaign:' || %(run)s || ':' || m.customer_id,
           %(now)s, 0, ''
    FROM care_campaignmember m
    WHERE m.run_id = %(run)s AND m.enrollment_id IS NULL
    ON CONFLICT (client, idempotency_key) DO NOTHING
    RETURNING id, customer_id
), en AS (
    INSERT INTO care_enrollment
        (rule_id, rule_version_id, customer_id, event_id, is_control, status, stop_reason,
         enrolled_at)
    SELECT %(rule)s, %(version)s, ev.customer_id, ev.id, m.is_control, %(active)s, '', %(now)s
    FROM ev JOIN care_campaignmember m ON m.run_id = %(run)s AND m.customer_id = ev.customer_id
    ON CONFLICT (rule_id, customer_id, event_id) DO NOTHING
    RETURNING id, customer_id
)
UPDATE care_campaignmember m SET enrollment_id = en.id
FROM en WHERE m.run_id = %(run)s AND m.customer_id = en.customer_id
"""

PLANNED_SQL = """
SELECT p.enrollment_id, p.customer_id, p.due_at,
       p.due_at + make_interval(mins => %(campaign_sla)s) AS deadline_at, p.priority
FROM (
    SELECT m.enrollment_id, m.customer_id, {due} AS due_at,
           COALESCE(cm.monetary, 0)::float8 AS priority
    FROM care_campaignmember m
    JOIN care_enrollment e ON e.id = m.enrollment_id AND e.status = %(campaign_enrolled)s
    LEFT JOIN segments_customermetrics cm ON cm.customer_id = m.customer_id
    WHERE m.run_id = %(campaign_run)s AND NOT m.is_control
) p
"""
# The run's new enrollments, for arbitration.
RUN_ENROLLMENTS_SQL = """
SELECT m.enrollment_id FROM care_campaignmember m
WHERE m.run_id = %(campaign_run)s AND m.enrollment_id IS NOT NULL
"""
# Where the journey of each planned member waits: at the waiting step, from its due time.
WAITS_SQL = """
UPDATE care_enrollment e
SET waiting_step = %(campaign_wait_step)s, wait_started_at = p.due_at,
    wait_until = p.due_at + make_interval(hours => %(campaign_wait_hours)s)
FROM ({planned}) p
WHERE e.id = p.enrollment_id
"""
SEND_DUE = (
    "%(campaign_start)s::timestamptz + make_interval(mins => %(campaign_delay)s)"
    " + (m.rank - 1) * %(campaign_gap)s * interval '1 second'"
)
CALL_DUE = (
    "GREATEST(%(campaign_start)s::timestamptz + make_interval(mins => %(campaign_delay)s),"
    " (%(campaign_day_starts)s::timestamptz[])[width_bucket(m.rank, %(campaign_bounds)s::int[])])"
)

ENROLLMENTS_SQL = """
SELECT m.enrollment_id FROM care_campaignmember m
JOIN care_campaignrun r ON r.id = m.run_id
WHERE r.campaign_id = %(campaign_id)s AND m.enrollment_id IS NOT NULL
"""


def campaign_enrollments_sql(campaign_id: int) -> tuple[str, dict[str, Any]]:
    """SQL selecting the ids of a campaign's enrollments (all runs), and its parameters."""
    return ENROLLMENTS_SQL, {"campaign_id": campaign_id}


def _named(sql: str, params: Any, prefix: str) -> tuple[str, dict[str, Any]]:
    """Django's positional SQL (%s) with named parameters instead, to join named statements."""
    pieces = sql.replace("%%", "\0").split("%s")
    named: dict[str, Any] = {}
    out = [pieces[0]]
    for index, piece in enumerate(pieces[1:]):
        name = f"{prefix}{index}"
        named[name] = params[index]
        out.append(f"%({name})s{piece}")
    return "".join(out).replace("\0", "%%"), named


def audience_sql(
    *, segment_id: int | None, audience_rule: Any, as_of: dt.datetime
) -> tuple[str, dict[str, Any]]:
    """SQL selecting `customer_id` of the active customers of a campaign's audience now."""
    if segment_id is not None:
        return SEGMENT_AUDIENCE_SQL, {
            "campaign_segment": segment_id,
            "campaign_active": CustomerStatus.ACTIVE,
        }
    sql, params = (
        rule_queryset(tree=audience_rule, as_of=as_of)
        .order_by()
        .values("id")
        .query.sql_with_params()
    )
    named_sql, named = _named(sql, params, "campaign_rule_p")
    return RULE_AUDIENCE_SQL.format(query=named_sql), named


# ---------------------------------------------------------------------------------------------
# Pacing of call steps


@dataclass(frozen=True)
class CallDays:
    """The days a call step is spread over: each day's start and the room left that day."""

    starts: list[dt.datetime]
    room: list[int]

    @property
    def total(self) -> int:
        return sum(self.room)

    def loads(self, treated: int) -> list[int]:
        """How many of `treated` members each day takes, value first (the same fill as SQL)."""
        left = treated
        taken = []
        for room in self.room:
            take = min(room, left)
            taken.append(take)
            left -= take
        return taken

    def bounds(self) -> tuple[list[int], list[dt.datetime]]:
        """Lower rank bound and start of each day with room, for width_bucket."""
        lows, starts, low = [], [], 1
        for start, room in zip(self.starts, self.room, strict=True):
            if room > 0:
                lows.append(low)
                starts.append(start)
                low += room
        return lows, starts


def call_days(
    *, steps: list[dict[str, Any]], now: dt.datetime, care_settings: CareSettings
) -> dict[int, CallDays]:
    """Per call step position, its days over the horizon with their room (business days)."""
    calls = [step for step in steps if step["channel"] == StepChannel.CALL]
    if not calls:
        return {}
    zone = center_zone()
    today = timezone.localtime(now, zone).date()
    days = [today + dt.timedelta(days=offset) for offset in range(CALL_HORIZON_DAYS)]
    room = executors.call_capacity(steps=calls, days=days, now=now)
    business = set(care_settings.business_days or [1, 2, 3, 4, 5])
    result = {}
    for step in calls:
        # The step's calls fall due after its delay: days before then, and business days with
        # no business hours left by then, take none of them.
        earliest = now + dt.timedelta(minutes=step_delay_minutes(step))
        starts = [
            max(earliest, dt.datetime.combine(day, care_settings.business_start, tzinfo=zone))
            for day in days
        ]
        is_open = [
            day.isoweekday() in business
            and earliest < dt.datetime.combine(day, care_settings.business_end, tzinfo=zone)
            for day in days
        ]
        result[step["position"]] = CallDays(
            starts=starts,
            room=[
                value if open_day else 0
                for value, open_day in zip(room[step["position"]], is_open, strict=True)
            ],
        )
    return result


def calls_fit_check(*, days: dict[int, CallDays], treated: int) -> None:
    """ApplicationError when a call step's queue has no room for every treated member within
    the horizon (nothing is written)."""
    for position, spread in days.items():
        if spread.total < treated:
            raise ApplicationError(
                _(
                    "Step %(position)s: its queue can take %(room)s call tasks in the next "
                    "%(days)s days, the campaign needs %(needed)s. Add agents to the queue, "
                    "raise their daily limit or narrow the audience."
                )
                % {
                    "position": position,
                    "room": spread.total,
                    "days": CALL_HORIZON_DAYS,
                    "needed": treated,
                },
                extra={"field": "rule"},
            )


# ---------------------------------------------------------------------------------------------
# Starting a run


def _current_version(campaign: Campaign) -> CareRuleVersion:
    version = CareRuleVersion.objects.filter(
        rule_id=campaign.rule_id, version=F("rule__version")
    ).first()
    if version is None:
        raise ApplicationError(_("The journey has no saved version."), extra={"field": "rule"})
    return version


def _freeze(*, run: CampaignRun, campaign: Campaign, now: dt.datetime) -> None:
    sql, params = audience_sql(
        segment_id=campaign.segment_id, audience_rule=campaign.audience_rule, as_of=now
    )
    with connection.cursor() as cursor:
        cursor.execute(
            FREEZE_SQL.format(audience=sql),
            {**params, "campaign_run": run.pk, "campaign_holdout": campaign.holdout_share},
        )


def _enroll(
    *, run: CampaignRun, campaign: Campaign, version: CareRuleVersion, now: dt.datetime
) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            ENROLL_SQL,
            {
                "type": EventType.CAMPAIGN,
                "source": EventSource.CAMPAIGN,
                "rule": campaign.rule_id,
                "campaign": campaign.pk,
                "run": run.pk,
                "version": version.pk,
                "active": EnrollmentStatus.ACTIVE,
                "now": now,
            },
        )


def _arbitrate(*, run: CampaignRun, campaign: Campaign, now: dt.datetime) -> None:
    # The journey's current category and priority, as running plans compete with theirs.
    rule = CareRule.objects.only("category", "priority").get(pk=campaign.rule_id)
    plans_arbitrate_enrolled(
        category=rule.category,
        priority=rule.priority,
        enrollments_sql=RUN_ENROLLMENTS_SQL,
        params={"campaign_run": run.pk},
        now=now,
    )


def _plan(
    *,
    run: CampaignRun,
    campaign: Campaign,
    chain: list[dict[str, Any]],
    days: dict[int, CallDays],
    now: dt.datetime,
) -> int:
    """Plan the journey's first chain for the run's treated, active enrollments, paced."""
    created = 0
    for step in chain:
        params: dict[str, Any] = {
            "campaign_run": run.pk,
            "campaign_enrolled": EnrollmentStatus.ACTIVE,
            "campaign_start": now,
            "campaign_delay": step_delay_minutes(step),
            "campaign_sla": step["sla_minutes"],
        }
        if step["channel"] == StepChannel.CALL:
            lows, starts = days[step["position"]].bounds()
            params.update(campaign_bounds=lows, campaign_day_starts=starts)
            due = CALL_DUE
        else:
            per_hour = (campaign.max_per_hour or {}).get(step["channel"])
            params["campaign_gap"] = 3600.0 / per_hour if per_hour else 0.0
            due = SEND_DUE
        planned = PLANNED_SQL.format(due=due)
        created += executors.steps_plan(step=step, planned_sql=planned, params=params)
        if step_waits(step):
            with connection.cursor() as cursor:
                cursor.execute(
                    WAITS_SQL.format(planned=planned),
                    {
                        **params,
                        "campaign_wait_step": step_key(step),
                        "campaign_wait_hours": int(step["wait_hours"]),
                    },
                )
    return created


def campaign_run_start(*, run_id: int, now: dt.datetime | None = None) -> CampaignRun:
    """Start a pending run: freeze its audience, enroll it and plan its steps, paced; then
    schedule the campaign's next run. A run already started (or of a campaign not scheduled or
    running) is left alone. A run that cannot start (a call step that does not fit) is recorded
    as failed with the reason, and nothing else is written; a run whose audience is empty is
    recorded as skipped with that reason."""
    now = now or timezone.now()
    with transaction.atomic():
        run = CampaignRun.objects.select_for_update().get(pk=run_id)
        campaign = Campaign.objects.select_for_update().get(pk=run.campaign_id)
        if run.status != CampaignRunStatus.PENDING or campaign.status not in (
            CampaignStatus.SCHEDULED,
            CampaignStatus.RUNNING,
        ):
            return run
        try:
            with transaction.atomic():
                version = _current_version(campaign)
                chain = journey_chain(list(version.snapshot.get("steps") or []))
                _freeze(run=run, campaign=campaign, now=now)
                counts = run.memberships.aggregate(
                    members=Count("pk"), control=Count("pk", filter=Q(is_control=True))
                )
                if not counts["members"]:
                    raise empty_audience_error()
                days = call_days(steps=chain, now=now, care_settings=CareSettings.load())
                calls_fit_check(days=days, treated=counts["members"] - counts["control"])
                _enroll(run=run, campaign=campaign, version=version, now=now)
                _arbitrate(run=run, campaign=campaign, now=now)
                tasks = _plan(run=run, campaign=campaign, chain=chain, days=days, now=now)
        except ApplicationError as exc:
            # An empty audience is no failure: the run is skipped, saying why.
            empty = isinstance(exc, EmptyAudience)
            run.status = CampaignRunStatus.SKIPPED if empty else CampaignRunStatus.FAILED
            run.error = exc.message
            run.started_at = now
            run.save(update_fields=["status", "error", "started_at"])
            _schedule_next(campaign=campaign, after=run.scheduled_for, now=now)
            return run
        run.status = CampaignRunStatus.STARTED
        run.rule_version = version
        run.started_at = now
        run.members = counts["members"]
        run.control = counts["control"]
        run.tasks = tasks
        run.save(
            update_fields=["status", "rule_version", "started_at", "members", "control", "tasks"]
        )
        campaign.status = CampaignStatus.RUNNING
        campaign.save(update_fields=["status", "updated_at"])
        _schedule_next(campaign=campaign, after=run.scheduled_for, now=now)
    return run


def _schedule_next(*, campaign: Campaign, after: dt.datetime, now: dt.datetime) -> None:
    """Set the campaign's next occurrence after `after` and create its pending run."""
    following = occurrence_next(
        recurrence=campaign.recurrence,
        starts_at=campaign.starts_at,
        after=max(after, now) if campaign.recurrence != CampaignRecurrence.ONCE else after,
        weekdays=campaign.weekdays,
        month_day=campaign.month_day,
        dates=campaign.run_dates,
        ends_at=campaign.ends_at,
    )
    campaign.next_run_at = following
    campaign.save(update_fields=["next_run_at", "updated_at"])
    if following is not None:
        CampaignRun.objects.get_or_create(campaign=campaign, scheduled_for=following)

"""Enrolling customers into care rules, planning their steps, stopping and completing plans.

One enrollment per rule, customer and triggering event is a unique constraint: the insert runs
in a savepoint and a conflict means "already enrolled" (never check-then-insert). Cooldowns are
checked under a transaction-scoped advisory lock per rule and customer, so two events of the
same customer processed at once cannot both pass the cooldown. Which triggered plans start,
which are held back and which running ones they preempt is decided per customer and category
(care.services.arbitration), under a per-customer lock every pass of an event takes first.

The steps of a plan are planned at enrollment up to the first step that waits for an outcome
(all of them in a rule without waits; care.services.journeys), with `due_at` = anchor + delay
(moved into the next business window of the customer's time zone for business-hours-only steps)
and `deadline_at` = due + SLA, and announced to the apps that carry plans out
(care.services.plans; outreach makes a task of each). The anchor is when the triggering event
happened. Step conditions and `only_if_no_response` are checked by outreach when the task falls
due, from the rule version the enrollment started with. A journey waiting at a step is continued
by the outcome or the timeout (care.services.journey_runs). Rules are read once per batch of
events: if an edit deletes a step meanwhile, the task insert fails on its foreign key, the event
is recorded as failed and the sweep retries it with the new version.
"""

import datetime as dt
import random
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from callcenter.choices import CustomerStatus
from callcenter.models import Customer
from care.choices import EXTERNAL_STOP_PREFIX, EnrollmentStatus, EventType, StopCondition
from care.models import CareRuleVersion, CareSettings, Enrollment, Event
from care.services.arbitration import (
    competes,
    customer_plans_lock,
    held_fields,
    plans_arbitrate,
    plans_preempt,
)
from care.services.journeys import journey_chain, step_key, step_waits
from care.services.plans import (
    PlannedStep,
    plan_open_work_sql,
    plan_steps_announce,
    plan_stops_announce,
)
from care.services.rules import step_delay_minutes
from care.services.templates import customer_timezone
from care.services.triggers import PER_RULE_EVENTS, trigger_matches
from segments.rules import rule_matches

# Which event ends plans having which stop condition.
STOP_EVENTS: dict[str, str] = {
    EventType.TICKET_RESOLVED: StopCondition.TICKET_RESOLVED,
    EventType.ORDER_PLACED: StopCondition.CUSTOMER_ORDERED,
    EventType.FIRST_ORDER: StopCondition.CUSTOMER_ORDERED,
    EventType.CUSTOMER_REPLIED: StopCondition.CUSTOMER_REPLIED,
    EventType.CONSENT_CHANGED: StopCondition.OPTED_OUT,
}
# Event types that may stop plans: those above, and external events ("external:<name>").
STOP_EVENT_TYPES = frozenset({*STOP_EVENTS, EventType.EXTERNAL})


def stop_condition(event_type: str, payload: dict[str, Any]) -> str | None:
    """The stop condition an event meets, if any."""
    if event_type == EventType.EXTERNAL:
        name = payload.get("name")
        return f"{EXTERNAL_STOP_PREFIX}{name}" if isinstance(name, str) and name else None
    return STOP_EVENTS.get(event_type)


@dataclass(frozen=True)
class ActiveRule:
    """An active rule as its current version defines it."""

    rule_id: int
    version_id: int
    priority: int
    # The rule's current category (care.services.arbitration).
    category: str
    trigger_type: str
    trigger_params: dict[str, Any]
    conditions: Any
    cooldown_days: int
    holdout_share: float
    steps: tuple[dict[str, Any], ...]


def active_rules() -> dict[str, list[ActiveRule]]:
    """Active rules by trigger type, highest priority first (one query)."""
    versions = (
        CareRuleVersion.objects.filter(rule__is_active=True, version=F("rule__version"))
        .order_by("-rule__priority", "rule_id")
        .values_list("pk", "rule_id", "snapshot", "rule__category")
    )
    rules: dict[str, list[ActiveRule]] = {}
    for version_id, rule_id, snapshot, category in versions:
        rule = ActiveRule(
            rule_id=rule_id,
            version_id=version_id,
            priority=snapshot["priority"],
            category=category,
            trigger_type=snapshot["trigger_type"],
            trigger_params=snapshot["trigger_params"] or {},
            conditions=snapshot["conditions"],
            cooldown_days=snapshot["cooldown_days"],
            holdout_share=snapshot["holdout_share"],
            steps=tuple(snapshot["steps"]),
        )
        rules.setdefault(rule.trigger_type, []).append(rule)
    return rules


def rules_triggered(*, event_type: str, payload: dict[str, Any], rules: dict) -> list[ActiveRule]:
    """The active rules whose trigger (type and parameters) this event fires. A date, holiday or
    threshold event is emitted for one rule (payload "rule") and fires that rule only."""
    return [
        rule
        for rule in rules.get(event_type, [])
        if trigger_matches(params=rule.trigger_params, payload=payload)
        and (event_type not in PER_RULE_EVENTS or payload.get("rule") == rule.rule_id)
    ]


# ---------------------------------------------------------------------------------------------
# Due times


def business_moment(moment: dt.datetime, *, zone: Any, settings: CareSettings) -> dt.datetime:
    """`moment` if it falls in business hours on the customer's clock, else the start of the
    next business window (business days and hours of the care settings)."""
    days = set(settings.business_days or [])
    if not days or settings.business_start >= settings.business_end:
        return moment
    local = moment.astimezone(zone)
    for offset in range(8):
        day = local.date() + dt.timedelta(days=offset)
        if day.isoweekday() not in days:
            continue
        start = dt.datetime.combine(day, settings.business_start, tzinfo=zone)
        end = dt.datetime.combine(day, settings.business_end, tzinfo=zone)
        if offset == 0 and local >= end:
            continue
        if local < start:
            return start.astimezone(dt.UTC)
        return moment
    return moment


def step_times(
    *, anchor: dt.datetime, step: dict[str, Any], zone: Any, settings: CareSettings
) -> tuple[dt.datetime, dt.datetime]:
    """(due_at, deadline_at) of a step of a plan anchored at `anchor`."""
    due = anchor + dt.timedelta(minutes=step_delay_minutes(step))
    if step.get("business_hours_only"):
        due = business_moment(due, zone=zone, settings=settings)
    return due, due + dt.timedelta(minutes=step["sla_minutes"])


def enrollment_anchor(*, occurred_at: dt.datetime, enrolled_at: dt.datetime) -> dt.datetime:
    """Delays count from when the event happened (never from the future)."""
    return min(occurred_at, enrolled_at)


# ---------------------------------------------------------------------------------------------
# Enrolling


def _in_cooldown(rule: ActiveRule, customer_id: int, now: dt.datetime) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
            [f"care-cooldown:{rule.rule_id}:{customer_id}"],
        )
    # A plan held back never started: it does not start a cooldown.
    return (
        Enrollment.objects.filter(
            rule_id=rule.rule_id,
            customer_id=customer_id,
            enrolled_at__gt=now - dt.timedelta(days=rule.cooldown_days),
        )
        .exclude(status=EnrollmentStatus.HELD)
        .exists()
    )


def _eligible(rule: ActiveRule, customer_id: int, now: dt.datetime) -> bool:
    """The rule's conditions hold for the customer and its cooldown has passed."""
    if rule.conditions and not rule_matches(
        tree=rule.conditions, customer_id=customer_id, as_of=now
    ):
        return False
    return not (rule.cooldown_days and _in_cooldown(rule, customer_id, now))


def _is_control(share: float) -> bool:
    # Assignment to the control group only needs to be unbiased, not unpredictable.
    return share > 0 and random.random() < share  # noqa: S311


def enrollments_create(
    *,
    event: Event,
    rules: dict[str, list[ActiveRule]],
    now: dt.datetime,
    care_settings: CareSettings | None = None,
) -> list[Enrollment]:
    """Enroll the event's customer into every active rule it triggers and whose conditions hold,
    highest priority first, as arbitration decides (care.services.arbitration: a plan held back
    by another of its category is recorded as held, a running one it outranks is preempted);
    announce the steps of treated enrollments. Returns the new ones. `care_settings` (business
    hours) may be passed by a caller processing a batch."""
    triggered = rules_triggered(event_type=event.type, payload=event.payload, rules=rules)
    if not triggered:
        return []
    customer = (
        Customer.objects.filter(pk=event.customer_id, status=CustomerStatus.ACTIVE)
        .values("pk", "timezone", "metrics__monetary")
        .first()
    )
    if customer is None:
        return []
    if any(competes(rule.category) for rule in triggered):
        # Before the cooldown locks: every pass of an event takes the customer's lock first.
        customer_plans_lock(event.customer_id)
    eligible = [rule for rule in triggered if _eligible(rule, event.customer_id, now)]
    decision = plans_arbitrate(customer_id=event.customer_id, contenders=list(eligible))
    created: list[tuple[Enrollment, ActiveRule]] = []
    enrollment_by_rule: dict[int, int] = {}
    for rule in eligible:
        outcome = (
            held_fields(
                decision=decision,
                rule_id=rule.rule_id,
                enrollment_by_rule=enrollment_by_rule,
                now=now,
            )
            if rule.rule_id in decision.held
            else {"is_control": _is_control(rule.holdout_share)}
        )
        try:
            with transaction.atomic():
                enrollment = Enrollment.objects.create(
                    rule_id=rule.rule_id,
                    rule_version_id=rule.version_id,
                    customer_id=event.customer_id,
                    event=event,
                    enrolled_at=now,
                    **outcome,
                )
        except IntegrityError:
            # Already enrolled by this very event (a redelivered or swept message).
            continue
        enrollment_by_rule[rule.rule_id] = enrollment.pk
        created.append((enrollment, rule))
    plans_preempt(decision=decision, enrollment_by_rule=enrollment_by_rule, now=now)
    treated = [
        (enrollment, rule)
        for enrollment, rule in created
        if not enrollment.is_control and enrollment.status == EnrollmentStatus.ACTIVE
    ]
    if treated:
        anchor = enrollment_anchor(occurred_at=event.occurred_at, enrolled_at=now)
        monetary = customer["metrics__monetary"]
        steps: list[PlannedStep] = []
        waits: list[Wait] = []
        for enrollment, rule in treated:
            chain, wait = chain_plan(
                enrollment_id=enrollment.pk,
                customer_id=event.customer_id,
                steps=list(rule.steps),
                start=None,
                anchor=anchor,
                zone=customer_timezone(customer["timezone"]),
                # The customer's value (spend in the metrics window): capacity goes to value.
                priority=float(monetary) if monetary is not None else 0.0,
                care_settings=care_settings or CareSettings.load(),
            )
            steps += chain
            waits += [wait] if wait else []
        enrollment_waits_set(waits=waits)
        plan_steps_announce(steps=steps)
    return [enrollment for enrollment, _rule in created]


@dataclass(frozen=True)
class Wait:
    """Where an enrollment's journey now waits (an empty key: it waits for nothing)."""

    enrollment_id: int
    step_key: str = ""
    started_at: dt.datetime | None = None
    until: dt.datetime | None = None


def chain_plan(
    *,
    enrollment_id: int,
    customer_id: int,
    steps: list[dict[str, Any]],
    start: str | None,
    anchor: dt.datetime,
    zone: Any,
    priority: float,
    care_settings: CareSettings,
) -> tuple[list[PlannedStep], Wait | None]:
    """The steps planned from `start` (a step key, None for the first) up to the first step
    that waits, due by their delays from `anchor`; and the wait that step starts at its due
    time (None when the chain ends without one)."""
    planned = []
    wait = None
    for step in journey_chain(steps, start):
        due, deadline = step_times(anchor=anchor, step=step, zone=zone, settings=care_settings)
        planned.append(
            PlannedStep(
                enrollment_id=enrollment_id,
                customer_id=customer_id,
                step=step,
                due_at=due,
                deadline_at=deadline,
                priority=priority,
            )
        )
        if step_waits(step):
            until = due + dt.timedelta(hours=step["wait_hours"])
            wait = Wait(enrollment_id, step_key(step), due, until)
    return planned, wait


def enrollment_waits_set(*, waits: list[Wait]) -> None:
    """Record where these enrollments' journeys wait now (one UPDATE)."""
    if not waits:
        return
    rows = [
        Enrollment(
            pk=wait.enrollment_id,
            waiting_step=wait.step_key,
            wait_started_at=wait.started_at,
            wait_until=wait.until,
        )
        for wait in waits
    ]
    Enrollment.objects.bulk_update(rows, ["waiting_step", "wait_started_at", "wait_until"])


# ---------------------------------------------------------------------------------------------
# Stopping and completing


def enrollments_stop_for_event(*, event: Event, now: dt.datetime) -> int:
    """Stop the customer's active enrollments whose stop conditions this event meets (started
    before it happened) and announce it, so their open work ends with the reason. Returns how
    many."""
    condition = stop_condition(event.type, event.payload)
    if condition is None:
        return 0
    if condition == StopCondition.OPTED_OUT and event.payload.get("opted_out") is not True:
        return 0
    enrollments = Enrollment.objects.filter(
        customer_id=event.customer_id,
        status=EnrollmentStatus.ACTIVE,
        rule_version__snapshot__stop_conditions__contains=[condition],
        event__occurred_at__lt=event.occurred_at,
    )
    if condition == StopCondition.TICKET_RESOLVED:
        ticket_id = event.payload.get("ticket_id")
        if ticket_id is None:
            return 0
        enrollments = enrollments.filter(event__payload__ticket_id=ticket_id)
    # Before locking plans, as every pass of an event does (care.services.arbitration).
    customer_plans_lock(event.customer_id)
    ids = list(
        enrollments.select_for_update(of=("self",)).order_by("pk").values_list("pk", flat=True)
    )
    if not ids:
        return 0
    Enrollment.objects.filter(pk__in=ids).update(
        status=EnrollmentStatus.STOPPED,
        stop_reason=condition[:64],
        finished_at=now,
        waiting_step="",
        wait_until=None,
    )
    plan_stops_announce(enrollment_ids=ids, reason=condition)
    return len(ids)


COMPLETE_SQL = """
UPDATE care_enrollment e
SET status = %(completed)s, finished_at = %(now)s
FROM care_event ev, care_careruleversion v
WHERE e.status = %(active)s
  AND e.waiting_step = ''
  AND ev.id = e.event_id
  AND v.id = e.rule_version_id
  AND LEAST(ev.occurred_at, e.enrolled_at)
      + make_interval(mins => COALESCE((v.snapshot ->> 'span_minutes')::int, 0)) <= %(now)s
  AND NOT ({open_work})
"""


def enrollments_complete(*, now: dt.datetime | None = None) -> int:
    """Mark completed the active enrollments with no step left to come, no journey waiting and
    no work open in the apps carrying them out (control members too, once their plan's span
    has passed). One statement."""
    open_work, params = plan_open_work_sql()
    with connection.cursor() as cursor:
        cursor.execute(
            COMPLETE_SQL.format(open_work=open_work),
            {
                **params,
                "completed": EnrollmentStatus.COMPLETED,
                "active": EnrollmentStatus.ACTIVE,
                "now": now or timezone.now(),
            },
        )
        return cursor.rowcount

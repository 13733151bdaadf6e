"""Running journeys: moving a waiting enrollment on by the outcome it waits for, or by its
timeout (the definitions and their checks are care.services.journeys).

An enrollment waits at one step at a time (`Enrollment.waiting_step`), from that step's due time
(`wait_started_at`) until `wait_until` = due + the step's `wait_hours`. The wait starts at the
due time, not when the task is carried out: care decides plans and does not know when outreach
sends; an outcome reported about the waiting step's own task (call result, task outcome, link
click) can only come after it was carried out anyway.

- An outcome event of the customer (processed like any event, after the plans it stops are
  stopped) moves on each of their waiting enrollments it matches: outcomes that happened within
  the wait, the first matching branch of the waiting step, in the version the enrollment
  started with.
- The timeout pass (`journeys_time_out`, every minute: beat's `journeys_time_out_task` and
  `care_tick`) takes the timeout branch of every wait past its limit.

Moving on plans the chain from the branch's goto (up to the next wait) with delays counted
from now, announces it to the plan listeners like an enrollment's first steps, and records the
next wait, or none. Both paths lock the enrollment rows and clear the wait they take in the
same transaction, so an outcome and the timeout (or two passes) cannot both move one wait.
"""

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from callcenter.models import Customer
from care.choices import EnrollmentStatus
from care.models import CareSettings, Enrollment, Event
from care.services.enrollment import Wait, chain_plan, enrollment_waits_set
from care.services.journeys import (
    END,
    OUTCOME_EVENTS,
    branch_taken,
    step_by_key,
    timeout_goto,
)
from care.services.plans import PlannedStep, plan_steps_announce
from care.services.templates import customer_timezone

# Waits timed out per pass (each a few rows in memory; the rest wait for the next minute).
TIMEOUT_BATCH = 1000


@dataclass(frozen=True)
class Move:
    """An enrollment's journey going on from its wait to `goto` (a step key or "end")."""

    enrollment_id: int
    customer_id: int
    steps: list[dict[str, Any]]
    goto: str


def _journeys_continue(*, moves: list[Move], now: dt.datetime) -> None:
    """Plan the chain of every move from now, record the next waits and announce the steps."""
    if not moves:
        return
    customers = {
        row["pk"]: row
        for row in Customer.objects.filter(pk__in={m.customer_id for m in moves}).values(
            "pk", "timezone", "metrics__monetary"
        )
    }
    care_settings = CareSettings.load()
    planned: list[PlannedStep] = []
    waits: list[Wait] = []
    for move in moves:
        if move.goto == END:
            waits.append(Wait(move.enrollment_id))
            continue
        customer = customers[move.customer_id]
        monetary = customer["metrics__monetary"]
        chain, wait = chain_plan(
            enrollment_id=move.enrollment_id,
            customer_id=move.customer_id,
            steps=move.steps,
            start=move.goto,
            anchor=now,
            zone=customer_timezone(customer["timezone"]),
            priority=float(monetary) if monetary is not None else 0.0,
            care_settings=care_settings,
        )
        planned += chain
        waits.append(wait or Wait(move.enrollment_id))
    enrollment_waits_set(waits=waits)
    plan_steps_announce(steps=planned)


def _waiting(queryset: Any, limit: int | None = None) -> list[dict[str, Any]]:
    """The active, waiting enrollments of `queryset`, locked. An outcome waits for a row
    another transaction holds (PostgreSQL then re-checks the row is still waiting); the
    timeout pass (`limit`) skips it, as that transaction is moving it."""
    rows = (
        queryset.filter(status=EnrollmentStatus.ACTIVE)
        .exclude(waiting_step="")
        .select_for_update(of=("self",), skip_locked=limit is not None)
        .order_by("pk")
        .values("pk", "customer_id", "waiting_step", "rule_version__snapshot")
    )
    return list(rows[:limit] if limit is not None else rows)


def journeys_advance_for_event(*, event: Event, now: dt.datetime) -> int:
    """Move on the customer's waiting journeys that this outcome event answers (in the caller's
    transaction); returns how many moved."""
    if event.type not in OUTCOME_EVENTS:
        return 0
    rows = _waiting(
        Enrollment.objects.filter(
            customer_id=event.customer_id,
            wait_started_at__lte=event.occurred_at,
            wait_until__gte=event.occurred_at,
        )
    )
    moves = []
    for row in rows:
        steps = row["rule_version__snapshot"]["steps"]
        step = step_by_key(steps, row["waiting_step"])
        goto = (
            branch_taken(
                step=step, enrollment_id=row["pk"], event_type=event.type, payload=event.payload
            )
            if step is not None
            else END
        )
        if goto is not None:
            moves.append(Move(row["pk"], row["customer_id"], steps, goto))
    _journeys_continue(moves=moves, now=now)
    return len(moves)


def journeys_time_out(*, now: dt.datetime | None = None, limit: int = TIMEOUT_BATCH) -> int:
    """Take the timeout branch of the waits past their limit (oldest enrollments first, rows
    locked and skipped when another pass holds them); safe to run twice. Returns how many."""
    now = now or timezone.now()
    with transaction.atomic():
        rows = _waiting(Enrollment.objects.filter(wait_until__lte=now), limit)
        moves = []
        for row in rows:
            steps = row["rule_version__snapshot"]["steps"]
            step = step_by_key(steps, row["waiting_step"])
            goto = timeout_goto(step) if step is not None else END
            moves.append(Move(row["pk"], row["customer_id"], steps, goto))
        _journeys_continue(moves=moves, now=now)
    return len(moves)

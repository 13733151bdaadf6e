"""Creating, cancelling and working outreach tasks.

The tasks of care's plans are created and cancelled here when care announces its planned and
stopped plans (care.services.plans, outreach/parts/care_plans.py); agents and supervisors
claim, complete, reschedule and reassign them through the API.

Assignment of call tasks (automated tasks have no assignee):
- `advisor`: the customer's dedicated advisor, if available and under their daily limit; else
  the task waits unassigned in the step's queue (`assignee_target`, default "general").
- `queue`: the task waits unassigned in the queue until an agent of the queue claims it (pull:
  the agents of a shared queue take the next task when they are free, which spreads work by
  real availability rather than by a guess made hours before the task falls due).
- `least_loaded`: the available member of the queue or group named by `assignee_target` with
  room under their limit and the fewest call tasks that day (then the lowest id), agents with
  the skills routing prefers for the customer served first (outreach.services.routing_rules.
  call_skills: the first matching routing rule's skills, and the customer's language; the two
  passes are in outreach.services.capacity); the task sits in that queue.
Tasks that do not fit anyone's daily limit wait unassigned in their queue; a batch hands out
capacity highest priority first, and the SLA sweep assigns waiting tasks as room appears
(`outreach_tasks_assign_waiting`), again highest priority first. A campaign's call tasks get
the same rules set-based, in the statement that inserts them (outreach/parts/care_campaigns.py).

Call tasks created for a care step are "gated": `next_attempt_at` is set to their due time and
the dispatcher checks consent and the step's conditions when they fall due (and renders the call
script) before they show in an agent's queue.
"""

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import User
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from callcenter.choices import CustomerStatus, Direction, InteractionChannel
from callcenter.errors import ApplicationError
from callcenter.events import DomainEvent, emit_events
from callcenter.generated import FOLLOW_UP_CALL_REASON
from callcenter.models import AuditLog, Customer
from callcenter.roles import STAFF_ROLES, has_role
from callcenter.services.activity import interaction_log
from care.choices import AssigneeRule, EventType, StepChannel, TouchKind
from care.selectors_campaigns import campaign_work_frozen
from outreach.access import TaskAccessDenied, is_manager, task_check_workable, user_queue_ids
from outreach.choices import AUTOMATED_CHANNELS, OPEN_TASK_STATUSES, TaskOutcome, TaskStatus
from outreach.models import OutreachTask, Queue
from outreach.services.capacity import (
    DEFAULT_QUEUE_SLUG,
    Want,
    assign_preferring,
    capacity_load,
    center_zone,
    pool_members,
    push_candidates,
    queue_slug,
    queues_by_slug,
    work_day,
)
from outreach.services.routing_rules import call_skills

# A manual task without a deadline must be done within this long after it falls due.
MANUAL_TASK_SLA = dt.timedelta(hours=2)
# How far from now a person may schedule a task, its deadline or a callback (care steps wait
# at most as long). Beyond it a typo (year 9999) would only overflow the date arithmetic.
MAX_SCHEDULE_DISTANCE = dt.timedelta(days=366)
# Outcomes a reschedule may record on the call it closes.
RESCHEDULE_OUTCOMES = (TaskOutcome.CALLBACK_REQUESTED, TaskOutcome.NO_ANSWER)
# Waiting tasks assigned per sweep (each is one in-memory choice; the update is per agent).
WAITING_BATCH = 500
MAX_KEY_LENGTH = 128
# Rules that hand a task to a person at creation (a queue rule waits for a claim instead).
PUSH_RULES = (AssigneeRule.ADVISOR, AssigneeRule.LEAST_LOADED)
# pg_advisory_xact_lock(ASSIGNMENT_LOCK, 0) serializes capacity-checked assignment.
ASSIGNMENT_LOCK = 0x6F76


@dataclass(frozen=True)
class TaskSpec:
    """One task care wants: what, to whom, when, by when, and who should do it."""

    customer_id: int
    channel: str
    due_at: dt.datetime
    deadline_at: dt.datetime
    idempotency_key: str
    touch_kind: str = TouchKind.PROACTIVE
    enrollment_id: int | None = None
    step_id: int | None = None
    step_position: int | None = None
    template_id: int | None = None
    body: str = ""
    assignee_rule: str = ""
    assignee_target: str = ""
    priority: float = 0.0
    created_by_id: int | None = None


def _validate_spec(spec: TaskSpec) -> None:
    if spec.channel not in StepChannel.values:
        raise ApplicationError(_("Unknown channel: %(channel)s") % {"channel": spec.channel})
    if spec.touch_kind not in TouchKind.values:
        raise ApplicationError(_("Unknown touch kind: %(kind)s") % {"kind": spec.touch_kind})
    if spec.assignee_rule and spec.assignee_rule not in AssigneeRule.values:
        raise ApplicationError(_("Unknown assignee rule: %(rule)s") % {"rule": spec.assignee_rule})
    if not spec.idempotency_key or len(spec.idempotency_key) > MAX_KEY_LENGTH:
        raise ApplicationError(_("A task needs an idempotency key of at most 128 characters."))
    if timezone.is_naive(spec.due_at) or timezone.is_naive(spec.deadline_at):
        raise ApplicationError(_("Due time and deadline must carry a time zone."))
    if spec.deadline_at < spec.due_at:
        raise ApplicationError(_("The deadline must not be before the due time."))


def _spec_queue_slug(spec: TaskSpec) -> str:
    if spec.assignee_rule == AssigneeRule.ADVISOR and not spec.assignee_target:
        return DEFAULT_QUEUE_SLUG
    return queue_slug(spec.assignee_target)


def outreach_tasks_create(*, specs: list[TaskSpec]) -> list[OutreachTask]:
    """Create the tasks of `specs` (a spec whose key exists already is left alone) and return
    the tasks of every spec, in order, one per distinct key."""
    for spec in specs:
        _validate_spec(spec)
    keys = list(dict.fromkeys(spec.idempotency_key for spec in specs))
    if not keys:
        return []
    with transaction.atomic():
        existing = set(
            OutreachTask.objects.filter(idempotency_key__in=keys).values_list(
                "idempotency_key", flat=True
            )
        )
        fresh: dict[str, TaskSpec] = {}
        for spec in specs:
            if spec.idempotency_key not in existing:
                fresh.setdefault(spec.idempotency_key, spec)
        rows = _build_rows(list(fresh.values()))
        # ON CONFLICT (idempotency_key) DO NOTHING: a concurrent creator of the same key wins
        # and this call returns its row.
        OutreachTask.objects.bulk_create(rows, ignore_conflicts=True)
    by_key = {
        task.idempotency_key: task for task in OutreachTask.objects.filter(idempotency_key__in=keys)
    }
    return [by_key[key] for key in keys if key in by_key]


def _build_rows(specs: list[TaskSpec]) -> list[OutreachTask]:
    calls = [spec for spec in specs if spec.channel == StepChannel.CALL]
    queues = queues_by_slug({_spec_queue_slug(spec) for spec in calls})
    assignees = _assign(calls) if calls else {}
    rows = []
    for spec in specs:
        is_call = spec.channel == StepChannel.CALL
        gated = is_call and (spec.step_id is not None or spec.enrollment_id is not None)
        rows.append(
            OutreachTask(
                customer_id=spec.customer_id,
                enrollment_id=spec.enrollment_id,
                step_id=spec.step_id,
                step_position=spec.step_position,
                channel=spec.channel,
                touch_kind=spec.touch_kind,
                due_at=spec.due_at,
                deadline_at=spec.deadline_at,
                template_id=spec.template_id,
                body=spec.body,
                priority=spec.priority,
                idempotency_key=spec.idempotency_key,
                created_by_id=spec.created_by_id,
                queue=queues[_spec_queue_slug(spec)] if is_call else None,
                assignee_id=assignees.get(spec.idempotency_key),
                next_attempt_at=spec.due_at if gated else None,
            )
        )
    return rows


def assignment_lock() -> None:
    """Loads are read, then tasks assigned: assigners take turns (until their transaction
    commits) so two of them cannot both give an agent the last free slot of a day."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, 0)", [ASSIGNMENT_LOCK])


def _assign(calls: list[TaskSpec]) -> dict[str, int]:
    """Assignee per idempotency key for the call specs that get one, highest priority first."""
    if not any(spec.assignee_rule in PUSH_RULES for spec in calls):
        return {}
    assignment_lock()
    advisors = dict(
        Customer.objects.filter(
            pk__in={spec.customer_id for spec in calls}, advisor__isnull=False
        ).values_list("pk", "advisor_id")
    )
    pools = pool_members(
        spec.assignee_target for spec in calls if spec.assignee_rule == AssigneeRule.LEAST_LOADED
    )
    candidates = set(advisors.values()).union(*pools.values())
    now = timezone.now()
    today = timezone.localtime(now, center_zone()).date()
    capacity = capacity_load(
        agent_ids=candidates, days={work_day(spec.due_at, today) for spec in calls}, now=now
    )
    prefer = call_skills(
        spec.customer_id for spec in calls if spec.assignee_rule == AssigneeRule.LEAST_LOADED
    )
    wants = [
        Want(
            key=spec.idempotency_key,
            candidates=push_candidates(
                rule=spec.assignee_rule,
                target=spec.assignee_target,
                advisor_id=advisors.get(spec.customer_id),
                pools=pools,
            ),
            day=work_day(spec.due_at, capacity.today),
            prefer=prefer.get(spec.customer_id, frozenset()),
        )
        for spec in sorted(calls, key=lambda s: (-s.priority, s.due_at))
    ]
    return assign_preferring(capacity, wants)


def outreach_tasks_cancel(*, enrollment_ids: list[int], reason: str) -> int:
    """Cancel the still-open (or held) tasks of these enrollments (one UPDATE); returns how
    many."""
    if not enrollment_ids:
        return 0
    return OutreachTask.objects.filter(
        enrollment_id__in=enrollment_ids, status__in=[*OPEN_TASK_STATUSES, TaskStatus.HELD]
    ).update(
        status=TaskStatus.CANCELLED,
        reason=reason[:255],
        next_attempt_at=None,
        updated_at=timezone.now(),
    )


def outreach_tasks_retry(*, task_ids: list[int]) -> int:
    """Send failed messages again from scratch (after fixing what made them fail); only tasks
    that never reached the provider, so nothing is sent twice. Returns how many."""
    return OutreachTask.objects.filter(
        pk__in=task_ids,
        status=TaskStatus.FAILED,
        provider_message_id="",
        channel__in=AUTOMATED_CHANNELS,
    ).update(
        status=TaskStatus.PENDING,
        attempts=0,
        next_attempt_at=None,
        claimed_at=None,
        claimed_by="",
        updated_at=timezone.now(),
    )


@transaction.atomic
def outreach_tasks_assign_waiting(*, now: dt.datetime | None = None) -> int:
    """Hand waiting call tasks (advisor and least-loaded steps nobody had room for) to agents
    who have room today, highest priority first; returns how many were assigned."""
    now = now or timezone.now()
    zone = center_zone()
    zone_today = timezone.localtime(now, zone).date()
    end_of_today = dt.datetime.combine(zone_today + dt.timedelta(days=1), dt.time.min, zone)
    waiting = list(
        OutreachTask.objects.filter(
            channel=StepChannel.CALL,
            status=TaskStatus.PENDING,
            assignee__isnull=True,
            due_at__lt=end_of_today,
            step__assignee_rule__in=PUSH_RULES,
        )
        .filter(~campaign_work_frozen())
        .order_by("-priority", "deadline_at", "id")
        .values(
            "id",
            "customer_id",
            "customer__advisor_id",
            "step__assignee_rule",
            "step__assignee_target",
        )[:WAITING_BATCH]
    )
    if not waiting:
        return 0
    assignment_lock()
    pools = pool_members(
        row["step__assignee_target"]
        for row in waiting
        if row["step__assignee_rule"] == AssigneeRule.LEAST_LOADED
    )
    advisors = {row["customer__advisor_id"] for row in waiting if row["customer__advisor_id"]}
    candidates = advisors.union(*pools.values())
    capacity = capacity_load(agent_ids=candidates, days={zone_today}, now=now)
    prefer = call_skills(
        row["customer_id"]
        for row in waiting
        if row["step__assignee_rule"] == AssigneeRule.LEAST_LOADED
    )
    wants = [
        Want(
            key=row["id"],
            candidates=push_candidates(
                rule=row["step__assignee_rule"],
                target=row["step__assignee_target"],
                advisor_id=row["customer__advisor_id"],
                pools=pools,
            ),
            day=capacity.today,
            prefer=prefer.get(row["customer_id"], frozenset()),
        )
        for row in waiting
    ]
    by_agent: dict[int, list[int]] = {}
    for task_id, agent in assign_preferring(capacity, wants).items():
        by_agent.setdefault(agent, []).append(task_id)
    assigned = 0
    for agent, ids in by_agent.items():
        # Guarded by the same filter, so a task claimed meanwhile is not taken away.
        assigned += OutreachTask.objects.filter(
            pk__in=ids, status=TaskStatus.PENDING, assignee__isnull=True
        ).update(assignee_id=agent, updated_at=now)
    return assigned


def _require_within_reach(moment: dt.datetime, field: str) -> None:
    if abs(moment - timezone.now()) > MAX_SCHEDULE_DISTANCE:
        raise ApplicationError(
            _("%(field)s: choose a time within %(days)d days of now.")
            % {"field": field, "days": MAX_SCHEDULE_DISTANCE.days},
            extra={"field": field},
        )


def _require_staff(user: User, what: str) -> None:
    if not has_role(user, STAFF_ROLES):
        raise ApplicationError(
            _("%(user)s cannot be %(what)s: they hold no call-center role.")
            % {"user": user, "what": what}
        )


@transaction.atomic
def outreach_task_create_manual(
    *,
    customer: Customer,
    created_by: User,
    due_at: dt.datetime,
    deadline_at: dt.datetime | None = None,
    channel: str = StepChannel.CALL,
    body: str = "",
    subject: str = "",
    assignee: User | None = None,
    queue: Queue | None = None,
    touch_kind: str = TouchKind.SERVICE,
    priority: float = 0.0,
) -> OutreachTask:
    """A task a person schedules: a supervisor any call, SMS or email, to anyone or any queue;
    an agent a callback for themselves (or for one of their queues)."""
    if not has_role(created_by, STAFF_ROLES):
        raise TaskAccessDenied(_("Your role does not allow scheduling tasks."))
    if customer.status != CustomerStatus.ACTIVE:
        raise ApplicationError(_("A merged customer cannot be contacted; use the survivor."))
    if channel not in StepChannel.values:
        raise ApplicationError(_("Unknown channel: %(channel)s") % {"channel": channel})
    if touch_kind not in TouchKind.values:
        raise ApplicationError(_("Unknown touch kind: %(kind)s") % {"kind": touch_kind})
    if timezone.is_naive(due_at) or (deadline_at is not None and timezone.is_naive(deadline_at)):
        raise ApplicationError(_("Due time and deadline must carry a time zone."))
    _require_within_reach(due_at, "due_at")
    if deadline_at is not None:
        _require_within_reach(deadline_at, "deadline_at")
    deadline_at = deadline_at or due_at + MANUAL_TASK_SLA
    if deadline_at < due_at:
        raise ApplicationError(_("The deadline must not be before the due time."))
    if channel != StepChannel.CALL and not body.strip():
        raise ApplicationError(_("A message needs a text."))
    if not is_manager(created_by):
        if channel != StepChannel.CALL:
            raise TaskAccessDenied(_("Agents may only schedule calls."))
        if assignee is not None and assignee.pk != created_by.pk:
            raise TaskAccessDenied(_("Agents may only schedule calls for themselves."))
        if queue is not None and not user_queue_ids(created_by).filter(queue_id=queue.pk).exists():
            raise TaskAccessDenied(_("You do not work this queue."))
        if queue is None:
            assignee = created_by
    if assignee is not None:
        _require_staff(assignee, _("assigned a task"))
    if channel == StepChannel.CALL and assignee is None and queue is None:
        queue = queues_by_slug([DEFAULT_QUEUE_SLUG])[DEFAULT_QUEUE_SLUG]
    return OutreachTask.objects.create(
        customer=customer,
        channel=channel,
        touch_kind=touch_kind,
        due_at=due_at,
        deadline_at=deadline_at,
        body=body,
        subject=subject,
        assignee=assignee if channel == StepChannel.CALL else None,
        queue=queue if channel == StepChannel.CALL else None,
        priority=priority,
        idempotency_key=f"manual:{uuid.uuid4().hex}",
        created_by=created_by,
    )


def _locked_call_task(task: OutreachTask, user: User) -> OutreachTask:
    task = OutreachTask.objects.select_for_update().select_related("customer").get(pk=task.pk)
    if task.channel != StepChannel.CALL:
        raise ApplicationError(_("Only call tasks are worked by people; messages send themselves."))
    if task.status not in OPEN_TASK_STATUSES:
        raise ApplicationError(
            _("This task is %(status)s and can no longer be worked.")
            % {"status": task.get_status_display()}
        )
    task_check_workable(task, user)
    return task


@transaction.atomic
def outreach_task_claim(*, task: OutreachTask, user: User) -> OutreachTask:
    """An agent takes a task of their queue (or starts one of their own); claiming twice is
    harmless. Supervisors may take any call task."""
    task = _locked_call_task(task, user)
    if task.status == TaskStatus.CLAIMED and task.assignee_id == user.pk:
        return task
    if (
        task.enrollment_id is not None
        and task.status == TaskStatus.PENDING
        and OutreachTask.objects.filter(campaign_work_frozen(), pk=task.pk).exists()
    ):
        # Paused or cancelled while its task was on a screen (its job may not have run yet).
        raise ApplicationError(
            _("Its campaign is paused or cancelled: this task cannot be taken now.")
        )
    now = timezone.now()
    task.assignee = user
    task.status = TaskStatus.CLAIMED
    task.claimed_at = now
    task.claimed_by = f"user:{user.pk}"
    # Taking a task on purpose skips the dispatcher's due-time release of care call tasks.
    task.next_attempt_at = None
    task.save(
        update_fields=[
            "assignee",
            "status",
            "claimed_at",
            "claimed_by",
            "next_attempt_at",
            "updated_at",
        ]
    )
    return task


def _append_note(existing: str, note: str) -> str:
    note = note.strip()
    if not note:
        return existing
    return f"{existing}\n{note}" if existing else note


def _close_call(task: OutreachTask, user: User, outcome: str, notes: str) -> OutreachTask:
    if outcome not in TaskOutcome.values:
        raise ApplicationError(_("Unknown outcome: %(outcome)s") % {"outcome": outcome})
    now = timezone.now()
    interaction_log(
        customer=task.customer,
        channel=InteractionChannel.CALL,
        direction=Direction.OUTBOUND,
        occurred_at=now,
        agent=user,
        # Stored in English, shown translated (callcenter.generated).
        reason=FOLLOW_UP_CALL_REASON % {"id": task.pk},
        notes=notes,
        outcome=outcome,
    )
    task.status = TaskStatus.DONE
    task.outcome = outcome
    task.completed_at = now
    task.notes = _append_note(task.notes, notes)
    task.assignee = task.assignee or user
    task.next_attempt_at = None
    task.save(
        update_fields=[
            "status",
            "outcome",
            "completed_at",
            "notes",
            "assignee",
            "next_attempt_at",
            "updated_at",
        ]
    )
    # For care: journeys waiting for this call's outcome branch on it (same transaction).
    emit_events(
        [
            DomainEvent(
                type=EventType.TASK_OUTCOME,
                customer_id=task.customer_id,
                payload={
                    "task_id": task.pk,
                    "enrollment_id": task.enrollment_id,
                    "step_position": task.step_position,
                    "outcome": outcome,
                },
                occurred_at=now.isoformat(),
            )
        ]
    )
    return task


@transaction.atomic
def outreach_task_complete(
    *, task: OutreachTask, user: User, outcome: str, notes: str = ""
) -> OutreachTask:
    """Record how the call went: logs an outbound call interaction and closes the task."""
    task = _locked_call_task(task, user)
    return _close_call(task, user, outcome, notes)


@transaction.atomic
def outreach_task_reschedule(
    *,
    task: OutreachTask,
    user: User,
    callback_at: dt.datetime,
    notes: str = "",
    outcome: str = TaskOutcome.CALLBACK_REQUESTED,
) -> OutreachTask:
    """Close this call with `outcome` (callback requested or no answer, logged like any call)
    and schedule the callback as a new task for the same agent, due at `callback_at` with the
    same SLA span. Each attempt stays a row of its own, so reach rates and breaches stay true.
    Returns the new task."""
    if outcome not in RESCHEDULE_OUTCOMES:
        raise ApplicationError(_("A reschedule records a callback request or no answer."))
    if timezone.is_naive(callback_at):
        raise ApplicationError(_("Due time and deadline must carry a time zone."))
    now = timezone.now()
    if callback_at < now:
        raise ApplicationError(_("The callback time is in the past."))
    _require_within_reach(callback_at, "callback_at")
    task = _locked_call_task(task, user)
    span = max(task.deadline_at - task.due_at, dt.timedelta(minutes=1))
    _close_call(task, user, outcome, notes)
    history = _("Callback of task #%(id)s (%(outcome)s).") % {
        "id": task.pk,
        "outcome": TaskOutcome(outcome).label,
    }
    callback, _created = OutreachTask.objects.get_or_create(
        idempotency_key=f"callback:{task.pk}",
        defaults={
            "customer_id": task.customer_id,
            "enrollment_id": task.enrollment_id,
            "step_id": task.step_id,
            "step_position": task.step_position,
            "channel": StepChannel.CALL,
            # The customer asked for this call (or we owe them one): not a new proactive touch.
            "touch_kind": TouchKind.SERVICE,
            "due_at": callback_at,
            "deadline_at": callback_at + span,
            "callback_at": callback_at,
            "body": task.body,
            "assignee_id": task.assignee_id,
            "queue_id": task.queue_id,
            "priority": task.priority,
            "notes": _append_note(history, notes),
            "created_by": user if user.is_authenticated else None,
        },
    )
    return callback


@transaction.atomic
def outreach_tasks_reassign(
    *,
    task_ids: list[int],
    by: User,
    assignee: User | None = None,
    queue: Queue | None = None,
    reason: str = "",
) -> list[int]:
    """Supervisors move open call tasks to an agent (and/or a queue); returns the ids moved.
    A task an agent had claimed goes back to pending for its new owner. Audited per task."""
    if not is_manager(by):
        raise TaskAccessDenied(_("Only supervisors may reassign tasks."))
    return outreach_tasks_move(
        task_ids=task_ids, actor=by, assignee=assignee, queue=queue, reason=reason
    )


@transaction.atomic
def outreach_tasks_move(
    *,
    task_ids: list[int],
    actor: User | None,
    assignee: User | None,
    queue: Queue | None,
    reason: str,
) -> list[int]:
    """Move open call tasks without a permission check (for the SLA escalation and
    `outreach_tasks_reassign`); one UPDATE and one audit entry per task."""
    if assignee is None and queue is None:
        raise ApplicationError(_("Choose an agent or a queue."))
    if assignee is not None:
        _require_staff(assignee, _("assigned a task"))
        if not assignee.is_active:
            raise ApplicationError(_("%(user)s is not active.") % {"user": assignee})
    rows = list(
        OutreachTask.objects.select_for_update()
        .filter(pk__in=task_ids, channel=StepChannel.CALL, status__in=OPEN_TASK_STATUSES)
        .order_by("pk")
        .values("pk", "assignee_id", "queue_id")
    )
    ids = [row["pk"] for row in rows]
    if not ids:
        return []
    now = timezone.now()
    changes: dict[str, Any] = {
        "assignee_id": assignee.pk if assignee is not None else None,
        "status": TaskStatus.PENDING,
        "claimed_at": None,
        "claimed_by": "",
        "updated_at": now,
    }
    if queue is not None:
        changes["queue_id"] = queue.pk
    OutreachTask.objects.filter(pk__in=ids).update(**changes)
    AuditLog.objects.bulk_create(
        [
            AuditLog(
                actor=actor if actor is not None and actor.is_authenticated else None,
                action="task.reassign",
                object_type="outreach_task",
                object_id=str(row["pk"]),
                data={
                    "from_assignee": row["assignee_id"],
                    "to_assignee": changes["assignee_id"],
                    "from_queue": row["queue_id"],
                    "to_queue": changes.get("queue_id", row["queue_id"]),
                    "reason": reason,
                },
            )
            for row in rows
        ]
    )
    return ids

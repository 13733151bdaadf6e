"""Reads of outreach: task lists, an agent's queue, the supervisors' overview of all queues.

Each selector returns a queryset (or plain rows) that already joins what its serializer shows,
so a page of any size costs the same few queries.
"""

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypedDict

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db.models import BooleanField, Case, Count, F, Q, QuerySet, Value, When
from django.utils import timezone

from care.choices import StepChannel
from care.selectors_campaigns import campaign_work_frozen
from outreach.access import user_queue_ids, visible_tasks
from outreach.choices import OPEN_TASK_STATUSES, TaskStatus
from outreach.models import OutreachTask, Queue
from outreach.services.capacity import capacity_load
from segments.selectors import touch_value

if TYPE_CHECKING:
    # Types only: on Python 3.11 WithAnnotations[Model, TypedDict] fails at runtime.
    from django_stubs_ext import WithAnnotations

TASK_JOINS = ("customer", "assignee", "queue")
MY_QUEUE_LIMIT = 200


def task_list(*, user: User) -> QuerySet[OutreachTask]:
    """Every task `user` may see, with customer, assignee and queue joined."""
    return visible_tasks(OutreachTask.objects.select_related(*TASK_JOINS), user)


def _overdue(now: dt.datetime) -> Case:
    return Case(
        When(deadline_at__lt=now, then=Value(True)),
        default=Value(False),
        output_field=BooleanField(),
    )


class Overdue(TypedDict):
    """The annotation `agent_queue` adds: whether the task's deadline has passed."""

    is_overdue: bool


# How an agent's call list may be ordered: overdue first then by deadline (the default), or by
# the expected value of the call (segments.selectors.touch_value), highest first.
QUEUE_ORDER_DEADLINE = "deadline"
QUEUE_ORDER_VALUE = "value"
QUEUE_ORDERS = (QUEUE_ORDER_DEADLINE, QUEUE_ORDER_VALUE)


def agent_queue(
    *, user: User, now: dt.datetime | None = None, order: str = QUEUE_ORDER_DEADLINE
) -> "QuerySet[WithAnnotations[OutreachTask, Overdue]]":
    """The calls `user` should make now: open call tasks due by now that are assigned to them
    or wait unassigned in their queues, overdue first, then by deadline (then value); with
    `order` "value", by the expected value of the touch (the customer's predicted value x
    churn probability x reachability, unknown last), then by deadline."""
    now = now or timezone.now()
    tasks = (
        OutreachTask.objects.filter(
            channel=StepChannel.CALL,
            status__in=OPEN_TASK_STATUSES,
            next_attempt_at__isnull=True,
            due_at__lte=now,
        )
        .filter(
            Q(assignee_id=user.pk) | Q(assignee__isnull=True, queue_id__in=user_queue_ids(user))
        )
        # A paused or cancelled campaign's calls leave the queues at the decision's commit.
        .filter(~(Q(status=TaskStatus.PENDING) & campaign_work_frozen()))
        .select_related(*TASK_JOINS)
        .annotate(is_overdue=_overdue(now))
    )
    if order == QUEUE_ORDER_VALUE:
        return tasks.annotate(touch_value=touch_value("customer")).order_by(
            F("touch_value").desc(nulls_last=True), "deadline_at", "id"
        )
    return tasks.order_by("-is_overdue", "deadline_at", "-priority", "id")


class QueueCounts(TypedDict):
    """How many calls an agent's queue holds now, and how many of them are overdue."""

    due: int
    overdue: int


def agent_queue_counts(*, user: User, now: dt.datetime | None = None) -> QueueCounts:
    """The counts of `agent_queue` (the same calls, whatever the order), in one query."""
    counts = agent_queue(user=user, now=now).aggregate(
        due=Count("pk"), overdue=Count("pk", filter=Q(is_overdue=True))
    )
    return {"due": counts["due"], "overdue": counts["overdue"]}


def queue_overview(*, now: dt.datetime | None = None) -> list[dict[str, Any]]:
    """Per queue: open, unassigned, due, overdue and breached call tasks (two queries)."""
    now = now or timezone.now()
    # Task counts come from one aggregate keyed by queue: counting tasks over the members
    # join would multiply them.
    queues = Queue.objects.annotate(members_count=Count("members")).order_by("name")
    # Keyed by queue id, None for the tasks of no queue.
    counts: dict[int | None, Mapping[str, Any]] = {
        row["queue_id"]: row
        for row in OutreachTask.objects.filter(
            channel=StepChannel.CALL, status__in=OPEN_TASK_STATUSES
        )
        .values("queue_id")
        .annotate(
            open=Count("id"),
            unassigned=Count("id", filter=Q(assignee__isnull=True)),
            due=Count("id", filter=Q(due_at__lte=now)),
            overdue=Count("id", filter=Q(deadline_at__lt=now)),
            breached=Count("id", filter=Q(breached_at__isnull=False)),
        )
    }
    empty = {"open": 0, "unassigned": 0, "due": 0, "overdue": 0, "breached": 0}
    result = []
    for queue in queues.values("id", "slug", "name", "members_count"):
        stats = counts.get(queue["id"], empty)
        result.append({**queue, **{key: stats[key] for key in empty}})
    if None in counts:
        stats = counts[None]
        result.append(
            {"id": None, "slug": "", "name": "", "members_count": 0}
            | {key: stats[key] for key in empty}
        )
    return result


def agent_overview(*, now: dt.datetime | None = None) -> list[dict[str, Any]]:
    """Per agent holding open call tasks or belonging to a queue: open, overdue, breached,
    today's load and daily limit (four queries)."""
    now = now or timezone.now()
    counts: dict[int, Mapping[str, Any]] = {
        row["assignee_id"]: row
        for row in OutreachTask.objects.filter(
            channel=StepChannel.CALL, status__in=OPEN_TASK_STATUSES, assignee__isnull=False
        )
        .values("assignee_id")
        .annotate(
            open=Count("id"),
            overdue=Count("id", filter=Q(deadline_at__lt=now)),
            breached=Count("id", filter=Q(breached_at__isnull=False)),
        )
    }
    member_ids = set(Queue.members.through.objects.values_list("user_id", flat=True))
    agent_ids = sorted(set(counts) | member_ids)
    capacity = capacity_load(agent_ids=agent_ids, days={timezone.localdate(now)}, now=now)
    users = get_user_model().objects.in_bulk(agent_ids)
    return [
        {
            "id": agent,
            "username": users[agent].get_username(),
            "available": agent in capacity.available,
            "open": counts.get(agent, {}).get("open", 0),
            "overdue": counts.get(agent, {}).get("overdue", 0),
            "breached": counts.get(agent, {}).get("breached", 0),
            "today_load": capacity.loads[(agent, capacity.today)],
            "daily_limit": capacity.limits[agent],
        }
        for agent in agent_ids
        if agent in users
    ]

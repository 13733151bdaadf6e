"""The SLA sweep: flags open tasks past their deadline and escalates each breach once.

Breaches are marked in one UPDATE. A breached call task is escalated once (escalated_at):
- to the least-loaded available member of its queue with room today (not the agent who let it
  slip), audited as "task.reassign" with reason "sla_breach";
- or, when its care step says so (escalation "notify"), when the task belongs to supervisors
  (a supervisor queue, or it sits with a supervisor) or nobody in its queue has room, by
  notifying supervisors: one email per sweep to every supervisor with an address.
Every escalated task gets a "task.breach" audit entry saying which of the two happened.
Automated tasks past their deadline are only flagged (they are retried or have failed
visibly). The sweep also hands waiting call tasks to agents who have room again, and routes
and hands out waiting tickets (outreach.services.routing.tickets_assign_waiting).
"""

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from callcenter.choices import Role
from callcenter.models import AuditLog
from care.choices import Escalation, StepChannel
from outreach.choices import OPEN_TASK_STATUSES
from outreach.models import OutreachTask, Queue
from outreach.services.capacity import SUPERVISOR_QUEUE_SLUGS, capacity_load
from outreach.services.routing import tickets_assign_waiting
from outreach.services.tasks import outreach_tasks_assign_waiting, outreach_tasks_move

# Breached tasks escalated per sweep (the rest wait for the next minute).
ESCALATION_BATCH = 500


def sla_sweep(*, now: dt.datetime | None = None) -> dict[str, int]:
    """One sweep; returns {"breached", "reassigned", "notified", "assigned", "tickets_routed",
    "tickets_assigned"}."""
    now = now or timezone.now()
    breached = OutreachTask.objects.filter(
        status__in=OPEN_TASK_STATUSES, breached_at__isnull=True, deadline_at__lt=now
    ).update(breached_at=now, updated_at=now)
    reassigned, notified = _escalate(now=now)
    assigned = outreach_tasks_assign_waiting(now=now)
    tickets = tickets_assign_waiting(now=now)
    return {
        "tickets_routed": tickets["routed"],
        "tickets_assigned": tickets["assigned"],
        "breached": breached,
        "reassigned": reassigned,
        "notified": notified,
        "assigned": assigned,
    }


def _supervisors() -> list[tuple[int, str]]:
    return list(
        get_user_model()
        .objects.filter(groups__name=Role.SUPERVISOR, is_active=True)
        .order_by("pk")
        .values_list("pk", "email")
        .distinct()
    )


@transaction.atomic
def _escalate(*, now: dt.datetime) -> tuple[int, int]:
    rows = list(
        OutreachTask.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(
            channel=StepChannel.CALL,
            status__in=OPEN_TASK_STATUSES,
            breached_at__isnull=False,
            escalated_at__isnull=True,
        )
        .order_by("deadline_at", "id")
        .values(
            "pk",
            "assignee_id",
            "queue_id",
            "queue__slug",
            "customer__name",
            "deadline_at",
            "step__escalation",
        )[:ESCALATION_BATCH]
    )
    if not rows:
        return 0, 0
    supervisors = _supervisors()
    supervisor_ids = {pk for pk, _email in supervisors}
    queue_ids = {row["queue_id"] for row in rows if row["queue_id"]}
    members: dict[int, list[int]] = {}
    for queue_id, user_id in Queue.members.through.objects.filter(
        queue_id__in=queue_ids
    ).values_list("queue_id", "user_id"):
        members.setdefault(queue_id, []).append(user_id)
    capacity = capacity_load(
        agent_ids={user for users in members.values() for user in users},
        days={timezone.localdate(now)},
        now=now,
    )
    to_agent: dict[int, list[int]] = {}
    to_supervisors: list[Mapping[str, Any]] = []
    for row in rows:
        agent = None
        if (
            row["queue__slug"] not in SUPERVISOR_QUEUE_SLUGS
            and row["assignee_id"] not in supervisor_ids
            and row["step__escalation"] != Escalation.NOTIFY
        ):
            candidates = [
                user for user in members.get(row["queue_id"], []) if user != row["assignee_id"]
            ]
            agent = capacity.pick(candidates, capacity.today)
        if agent is None:
            to_supervisors.append(row)
        else:
            capacity.take(agent, capacity.today)
            to_agent.setdefault(agent, []).append(row["pk"])
    users = get_user_model().objects.in_bulk(list(to_agent))
    for agent, ids in to_agent.items():
        outreach_tasks_move(
            task_ids=ids, actor=None, assignee=users[agent], queue=None, reason="sla_breach"
        )
    moved = {pk: agent for agent, ids in to_agent.items() for pk in ids}
    OutreachTask.objects.filter(pk__in=[row["pk"] for row in rows]).update(
        escalated_at=now, updated_at=now
    )
    AuditLog.objects.bulk_create(
        [
            AuditLog(
                action="task.breach",
                object_type="outreach_task",
                object_id=str(row["pk"]),
                data={
                    "deadline_at": row["deadline_at"].isoformat(),
                    "escalation": "reassigned" if row["pk"] in moved else "supervisors_notified",
                    "from_assignee": row["assignee_id"],
                    "to_assignee": moved.get(row["pk"]),
                },
            )
            for row in rows
        ]
    )
    _notify(to_supervisors, [email for _pk, email in supervisors if email])
    return len(moved), len(to_supervisors)


def _notify(rows: list[Mapping[str, Any]], recipients: list[str]) -> None:
    if not rows or not recipients:
        return
    lines = [
        _("#%(id)s %(customer)s, deadline %(deadline)s")
        % {
            "id": row["pk"],
            "customer": row["customer__name"],
            "deadline": timezone.localtime(row["deadline_at"]).strftime("%Y-%m-%d %H:%M"),
        }
        for row in rows
    ]
    send_mail(
        subject=_("%(count)d follow-up calls missed their deadline") % {"count": len(rows)},
        message=_("These call tasks breached their SLA and need a supervisor:")
        + "\n\n"
        + "\n".join(lines),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=recipients,
        fail_silently=False,
    )

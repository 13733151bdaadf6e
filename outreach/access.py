"""Who may see and work which outreach tasks (object-level rules used by selectors and services).

Supervisors and admins see and work every task. An agent sees the tasks assigned to them and
the tasks of the queues they belong to; they may work (claim, complete, reschedule) their own
tasks and the unassigned tasks of their queues, never a task assigned to a colleague.
"""

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _
from rest_framework import status

from callcenter.errors import ApplicationError
from callcenter.roles import MANAGER_ROLES, STAFF_ROLES, has_role
from outreach.models import OutreachTask, Queue

AnyUser = User | AnonymousUser


class TaskAccessDenied(ApplicationError):
    """The caller may not act on this task (mapped to 403 by the API exception handler)."""

    status_code = status.HTTP_403_FORBIDDEN

    def __init__(self, message: str | None = None) -> None:
        super().__init__(str(message or _("You may not work on this task.")))


def is_manager(user: AnyUser) -> bool:
    return has_role(user, MANAGER_ROLES)


def user_queue_ids(user: User) -> QuerySet:
    """The ids of the queues `user` works, as a subquery."""
    return Queue.members.through.objects.filter(user_id=user.pk).values("queue_id")


def visible_tasks(queryset: QuerySet[OutreachTask], user: AnyUser) -> QuerySet[OutreachTask]:
    """Restrict `queryset` to what `user` may see (a subquery, so rows never duplicate)."""
    if is_manager(user):
        return queryset
    if not has_role(user, STAFF_ROLES):
        return queryset.none()
    return queryset.filter(Q(assignee_id=user.pk) | Q(queue_id__in=user_queue_ids(user)))


def task_check_workable(task: OutreachTask, user: AnyUser) -> None:
    """Raise TaskAccessDenied unless `user` may claim, complete or reschedule `task`."""
    if is_manager(user):
        return
    if not has_role(user, STAFF_ROLES):
        raise TaskAccessDenied()
    if task.assignee_id == user.pk:
        return
    if (
        task.assignee_id is None
        and task.queue_id is not None
        and Queue.members.through.objects.filter(user_id=user.pk, queue_id=task.queue_id).exists()
    ):
        return
    raise TaskAccessDenied()

"""My queue: the calls an agent should make, overdue first, with outcome and callback forms.

Rows are worked through htmx: a form posts here and gets its row back (done, or with the
errors next to the fields), with the header's counts out of band so they follow the work. Only
tasks the agent may see are found (`outreach.access`); a colleague's task answers 403.
"""

import datetime as dt
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from callcenter.errors import ApplicationError
from callcenter.http import AuthenticatedHttpRequest
from callcenter.views import role_required
from care.choices import StepChannel
from outreach.access import TaskAccessDenied
from outreach.choices import OPEN_TASK_STATUSES
from outreach.forms import CompleteTaskForm, RescheduleTaskForm
from outreach.models import OutreachTask
from outreach.selectors import (
    MY_QUEUE_LIMIT,
    QUEUE_ORDER_DEADLINE,
    QUEUE_ORDERS,
    TASK_JOINS,
    QueueCounts,
    agent_queue,
    agent_queue_counts,
    task_list,
)
from outreach.services.tasks import outreach_task_complete, outreach_task_reschedule
from outreach.task_states import task_states_attach

UPCOMING_SHOWN = 20
# Bad input in a row's form: the page's script swaps the row in like a success.
INVALID = 422


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def _upcoming(user: Any, now: dt.datetime) -> list[OutreachTask]:
    """The agent's own call tasks that fall due later (callbacks they promised, mostly)."""
    return list(
        OutreachTask.objects.filter(
            channel=StepChannel.CALL,
            status__in=OPEN_TASK_STATUSES,
            assignee_id=user.pk,
        )
        .exclude(due_at__lte=now, next_attempt_at__isnull=True)
        .select_related(*TASK_JOINS)
        .order_by("due_at", "id")[:UPCOMING_SHOWN]
    )


def _default_callback() -> dt.datetime:
    return (timezone.localtime() + dt.timedelta(hours=2)).replace(second=0, microsecond=0)


def _row_context(task: OutreachTask, **forms_: Any) -> dict[str, Any]:
    return {
        "task": task,
        "complete_form": forms_.get("complete_form") or CompleteTaskForm(),
        "reschedule_form": forms_.get("reschedule_form")
        or RescheduleTaskForm(initial={"callback_at": _default_callback()}),
    }


@require_GET
@role_required()
def my_queue_view(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The calls to make now (overdue first, then by deadline; or by expected value with
    ?order=value) and the ones coming later."""
    now = timezone.now()
    order = request.GET.get("order", QUEUE_ORDER_DEADLINE)
    if order not in QUEUE_ORDERS:
        order = QUEUE_ORDER_DEADLINE
    tasks = list(agent_queue(user=request.user, now=now, order=order)[:MY_QUEUE_LIMIT])
    counts: QueueCounts = {
        "due": len(tasks),
        "overdue": sum(1 for task in tasks if task.is_overdue),
    }
    if len(tasks) == MY_QUEUE_LIMIT:
        # More calls wait than the page lists: the header counts them all.
        counts = agent_queue_counts(user=request.user, now=now)
    upcoming = _upcoming(request.user, now)
    task_states_attach(upcoming, now=now)
    context = {
        "order": order,
        "rows": [_row_context(task) for task in tasks],
        "due_count": counts["due"],
        "overdue_count": counts["overdue"],
        "upcoming": upcoming,
        "now": now,
    }
    return render(request, "outreach/my_queue.html", context)


def _task(request: AuthenticatedHttpRequest, pk: int) -> OutreachTask:
    return get_object_or_404(task_list(user=request.user), pk=pk)


def _answer(
    request: AuthenticatedHttpRequest,
    task: OutreachTask,
    *,
    done: str = "",
    status: int = 200,
    **forms_: Any,
) -> HttpResponse:
    if _is_htmx(request):
        counts = agent_queue_counts(user=request.user)
        context = {
            **_row_context(task, **forms_),
            "done": done,
            "due_count": counts["due"],
            "overdue_count": counts["overdue"],
        }
        return render(request, "outreach/partials/queue_row_answer.html", context, status=status)
    if done:
        messages.success(request, done)
    else:
        errors = [str(e) for form in forms_.values() for e in form.errors.values()]
        messages.error(request, " ".join(errors) or _("The task could not be changed."))
    return redirect("my-queue")


@require_POST
@role_required()
def task_complete_view(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Record the call's outcome (logs it) and close the task."""
    task = _task(request, pk)
    form = CompleteTaskForm(request.POST)
    if form.is_valid():
        try:
            task = outreach_task_complete(
                task=task,
                user=request.user,
                outcome=form.cleaned_data["outcome"],
                notes=form.cleaned_data["notes"],
            )
        except TaskAccessDenied as exc:
            raise PermissionDenied(exc.message) from exc
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            return _answer(
                request,
                task,
                done=_("Done: %(outcome)s.") % {"outcome": task.get_outcome_display()},
            )
    return _answer(request, task, status=INVALID, complete_form=form)


@require_POST
@role_required()
def task_reschedule_view(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Close this call and schedule a callback for the same agent."""
    task = _task(request, pk)
    form = RescheduleTaskForm(request.POST)
    if form.is_valid():
        try:
            callback = outreach_task_reschedule(
                task=task,
                user=request.user,
                callback_at=form.cleaned_data["callback_at"],
                outcome=form.cleaned_data["outcome"],
                notes=form.cleaned_data["notes"],
            )
        except TaskAccessDenied as exc:
            raise PermissionDenied(exc.message) from exc
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            task.refresh_from_db()
            when = timezone.localtime(callback.due_at).strftime("%Y-%m-%d %H:%M")
            return _answer(
                request, task, done=_("Callback scheduled for %(when)s.") % {"when": when}
            )
    return _answer(request, task, status=INVALID, reschedule_form=form)

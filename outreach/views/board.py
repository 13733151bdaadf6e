"""The queue board: every queue and agent with open, overdue and breached calls, and the open
call tasks to select and reassign in bulk (supervisors and admins).

Apps above add sections through `board_parts` (the service app: tickets breaching soon and
breached, by assignee), filled in their `AppConfig.ready()`."""

import datetime as dt
from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from callcenter.errors import ApplicationError
from callcenter.extensions import Registry
from callcenter.http import AuthenticatedHttpRequest
from callcenter.numbers import whole_number
from callcenter.page_parts import PagePart
from callcenter.roles import MANAGER_ROLES
from callcenter.views import role_required
from care.choices import StepChannel
from outreach.choices import OPEN_TASK_STATUSES
from outreach.forms import ReassignForm
from outreach.models import OutreachTask
from outreach.selectors import TASK_JOINS, agent_overview, queue_overview
from outreach.services.tasks import outreach_tasks_reassign

PAGE_SIZE = 50
# Sections the apps above add to the board, below the queues and agents: each takes the
# board's moment and returns its template and context, reading a fixed number of queries.
board_parts: Registry[Callable[[dt.datetime], PagePart]] = Registry("queue board parts")
SHOW_CHOICES = ("attention", "overdue", "breached", "unassigned", "all")


def _board_tasks(params: dict[str, str], now: dt.datetime) -> QuerySet[OutreachTask]:
    """Open call tasks filtered by what to show, queue and agent; overdue first."""
    tasks = OutreachTask.objects.filter(channel=StepChannel.CALL, status__in=OPEN_TASK_STATUSES)
    show = params.get("show", "attention")
    if show == "attention":
        tasks = tasks.filter(
            Q(deadline_at__lt=now) | Q(breached_at__isnull=False) | Q(assignee__isnull=True)
        )
    elif show == "overdue":
        tasks = tasks.filter(deadline_at__lt=now)
    elif show == "breached":
        tasks = tasks.filter(breached_at__isnull=False)
    elif show == "unassigned":
        tasks = tasks.filter(assignee__isnull=True)
    queue = params.get("queue", "")
    queue_id = whole_number(queue)
    if queue_id is not None:
        tasks = tasks.filter(queue_id=queue_id)
    elif queue == "none":
        tasks = tasks.filter(queue__isnull=True)
    agent = whole_number(params.get("agent", ""))
    if agent is not None:
        tasks = tasks.filter(assignee_id=agent)
    return tasks.select_related(*TASK_JOINS).order_by("deadline_at", "-priority", "id")


def _board(
    request: AuthenticatedHttpRequest, form: ReassignForm, status: int = 200
) -> HttpResponse:
    now = timezone.now()
    params = {key: request.GET.get(key, "") for key in ("show", "queue", "agent")}
    if params["show"] not in SHOW_CHOICES:
        params["show"] = "attention"
    page = Paginator(_board_tasks(params, now), PAGE_SIZE).get_page(request.GET.get("page"))
    queues = queue_overview(now=now)
    agents = agent_overview(now=now)
    totals = {
        key: sum(row[key] for row in queues)
        for key in ("open", "unassigned", "overdue", "breached")
    }
    # A bound form is bound to this request's POST (the reassign view).
    selected = set(request.POST.getlist("tasks")) if form.is_bound else set()
    context = {
        "queues": queues,
        "agents": agents,
        "totals": totals,
        "page": page,
        "params": params,
        "form": form,
        "selected": selected,
        "now": now,
        "show_choices": [
            ("attention", _("Needs attention")),
            ("overdue", _("Overdue")),
            ("breached", _("SLA breached")),
            ("unassigned", _("Unassigned")),
            ("all", _("All open")),
        ],
        "filter_agents": get_user_model()
        .objects.filter(pk__in=[a["id"] for a in agents])
        .order_by("username")
        .values("id", "username"),
        "back": request.get_full_path(),
        "parts": [part(now) for part in board_parts],
    }
    return render(request, "outreach/queue_board.html", context, status=status)


@require_GET
@role_required(MANAGER_ROLES)
def queue_board_view(request: AuthenticatedHttpRequest) -> HttpResponse:
    """All queues and agents, and the open call tasks that need attention."""
    return _board(request, ReassignForm())


@require_POST
@role_required(MANAGER_ROLES)
def queue_board_reassign_view(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Move the selected tasks to an agent and/or a queue (audited per task)."""
    form = ReassignForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            moved = outreach_tasks_reassign(
                task_ids=data["tasks"],
                by=request.user,
                assignee=data["assignee"],
                queue=data["queue"],
                reason=data["reason"],
            )
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(
                request,
                ngettext("%(count)s task reassigned.", "%(count)s tasks reassigned.", len(moved))
                % {"count": len(moved)},
            )
            back = request.POST.get("back", "")
            if back and url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
                return redirect(back)
            return redirect("queue-board")
    return _board(request, form, status=400)

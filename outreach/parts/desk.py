"""What outreach adds to the agent desk's card (callcenter.selectors.desk and
callcenter.views.desk): the caller's open tasks beside their open tickets, the script of an
open call task, and the form that schedules a callback (posted to outreach.views.desk)."""

import datetime as dt
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from callcenter.selectors.desk import DeskCard, DeskPart, desk_parts
from callcenter.views.desk import DeskForm, desk_forms
from care.choices import StepChannel
from outreach.choices import OPEN_TASK_STATUSES
from outreach.forms import DeskCallbackForm
from outreach.models import OutreachTask
from outreach.task_states import task_states_attach
from outreach.views.desk import CALLBACK_FORM

OPEN_TASKS_SHOWN = 5


def outreach_desk_load(card: DeskCard) -> dict[str, Any]:
    """The customer's open tasks, the nearest deadline first (one query)."""
    assert card.customer is not None
    tasks = list(
        OutreachTask.objects.filter(customer_id=card.customer["id"], status__in=OPEN_TASK_STATUSES)
        .select_related("assignee", "step")
        .order_by("deadline_at", "id")[:OPEN_TASKS_SHOWN]
    )
    task_states_attach(tasks)
    return {"open_tasks": tasks}


def outreach_desk_script(card: DeskCard, context: dict[str, Any]) -> dict[str, str] | None:
    """The call script of an open call task (rendered when the task fell due)."""
    for task in context["open_tasks"]:
        if task.channel == StepChannel.CALL and task.body.strip():
            source = task.step.name if task.step else _("Call task #%(id)s") % {"id": task.pk}
            return {"source": source, "text": task.body}
    return None


def outreach_desk_callback_form(initial: dict[str, Any]) -> DeskCallbackForm:
    """The callback form, proposing an hour from now."""
    in_hour = timezone.localtime() + dt.timedelta(hours=1)
    return DeskCallbackForm(initial={**initial, "callback_at": in_hour.replace(second=0)})


def register() -> None:
    """Fill the desk's registries (called from OutreachConfig.ready())."""
    desk_parts.register(
        "outreach",
        DeskPart(
            load=outreach_desk_load,
            sections={"beside_tickets": "outreach/partials/desk_tasks.html"},
            script=outreach_desk_script,
        ),
        order=10,
    )
    desk_forms.register(
        CALLBACK_FORM,
        DeskForm(
            build=outreach_desk_callback_form, template="outreach/partials/desk_callback.html"
        ),
    )

"""Outreach's part of the user pages in the admin area (callcenter.forms_manage): the call
queues an agent works, chosen on the new-user and profile forms, saved with `agent_queues_set`
(which audits the change), and shown as a column of the user list."""

from typing import Any

from django.db.models import Prefetch
from django.forms import Field
from django.utils.translation import gettext_lazy as _

from callcenter.forms_manage import UserFormPart, user_form_parts
from outreach.forms import queue_membership_field
from outreach.models import Queue
from outreach.services.queue_members import agent_queues_set


def _fields() -> dict[str, Field]:
    return {"queues": queue_membership_field()}


def _initial(user: Any) -> dict[str, Any]:
    return {"queues": list(user.call_queues.all())}


def _save(*, user: Any, data: dict[str, Any], changed_by: Any) -> bool:
    return agent_queues_set(
        user=user, queue_ids=[queue.pk for queue in data["queues"]], changed_by=changed_by
    )


def _list_prefetch() -> list[Prefetch]:
    return [Prefetch("call_queues", queryset=Queue.objects.order_by("name"))]


QUEUES = UserFormPart(
    fields=_fields,
    template="outreach/partials/user_queues.html",
    initial=_initial,
    save=_save,
    list_title=_("Call queues"),
    list_cell="outreach/partials/user_queues_cell.html",
    list_prefetch=_list_prefetch,
)


def register() -> None:
    """Add the call queues to the user pages (from OutreachConfig.ready)."""
    user_form_parts.register("queues", QUEUES)

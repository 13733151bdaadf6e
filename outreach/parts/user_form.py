"""Outreach's parts of the user pages in the admin area (callcenter.forms_manage): the call
queues an agent works, chosen on the new-user and profile forms, saved with `agent_queues_set`
(which audits the change), and shown as a column of the user list; and the agent's routing
skills and ticket capacity, saved with `agent_routing_set` (audited), shown beside them."""

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.forms import Field
from django.utils.translation import gettext_lazy as _

from callcenter.forms_manage import UserFormPart, user_form_parts
from outreach.forms import queue_membership_field, skills_field, ticket_capacity_field
from outreach.models import Queue
from outreach.services.queue_members import agent_queues_set
from outreach.services.routing import agent_routing_set


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


def _routing_fields() -> dict[str, Field]:
    return {"skills": skills_field(), "ticket_capacity": ticket_capacity_field()}


def _routing_initial(user: Any) -> dict[str, Any]:
    profile = getattr(user, "agent_profile", None)
    return {
        "skills": list(profile.skills) if profile else [],
        "ticket_capacity": profile.ticket_capacity if profile else None,
    }


def _routing_save(*, user: Any, data: dict[str, Any], changed_by: Any) -> bool:
    try:
        return agent_routing_set(
            user=user,
            skills=data["skills"],
            ticket_capacity=data["ticket_capacity"],
            changed_by=changed_by,
        )
    except ValidationError as error:
        if hasattr(error, "error_dict"):
            raise
        raise ValidationError({"skills": error.messages}) from error


ROUTING = UserFormPart(
    fields=_routing_fields,
    template="outreach/partials/user_routing.html",
    initial=_routing_initial,
    save=_routing_save,
    list_title=_("Skills"),
    list_cell="outreach/partials/user_routing_cell.html",
    list_prefetch=list,
)


def register() -> None:
    """Add the call queues, skills and ticket capacity to the user pages (from
    OutreachConfig.ready)."""
    user_form_parts.register("queues", QUEUES)
    user_form_parts.register("routing", ROUTING)

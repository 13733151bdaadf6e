"""What the service app adds to the agent desk's card (callcenter.selectors.desk): the caller's
open tickets with their SLA state and time left, beside the open tickets."""

from typing import Any

from django.utils import timezone

from callcenter.selectors.desk import DeskCard, DeskPart, desk_parts
from service.selectors.ticket_parts import customer_open_tickets


def service_desk_load(card: DeskCard) -> dict[str, Any]:
    """The caller's open tickets with their SLA (one query)."""
    assert card.customer is not None
    return {
        "sla_tickets": customer_open_tickets(customer_id=card.customer["id"], now=timezone.now())
    }


def register() -> None:
    """Fill the desk's registry (called from ServiceConfig.ready())."""
    desk_parts.register(
        "service_sla",
        DeskPart(
            load=service_desk_load,
            sections={"beside_tickets": "service/partials/desk_ticket_sla.html"},
        ),
        order=5,
    )

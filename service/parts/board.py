"""What the service app adds to the queue board (outreach.views.board): tickets breached and
breaching soon, counted by assignee, and the most urgent of them."""

import datetime as dt

from callcenter.page_parts import PagePart
from outreach.views.board import board_parts
from service.selectors.ticket_parts import board_ticket_attention


def service_board_tickets(now: dt.datetime) -> PagePart:
    """Tickets needing attention (two queries)."""
    return PagePart(
        template="service/partials/board_tickets.html", context=board_ticket_attention(now=now)
    )


def register() -> None:
    """Fill the queue board's registry (called from ServiceConfig.ready())."""
    board_parts.register("service_tickets", service_board_tickets)

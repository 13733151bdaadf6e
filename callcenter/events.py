"""Domain events that can trigger care, announced by the services that cause them.

`callcenter` depends on no other app, so it announces events through the `domain_events`
signal; the care app connects the receiver that writes them to its outbox in the same
transaction. Services call `emit_events` explicitly (never from `save()` or model signals).
"""

from dataclasses import dataclass, field
from typing import Any

from django.dispatch import Signal

TICKET_OPENED = "ticket_opened"
TICKET_RESOLVED = "ticket_resolved"
FIRST_ORDER = "first_order"
ORDER_PLACED = "order_placed"
ORDER_REFUNDED = "order_refunded"
SURVEY_SUBMITTED = "survey_submitted"
INTERACTION_LOGGED = "interaction_logged"
CONSENT_CHANGED = "consent_changed"
CUSTOMER_CREATED = "customer_created"

# Sent with `events=[DomainEvent, ...]` inside the writing transaction.
domain_events = Signal()


@dataclass(frozen=True)
class DomainEvent:
    """Something that happened to a customer; `payload` holds plain JSON values only."""

    type: str
    customer_id: int
    payload: dict[str, Any] = field(default_factory=dict)
    occurred_at: str | None = None


def emit_events(events: list[DomainEvent]) -> None:
    """Announce events; a receiver stores them (the care outbox) in the current transaction."""
    if events:
        domain_events.send(sender=DomainEvent, events=events)

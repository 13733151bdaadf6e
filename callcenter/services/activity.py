"""Recording what happens with a customer: orders, interactions, tickets and surveys.

Each write that can trigger care announces its domain event in the same transaction.
"""

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from callcenter.choices import (
    OPEN_TICKET_STATUSES,
    CustomerStatus,
    Direction,
    InteractionChannel,
    OrderStatus,
    SurveyKind,
    TicketKind,
    TicketPriority,
    TicketStatus,
)
from callcenter.errors import ApplicationError
from callcenter.events import (
    FIRST_ORDER,
    INTERACTION_LOGGED,
    ORDER_PLACED,
    ORDER_REFUNDED,
    SURVEY_SUBMITTED,
    TICKET_OPENED,
    TICKET_RESOLVED,
    DomainEvent,
    emit_events,
)
from callcenter.models import Customer, Interaction, Order, SurveyResponse, Ticket
from callcenter.sentiment import sentiment_score
from callcenter.services.external_ids import external_id_unique
from callcenter.services.interaction_listeners import interaction_logged_announce
from callcenter.services.ticket_changes import TicketChangeKind
from callcenter.services.tickets import (
    ticket_history_record,
    ticket_require_workable,
    ticket_text_clean,
)

SURVEY_RANGES = {SurveyKind.NPS: (0, 10), SurveyKind.CSAT: (1, 5)}
# The longest contact a log takes: a day.
MAX_DURATION_SECONDS = 24 * 60 * 60


def _require_active(customer: Customer) -> None:
    if customer.status != CustomerStatus.ACTIVE:
        raise ApplicationError(
            _("Customer %(id)s was merged into %(target)s; record it there.")
            % {"id": customer.pk, "target": customer.merged_into_id}
        )


def _require_choice(value: str, choices: type[models.TextChoices], label: str) -> None:
    if value not in choices.values:
        raise ApplicationError(_("Unknown %(label)s: %(value)s") % {"label": label, "value": value})


@transaction.atomic
def order_record(
    *,
    customer: Customer,
    external_id: str,
    placed_at: datetime,
    amount: Decimal,
    currency: str = "CNY",
    category: str = "",
    channel: str = "",
    status: str = OrderStatus.PAID,
    product: str = "",
) -> Order:
    """Create or update an order by external id; announces first order, order and refund."""
    _require_active(customer)
    _require_choice(status, OrderStatus, _("order status"))
    if amount < 0:
        raise ApplicationError(_("The amount must not be negative."))
    if not external_id:
        raise ApplicationError(_("An order needs an external id."))
    previous = Order.objects.filter(external_id=external_id).only("status").first()
    had_paid_order = (
        Order.objects.filter(customer=customer, status=OrderStatus.PAID)
        .exclude(external_id=external_id)
        .exists()
    )
    order, created = Order.objects.update_or_create(
        external_id=external_id,
        defaults={
            "customer": customer,
            "placed_at": placed_at,
            "amount": amount,
            "currency": currency.upper(),
            "category": category,
            "product": product,
            "channel": channel,
            "status": status,
        },
    )
    payload = {"order_id": order.pk, "amount": str(amount), "category": category}
    events = []
    if created and status == OrderStatus.PAID:
        events.append(DomainEvent(type=ORDER_PLACED, customer_id=customer.pk, payload=payload))
        if not had_paid_order:
            events.append(DomainEvent(type=FIRST_ORDER, customer_id=customer.pk, payload=payload))
    if status == OrderStatus.REFUNDED and (previous is None or previous.status != status):
        events.append(DomainEvent(type=ORDER_REFUNDED, customer_id=customer.pk, payload=payload))
    emit_events(events)
    return order


@transaction.atomic
def interaction_log(
    *,
    customer: Customer,
    channel: str,
    occurred_at: datetime | None = None,
    direction: str = Direction.INBOUND,
    duration_seconds: int = 0,
    agent: User | None = None,
    reason: str = "",
    notes: str = "",
    outcome: str = "",
    external_id: str | None = None,
) -> Interaction:
    """Log a contact; the sentiment is computed from the notes (Chinese or English)."""
    _require_active(customer)
    _require_choice(channel, InteractionChannel, _("channel"))
    _require_choice(direction, Direction, _("direction"))
    if duration_seconds < 0:
        raise ApplicationError(_("The duration must not be negative."))
    if duration_seconds > MAX_DURATION_SECONDS:
        raise ApplicationError(
            _("The duration must be at most %(max)d seconds.") % {"max": MAX_DURATION_SECONDS},
            extra={"field": "duration_seconds"},
        )
    with external_id_unique(model=Interaction, external_id=external_id):
        interaction = Interaction.objects.create(
            customer=customer,
            external_id=external_id or None,
            channel=channel,
            direction=direction,
            occurred_at=occurred_at or timezone.now(),
            duration_seconds=duration_seconds,
            agent=agent if agent is not None and agent.is_authenticated else None,
            reason=reason,
            notes=notes,
            outcome=outcome,
            sentiment=sentiment_score(notes),
        )
    emit_events(
        [
            DomainEvent(
                type=INTERACTION_LOGGED,
                customer_id=customer.pk,
                payload={
                    "interaction_id": interaction.pk,
                    "channel": channel,
                    "sentiment": interaction.sentiment,
                    "reason": reason[:100],
                },
            )
        ]
    )
    interaction_logged_announce(interaction)
    return interaction


@transaction.atomic
def ticket_open(
    *,
    customer: Customer,
    kind: str,
    subject: str,
    description: str = "",
    priority: str = TicketPriority.NORMAL,
    opened_at: datetime | None = None,
    assignee: User | None = None,
    external_id: str | None = None,
    channel: str = "",
    by: User | None = None,
) -> Ticket:
    """Open an inquiry, complaint or suggestion (`by`: who opened it, for its history)."""
    _require_active(customer)
    _require_choice(kind, TicketKind, _("ticket kind"))
    _require_choice(priority, TicketPriority, _("priority"))
    if channel:
        _require_choice(channel, InteractionChannel, _("channel"))
    if not subject.strip():
        raise ApplicationError(_("A ticket needs a subject."))
    with external_id_unique(model=Ticket, external_id=external_id):
        ticket = Ticket.objects.create(
            customer=customer,
            external_id=external_id or None,
            kind=kind,
            subject=subject.strip(),
            description=description,
            priority=priority,
            opened_at=opened_at or timezone.now(),
            assignee=assignee,
            channel=channel,
        )
    ticket_history_record(
        ticket=ticket, kind=TicketChangeKind.OPENED, at=ticket.opened_at, by=by, channel=channel
    )
    emit_events(
        [
            DomainEvent(
                type=TICKET_OPENED,
                customer_id=customer.pk,
                payload={"ticket_id": ticket.pk, "kind": kind, "priority": priority},
            )
        ]
    )
    return ticket


@transaction.atomic
def ticket_resolve(
    *,
    ticket: Ticket,
    resolved_at: datetime | None = None,
    by: User | None = None,
    text: str = "",
) -> Ticket:
    """Mark a ticket resolved (once; resolving again changes nothing). `by`, when given, must
    be allowed to work the ticket (`callcenter.services.tickets.ticket_workable`); `text` is
    the resolution note kept in its history."""
    ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
    ticket_require_workable(by, ticket)
    if ticket.status not in OPEN_TICKET_STATUSES:
        return ticket
    text = ticket_text_clean(text, required=False, what="")
    ticket.status = TicketStatus.RESOLVED
    ticket.resolved_at = max(resolved_at or timezone.now(), ticket.opened_at)
    ticket.save(update_fields=["status", "resolved_at", "updated_at"])
    ticket_history_record(
        ticket=ticket, kind=TicketChangeKind.RESOLVED, at=ticket.resolved_at, by=by, text=text
    )
    emit_events(
        [
            DomainEvent(
                type=TICKET_RESOLVED,
                customer_id=ticket.customer_id,
                payload={"ticket_id": ticket.pk, "kind": ticket.kind},
            )
        ]
    )
    return ticket


@transaction.atomic
def survey_record(
    *,
    customer: Customer,
    kind: str,
    score: int,
    comment: str = "",
    responded_at: datetime | None = None,
    ticket: Ticket | None = None,
    interaction: Interaction | None = None,
    agent: User | None = None,
    external_id: str | None = None,
) -> SurveyResponse:
    """Record an NPS or CSAT answer, checking the score's range. `agent` is who the answer is
    about (the ticket's assignee or the call's agent when the survey was asked)."""
    _require_active(customer)
    _require_choice(kind, SurveyKind, _("survey kind"))
    if ticket is not None and ticket.customer_id != customer.pk:
        raise ApplicationError(_("The ticket belongs to another customer."))
    if interaction is not None and interaction.customer_id != customer.pk:
        raise ApplicationError(_("The interaction belongs to another customer."))
    low, high = SURVEY_RANGES[SurveyKind(kind)]
    if not low <= score <= high:
        raise ApplicationError(
            _("A %(kind)s score must be between %(low)s and %(high)s.")
            % {"kind": kind.upper(), "low": low, "high": high}
        )
    with external_id_unique(model=SurveyResponse, external_id=external_id):
        response = SurveyResponse.objects.create(
            customer=customer,
            external_id=external_id or None,
            kind=kind,
            score=score,
            comment=comment,
            responded_at=responded_at or timezone.now(),
            ticket=ticket,
            interaction=interaction,
            agent=agent,
        )
    payload: dict[str, Any] = {"survey_id": response.pk, "kind": kind, "score": score}
    if ticket is not None:
        payload["ticket_id"] = ticket.pk
    emit_events([DomainEvent(type=SURVEY_SUBMITTED, customer_id=customer.pk, payload=payload)])
    return response

"""A customer's written reply (SMS, WeChat, WeCom), wherever it came in: announced to care as
"customer_replied", and recorded on the customer's open ticket, so a ticket waiting on the
customer goes back to work and its SLA clock resumes (service.services.sla)."""

import datetime as dt

from django.db import transaction
from django.db.models import Case, IntegerField, Value, When

from callcenter.choices import OPEN_TICKET_STATUSES, InteractionChannel, TicketStatus
from callcenter.events import DomainEvent, emit_events
from callcenter.models import Customer, Ticket
from callcenter.services.tickets import ticket_customer_reply
from care.choices import EventType, StepChannel
from outreach.models import InboundMessage

# What of a reply goes into the event and the ticket's history.
REPLY_TEXT_MAX = 500
# The channel a ticket's history records: a WeCom external contact writes from WeChat.
_TICKET_CHANNELS: dict[str, str] = {
    StepChannel.SMS: InteractionChannel.SMS,
    StepChannel.WECHAT: InteractionChannel.WECHAT,
    StepChannel.WECOM: InteractionChannel.WECHAT,
}


def reply_ticket(customer: Customer) -> Ticket | None:
    """The open ticket a reply answers: one waiting on the customer first, else the open one
    changed last (None without an open ticket)."""
    waiting_first = Case(
        When(status=TicketStatus.WAITING, then=Value(0)),
        default=Value(1),
        output_field=IntegerField(),
    )
    return (
        Ticket.objects.filter(customer=customer, status__in=OPEN_TICKET_STATUSES)
        .order_by(waiting_first, "-updated_at", "-pk")
        .first()
    )


@transaction.atomic
def customer_reply_announce(
    *, customer: Customer, message: InboundMessage, channel: str, now: dt.datetime
) -> Ticket | None:
    """Announce the reply to care and record it on the ticket it answers; returns that ticket."""
    text = message.body[:REPLY_TEXT_MAX]
    emit_events(
        [
            DomainEvent(
                type=EventType.CUSTOMER_REPLIED,
                customer_id=customer.pk,
                payload={"inbound_message_id": message.pk, "channel": channel, "text": text},
                occurred_at=now.isoformat(),
            )
        ]
    )
    ticket = reply_ticket(customer)
    if ticket is None or not text.strip():
        return None
    return ticket_customer_reply(
        ticket=ticket, by=None, text=text, channel=_TICKET_CHANNELS.get(channel, "")
    )

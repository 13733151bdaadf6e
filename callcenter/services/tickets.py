"""Working a ticket: responding to the customer, the customer writing back, waiting on the
customer and back, assignment, resolution and reopening, kind and priority.

Each service locks the ticket, checks the transition and who may make it, writes one history
row (`TicketUpdate`) and announces the `TicketChange` to the listeners (the SLA clock, routing)
in the same transaction, so a refusal changes nothing and a listener's writes commit with the
change. Only opening and resolving raise care's domain events (`callcenter.services.activity`);
the other changes are not triggers care knows.

Who may work a ticket (`ticket_workable`): supervisors and admins any; an agent the tickets
assigned to them and unassigned ones. Everyone may read every ticket. The pages and the API
both go through these services, so the rule holds for both.

Not done here: an inbound SMS reply from a customer with an open ticket is not yet recorded as
`ticket_customer_reply` (the inbound-SMS webhook records it as a care event only).
"""

import datetime as dt

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from callcenter.choices import (
    OPEN_TICKET_STATUSES,
    InteractionChannel,
    TicketChangeKind,
    TicketKind,
    TicketPriority,
    TicketStatus,
)
from callcenter.errors import ApplicationError, ApplicationForbidden
from callcenter.limits import FREE_TEXT_MAX_LENGTH
from callcenter.models import Ticket, TicketUpdate
from callcenter.roles import MANAGER_ROLES, STAFF_ROLES, has_role
from callcenter.services.ticket_changes import TicketChange, ticket_change_announce


def ticket_workable(user: User, ticket: Ticket) -> bool:
    """Whether `user` may work `ticket`: a supervisor or admin any, an agent the tickets
    assigned to them and unassigned ones."""
    if has_role(user, MANAGER_ROLES):
        return True
    return has_role(user, STAFF_ROLES) and ticket.assignee_id in (None, user.pk)


def ticket_require_workable(user: User | None, ticket: Ticket) -> None:
    if user is not None and not ticket_workable(user, ticket):
        raise ApplicationForbidden(
            _("Ticket #%(id)s is assigned to someone else; only they or a supervisor may work it.")
            % {"id": ticket.pk}
        )


def _require_open(ticket: Ticket) -> None:
    if ticket.status not in OPEN_TICKET_STATUSES:
        raise ApplicationError(
            _("Ticket #%(id)s is %(status)s; reopen it first.")
            % {"id": ticket.pk, "status": ticket.get_status_display().lower()}
        )


def ticket_text_clean(text: str, *, required: bool, what: str) -> str:
    cleaned = text.strip()
    if required and not cleaned:
        raise ApplicationError(_("Write %(what)s.") % {"what": what})
    if len(cleaned) > FREE_TEXT_MAX_LENGTH:
        raise ApplicationError(
            _("The text is too long (at most %(max)s characters).") % {"max": FREE_TEXT_MAX_LENGTH}
        )
    return cleaned


def _clean_channel(channel: str) -> str:
    if channel and channel not in InteractionChannel.values:
        raise ApplicationError(_("Unknown channel: %(value)s.") % {"value": channel})
    return channel


def _locked(ticket: Ticket) -> Ticket:
    return (
        Ticket.objects.select_for_update(of=("self",)).select_related("assignee").get(pk=ticket.pk)
    )


def ticket_history_record(
    *,
    ticket: Ticket,
    kind: TicketChangeKind,
    at: dt.datetime,
    by: User | None,
    text: str = "",
    channel: str = "",
    assignee: User | None = None,
) -> TicketUpdate:
    """Write the history row of a change and announce it (call inside the change's
    transaction, after saving the ticket)."""
    update = TicketUpdate.objects.create(
        ticket=ticket, kind=kind, at=at, by=by, text=text, channel=channel, assignee=assignee
    )
    ticket_change_announce(TicketChange(ticket=ticket, kind=kind, at=at, by=by))
    return update


@transaction.atomic
def ticket_respond(*, ticket: Ticket, by: User, text: str, channel: str = "") -> Ticket:
    """Record a response to the customer (what was said, optionally by which channel). The
    first response sets `first_responded_at`; an open ticket moves to in progress, a waiting
    one keeps waiting."""
    ticket = _locked(ticket)
    ticket_require_workable(by, ticket)
    _require_open(ticket)
    text = ticket_text_clean(text, required=True, what=_("what you told the customer"))
    channel = _clean_channel(channel)
    now = timezone.now()
    fields = ["updated_at"]
    if ticket.first_responded_at is None:
        ticket.first_responded_at = now
        fields.append("first_responded_at")
    if ticket.status == TicketStatus.OPEN:
        ticket.status = TicketStatus.IN_PROGRESS
        fields.append("status")
    ticket.save(update_fields=fields)
    ticket_history_record(
        ticket=ticket,
        kind=TicketChangeKind.RESPONDED,
        at=now,
        by=by,
        text=text,
        channel=channel,
    )
    return ticket


@transaction.atomic
def ticket_customer_reply(
    *, ticket: Ticket, by: User | None, text: str, channel: str = ""
) -> Ticket:
    """Record that the customer wrote back (`by`: who logged it; None for a system). A ticket
    waiting on the customer goes back to in progress (listeners see the saved status)."""
    ticket = _locked(ticket)
    ticket_require_workable(by, ticket)
    _require_open(ticket)
    text = ticket_text_clean(text, required=True, what=_("what the customer said"))
    channel = _clean_channel(channel)
    now = timezone.now()
    if ticket.status == TicketStatus.WAITING:
        ticket.status = TicketStatus.IN_PROGRESS
    ticket.save(update_fields=["status", "updated_at"])
    ticket_history_record(
        ticket=ticket,
        kind=TicketChangeKind.CUSTOMER_REPLIED,
        at=now,
        by=by,
        text=text,
        channel=channel,
    )
    return ticket


@transaction.atomic
def ticket_wait(*, ticket: Ticket, by: User, text: str = "") -> Ticket:
    """Wait on the customer (the SLA clock pauses): from open or in progress."""
    ticket = _locked(ticket)
    ticket_require_workable(by, ticket)
    _require_open(ticket)
    if ticket.status == TicketStatus.WAITING:
        raise ApplicationError(
            _("Ticket #%(id)s is already waiting on the customer.") % {"id": ticket.pk}
        )
    text = ticket_text_clean(text, required=False, what="")
    now = timezone.now()
    ticket.status = TicketStatus.WAITING
    ticket.save(update_fields=["status", "updated_at"])
    ticket_history_record(ticket=ticket, kind=TicketChangeKind.WAITING, at=now, by=by, text=text)
    return ticket


@transaction.atomic
def ticket_resume(*, ticket: Ticket, by: User, text: str = "") -> Ticket:
    """Stop waiting on the customer: back to in progress."""
    ticket = _locked(ticket)
    ticket_require_workable(by, ticket)
    if ticket.status != TicketStatus.WAITING:
        raise ApplicationError(
            _("Ticket #%(id)s is not waiting on the customer.") % {"id": ticket.pk}
        )
    text = ticket_text_clean(text, required=False, what="")
    now = timezone.now()
    ticket.status = TicketStatus.IN_PROGRESS
    ticket.save(update_fields=["status", "updated_at"])
    ticket_history_record(ticket=ticket, kind=TicketChangeKind.RESUMED, at=now, by=by, text=text)
    return ticket


@transaction.atomic
def ticket_assign(*, ticket: Ticket, by: User, assignee: User | None, text: str = "") -> Ticket:
    """Give an open ticket to `assignee` (None: unassign). Supervisors and admins assign anyone
    holding a role; an agent may only claim an unassigned ticket for themselves."""
    ticket = _locked(ticket)
    _require_open(ticket)
    if not has_role(by, MANAGER_ROLES):
        if assignee is None or assignee.pk != by.pk or ticket.assignee_id is not None:
            raise ApplicationForbidden(
                _("Agents may only claim unassigned tickets for themselves.")
            )
    if assignee is not None and not (assignee.is_active and has_role(assignee, STAFF_ROLES)):
        raise ApplicationError(
            _("%(name)s cannot take tickets (no call-center role).")
            % {"name": assignee.get_username()}
        )
    if (assignee.pk if assignee else None) == ticket.assignee_id:
        raise ApplicationError(_("Ticket #%(id)s is already assigned so.") % {"id": ticket.pk})
    text = ticket_text_clean(text, required=False, what="")
    now = timezone.now()
    ticket.assignee = assignee
    ticket.save(update_fields=["assignee", "updated_at"])
    ticket_history_record(
        ticket=ticket,
        kind=TicketChangeKind.ASSIGNED,
        at=now,
        by=by,
        text=text,
        assignee=assignee,
    )
    return ticket


@transaction.atomic
def ticket_reopen(*, ticket: Ticket, by: User, text: str = "") -> Ticket:
    """Reopen a resolved ticket (a closed one stays closed): in progress when it was responded
    to, else open. Raises no care event (care knows only opening and resolving)."""
    ticket = _locked(ticket)
    ticket_require_workable(by, ticket)
    if ticket.status != TicketStatus.RESOLVED:
        raise ApplicationError(
            _("Only a resolved ticket can be reopened; ticket #%(id)s is %(status)s.")
            % {"id": ticket.pk, "status": ticket.get_status_display().lower()}
        )
    text = ticket_text_clean(text, required=False, what="")
    now = timezone.now()
    ticket.status = TicketStatus.IN_PROGRESS if ticket.first_responded_at else TicketStatus.OPEN
    ticket.resolved_at = None
    ticket.save(update_fields=["status", "resolved_at", "updated_at"])
    ticket_history_record(ticket=ticket, kind=TicketChangeKind.REOPENED, at=now, by=by, text=text)
    return ticket


@transaction.atomic
def ticket_change(
    *,
    ticket: Ticket,
    by: User,
    kind: str | None = None,
    priority: str | None = None,
    channel: str | None = None,
) -> Ticket:
    """Change an open ticket's kind, priority or channel; the history says from what to what."""
    ticket = _locked(ticket)
    ticket_require_workable(by, ticket)
    _require_open(ticket)
    wanted = {"kind": kind, "priority": priority, "channel": channel}
    allowed = {
        "kind": TicketKind.values,
        "priority": TicketPriority.values,
        "channel": ["", *InteractionChannel.values],
    }
    changes: list[str] = []
    for field, value in wanted.items():
        if value is None or value == getattr(ticket, field):
            continue
        if value not in allowed[field]:
            raise ApplicationError(
                _("Unknown %(field)s: %(value)s.") % {"field": field, "value": value}
            )
        changes.append(f"{field}: {getattr(ticket, field) or '-'} → {value or '-'}")
        setattr(ticket, field, value)
    if not changes:
        raise ApplicationError(_("Nothing to change."))
    now = timezone.now()
    ticket.save(update_fields=[*(f for f, v in wanted.items() if v is not None), "updated_at"])
    ticket_history_record(
        ticket=ticket, kind=TicketChangeKind.UPDATED, at=now, by=by, text="\n".join(changes)
    )
    return ticket

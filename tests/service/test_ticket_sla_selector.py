"""The shared SLA state: every state, time left, and the order by the nearest due."""

import datetime as dt

import pytest
from django.utils import timezone

from callcenter.choices import TicketStatus
from callcenter.models import Ticket
from service.selectors.ticket_sla import sla_targets, ticket_sla_annotate, ticket_sla_order
from tests.callcenter.factories import TicketFactory
from tests.service.factories import sla_for

pytestmark = pytest.mark.django_db

HOUR = dt.timedelta(hours=1)


def _states(now: dt.datetime) -> dict[int, tuple[str, int | None]]:
    rows = ticket_sla_annotate(Ticket.objects.all(), now=now).values_list(
        "pk", "sla_state", "sla_seconds_left"
    )
    return {pk: (state, left) for pk, state, left in rows}


def test_each_state_and_time_left() -> None:
    now = timezone.now()
    no_sla = TicketFactory()
    ok = TicketFactory()
    sla_for(ok, first_response_due_at=now + HOUR)
    warned = TicketFactory()
    sla_for(warned, first_response_due_at=now + HOUR, warned_at=now)
    past_due = TicketFactory()
    sla_for(past_due, first_response_due_at=now - HOUR)
    flagged = TicketFactory(status=TicketStatus.IN_PROGRESS)
    sla_for(flagged, first_response_at=now, first_response_breached_at=now - HOUR)
    paused = TicketFactory(status=TicketStatus.WAITING)
    sla_for(paused, first_response_due_at=now + 2 * HOUR, paused_at=now - HOUR)
    met = TicketFactory(status=TicketStatus.RESOLVED, resolved_at=now)
    sla_for(met, first_response_at=now - HOUR, resolved_at=now)
    late = TicketFactory(status=TicketStatus.RESOLVED, resolved_at=now)
    sla_for(late, resolution_due_at=now - HOUR, first_response_at=now - HOUR, resolved_at=now)

    states = _states(now)

    assert states[no_sla.pk] == ("none", None)
    assert states[ok.pk] == ("ok", 3600)
    assert states[warned.pk] == ("warning", 3600)
    assert states[past_due.pk] == ("breached", -3600)
    assert states[flagged.pk][0] == "breached"
    # Paused: the time it had left when the pause began.
    assert states[paused.pk] == ("paused", 3 * 3600)
    assert states[met.pk] == ("met", None)
    assert states[late.pk] == ("breached", None)


def test_the_nearest_open_target_counts_and_order_puts_it_first() -> None:
    now = timezone.now()
    responded = TicketFactory(status=TicketStatus.IN_PROGRESS)
    # First response met: the resolution (in 5 hours) is what is left.
    sla_for(
        responded,
        first_response_due_at=now + HOUR,
        first_response_at=now,
        resolution_due_at=now + 5 * HOUR,
    )
    urgent = TicketFactory()
    sla_for(urgent, first_response_due_at=now + dt.timedelta(minutes=10))
    none = TicketFactory()

    ordered = list(
        ticket_sla_order(ticket_sla_annotate(Ticket.objects.all(), now=now)).values_list(
            "pk", "sla_seconds_left"
        )
    )

    assert ordered == [(urgent.pk, 600), (responded.pk, 5 * 3600), (none.pk, None)]


def test_targets_of_one_ticket_agree_with_the_list() -> None:
    now = timezone.now()
    ticket = TicketFactory(status=TicketStatus.IN_PROGRESS)
    sla = sla_for(
        ticket,
        first_response_due_at=now - HOUR,
        first_response_at=now - 2 * HOUR,
        resolution_due_at=now + HOUR,
        warned_at=now,
    )

    targets = sla_targets(sla, ticket=ticket, now=now)

    assert [(t["state"], t["seconds_left"]) for t in targets] == [("met", None), ("warning", 3600)]
    assert _states(now)[ticket.pk] == ("warning", 3600)

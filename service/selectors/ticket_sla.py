"""Tickets with their SLA state and time left, computed in SQL, so the ticket list, the API,
the desk card and the queue board say the same thing.

`ticket_sla_annotate(queryset, now=...)` LEFT JOINs each ticket's clock (`TicketSla`, written
by the SLA engine) and adds:

- `sla_due_at`: the nearest due moment of a target still open (first response not yet met,
  next response, resolution not yet met) of an open ticket; NULL when none.
- `sla_seconds_left`: seconds from now (or from the pause, while paused) to `sla_due_at`;
  negative once past.
- `sla_state` (`SlaState`): `none` without a clock; for a closed ticket `breached` when a
  target was breached, else `met`; for an open one `breached` when a target was breached or the
  nearest is past due (before the sweep notices), `paused` while waiting on the customer,
  `met` when no target is left open, `warning` once the sweep warned, else `ok`.

Warnings are the sweep's (`warned_at`): the share of business time used needs the calendar,
which the engine has and SQL here does not.
"""

import datetime as dt
from typing import Any

from django.db.models import (
    Case,
    CharField,
    DateTimeField,
    F,
    FloatField,
    Func,
    IntegerField,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce, Least
from django.utils.translation import gettext as _

from callcenter.choices import OPEN_TICKET_STATUSES
from callcenter.models import Ticket
from service.choices import SlaState
from service.models import TicketSla

_OPEN = Q(status__in=OPEN_TICKET_STATUSES)
_ANY_BREACH = (
    Q(sla__first_response_breached_at__isnull=False)
    | Q(sla__next_response_breached_at__isnull=False)
    | Q(sla__resolution_breached_at__isnull=False)
    # Met late: a breach even before the sweep records it.
    | Q(sla__first_response_at__gt=F("sla__first_response_due_at"))
    | Q(sla__resolved_at__gt=F("sla__resolution_due_at"))
)


class _Epoch(Func):
    """Seconds in an interval."""

    template = "EXTRACT(EPOCH FROM %(expressions)s)"
    output_field = FloatField()


def ticket_sla_annotate(queryset: QuerySet[Ticket], *, now: dt.datetime) -> QuerySet[Ticket]:
    """`queryset` with `sla_due_at`, `sla_seconds_left` and `sla_state` (module docstring)."""
    first_open = Case(
        When(sla__first_response_at__isnull=True, then=F("sla__first_response_due_at")),
        output_field=DateTimeField(),
    )
    resolution_open = Case(
        When(sla__resolved_at__isnull=True, then=F("sla__resolution_due_at")),
        output_field=DateTimeField(),
    )
    due = Least(first_open, F("sla__next_response_due_at"), resolution_open)
    return (
        queryset.annotate(
            sla_due_at=Case(When(_OPEN, then=due), output_field=DateTimeField()),
        )
        .annotate(
            sla_seconds_left=Cast(
                _Epoch(F("sla_due_at") - Coalesce(F("sla__paused_at"), Value(now))),
                IntegerField(),
            )
        )
        .annotate(
            sla_state=Case(
                When(sla__isnull=True, then=Value(SlaState.NONE.value)),
                When(~_OPEN & _ANY_BREACH, then=Value(SlaState.BREACHED.value)),
                When(~_OPEN, then=Value(SlaState.MET.value)),
                When(
                    _ANY_BREACH | Q(sla_seconds_left__lt=0),
                    then=Value(SlaState.BREACHED.value),
                ),
                When(sla__paused_at__isnull=False, then=Value(SlaState.PAUSED.value)),
                When(sla_due_at__isnull=True, then=Value(SlaState.MET.value)),
                When(sla__warned_at__isnull=False, then=Value(SlaState.WARNING.value)),
                default=Value(SlaState.OK.value),
                output_field=CharField(),
            )
        )
    )


def ticket_sla_order(queryset: QuerySet[Ticket]) -> QuerySet[Ticket]:
    """Annotated tickets by the nearest due first (least time left; paused ones by the time
    they had left), tickets without a running target last."""
    return queryset.order_by(F("sla_seconds_left").asc(nulls_last=True), "-opened_at", "-id")


def sla_targets(sla: TicketSla | None, *, ticket: Ticket, now: dt.datetime) -> list[dict[str, Any]]:
    """Each target of one ticket's clock for the ticket page's SLA box: its name, due moment,
    when met, when breached, its state and seconds left (while open), with the same rules as
    `ticket_sla_annotate`."""
    if sla is None:
        return []
    rows = [
        (
            _("First response"),
            sla.first_response_due_at,
            sla.first_response_at,
            sla.first_response_breached_at,
        ),
        (_("Next response"), sla.next_response_due_at, None, sla.next_response_breached_at),
        (_("Resolution"), sla.resolution_due_at, sla.resolved_at, sla.resolution_breached_at),
    ]
    is_open = ticket.status in OPEN_TICKET_STATUSES
    targets = []
    for name, due, met_at, breached_at in rows:
        if due is None:
            continue
        seconds_left = None
        if met_at is not None or not is_open:
            state = SlaState.BREACHED if breached_at or (met_at and met_at > due) else SlaState.MET
        else:
            seconds_left = int((due - (sla.paused_at or now)).total_seconds())
            if breached_at is not None or seconds_left < 0:
                state = SlaState.BREACHED
            elif sla.paused_at is not None:
                state = SlaState.PAUSED
            elif sla.warned_at is not None:
                state = SlaState.WARNING
            else:
                state = SlaState.OK
        targets.append(
            {
                "name": name,
                "due_at": due,
                "met_at": met_at,
                "breached_at": breached_at,
                "state": state,
                "seconds_left": seconds_left,
            }
        )
    return targets

"""Factories of the service app's rows: calendars, SLA policies, and SLA clocks written
directly, as the engine would."""

import datetime as dt
from typing import Any

import factory
from django.utils import timezone

from callcenter.models import Ticket
from service.models import BusinessCalendar, SlaPolicy, TicketSla

WEEKDAYS_9_TO_6 = {str(day): [["09:00", "18:00"]] for day in range(5)}


class BusinessCalendarFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BusinessCalendar

    name = factory.Sequence(lambda n: f"Calendar {n}")
    timezone = "Asia/Shanghai"
    hours = factory.LazyFunction(lambda: dict(WEEKDAYS_9_TO_6))
    follows_public_holidays = True


class SlaPolicyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SlaPolicy

    name = factory.Sequence(lambda n: f"Policy {n}")
    position = factory.Sequence(lambda n: n + 1)
    first_response_minutes = 60
    next_response_minutes = 120
    resolution_minutes = 24 * 60
    warn_at_percent = 75


def sla_for(ticket: Ticket, **fields: Any) -> TicketSla:
    """A clock for `ticket`: first response due in 1 hour and resolution in 24 hours from now
    unless `fields` say otherwise."""
    now = timezone.now()
    values: dict[str, Any] = {
        "first_response_due_at": now + dt.timedelta(hours=1),
        "resolution_due_at": now + dt.timedelta(hours=24),
        **fields,
    }
    return TicketSla.objects.create(ticket=ticket, **values)

"""Factories of the service app's rows: SLA policies, and SLA clocks written directly, as the
engine would."""

import datetime as dt
from typing import Any

import factory
from django.utils import timezone

from callcenter.models import Ticket
from service.models import SlaPolicy, TicketSla


class SlaPolicyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SlaPolicy

    name = factory.Sequence(lambda n: f"Policy {n}")
    first_response_minutes = 60
    resolution_minutes = 24 * 60


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

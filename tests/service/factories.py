"""Factories of the service app: SLA policies and ticket SLA clocks (written directly, as the
SLA engine would)."""

import factory

from service.models import SlaPolicy


class SlaPolicyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SlaPolicy

    name = factory.Sequence(lambda n: f"Policy {n}")
    first_response_minutes = 60
    resolution_minutes = 24 * 60

"""Factories of the service app: calendars and SLA policies."""

import factory

from service.models import BusinessCalendar, SlaPolicy

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

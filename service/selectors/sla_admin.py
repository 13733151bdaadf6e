"""Reads of the SLA admin pages and API: policies and business calendars."""

from django.db.models import Count, QuerySet

from service.models import BusinessCalendar, SlaPolicy


def policy_list() -> QuerySet[SlaPolicy]:
    """SLA policies in match order, with their calendar and segments."""
    return (
        SlaPolicy.objects.select_related("calendar")
        .prefetch_related("segments")
        .order_by("position", "id")
    )


def calendar_list() -> QuerySet[BusinessCalendar]:
    """Business calendars with how many policies count in each and how many own dates."""
    return BusinessCalendar.objects.annotate(
        policy_count=Count("policies", distinct=True), date_count=Count("dates", distinct=True)
    ).order_by("name")

"""FilterSets of the care API (django-filter). Range filters take ISO 8601 date-times; `X_after`
and `X_before` are inclusive."""

import django_filters

from callcenter.filters import UtcDateTimeRangeFilter
from care.choices import EnrollmentStatus, EventSource, EventType
from care.models import Enrollment, Event


class EnrollmentFilter(django_filters.FilterSet):
    rule = django_filters.NumberFilter(field_name="rule_id")
    customer = django_filters.NumberFilter(field_name="customer_id")
    status = django_filters.ChoiceFilter(choices=EnrollmentStatus.choices)
    is_control = django_filters.BooleanFilter()
    enrolled = UtcDateTimeRangeFilter(field_name="enrolled_at")

    class Meta:
        model = Enrollment
        fields: list[str] = []


class EventFilter(django_filters.FilterSet):
    type = django_filters.ChoiceFilter(choices=EventType.choices)
    source = django_filters.ChoiceFilter(choices=EventSource.choices)
    customer = django_filters.NumberFilter(field_name="customer_id")
    processed = django_filters.BooleanFilter(
        field_name="processed_at", lookup_expr="isnull", exclude=True
    )
    occurred = UtcDateTimeRangeFilter(field_name="occurred_at")

    class Meta:
        model = Event
        fields: list[str] = []

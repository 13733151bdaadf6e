"""FilterSets of the outreach API (django-filter).

`due_after` / `due_before` take ISO 8601 date-times (or dates: the start of that day in
TIME_ZONE) and are inclusive.
"""

import django_filters
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from callcenter.filters import UtcDateTimeRangeFilter
from care.choices import StepChannel
from outreach.choices import TaskStatus
from outreach.models import OutreachTask


class TaskFilter(django_filters.FilterSet):
    agent = django_filters.NumberFilter(field_name="assignee_id", help_text=_("Assignee user id."))
    unassigned = django_filters.BooleanFilter(field_name="assignee", lookup_expr="isnull")
    status = django_filters.MultipleChoiceFilter(choices=TaskStatus.choices)
    channel = django_filters.MultipleChoiceFilter(choices=StepChannel.choices)
    due = UtcDateTimeRangeFilter(field_name="due_at")
    breached = django_filters.BooleanFilter(method="filter_breached")
    queue = django_filters.CharFilter(field_name="queue__slug", help_text=_("Queue slug."))
    customer = django_filters.NumberFilter(field_name="customer_id")
    enrollment = django_filters.NumberFilter(field_name="enrollment_id")

    class Meta:
        model = OutreachTask
        fields: list[str] = []

    def filter_breached(
        self, queryset: QuerySet[OutreachTask], name: str, value: bool
    ) -> QuerySet[OutreachTask]:
        return queryset.filter(breached_at__isnull=not value)

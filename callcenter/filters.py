"""FilterSets of the customer-profile API (django-filter).

Range filters take ISO 8601 date-times (`2025-03-01T08:00:00+08:00`) or plain dates; a date
without a time means the start of that day in TIME_ZONE. `X_after` and `X_before` are
inclusive. Values are compared in UTC (PostgreSQL refuses UTC offsets beyond +-15:59 that
Python accepts).
"""

import datetime as dt

import django_filters
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from callcenter.choices import (
    AccountRole,
    CustomerKind,
    CustomerStatus,
    Direction,
    InteractionChannel,
    OrderStatus,
    SurveyKind,
    TicketKind,
    TicketPriority,
    TicketStatus,
)
from callcenter.models import Customer, Interaction, Order, SurveyResponse, Ticket
from callcenter.selectors.customers import customer_search


class UtcDateTimeRangeFilter(django_filters.DateTimeFromToRangeFilter):
    """An inclusive `X_after` / `X_before` date-time range, converted to UTC before it reaches
    the database."""

    def filter(self, qs: QuerySet, value: slice | None) -> QuerySet:
        if value:
            value = slice(_utc(value.start), _utc(value.stop))
        return super().filter(qs, value)


def _utc(moment: dt.datetime | None) -> dt.datetime | None:
    return moment.astimezone(dt.UTC) if moment is not None else None


class CustomerFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(
        method="filter_q",
        label=_("Search"),
        help_text=_("Name, phone in any format, email, external id or WeChat id."),
    )
    kind = django_filters.ChoiceFilter(choices=CustomerKind.choices)
    status = django_filters.ChoiceFilter(choices=CustomerStatus.choices)
    city = django_filters.CharFilter(lookup_expr="iexact")
    advisor = django_filters.NumberFilter(field_name="advisor_id", help_text=_("Advisor user id."))
    external_id = django_filters.CharFilter()
    account = django_filters.NumberFilter(
        field_name="account_id", help_text=_("Business account id: its contacts.")
    )
    account_role = django_filters.ChoiceFilter(choices=AccountRole.choices)
    sms_opt_out = django_filters.BooleanFilter()
    call_opt_out = django_filters.BooleanFilter()
    email_opt_out = django_filters.BooleanFilter()
    do_not_contact = django_filters.BooleanFilter()
    wechat_opt_out = django_filters.BooleanFilter()
    wecom_opt_out = django_filters.BooleanFilter()
    created = UtcDateTimeRangeFilter(field_name="created_at")

    class Meta:
        model = Customer
        fields: list[str] = []

    def filter_q(self, queryset: QuerySet[Customer], name: str, value: str) -> QuerySet[Customer]:
        # `&` keeps one flat query and the joins/prefetches of the list selector.
        return queryset & customer_search(value)


class OrderFilter(django_filters.FilterSet):
    customer = django_filters.NumberFilter(field_name="customer_id")
    status = django_filters.ChoiceFilter(choices=OrderStatus.choices)
    category = django_filters.CharFilter(lookup_expr="iexact")
    placed_at = UtcDateTimeRangeFilter()
    external_id = django_filters.CharFilter()

    class Meta:
        model = Order
        fields: list[str] = []


class InteractionFilter(django_filters.FilterSet):
    customer = django_filters.NumberFilter(field_name="customer_id")
    channel = django_filters.ChoiceFilter(choices=InteractionChannel.choices)
    direction = django_filters.ChoiceFilter(choices=Direction.choices)
    agent = django_filters.NumberFilter(field_name="agent_id")
    occurred_at = UtcDateTimeRangeFilter()

    class Meta:
        model = Interaction
        fields: list[str] = []


class TicketFilter(django_filters.FilterSet):
    customer = django_filters.NumberFilter(field_name="customer_id")
    kind = django_filters.ChoiceFilter(choices=TicketKind.choices)
    status = django_filters.MultipleChoiceFilter(choices=TicketStatus.choices)
    priority = django_filters.ChoiceFilter(choices=TicketPriority.choices)
    assignee = django_filters.NumberFilter(field_name="assignee_id")
    opened_at = UtcDateTimeRangeFilter()

    class Meta:
        model = Ticket
        fields: list[str] = []


class SurveyFilter(django_filters.FilterSet):
    customer = django_filters.NumberFilter(field_name="customer_id")
    kind = django_filters.ChoiceFilter(choices=SurveyKind.choices)
    responded_at = UtcDateTimeRangeFilter()

    class Meta:
        model = SurveyResponse
        fields: list[str] = []

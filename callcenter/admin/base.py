"""What every admin of this app shares: cheap lists on big tables, read-only records, a link to
a customer's page."""

from typing import Any

from django.contrib import admin
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.html import format_html

from callcenter.jsoninput import CHECKED_JSON_FORMFIELDS
from callcenter.models import Customer

# Above this many rows an unfiltered changelist shows the planner's estimate (pg_class) instead
# of running COUNT(*) over the whole table on every page view.
ESTIMATED_COUNT_ABOVE = 100_000


class EstimatedCountPaginator(Paginator):
    """Exact counts for filtered lists; the table's row estimate for a huge unfiltered one."""

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if isinstance(queryset, QuerySet) and not queryset.query.where:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                    [queryset.model._meta.db_table],
                )
                row = cursor.fetchone()
            if row and row[0] > ESTIMATED_COUNT_ABOVE:
                return int(row[0])
        return super().count


class BigTableAdmin(admin.ModelAdmin):
    """The base of every admin here: estimated counts, no full-count query, checked JSON."""

    paginator = EstimatedCountPaginator
    formfield_overrides = CHECKED_JSON_FORMFIELDS
    show_full_result_count = False
    list_per_page = 50


class ReadOnlyAdmin(BigTableAdmin):
    """A record that is written by services only."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def customer_admin_link(customer: Customer | None) -> str:
    """A link to the customer's admin page, for list columns; "-" when there is none."""
    if customer is None:
        return "-"
    url = reverse("admin:callcenter_customer_change", args=[customer.pk])
    return format_html('<a href="{}">#{} {}</a>', url, customer.pk, customer.name)

"""Orders, interactions, tickets and surveys: read-only, written by the services that announce
the events care rules listen to."""

from typing import Any, ClassVar

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy

from callcenter.admin.base import BigTableAdmin, customer_admin_link
from callcenter.models import (
    Interaction,
    Order,
    SurveyResponse,
    Ticket,
)


class ActivityAdmin(BigTableAdmin):
    raw_id_fields: ClassVar[tuple[str, ...]] = ("customer",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=gettext_lazy("customer"), ordering="customer__name")
    def customer_link(self, obj: Any) -> str:
        return customer_admin_link(obj.customer)


@admin.register(Order)
class OrderAdmin(ActivityAdmin):
    list_display = (
        "external_id",
        "customer_link",
        "placed_at",
        "amount",
        "currency",
        "status",
        "category",
        "channel",
    )
    list_filter = ("status", "placed_at")
    search_fields = ("external_id__exact", "customer__external_id__exact")
    list_select_related = ("customer",)


@admin.register(Interaction)
class InteractionAdmin(ActivityAdmin):
    list_display = (
        "occurred_at",
        "customer_link",
        "channel",
        "direction",
        "agent",
        "duration_seconds",
        "sentiment",
        "reason",
    )
    list_filter = ("channel", "direction", "occurred_at")
    search_fields = ("external_id__exact", "customer__external_id__exact")
    list_select_related = ("customer", "agent")
    autocomplete_fields = ("agent",)


@admin.register(Ticket)
class TicketAdmin(ActivityAdmin):
    list_display = (
        "subject",
        "customer_link",
        "kind",
        "status",
        "priority",
        "assignee",
        "opened_at",
        "resolved_at",
    )
    list_filter = ("kind", "status", "priority", "opened_at")
    search_fields = ("external_id__exact", "customer__external_id__exact", "subject")
    list_select_related = ("customer", "assignee")
    autocomplete_fields = ("assignee",)


@admin.register(SurveyResponse)
class SurveyResponseAdmin(ActivityAdmin):
    list_display = ("responded_at", "customer_link", "kind", "score", "ticket")
    list_filter = ("kind", "score", "responded_at")
    search_fields = ("external_id__exact", "customer__external_id__exact")
    list_select_related = ("customer", "ticket")
    raw_id_fields = ("customer", "ticket")

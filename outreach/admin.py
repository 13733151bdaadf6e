"""Admin for queues, outreach tasks and inbound messages (operations support, not daily work:
agents and supervisors work tasks through the queue pages and the API)."""

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from outreach.models import InboundMessage, OutreachTask, Queue
from outreach.services.tasks import outreach_tasks_retry


@admin.register(Queue)
class QueueAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "created_at")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    filter_horizontal = ("members",)


@admin.register(OutreachTask)
class OutreachTaskAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "customer",
        "channel",
        "touch_kind",
        "status",
        "reason",
        "due_at",
        "deadline_at",
        "assignee",
        "queue",
        "attempts",
        "breached_at",
    )
    list_filter = (
        "status",
        "channel",
        "touch_kind",
        "queue",
        "call_result",
        ("breached_at", admin.EmptyFieldListFilter),
    )
    search_fields = ("idempotency_key", "provider_message_id", "customer__name", "to_address")
    date_hierarchy = "due_at"
    raw_id_fields = ("customer", "enrollment", "step", "assignee", "template", "created_by")
    list_select_related = ("customer", "assignee", "queue")
    readonly_fields = (
        "idempotency_key",
        "attempts",
        "last_error",
        "provider_message_id",
        "claimed_at",
        "claimed_by",
        "sent_at",
        "delivered_at",
        "completed_at",
        "breached_at",
        "escalated_at",
        # Reported by the voice platform (POST /api/outreach/call-results/), not edited here.
        "call_result",
        "call_keypress",
        "call_intent",
        "call_duration",
        "call_result_at",
        "created_at",
        "updated_at",
        "fallback_from",
        "fallback_reason",
    )
    actions = ("retry_failed",)

    @admin.action(description=_("Retry the selected failed tasks now"))
    def retry_failed(self, request: HttpRequest, queryset: QuerySet[OutreachTask]) -> None:
        count = outreach_tasks_retry(task_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, _("%(count)d tasks will be sent again.") % {"count": count})


@admin.register(InboundMessage)
class InboundMessageAdmin(admin.ModelAdmin):
    list_display = ("received_at", "channel", "from_number", "customer", "action", "body")
    list_filter = ("action", "channel")
    search_fields = ("from_number", "body", "provider_message_id")
    raw_id_fields = ("customer",)
    list_select_related = ("customer",)
    date_hierarchy = "received_at"

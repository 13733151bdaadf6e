"""Read-only records: consent history, audit log, merges, import runs, the holiday calendar
(changed on the Holidays page, which audits it)."""

from django.contrib import admin
from django.utils.translation import gettext_lazy

from callcenter.admin.base import ReadOnlyAdmin
from callcenter.admin.merges import describe_moved
from callcenter.models import (
    AuditLog,
    CalendarDay,
    ConsentChange,
    CustomerMerge,
    ImportRun,
)


@admin.register(ConsentChange)
class ConsentChangeAdmin(ReadOnlyAdmin):
    list_display = ("changed_at", "customer", "channel", "opted_out", "source", "changed_by")
    list_filter = ("channel", "opted_out", "source", "changed_at")
    search_fields = ("customer__external_id__exact",)
    list_select_related = ("customer", "changed_by")


@admin.register(AuditLog)
class AuditLogAdmin(ReadOnlyAdmin):
    list_display = ("at", "action", "actor", "object_type", "object_id")
    list_filter = ("action", "object_type", "at")
    search_fields = ("=object_id", "=action")
    list_select_related = ("actor",)


@admin.register(CustomerMerge)
class CustomerMergeAdmin(ReadOnlyAdmin):
    list_display = ("merged_at", "survivor", "merged", "merged_by", "moved_summary", "proposal")
    list_filter = ("merged_at",)
    search_fields = ("survivor__external_id__exact", "merged__external_id__exact", "survivor__name")
    list_select_related = ("survivor", "merged", "merged_by", "proposal")

    @admin.display(description=gettext_lazy("moved rows"))
    def moved_summary(self, obj: CustomerMerge) -> str:
        return describe_moved(obj.moved)


@admin.register(ImportRun)
class ImportRunAdmin(ReadOnlyAdmin):
    list_display = (
        "started_at",
        "kind",
        "file_name",
        "status",
        "rows",
        "created",
        "updated",
        "seconds",
        "started_by",
    )
    list_filter = ("kind", "status", "started_at")
    search_fields = ("file_name",)
    list_select_related = ("started_by",)


@admin.register(CalendarDay)
class CalendarDayAdmin(ReadOnlyAdmin):
    list_display = ("day", "kind", "name", "source", "reason", "created_by")
    list_filter = ("kind", "source", "day")
    search_fields = ("name",)
    list_select_related = ("created_by",)

"""Admin of care plans. Rule and template edits are checked like the API's (trigger parameters,
condition trees, texts) and every saved rule change becomes a version with an audit entry;
versions, events and enrollments are read-only records."""

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from callcenter.errors import ApplicationError
from callcenter.jsoninput import CHECKED_JSON_FORMFIELDS
from callcenter.services.audit import audit_log_record
from care.models import (
    CareRule,
    CareRuleVersion,
    CareSettings,
    CareStep,
    Enrollment,
    Event,
    MessageTemplate,
    TemplateVariant,
)
from care.services.rules import care_rule_version_record
from care.services.templates import template_variants_check
from care.services.triggers import trigger_params_validate
from segments.rules import RuleError, rule_validate


def _tree_error(tree: Any) -> str | None:
    if not tree:
        return None
    try:
        rule_validate(tree=tree)
    except RuleError as exc:
        return exc.message
    return None


STEP_ADMIN_FIELDS = (
    "position",
    "name",
    "delay_value",
    "delay_unit",
    "business_hours_only",
    "channel",
    "template",
    "assignee_rule",
    "assignee_target",
    "sla_minutes",
    "touch_kind",
    "conditions",
    "only_if_no_response",
    "fallback_channel",
)


class CareRuleForm(forms.ModelForm):
    class Meta:
        model = CareRule
        fields = (
            "name",
            "slug",
            "description",
            "trigger_type",
            "trigger_params",
            "conditions",
            "priority",
            "cooldown_days",
            "holdout_share",
            "stop_conditions",
            "is_active",
        )

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        try:
            data["trigger_params"] = trigger_params_validate(
                trigger_type=data.get("trigger_type", ""), params=data.get("trigger_params")
            )
        except ApplicationError as exc:
            self.add_error("trigger_params", exc.message)
        error = _tree_error(data.get("conditions"))
        if error:
            self.add_error("conditions", error)
        return data


class CareStepForm(forms.ModelForm):
    class Meta:
        model = CareStep
        fields = STEP_ADMIN_FIELDS

    def clean_conditions(self) -> Any:
        tree = self.cleaned_data.get("conditions")
        error = _tree_error(tree)
        if error:
            raise ValidationError(error)
        return tree or None


class CareStepInline(admin.TabularInline):
    model = CareStep
    formfield_overrides = CHECKED_JSON_FORMFIELDS
    form = CareStepForm
    extra = 0
    ordering = ("position",)
    fields = STEP_ADMIN_FIELDS


@admin.register(CareRule)
class CareRuleAdmin(admin.ModelAdmin):
    form = CareRuleForm
    formfield_overrides = CHECKED_JSON_FORMFIELDS
    inlines = [CareStepInline]
    list_display = (
        "name", "trigger_type", "category", "priority", "is_active", "version", "playbook_key"
    )  # fmt: skip
    list_filter = ("is_active", "category", "trigger_type")
    search_fields = ("name", "slug")
    readonly_fields = ("version", "playbook_key", "created_by", "created_at", "updated_at")

    def save_model(self, request: HttpRequest, obj: CareRule, form: Any, change: bool) -> None:
        assert isinstance(request.user, User)  # the admin site admits signed-in staff only
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        """After the steps are saved too: freeze the new definition as a version."""
        super().save_related(request, form, formsets, change)
        assert isinstance(request.user, User)  # the admin site admits signed-in staff only
        care_rule_version_record(
            rule=form.instance,
            changed_by=request.user,
            action="care_rule.update" if change else "care_rule.create",
            note="admin",
            force=not change,
        )


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records nobody edits by hand."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(CareRuleVersion)
class CareRuleVersionAdmin(ReadOnlyAdmin):
    list_display = ("rule", "version", "changed_by", "changed_at", "note")
    list_filter = ("rule",)
    list_select_related = ("rule", "changed_by")


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "type",
        "customer_id",
        "source",
        "occurred_at",
        "processed_at",
        "attempts",
    )
    list_filter = ("type", "source", ("processed_at", admin.EmptyFieldListFilter))
    search_fields = ("idempotency_key", "customer__external_id")
    raw_id_fields = ("customer",)
    date_hierarchy = "occurred_at"


@admin.register(Enrollment)
class EnrollmentAdmin(ReadOnlyAdmin):
    list_display = (
        "id", "rule", "customer_id", "status", "stop_reason", "is_control", "enrolled_at"
    )  # fmt: skip
    list_filter = ("status", "is_control", "rule")
    list_select_related = ("rule",)
    raw_id_fields = ("customer", "event", "rule_version", "outranked_by")


class VariantFormSet(forms.BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        variants = {
            form.cleaned_data["language"]: {
                "subject": form.cleaned_data.get("subject", ""),
                "body": form.cleaned_data.get("body", ""),
            }
            for form in self.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE")
        }
        channel = self.instance.channel
        try:
            template_variants_check(channel=channel, variants=variants)
        except ApplicationError as exc:
            raise ValidationError(exc.message) from exc


class TemplateVariantInline(admin.StackedInline):
    model = TemplateVariant
    formset = VariantFormSet
    extra = 0
    fields = ("language", "subject", "body")


@admin.register(MessageTemplate)
class MessageTemplateAdmin(admin.ModelAdmin):
    inlines = [TemplateVariantInline]
    list_display = ("name", "slug", "channel", "updated_at")
    list_filter = ("channel",)
    search_fields = ("name", "slug")

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        assert isinstance(request.user, User)  # the admin site admits signed-in staff only
        audit_log_record(
            actor=request.user,
            action="care_template.update" if change else "care_template.create",
            object_type="message_template",
            object_id=form.instance.pk,
            data={"via": "admin"},
        )


@admin.register(CareSettings)
class CareSettingsAdmin(admin.ModelAdmin):
    formfield_overrides = CHECKED_JSON_FORMFIELDS

    def has_add_permission(self, request: HttpRequest) -> bool:
        return not CareSettings.objects.exists()

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: CareSettings, form: Any, change: bool) -> None:
        obj.pk = 1
        super().save_model(request, obj, form, change)
        assert isinstance(request.user, User)  # the admin site admits signed-in staff only
        audit_log_record(
            actor=request.user,
            action="care_settings.update",
            object_type="care_settings",
            object_id=obj.pk,
            data={"changed": form.changed_data, "via": "admin"},
        )

"""Serializers of the outreach API: read-only views of tasks, and input shapes for the
services (every rule lives in the services)."""

import datetime as dt
from typing import Any, cast

from django.contrib.auth import get_user_model
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from callcenter.choices import CustomerKind, Language, TicketKind
from callcenter.masking import mask_address
from callcenter.models import Customer
from callcenter.serializers import full_contacts_in
from care.choices import StepChannel, TouchKind
from care.models import MessageTemplate
from outreach.choices import CallResult, SummaryChannel, TaskOutcome
from outreach.models import CallReasonSetting, OutreachTask, Queue, RoutingRule, TrackedLink
from outreach.reasons import REASON_LABELS
from outreach.services.tasks import RESCHEDULE_OUTCOMES
from outreach.task_states import Guardrails, task_state_text
from segments.choices import ValueTier

User = get_user_model()
MAX_BULK = 500
RESCHEDULE_OUTCOME_CHOICES = [(value, TaskOutcome(value).label) for value in RESCHEDULE_OUTCOMES]
# The longest automated call we accept a result for, and how far ahead of our clock the
# platform's clock may run.
MAX_CALL_SECONDS = 24 * 3600
CLOCK_SKEW = dt.timedelta(minutes=5)
RECEIPT_STATUS_CHOICES = [("delivered", _("Delivered")), ("failed", _("Failed"))]


class _CustomerRef(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class _UserRef(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()


class _QueueRef(serializers.Serializer):
    id = serializers.IntegerField()
    slug = serializers.CharField()
    name = serializers.CharField()


class TaskSerializer(serializers.ModelSerializer):
    """A task with countdown fields computed against the request's clock; the address it was
    sent to is masked for roles that see contact details masked (callcenter.masking)."""

    customer = _CustomerRef()
    assignee = _UserRef(allow_null=True)
    queue = _QueueRef(allow_null=True)
    reason_display = serializers.SerializerMethodField()
    state_text = serializers.SerializerMethodField(
        help_text=_(
            "Why the task waits or did not go out, in words (quiet hours, retry, frequency "
            "cap, consent...); empty once sent or done."
        )
    )
    is_overdue = serializers.SerializerMethodField()
    seconds_to_deadline = serializers.SerializerMethodField(
        help_text=_("Negative once the deadline has passed.")
    )

    class Meta:
        model = OutreachTask
        fields = [
            "id",
            "customer",
            "enrollment",
            "step_position",
            "channel",
            "touch_kind",
            "status",
            "reason",
            "reason_display",
            "state_text",
            "priority",
            "due_at",
            "deadline_at",
            "is_overdue",
            "seconds_to_deadline",
            "breached_at",
            "escalated_at",
            "assignee",
            "queue",
            "subject",
            "body",
            "to_address",
            "attempts",
            "next_attempt_at",
            "last_error",
            "provider_message_id",
            "sent_at",
            "delivered_at",
            "completed_at",
            "outcome",
            "notes",
            "callback_at",
            "call_result",
            "call_keypress",
            "call_intent",
            "call_duration",
            "call_result_at",
            "created_at",
            "fallback_from",
            "fallback_reason",
        ]
        read_only_fields = fields

    def to_representation(self, instance: OutreachTask) -> dict:
        data = super().to_representation(instance)
        if data["to_address"] and not full_contacts_in(self.context):
            data["to_address"] = mask_address(data["to_address"])
        return data

    def _now(self) -> dt.datetime:
        return self.context.get("now") or timezone.now()

    def get_reason_display(self, task: OutreachTask) -> str:
        return str(REASON_LABELS.get(task.reason, task.reason))

    def get_state_text(self, task: OutreachTask) -> str:
        # One guardrails read for the whole list (the context is shared by its items).
        context = cast(dict[str, Any], self.context)
        guardrails = context.setdefault("guardrails", Guardrails())
        return task_state_text(task, now=self._now(), guardrails=guardrails)

    def get_is_overdue(self, task: OutreachTask) -> bool:
        return task.deadline_at < self._now()

    def get_seconds_to_deadline(self, task: OutreachTask) -> int:
        return int((task.deadline_at - self._now()).total_seconds())


class TrackedLinkSerializer(serializers.ModelSerializer):
    """A tracked link of a sent message: where it leads and whether it was clicked."""

    class Meta:
        model = TrackedLink
        fields = ["id", "target_url", "click_count", "first_clicked_at", "last_clicked_at"]
        read_only_fields = fields


class TaskDetailSerializer(TaskSerializer):
    """A task with the tracked links of its message (one query more than a list row)."""

    links = TrackedLinkSerializer(source="tracked_links", many=True, read_only=True)

    class Meta(TaskSerializer.Meta):
        fields = [*TaskSerializer.Meta.fields, "links"]
        read_only_fields = fields


class ManualTaskInputSerializer(serializers.Serializer):
    customer = serializers.PrimaryKeyRelatedField(queryset=Customer.objects.all())
    due_at = serializers.DateTimeField()
    deadline_at = serializers.DateTimeField(required=False, allow_null=True)
    channel = serializers.ChoiceField(choices=StepChannel.choices, default=StepChannel.CALL)
    body = serializers.CharField(required=False, allow_blank=True, default="")
    subject = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)
    assignee = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.all(), required=False, allow_null=True
    )
    queue = serializers.SlugRelatedField(
        slug_field="slug", queryset=Queue.objects.all(), required=False, allow_null=True
    )
    touch_kind = serializers.ChoiceField(choices=TouchKind.choices, default=TouchKind.SERVICE)
    priority = serializers.FloatField(required=False, default=0.0)


class CompleteInputSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(choices=TaskOutcome.choices)
    notes = serializers.CharField(required=False, allow_blank=True, default="")


class RescheduleInputSerializer(serializers.Serializer):
    callback_at = serializers.DateTimeField()
    notes = serializers.CharField(required=False, allow_blank=True, default="")
    outcome = serializers.ChoiceField(
        choices=RESCHEDULE_OUTCOME_CHOICES,
        default=TaskOutcome.CALLBACK_REQUESTED,
    )


class ReassignInputSerializer(serializers.Serializer):
    task_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1), min_length=1, max_length=MAX_BULK
    )
    assignee = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.all(), required=False, allow_null=True
    )
    queue = serializers.SlugRelatedField(
        slug_field="slug", queryset=Queue.objects.all(), required=False, allow_null=True
    )
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)


class ReassignResultSerializer(serializers.Serializer):
    reassigned = serializers.ListField(child=serializers.IntegerField())
    not_reassigned = serializers.ListField(
        child=serializers.IntegerField(), help_text=_("Unknown, closed or non-call tasks.")
    )


class QueueOverviewSerializer(serializers.Serializer):
    id = serializers.IntegerField(allow_null=True)
    slug = serializers.CharField()
    name = serializers.CharField()
    members_count = serializers.IntegerField()
    open = serializers.IntegerField()
    unassigned = serializers.IntegerField()
    due = serializers.IntegerField()
    overdue = serializers.IntegerField()
    breached = serializers.IntegerField()


class AgentOverviewSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    available = serializers.BooleanField()
    open = serializers.IntegerField()
    overdue = serializers.IntegerField()
    breached = serializers.IntegerField()
    today_load = serializers.IntegerField()
    daily_limit = serializers.IntegerField()


class OverviewSerializer(serializers.Serializer):
    queues = QueueOverviewSerializer(many=True)
    agents = AgentOverviewSerializer(many=True)


class ReceiptInputSerializer(serializers.Serializer):
    provider_message_id = serializers.CharField(max_length=128)
    status = serializers.ChoiceField(choices=RECEIPT_STATUS_CHOICES)
    error = serializers.CharField(required=False, allow_blank=True, default="", max_length=1000)


class ReceiptResultSerializer(serializers.Serializer):
    updated = serializers.IntegerField()


class InboundSmsInputSerializer(serializers.Serializer):
    """`from` (the sender's number), `body` and the provider's message `id`."""

    body = serializers.CharField(allow_blank=True, trim_whitespace=False, max_length=2000)
    id = serializers.CharField(max_length=128)

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        fields["from"] = serializers.CharField(max_length=64)
        return fields


class InboundSmsResultSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    action = serializers.CharField()
    duplicate = serializers.BooleanField()
    confirmation_task = serializers.IntegerField(allow_null=True)


class _BoundedDateTimeField(serializers.DateTimeField):
    """A date-time whose conversion to our time zone cannot overflow into a server error (a
    naive 0001-01-01 read in a zone ahead of UTC falls before year 1)."""

    def to_internal_value(self, value: Any) -> dt.datetime:
        try:
            return super().to_internal_value(value)
        except OverflowError:
            self.fail("overflow")


class CallResultInputSerializer(serializers.Serializer):
    """The voice platform's result of one automated call; unknown fields are refused."""

    call_id = serializers.CharField(
        max_length=128,
        help_text=_("The idempotency key sent with the call request, or the platform's id."),
    )
    result = serializers.ChoiceField(choices=CallResult.choices)
    keypress = serializers.RegexField(
        r"^[0-9*#]+$", max_length=32, required=False, allow_blank=True, default=""
    )
    intent = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    duration = serializers.IntegerField(min_value=0, max_value=MAX_CALL_SECONDS)
    occurred_at = _BoundedDateTimeField()

    def validate_occurred_at(self, value: dt.datetime) -> dt.datetime:
        if value > timezone.now() + CLOCK_SKEW:
            raise serializers.ValidationError(_("The call cannot have ended in the future."))
        return value

    def validate(self, attrs: dict) -> dict:
        unknown = sorted(set(self.initial_data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError({name: [_("Unknown field.")] for name in unknown})
        return attrs


class CallResultResultSerializer(serializers.Serializer):
    task = serializers.IntegerField()
    status = serializers.CharField()
    result = serializers.CharField()
    intent = serializers.CharField()
    duplicate = serializers.BooleanField()


class RoutingRuleSerializer(serializers.ModelSerializer):
    """A routing rule (outreach.services.routing_rule_edit checks it again and saves it)."""

    ticket_kinds = serializers.ListField(
        child=serializers.ChoiceField(choices=TicketKind.choices), required=False, max_length=10
    )
    customer_kinds = serializers.ListField(
        child=serializers.ChoiceField(choices=CustomerKind.choices), required=False, max_length=10
    )
    value_tiers = serializers.ListField(
        child=serializers.ChoiceField(choices=ValueTier.choices), required=False, max_length=10
    )
    languages = serializers.ListField(
        child=serializers.ChoiceField(choices=Language.choices), required=False, max_length=10
    )
    industries = serializers.ListField(
        child=serializers.CharField(max_length=100), required=False, max_length=50
    )
    required_skills = serializers.ListField(
        child=serializers.CharField(max_length=50), required=False, max_length=50
    )
    queue = serializers.SlugRelatedField(slug_field="slug", queryset=Queue.objects.all())
    position = serializers.IntegerField(min_value=0, max_value=10_000, required=False)

    class Meta:
        model = RoutingRule
        fields = (
            "id",
            "name",
            "position",
            "is_active",
            "ticket_kinds",
            "customer_kinds",
            "industries",
            "value_tiers",
            "languages",
            "queue",
            "required_skills",
            "derive_skills",
            "created_at",
            "updated_at",
        )
        read_only_fields = ("id", "created_at", "updated_at")


class AgentRoutingSerializer(serializers.Serializer):
    """An agent's routing profile: skills, ticket capacity and open tickets (read), or the
    skills and capacity to set (write)."""

    id = serializers.IntegerField(read_only=True, source="pk")
    username = serializers.CharField(read_only=True)
    skills = serializers.ListField(
        child=serializers.CharField(max_length=50), max_length=50, source="agent_profile__skills"
    )
    ticket_capacity = serializers.IntegerField(
        min_value=0,
        max_value=1000,
        allow_null=True,
        source="agent_profile__ticket_capacity",
    )
    available = serializers.BooleanField(
        read_only=True, source="agent_profile__is_available", allow_null=True
    )
    open_tickets = serializers.IntegerField(read_only=True)


class TicketRouteSerializer(serializers.Serializer):
    """Where a ticket was routed and who has it."""

    ticket = serializers.IntegerField(source="ticket_id")
    queue = serializers.CharField(source="queue.slug")
    rule = serializers.IntegerField(source="rule_id", allow_null=True)
    required_skills = serializers.ListField(child=serializers.CharField())
    routed_at = serializers.DateTimeField()
    assigned_at = serializers.DateTimeField(allow_null=True)
    assignee = serializers.IntegerField(source="ticket.assignee_id", allow_null=True)


class TicketRouteInputSerializer(serializers.Serializer):
    queue = serializers.SlugRelatedField(
        slug_field="slug", queryset=Queue.objects.all(), required=False, allow_null=True
    )
    assignee = serializers.PrimaryKeyRelatedField(
        queryset=get_user_model().objects.all(), required=False, allow_null=True
    )
    reason = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")


class CallReasonSettingSerializer(serializers.ModelSerializer):
    """A call reason's follow-ups (outreach.services.call_followups checks and saves them)."""

    reason = serializers.CharField(max_length=100)
    summary_channel = serializers.ChoiceField(choices=SummaryChannel.choices)
    csat_template = serializers.SlugRelatedField(
        slug_field="slug",
        queryset=MessageTemplate.objects.all(),
        allow_null=True,
        required=False,
        help_text=_("A template with {{ survey_link }}; null: no question after the call."),
    )

    class Meta:
        model = CallReasonSetting
        fields = ["id", "reason", "summary_channel", "csat_template", "updated_at"]
        read_only_fields = ["id", "updated_at"]

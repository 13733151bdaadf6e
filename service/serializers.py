"""API shapes of the service app: the ticket workspace list with each ticket's SLA."""

from typing import Any

from rest_framework import serializers

from callcenter.choices import ContactKind, TicketKind, TicketPriority, TicketStatus
from callcenter.masking import contact_for
from callcenter.models import Ticket
from service.choices import SlaState
from service.selectors.tickets import ORDERINGS


class ServiceTicketQuerySerializer(serializers.Serializer):
    """The list's filters (query parameters)."""

    assignee = serializers.RegexField(
        r"^(me|none|[0-9]{1,12})$",
        required=False,
        help_text="`me`, `none` (unassigned) or a user id.",
    )
    status = serializers.MultipleChoiceField(
        choices=TicketStatus.choices, required=False, help_text="Default: the open statuses."
    )
    kind = serializers.ChoiceField(choices=TicketKind.choices, required=False)
    priority = serializers.ChoiceField(choices=TicketPriority.choices, required=False)
    sla = serializers.MultipleChoiceField(
        choices=SlaState.choices,
        required=False,
        help_text="SLA states, e.g. `breached` and `warning` (breaching soon).",
    )
    customer = serializers.IntegerField(min_value=1, max_value=2**63 - 1, required=False)
    ordering = serializers.ChoiceField(
        choices=[(value, value) for value in ORDERINGS],
        required=False,
        default="sla",
        help_text="`sla`: the nearest due first (default).",
    )


class ServiceTicketSlaSerializer(serializers.Serializer):
    state = serializers.ChoiceField(choices=SlaState.choices, source="sla_state")
    due_at = serializers.DateTimeField(source="sla_due_at", allow_null=True)
    seconds_left = serializers.IntegerField(source="sla_seconds_left", allow_null=True)
    policy = serializers.IntegerField(source="sla.policy_id", allow_null=True, default=None)
    first_response_due_at = serializers.DateTimeField(
        source="sla.first_response_due_at", allow_null=True, default=None
    )
    next_response_due_at = serializers.DateTimeField(
        source="sla.next_response_due_at", allow_null=True, default=None
    )
    resolution_due_at = serializers.DateTimeField(
        source="sla.resolution_due_at", allow_null=True, default=None
    )
    paused_at = serializers.DateTimeField(source="sla.paused_at", allow_null=True, default=None)
    warned_at = serializers.DateTimeField(source="sla.warned_at", allow_null=True, default=None)


class ServiceTicketCustomerSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class ServiceTicketSerializer(serializers.ModelSerializer):
    """A ticket of the workspace list with its customer (contact masked by role), assignee
    and SLA (state, nearest due moment, seconds left, each target's due moment)."""

    assignee_username = serializers.CharField(
        source="assignee.username", read_only=True, allow_null=True, default=None
    )
    customer = ServiceTicketCustomerSerializer(read_only=True)
    customer_phone = serializers.SerializerMethodField(
        help_text="The customer's primary phone, masked for roles that see contact details "
        "masked (agents)."
    )
    sla = ServiceTicketSlaSerializer(source="*", read_only=True)

    class Meta:
        model = Ticket
        fields = (
            "id",
            "subject",
            "kind",
            "priority",
            "status",
            "channel",
            "opened_at",
            "first_responded_at",
            "resolved_at",
            "assignee",
            "assignee_username",
            "customer",
            "customer_phone",
            "sla",
        )
        read_only_fields = fields

    def get_customer_phone(self, ticket: Any) -> str | None:
        # `customer_phone`: the raw primary phone the selector annotates.
        value = ticket.customer_phone
        return (
            contact_for(self.context["request"].user, ContactKind.PHONE, value) if value else None
        )

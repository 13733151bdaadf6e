"""Serializers of the customer-profile API.

Output serializers (`...Serializer`) are read-only views of rows the selectors loaded. Input
serializers (`...InputSerializer`) only check types and shapes; every rule lives in the
services they feed, so nothing here saves anything.

Contact details follow `callcenter.masking`: they are masked (and `raw_value` left empty)
unless the serializer's context carries a request by a user who may see them in full. Without
a request in the context they are masked, so forgetting it never discloses anything.
"""

from collections.abc import Mapping
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from callcenter.choices import (
    AccountRole,
    ConsentChannel,
    ConsentSource,
    ContactKind,
    CustomerKind,
    Direction,
    Gender,
    InteractionChannel,
    Language,
    OrderStatus,
    SurveyKind,
    TicketKind,
    TicketPriority,
)
from callcenter.limits import FREE_TEXT_MAX_LENGTH
from callcenter.masking import contacts_visible_in_full, mask_contact
from callcenter.models import (
    ContactPoint,
    Customer,
    Interaction,
    Order,
    SurveyResponse,
    Ticket,
    TicketUpdate,
)
from callcenter.services.customer_access import REVEAL_REASON_MAX_LENGTH

User = get_user_model()

# Consent sources a caller of the API may claim; imports and merges set consent themselves.
API_CONSENT_SOURCES = [
    (value, label)
    for value, label in ConsentSource.choices
    if value not in (ConsentSource.IMPORT, ConsentSource.MERGE)
]


def _users() -> QuerySet[AbstractBaseUser]:
    return User.objects.filter(is_active=True)


# --- output -------------------------------------------------------------------------------


def full_contacts_in(context: Mapping[str, Any]) -> bool:
    """Whether the serializer `context` is for a user who sees contact details in full."""
    request = context.get("request")
    return request is not None and contacts_visible_in_full(request.user)


class ContactPointSerializer(serializers.ModelSerializer):
    """A contact point; `value` masked and `raw_value` empty for roles that see contact
    details masked (agents)."""

    raw_value = serializers.CharField(
        read_only=True, help_text=_("As entered; empty for roles that see contact details masked.")
    )

    def to_representation(self, instance: ContactPoint) -> dict:
        data = super().to_representation(instance)
        if not full_contacts_in(self.context):
            data["value"] = mask_contact(instance.kind, instance.value)
            data["raw_value"] = ""
        return data

    class Meta:
        model = ContactPoint
        fields = (
            "id",
            "kind",
            "system",
            "value",
            "raw_value",
            "label",
            "is_primary",
            "is_active",
            "created_at",
        )
        read_only_fields = fields


class CustomerSerializer(serializers.ModelSerializer):
    advisor_username = serializers.CharField(
        source="advisor.username", read_only=True, allow_null=True, default=None
    )
    contact_points = ContactPointSerializer(many=True, read_only=True)

    class Meta:
        model = Customer
        fields = (
            "id",
            "external_id",
            "kind",
            "status",
            "merged_into",
            "name",
            "company_name",
            "industry",
            "employee_count",
            "birthday",
            "gender",
            "city",
            "region",
            "timezone",
            "language",
            "advisor",
            "advisor_username",
            "account",
            "account_role",
            "sms_opt_out",
            "call_opt_out",
            "email_opt_out",
            "do_not_contact",
            "wechat_opt_out",
            "wecom_opt_out",
            "consent_updated_at",
            "consent_source",
            "attributes",
            "contact_points",
            "created_at",
            "updated_at",
        )
        read_only_fields = fields


class OrderSerializer(serializers.ModelSerializer):
    class Meta:
        model = Order
        fields = (
            "id",
            "external_id",
            "customer",
            "placed_at",
            "amount",
            "currency",
            "category",
            "product",
            "channel",
            "status",
            "created_at",
            "updated_at",
        )
        read_only_fields = fields


class InteractionSerializer(serializers.ModelSerializer):
    agent_username = serializers.CharField(
        source="agent.username", read_only=True, allow_null=True, default=None
    )

    class Meta:
        model = Interaction
        fields = (
            "id",
            "external_id",
            "customer",
            "channel",
            "direction",
            "occurred_at",
            "duration_seconds",
            "agent",
            "agent_username",
            "reason",
            "notes",
            "outcome",
            "sentiment",
            "created_at",
        )
        read_only_fields = fields


class TicketSerializer(serializers.ModelSerializer):
    assignee_username = serializers.CharField(
        source="assignee.username", read_only=True, allow_null=True, default=None
    )

    class Meta:
        model = Ticket
        fields = (
            "id",
            "external_id",
            "customer",
            "kind",
            "status",
            "priority",
            "subject",
            "description",
            "channel",
            "opened_at",
            "first_responded_at",
            "resolved_at",
            "assignee",
            "assignee_username",
            "created_at",
            "updated_at",
        )
        read_only_fields = fields


class TicketUpdateSerializer(serializers.ModelSerializer):
    """One entry of a ticket's history."""

    by_username = serializers.CharField(
        source="by.username", read_only=True, allow_null=True, default=None
    )
    assignee_username = serializers.CharField(
        source="assignee.username", read_only=True, allow_null=True, default=None
    )

    class Meta:
        model = TicketUpdate
        fields = (
            "id",
            "ticket",
            "kind",
            "at",
            "by",
            "by_username",
            "text",
            "channel",
            "assignee",
            "assignee_username",
        )
        read_only_fields = fields


class SurveySerializer(serializers.ModelSerializer):
    class Meta:
        model = SurveyResponse
        fields = (
            "id",
            "external_id",
            "customer",
            "kind",
            "score",
            "comment",
            "responded_at",
            "ticket",
            "created_at",
        )
        read_only_fields = fields


class ConsentResultSerializer(serializers.Serializer):
    changed = serializers.BooleanField(help_text=_("False when the flag already had that value."))
    customer = CustomerSerializer()


class ContactRevealSerializer(serializers.ModelSerializer):
    """A revealed contact point: its value in full, for the one user who asked for it."""

    class Meta:
        model = ContactPoint
        fields = ("id", "customer", "kind", "system", "value", "label", "is_primary")
        read_only_fields = fields


# --- input --------------------------------------------------------------------------------


class CustomerProfileInputSerializer(serializers.Serializer):
    """Profile fields shared by create and update (consent has its own action)."""

    external_id = serializers.CharField(max_length=64, required=False, allow_blank=True)
    kind = serializers.ChoiceField(choices=CustomerKind.choices, required=False)
    name = serializers.CharField(max_length=200, required=False)
    company_name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    industry = serializers.CharField(max_length=100, required=False, allow_blank=True)
    employee_count = serializers.IntegerField(min_value=0, required=False, allow_null=True)
    birthday = serializers.DateField(required=False, allow_null=True)
    gender = serializers.ChoiceField(choices=Gender.choices, required=False, allow_blank=True)
    city = serializers.CharField(max_length=100, required=False, allow_blank=True)
    region = serializers.CharField(max_length=100, required=False, allow_blank=True)
    timezone = serializers.CharField(max_length=64, required=False)
    language = serializers.ChoiceField(choices=Language.choices, required=False)
    advisor = serializers.PrimaryKeyRelatedField(queryset=_users(), required=False, allow_null=True)
    attributes = serializers.DictField(required=False)


class CustomerCreateInputSerializer(CustomerProfileInputSerializer):
    name = serializers.CharField(max_length=200)
    phones = serializers.ListField(
        child=serializers.CharField(max_length=64),
        required=False,
        help_text=_("Any format; the first one becomes the primary number."),
    )
    emails = serializers.ListField(child=serializers.CharField(max_length=254), required=False)
    wechat_ids = serializers.ListField(child=serializers.CharField(max_length=254), required=False)


class CustomerUpdateInputSerializer(CustomerProfileInputSerializer):
    """PUT requires a name; PATCH (partial) any subset of the fields."""

    name = serializers.CharField(max_length=200)


class ContactPointInputSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=ContactKind.choices)
    value = serializers.CharField(max_length=254)
    system = serializers.CharField(max_length=50, required=False, default="", allow_blank=True)
    # The API's field name shadows Field.label (a DRF serializer is a Field).
    label = serializers.CharField(  # type: ignore[assignment]
        max_length=50, required=False, default="", allow_blank=True
    )
    is_primary = serializers.BooleanField(required=False, default=False)


class AccountLinkInputSerializer(serializers.Serializer):
    """Make the customer a contact of a business account (`account` null: of none)."""

    account = serializers.IntegerField(
        min_value=1,
        allow_null=True,
        help_text=_("The id of an active business customer; null takes the customer off."),
    )
    account_role = serializers.ChoiceField(
        choices=AccountRole.choices, required=False, default="", allow_blank=True
    )


class ContactRevealInputSerializer(serializers.Serializer):
    contact_point = serializers.IntegerField(
        min_value=1, help_text=_("The id of one of the customer's active contact points.")
    )
    reason = serializers.CharField(
        max_length=REVEAL_REASON_MAX_LENGTH,
        help_text=_("Why you need it, e.g. the callback the customer asked for (audited)."),
    )


class ConsentInputSerializer(serializers.Serializer):
    channel = serializers.ChoiceField(choices=ConsentChannel.choices)
    opted_out = serializers.BooleanField()
    # The API's field name shadows Field.source (a DRF serializer is a Field).
    source = serializers.ChoiceField(  # type: ignore[assignment]
        choices=API_CONSENT_SOURCES, required=False, default=ConsentSource.API
    )
    note = serializers.CharField(max_length=255, required=False, default="", allow_blank=True)


class OrderInputSerializer(serializers.Serializer):
    external_id = serializers.CharField(max_length=64)
    customer = serializers.PrimaryKeyRelatedField(queryset=Customer.objects.all())
    placed_at = serializers.DateTimeField()
    amount = serializers.DecimalField(max_digits=12, decimal_places=2)
    currency = serializers.CharField(min_length=3, max_length=3, required=False, default="CNY")
    category = serializers.CharField(max_length=100, required=False, default="", allow_blank=True)
    product = serializers.CharField(max_length=200, required=False, default="", allow_blank=True)
    channel = serializers.CharField(max_length=50, required=False, default="", allow_blank=True)
    status = serializers.ChoiceField(
        choices=OrderStatus.choices, required=False, default=OrderStatus.PAID
    )


class InteractionInputSerializer(serializers.Serializer):
    customer = serializers.PrimaryKeyRelatedField(queryset=Customer.objects.all())
    channel = serializers.ChoiceField(choices=InteractionChannel.choices)
    direction = serializers.ChoiceField(
        choices=Direction.choices, required=False, default=Direction.INBOUND
    )
    occurred_at = serializers.DateTimeField(required=False, default=None)
    duration_seconds = serializers.IntegerField(min_value=0, required=False, default=0)
    agent = serializers.PrimaryKeyRelatedField(
        queryset=_users(),
        required=False,
        default=None,
        help_text=_("Defaults to the caller; only supervisors and admins may name another."),
    )
    reason = serializers.CharField(max_length=200, required=False, default="", allow_blank=True)
    notes = serializers.CharField(
        max_length=FREE_TEXT_MAX_LENGTH, required=False, default="", allow_blank=True
    )
    outcome = serializers.CharField(max_length=100, required=False, default="", allow_blank=True)
    external_id = serializers.CharField(
        max_length=64, required=False, default=None, allow_null=True
    )


class TicketInputSerializer(serializers.Serializer):
    customer = serializers.PrimaryKeyRelatedField(queryset=Customer.objects.all())
    kind = serializers.ChoiceField(choices=TicketKind.choices)
    subject = serializers.CharField(max_length=200)
    description = serializers.CharField(
        max_length=FREE_TEXT_MAX_LENGTH, required=False, default="", allow_blank=True
    )
    priority = serializers.ChoiceField(
        choices=TicketPriority.choices, required=False, default=TicketPriority.NORMAL
    )
    opened_at = serializers.DateTimeField(required=False, default=None)
    assignee = serializers.PrimaryKeyRelatedField(
        queryset=_users(), required=False, default=None, allow_null=True
    )
    external_id = serializers.CharField(
        max_length=64, required=False, default=None, allow_null=True
    )
    channel = serializers.ChoiceField(
        choices=InteractionChannel.choices, required=False, default="", allow_blank=True
    )


def _note_field(*, required: bool = False) -> serializers.CharField:
    if required:
        return serializers.CharField(max_length=FREE_TEXT_MAX_LENGTH)
    return serializers.CharField(
        max_length=FREE_TEXT_MAX_LENGTH, required=False, default="", allow_blank=True
    )


class TicketResolveInputSerializer(serializers.Serializer):
    resolved_at = serializers.DateTimeField(required=False, default=None)
    text = _note_field()


class TicketNoteInputSerializer(serializers.Serializer):
    """An optional note kept in the ticket's history (waiting, resuming, reopening)."""

    text = _note_field()


class TicketMessageInputSerializer(serializers.Serializer):
    """What was said (to or by the customer), optionally by which channel."""

    text = _note_field(required=True)
    channel = serializers.ChoiceField(
        choices=InteractionChannel.choices, required=False, default="", allow_blank=True
    )


class TicketAssignInputSerializer(serializers.Serializer):
    """Whom to give the ticket (null: nobody). Agents may only name themselves, on an
    unassigned ticket."""

    assignee = serializers.PrimaryKeyRelatedField(queryset=_users(), allow_null=True)
    text = _note_field()


class TicketChangeInputSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=TicketKind.choices, required=False)
    priority = serializers.ChoiceField(choices=TicketPriority.choices, required=False)
    channel = serializers.ChoiceField(
        choices=InteractionChannel.choices, required=False, allow_blank=True
    )


class SurveyInputSerializer(serializers.Serializer):
    customer = serializers.PrimaryKeyRelatedField(queryset=Customer.objects.all())
    kind = serializers.ChoiceField(choices=SurveyKind.choices)
    score = serializers.IntegerField()
    comment = serializers.CharField(
        max_length=FREE_TEXT_MAX_LENGTH, required=False, default="", allow_blank=True
    )
    responded_at = serializers.DateTimeField(required=False, default=None)
    ticket = serializers.PrimaryKeyRelatedField(
        queryset=Ticket.objects.all(), required=False, default=None, allow_null=True
    )
    external_id = serializers.CharField(
        max_length=64, required=False, default=None, allow_null=True
    )

"""REST API of care plans: rules (with steps and versions), templates (with preview), the event
ingest for other systems, enrollments and the guardrail settings.

Who may do what:

    endpoint                                   agent  supervisor  admin
    rules, versions, diff, templates: read              x          x
    rules: create, change, switch on/off                           x
    templates: create, change, delete, preview                     x
    settings: read                                      x          x
    settings: change                                               x
    events: POST (token or session)                     (1)        (1)
    events: POST signed with EVENTS_WEBHOOK_SECRETS (no user at all) (1)
    events: list, detail                                x          x
    enrollments: list                                   x          x

    (1) per event type, as care.services.events.EVENT_POSTERS says (403 otherwise)

POST /api/events/ takes the idempotency key in the `Idempotency-Key` header or the
`idempotency_key` field: 201 with the new event, 200 with the existing one when this client
(the user, or the signed integration) sent the key before, 409 when it used the key for a
different event. Keys are per client: the same key from another client is another event.

Integrations without a user sign the request instead (callcenter.signatures): `X-Timestamp`
(Unix seconds) and `X-Signature`, the hex HMAC-SHA256 of f"{timestamp}.POST./api/events/.{raw
body}" under a secret of EVENTS_WEBHOOK_SECRETS; a stale timestamp or a signature seen before
(a replay) is refused with 403. A request carrying `X-Signature` is judged by its signature
alone, whatever else it carries.
"""

from typing import Any

from django.contrib.auth.models import User
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from callcenter.choices import Integration, Language
from callcenter.http import AuthenticatedRequest
from callcenter.pagination import DefaultCursorPagination
from callcenter.roles import IsAdmin, IsSupervisor, SupervisorsReadAdminsWrite, has_role
from callcenter.signatures import (
    SIGNED_BY_ATTR,
    is_signed,
    signature_parameters,
    signature_release,
    signed_by,
)
from callcenter.throttling import ThrottledBeforePermissions
from care.choices import EventType, RuleCategory, TemplateChannel
from care.filters import EnrollmentFilter, EventFilter
from care.models import CareRule, CareRuleVersion, CareSettings, Enrollment, Event, MessageTemplate
from care.selectors import (
    enrollment_list,
    event_list,
    rule_list,
    rule_version_diff,
    rule_versions,
    template_list,
)
from care.services.events import EVENT_POSTER_ROLES, EventPoster, event_ingest
from care.services.rules import (
    care_rule_activate,
    care_rule_create,
    care_rule_deactivate,
    care_rule_update,
)
from care.services.settings import care_settings_update
from care.services.templates import (
    NEEDS_FALLBACK,
    PLACEHOLDERS,
    template_create,
    template_delete,
    template_preview,
    template_update,
)

# ---------------------------------------------------------------------------------------------
# Serializers


class StepSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    position = serializers.IntegerField()
    name = serializers.CharField()
    delay_value = serializers.IntegerField()
    delay_unit = serializers.CharField()
    business_hours_only = serializers.BooleanField()
    channel = serializers.CharField()
    template_id = serializers.IntegerField(allow_null=True)
    template_slug = serializers.CharField(source="template.slug", default=None)
    assignee_rule = serializers.CharField()
    assignee_target = serializers.CharField()
    sla_minutes = serializers.IntegerField()
    escalation = serializers.CharField()
    touch_kind = serializers.CharField()
    conditions = serializers.JSONField(allow_null=True)
    only_if_no_response = serializers.BooleanField()
    fallback_channel = serializers.CharField()
    key = serializers.CharField()
    next_step = serializers.CharField()
    wait_for = serializers.CharField()
    wait_hours = serializers.IntegerField(allow_null=True)
    branches = serializers.JSONField()


class RuleSerializer(serializers.ModelSerializer):
    steps = StepSerializer(many=True, read_only=True)
    created_by = serializers.CharField(source="created_by.username", default=None)

    class Meta:
        model = CareRule
        fields = [
            "id", "name", "slug", "description", "trigger_type", "trigger_params", "conditions",
            "category", "priority", "cooldown_days", "holdout_share", "stop_conditions",
            "is_active", "version", "playbook_key", "created_by", "created_at", "updated_at",
            "steps",
        ]  # fmt: skip


class RuleWriteSerializer(serializers.Serializer):
    """Shapes only; the rule service checks every value (trigger parameters, conditions,
    steps) and names the bad one."""

    name = serializers.CharField(max_length=120, required=False)
    slug = serializers.SlugField(max_length=120, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    trigger_type = serializers.ChoiceField(choices=EventType.choices, required=False)
    trigger_params = serializers.JSONField(required=False)
    conditions = serializers.JSONField(required=False, allow_null=True)
    category = serializers.ChoiceField(choices=RuleCategory.choices, required=False)
    priority = serializers.IntegerField(required=False)
    cooldown_days = serializers.IntegerField(required=False)
    holdout_share = serializers.FloatField(required=False)
    # A StopCondition, or "external:<name>" (checked by the service).
    stop_conditions = serializers.ListField(
        child=serializers.CharField(max_length=80), required=False
    )
    steps = serializers.ListField(child=serializers.DictField(), required=False)
    note = serializers.CharField(max_length=255, required=False, allow_blank=True)


class VersionSerializer(serializers.ModelSerializer):
    changed_by = serializers.CharField(source="changed_by.username", default=None)

    class Meta:
        model = CareRuleVersion
        fields = ["version", "changed_by", "changed_at", "note", "snapshot"]


class TemplateSerializer(serializers.ModelSerializer):
    variants = serializers.SerializerMethodField()

    class Meta:
        model = MessageTemplate
        fields = [
            "id", "name", "slug", "channel", "description", "variants", "created_at",
            "updated_at",
        ]  # fmt: skip

    def get_variants(self, template: MessageTemplate) -> dict[str, dict[str, str]]:
        return {v.language: {"subject": v.subject, "body": v.body} for v in template.variants.all()}


class TemplateWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=120, required=False)
    slug = serializers.SlugField(max_length=120, required=False)
    channel = serializers.ChoiceField(choices=TemplateChannel.choices, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    variants = serializers.DictField(child=serializers.DictField(), required=False)


class TemplatePreviewSerializer(serializers.Serializer):
    customer_id = serializers.IntegerField()
    template_id = serializers.IntegerField(required=False)
    channel = serializers.ChoiceField(choices=TemplateChannel.choices, required=False)
    variants = serializers.DictField(child=serializers.DictField(), required=False)
    language = serializers.ChoiceField(choices=Language.choices, required=False)
    ticket_id = serializers.IntegerField(required=False)
    order_id = serializers.IntegerField(required=False)


class EventIngestSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=EventType.choices)
    customer_id = serializers.IntegerField(required=False)
    external_id = serializers.CharField(max_length=64, required=False)
    phone = serializers.CharField(max_length=32, required=False)
    payload = serializers.DictField(required=False)
    occurred_at = serializers.DateTimeField(required=False)
    idempotency_key = serializers.CharField(max_length=120, required=False)


class EventSerializer(serializers.ModelSerializer):
    class Meta:
        model = Event
        fields = [
            "id", "type", "customer_id", "payload", "source", "occurred_at", "created_at",
            "client", "idempotency_key", "processed_at", "attempts", "last_error",
        ]  # fmt: skip


class EnrollmentSerializer(serializers.ModelSerializer):
    rule_slug = serializers.CharField(source="rule.slug")
    rule_category = serializers.CharField(source="rule.category")
    outranked_by_rule = serializers.CharField(source="outranked_by.rule.slug", default=None)
    rule_version = serializers.IntegerField(source="rule_version.version")
    customer_name = serializers.CharField(source="customer.name")
    event_type = serializers.CharField(source="event.type")

    class Meta:
        model = Enrollment
        fields = [
            "id", "rule_id", "rule_slug", "rule_version", "customer_id", "customer_name",
            "event_id", "event_type", "is_control", "status", "stop_reason", "outranked_by_id",
            "outranked_by_rule", "rule_category", "enrolled_at", "finished_at", "waiting_step",
            "wait_started_at", "wait_until",
        ]  # fmt: skip


class SettingsSerializer(serializers.ModelSerializer):
    class Meta:
        model = CareSettings
        exclude = ["id"]


# ---------------------------------------------------------------------------------------------
# Rules


def _required(names: list[str]) -> serializers.ValidationError:
    return serializers.ValidationError({name: [_("This field is required.")] for name in names})


def _filtered(filterset: Any) -> Any:
    if not filterset.is_valid():
        raise serializers.ValidationError(filterset.errors)
    return filterset.qs


class RuleListApi(APIView):
    """Rules with their steps (supervisors, admins); create a rule (admins)."""

    permission_classes = [SupervisorsReadAdminsWrite]

    @extend_schema(responses=RuleSerializer(many=True))
    def get(self, request: AuthenticatedRequest) -> Response:
        return Response(RuleSerializer(rule_list(), many=True).data)

    @extend_schema(request=RuleWriteSerializer, responses={201: RuleSerializer})
    def post(self, request: AuthenticatedRequest) -> Response:
        payload = RuleWriteSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = dict(payload.validated_data)
        data.pop("note", None)
        missing = [name for name in ("name", "trigger_type", "steps") if name not in data]
        if missing:
            raise serializers.ValidationError(
                {name: ["This field is required."] for name in missing}
            )
        rule = care_rule_create(created_by=request.user, **data)
        return Response(
            RuleSerializer(rule_list().get(pk=rule.pk)).data, status=status.HTTP_201_CREATED
        )


class RuleDetailApi(APIView):
    """One rule (supervisors, admins); change it (admins). `steps`, when sent, is the complete
    new list: keep a step's `id` to keep the step."""

    permission_classes = [SupervisorsReadAdminsWrite]

    @extend_schema(responses=RuleSerializer)
    def get(self, request: AuthenticatedRequest, pk: int) -> Response:
        return Response(RuleSerializer(get_object_or_404(rule_list(), pk=pk)).data)

    @extend_schema(request=RuleWriteSerializer, responses=RuleSerializer)
    def patch(self, request: AuthenticatedRequest, pk: int) -> Response:
        rule = get_object_or_404(CareRule, pk=pk)
        payload = RuleWriteSerializer(data=request.data, partial=True)
        payload.is_valid(raise_exception=True)
        data = dict(payload.validated_data)
        if "slug" in data:
            raise serializers.ValidationError({"slug": [_("A rule's slug cannot change.")]})
        care_rule_update(rule=rule, updated_by=request.user, **data)
        return Response(RuleSerializer(rule_list().get(pk=pk)).data)


class RuleActivateApi(APIView):
    permission_classes = [IsAdmin]

    @extend_schema(request=None, responses=RuleSerializer)
    def post(self, request: AuthenticatedRequest, pk: int) -> Response:
        care_rule_activate(rule=get_object_or_404(CareRule, pk=pk), activated_by=request.user)
        return Response(RuleSerializer(rule_list().get(pk=pk)).data)


class RuleDeactivateApi(APIView):
    permission_classes = [IsAdmin]

    @extend_schema(request=None, responses=RuleSerializer)
    def post(self, request: AuthenticatedRequest, pk: int) -> Response:
        care_rule_deactivate(rule=get_object_or_404(CareRule, pk=pk), deactivated_by=request.user)
        return Response(RuleSerializer(rule_list().get(pk=pk)).data)


class RuleVersionsApi(APIView):
    """Every version of a rule, newest first, with its frozen definition."""

    permission_classes = [IsSupervisor]

    @extend_schema(responses=VersionSerializer(many=True))
    def get(self, request: AuthenticatedRequest, pk: int) -> Response:
        rule = get_object_or_404(CareRule, pk=pk)
        return Response(VersionSerializer(rule_versions(rule=rule), many=True).data)


class RuleVersionDiffApi(APIView):
    """What changed between two versions (?from=1&to=3)."""

    permission_classes = [IsSupervisor]

    @extend_schema(
        parameters=[
            OpenApiParameter("from", int, required=True),
            OpenApiParameter("to", int, required=True),
        ],
        responses={200: dict},
    )
    def get(self, request: AuthenticatedRequest, pk: int) -> Response:
        rule = get_object_or_404(CareRule, pk=pk)
        try:
            old = int(request.query_params["from"])
            new = int(request.query_params["to"])
        except (KeyError, ValueError) as exc:
            raise serializers.ValidationError(
                {"detail": _("from and to must be version numbers")}
            ) from exc
        return Response(rule_version_diff(rule=rule, from_version=old, to_version=new))


# ---------------------------------------------------------------------------------------------
# Templates


class TemplateListApi(APIView):
    """Templates with their texts (supervisors, admins); create one (admins)."""

    permission_classes = [SupervisorsReadAdminsWrite]

    @extend_schema(responses=TemplateSerializer(many=True))
    def get(self, request: AuthenticatedRequest) -> Response:
        return Response(
            {
                "placeholders": PLACEHOLDERS,
                # Shown only with a fallback (`|default:"..."`) or inside `{% if %}` on them.
                "placeholders_needing_fallback": sorted(NEEDS_FALLBACK),
                "results": TemplateSerializer(template_list(), many=True).data,
            }
        )

    @extend_schema(request=TemplateWriteSerializer, responses={201: TemplateSerializer})
    def post(self, request: AuthenticatedRequest) -> Response:
        payload = TemplateWriteSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        missing = [name for name in ("name", "channel", "variants") if name not in data]
        if missing:
            raise serializers.ValidationError(
                {name: ["This field is required."] for name in missing}
            )
        template = template_create(created_by=request.user, **data)
        return Response(
            TemplateSerializer(template_list().get(pk=template.pk)).data,
            status=status.HTTP_201_CREATED,
        )


class TemplateDetailApi(APIView):
    """One template (supervisors, admins); change or delete it (admins)."""

    permission_classes = [SupervisorsReadAdminsWrite]

    @extend_schema(responses=TemplateSerializer)
    def get(self, request: AuthenticatedRequest, pk: int) -> Response:
        return Response(TemplateSerializer(get_object_or_404(template_list(), pk=pk)).data)

    @extend_schema(request=TemplateWriteSerializer, responses=TemplateSerializer)
    def patch(self, request: AuthenticatedRequest, pk: int) -> Response:
        template = get_object_or_404(MessageTemplate, pk=pk)
        payload = TemplateWriteSerializer(data=request.data, partial=True)
        payload.is_valid(raise_exception=True)
        data = dict(payload.validated_data)
        for fixed in ("slug", "channel"):
            if fixed in data:
                raise serializers.ValidationError({fixed: [_("This cannot change.")]})
        template_update(template=template, updated_by=request.user, **data)
        return Response(TemplateSerializer(template_list().get(pk=pk)).data)

    @extend_schema(responses={204: None})
    def delete(self, request: AuthenticatedRequest, pk: int) -> Response:
        template_delete(template=get_object_or_404(MessageTemplate, pk=pk), deleted_by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TemplatePreviewApi(APIView):
    """Render a saved template (`template_id`) or unsaved texts (`channel` and `variants`,
    checked like a save) for a real customer, in each language or the one asked for."""

    permission_classes = [IsAdmin]

    @extend_schema(request=TemplatePreviewSerializer, responses={200: dict})
    def post(self, request: AuthenticatedRequest) -> Response:
        payload = TemplatePreviewSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        template = None
        if "template_id" in data:
            template = get_object_or_404(template_list(), pk=data["template_id"])
        extra = {key: data[key] for key in ("ticket_id", "order_id") if key in data}
        rendered = template_preview(
            customer_id=data["customer_id"],
            template=template,
            channel=data.get("channel"),
            variants=data.get("variants"),
            language=data.get("language"),
            extra=extra,
        )
        return Response(
            {
                language: {
                    "subject": message.subject,
                    "body": message.body,
                    # The records shown as samples: the customer has none ("ticket", "order").
                    "samples": list(message.samples),
                }
                for language, message in rendered.items()
            }
        )


# ---------------------------------------------------------------------------------------------
# Events, enrollments, settings


class MayPostEvents(BasePermission):
    """A request signed by the events integration (then the signature alone decides: a bad
    or replayed one is refused even if a user is logged in), or a user whose role may post
    some event type (EVENT_POSTERS); which types, the ingest service decides."""

    message = gettext_lazy("Your role may not post events.")

    def has_permission(self, request: Request, view: APIView) -> bool:
        if is_signed(request):
            return signed_by(Integration.EVENTS)().has_permission(request, view)
        return has_role(request.user, EVENT_POSTER_ROLES)


class EventListApi(ThrottledBeforePermissions, APIView):
    """POST: other systems report an event (the signed events integration, or a user whose
    role may post that type), with an idempotency key. GET: the outbox, newest first
    (supervisors, admins)."""

    def get_permissions(self) -> list:
        return [IsSupervisor()] if self.request.method == "GET" else [MayPostEvents()]

    @extend_schema(
        parameters=[OpenApiParameter("type", str), OpenApiParameter("customer", int)],
        responses=EventSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        events = _filtered(EventFilter(request.query_params, queryset=event_list()))
        paginator = DefaultCursorPagination()
        page = paginator.paginate_queryset(events, request, view=self)
        return paginator.get_paginated_response(EventSerializer(page, many=True).data)

    @extend_schema(
        request=EventIngestSerializer,
        parameters=[
            OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER),
            *signature_parameters(Integration.EVENTS, required=False),
        ],
        responses={201: EventSerializer, 200: EventSerializer},
    )
    def post(self, request: Request) -> Response:
        try:
            return self._ingest(request)
        except Exception:
            # A refused or failed signed request may be sent again as it was.
            signature_release(request)
            raise

    def _ingest(self, request: Request) -> Response:
        payload = EventIngestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data: dict[str, Any] = dict(payload.validated_data)
        key = request.headers.get("Idempotency-Key") or data.pop("idempotency_key", "")
        data.pop("idempotency_key", None)
        if getattr(request, SIGNED_BY_ATTR, None):
            poster = EventPoster.integration()
        else:
            assert isinstance(request.user, User)  # MayPostEvents: unsigned, a staff user
            poster = EventPoster.user(request.user)
        event, created = event_ingest(
            poster=poster, event_type=data.pop("type"), idempotency_key=key, **data
        )
        return Response(
            EventSerializer(event).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class EventDetailApi(APIView):
    permission_classes = [IsSupervisor]

    @extend_schema(responses=EventSerializer)
    def get(self, request: AuthenticatedRequest, pk: int) -> Response:
        return Response(EventSerializer(get_object_or_404(event_list(), pk=pk)).data)


class EnrollmentListApi(APIView):
    """Enrollments, newest first; filter by rule, customer, status, is_control, enrolled
    range (supervisors, admins)."""

    permission_classes = [IsSupervisor]

    @extend_schema(responses=EnrollmentSerializer(many=True))
    def get(self, request: AuthenticatedRequest) -> Response:
        enrollments = _filtered(EnrollmentFilter(request.query_params, queryset=enrollment_list()))
        paginator = DefaultCursorPagination()
        page = paginator.paginate_queryset(enrollments, request, view=self)
        return paginator.get_paginated_response(EnrollmentSerializer(page, many=True).data)


class CareSettingsApi(APIView):
    """The guardrails: read (supervisors, admins), change (admins)."""

    permission_classes = [SupervisorsReadAdminsWrite]

    @extend_schema(responses=SettingsSerializer)
    def get(self, request: AuthenticatedRequest) -> Response:
        return Response(SettingsSerializer(CareSettings.load()).data)

    @extend_schema(request=SettingsSerializer, responses=SettingsSerializer)
    def patch(self, request: AuthenticatedRequest) -> Response:
        payload = SettingsSerializer(CareSettings.load(), data=request.data, partial=True)
        payload.is_valid(raise_exception=True)
        settings = care_settings_update(updated_by=request.user, **payload.validated_data)
        return Response(SettingsSerializer(settings).data)

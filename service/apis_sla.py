"""REST API of SLA policies and business calendars (mounted under /api/service/).

    endpoint                                        agent  supervisor  admin
    policies, versions, calendars, dates: read              x          x
    policies: create, change, move                                     x
    calendars: create, change; dates: add, remove                      x

Writes go through service.services.sla_admin (validated, versioned, audited); bad input is a
400 that changes nothing.
"""

from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from callcenter.http import AuthenticatedRequest
from callcenter.roles import IsAdmin, IsSupervisor, SupervisorsReadAdminsWrite
from service.models import BusinessCalendar, BusinessCalendarDate, SlaPolicy, SlaPolicyVersion
from service.selectors.sla_admin import calendar_list, policy_list
from service.services.sla_admin import (
    business_calendar_create,
    business_calendar_date_add,
    business_calendar_date_remove,
    business_calendar_update,
    sla_policy_create,
    sla_policy_move,
    sla_policy_update,
)


class PolicySerializer(serializers.ModelSerializer):
    segment_ids = serializers.SerializerMethodField()

    class Meta:
        model = SlaPolicy
        fields = [
            "id", "name", "position", "is_active", "version", "ticket_kinds", "priorities",
            "channels", "customer_kinds", "value_tiers", "lifecycle_stages", "segment_ids",
            "calendar_id", "first_response_minutes", "next_response_minutes",
            "resolution_minutes", "warn_at_percent", "escalate_reassign", "escalate_notify",
            "updated_at",
        ]  # fmt: skip

    def get_segment_ids(self, policy: SlaPolicy) -> list[int]:
        return sorted(segment.pk for segment in policy.segments.all())


class PolicyWriteSerializer(serializers.Serializer):
    """Shape only; the service checks values (choices, ranges, ids)."""

    name = serializers.CharField(max_length=100, required=False)
    is_active = serializers.BooleanField(required=False)
    ticket_kinds = serializers.ListField(child=serializers.CharField(), required=False)
    priorities = serializers.ListField(child=serializers.CharField(), required=False)
    channels = serializers.ListField(child=serializers.CharField(), required=False)
    customer_kinds = serializers.ListField(child=serializers.CharField(), required=False)
    value_tiers = serializers.ListField(child=serializers.CharField(), required=False)
    lifecycle_stages = serializers.ListField(child=serializers.CharField(), required=False)
    segment_ids = serializers.ListField(child=serializers.IntegerField(), required=False)
    calendar_id = serializers.IntegerField(required=False, allow_null=True)
    first_response_minutes = serializers.IntegerField(required=False, allow_null=True)
    next_response_minutes = serializers.IntegerField(required=False, allow_null=True)
    resolution_minutes = serializers.IntegerField(required=False, allow_null=True)
    warn_at_percent = serializers.IntegerField(required=False)
    escalate_reassign = serializers.BooleanField(required=False)
    escalate_notify = serializers.BooleanField(required=False)


class MoveSerializer(serializers.Serializer):
    direction = serializers.ChoiceField(choices=["up", "down"])


class PolicyVersionSerializer(serializers.ModelSerializer):
    changed_by = serializers.CharField(source="changed_by.username", default=None)

    class Meta:
        model = SlaPolicyVersion
        fields = ["version", "changed_by", "changed_at", "snapshot"]


class CalendarDateSerializer(serializers.ModelSerializer):
    class Meta:
        model = BusinessCalendarDate
        fields = ["id", "day", "is_open", "hours", "reason"]


class CalendarSerializer(serializers.ModelSerializer):
    class Meta:
        model = BusinessCalendar
        fields = ["id", "name", "timezone", "hours", "follows_public_holidays", "version"]


class CalendarWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False)
    timezone = serializers.CharField(max_length=64, required=False)
    hours = serializers.DictField(required=False)
    follows_public_holidays = serializers.BooleanField(required=False)


class CalendarDateWriteSerializer(serializers.Serializer):
    day = serializers.DateField()
    is_open = serializers.BooleanField(default=False)
    hours = serializers.ListField(child=serializers.ListField(), required=False)
    reason = serializers.CharField(max_length=255)


def _policy_data(pk: int) -> dict[str, Any]:
    return PolicySerializer(policy_list().get(pk=pk)).data


class PolicyListApi(APIView):
    """SLA policies in match order (supervisors, admins); create one, last (admins)."""

    permission_classes = [SupervisorsReadAdminsWrite]

    @extend_schema(responses=PolicySerializer(many=True))
    def get(self, request: AuthenticatedRequest) -> Response:
        return Response(PolicySerializer(policy_list(), many=True).data)

    @extend_schema(request=PolicyWriteSerializer, responses={201: PolicySerializer})
    def post(self, request: AuthenticatedRequest) -> Response:
        payload = PolicyWriteSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        if "name" not in payload.validated_data:
            raise serializers.ValidationError({"name": ["This field is required."]})
        policy = sla_policy_create(created_by=request.user, **payload.validated_data)
        return Response(_policy_data(policy.pk), status=status.HTTP_201_CREATED)


class PolicyDetailApi(APIView):
    """One policy (supervisors, admins); change it, making a new version (admins)."""

    permission_classes = [SupervisorsReadAdminsWrite]

    @extend_schema(responses=PolicySerializer)
    def get(self, request: AuthenticatedRequest, pk: int) -> Response:
        return Response(PolicySerializer(get_object_or_404(policy_list(), pk=pk)).data)

    @extend_schema(request=PolicyWriteSerializer, responses=PolicySerializer)
    def patch(self, request: AuthenticatedRequest, pk: int) -> Response:
        policy = get_object_or_404(SlaPolicy, pk=pk)
        payload = PolicyWriteSerializer(data=request.data, partial=True)
        payload.is_valid(raise_exception=True)
        sla_policy_update(policy=policy, updated_by=request.user, **payload.validated_data)
        return Response(_policy_data(pk))


class PolicyMoveApi(APIView):
    """Move a policy up or down the match order (admins)."""

    permission_classes = [IsAdmin]

    @extend_schema(request=MoveSerializer, responses=PolicySerializer(many=True))
    def post(self, request: AuthenticatedRequest, pk: int) -> Response:
        policy = get_object_or_404(SlaPolicy, pk=pk)
        payload = MoveSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        sla_policy_move(
            policy=policy, direction=payload.validated_data["direction"], moved_by=request.user
        )
        return Response(PolicySerializer(policy_list(), many=True).data)


class PolicyVersionsApi(APIView):
    """A policy's versions, newest first (supervisors, admins)."""

    permission_classes = [IsSupervisor]

    @extend_schema(responses=PolicyVersionSerializer(many=True))
    def get(self, request: AuthenticatedRequest, pk: int) -> Response:
        policy = get_object_or_404(SlaPolicy, pk=pk)
        versions = policy.versions.select_related("changed_by").order_by("-version")
        return Response(PolicyVersionSerializer(versions, many=True).data)


class CalendarListApi(APIView):
    """Business calendars (supervisors, admins); create one (admins)."""

    permission_classes = [SupervisorsReadAdminsWrite]

    @extend_schema(responses=CalendarSerializer(many=True))
    def get(self, request: AuthenticatedRequest) -> Response:
        return Response(CalendarSerializer(calendar_list(), many=True).data)

    @extend_schema(request=CalendarWriteSerializer, responses={201: CalendarSerializer})
    def post(self, request: AuthenticatedRequest) -> Response:
        payload = CalendarWriteSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        calendar = business_calendar_create(created_by=request.user, **payload.validated_data)
        return Response(CalendarSerializer(calendar).data, status=status.HTTP_201_CREATED)


class CalendarDetailApi(APIView):
    """One calendar (supervisors, admins); change it (admins)."""

    permission_classes = [SupervisorsReadAdminsWrite]

    @extend_schema(responses=CalendarSerializer)
    def get(self, request: AuthenticatedRequest, pk: int) -> Response:
        return Response(CalendarSerializer(get_object_or_404(BusinessCalendar, pk=pk)).data)

    @extend_schema(request=CalendarWriteSerializer, responses=CalendarSerializer)
    def patch(self, request: AuthenticatedRequest, pk: int) -> Response:
        calendar = get_object_or_404(BusinessCalendar, pk=pk)
        payload = CalendarWriteSerializer(data=request.data, partial=True)
        payload.is_valid(raise_exception=True)
        calendar = business_calendar_update(
            calendar=calendar, updated_by=request.user, **payload.validated_data
        )
        return Response(CalendarSerializer(calendar).data)


class CalendarDatesApi(APIView):
    """A calendar's own dates (supervisors, admins); add one (admins)."""

    permission_classes = [SupervisorsReadAdminsWrite]

    @extend_schema(responses=CalendarDateSerializer(many=True))
    def get(self, request: AuthenticatedRequest, pk: int) -> Response:
        calendar = get_object_or_404(BusinessCalendar, pk=pk)
        return Response(CalendarDateSerializer(calendar.dates.order_by("day"), many=True).data)

    @extend_schema(request=CalendarDateWriteSerializer, responses={201: CalendarDateSerializer})
    def post(self, request: AuthenticatedRequest, pk: int) -> Response:
        calendar = get_object_or_404(BusinessCalendar, pk=pk)
        payload = CalendarDateWriteSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        entry = business_calendar_date_add(
            calendar=calendar,
            day=data["day"],
            is_open=data["is_open"],
            hours=data.get("hours"),
            reason=data["reason"],
            added_by=request.user,
        )
        return Response(CalendarDateSerializer(entry).data, status=status.HTTP_201_CREATED)


class CalendarDateDetailApi(APIView):
    """Remove a calendar's date (admins)."""

    permission_classes = [IsAdmin]

    @extend_schema(responses={204: None})
    def delete(self, request: AuthenticatedRequest, pk: int) -> Response:
        entry = get_object_or_404(BusinessCalendarDate, pk=pk)
        business_calendar_date_remove(entry=entry, removed_by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

"""REST API of the next best actions (the `/next-best-actions/` page's data): supervisors and
admins read, admins write; every change is checked and audited by
segments.services.next_best_actions, as on the page. A refused condition answers 400 with the
bad node's `path`; a refused text, position or channel with its `field`."""

from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from callcenter.choices import InteractionChannel
from callcenter.http import AuthenticatedRequest
from callcenter.roles import SupervisorsReadAdminsWrite
from segments.models import NBA_TEXT_LENGTH, NextBestAction
from segments.rules import RuleError, rule_describe
from segments.services.next_best_actions import (
    MAX_NAME_LENGTH,
    next_best_action_create,
    next_best_action_delete,
    next_best_action_update,
)


class NextBestActionSerializer(serializers.ModelSerializer):
    condition_text = serializers.SerializerMethodField()

    class Meta:
        model = NextBestAction
        fields = [
            "id", "key", "name", "position", "is_active", "condition", "condition_text",
            "action_text", "reason_text", "channel", "created_at", "updated_at",
        ]  # fmt: skip

    def get_condition_text(self, action: NextBestAction) -> str:
        """The condition in words (empty if a stored condition no longer validates)."""
        try:
            return rule_describe(tree=action.condition)
        except RuleError:
            return ""


class NextBestActionWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=MAX_NAME_LENGTH)
    position = serializers.IntegerField(min_value=0, required=False)
    is_active = serializers.BooleanField(required=False)
    condition = serializers.JSONField(help_text="A rule tree, as rule segments take.")
    action_text = serializers.CharField(
        max_length=NBA_TEXT_LENGTH, help_text="Placeholders: {top_category}, {overdue_days}..."
    )
    reason_text = serializers.CharField(
        max_length=NBA_TEXT_LENGTH, allow_blank=True, required=False
    )
    channel = serializers.ChoiceField(
        choices=InteractionChannel.choices, allow_blank=True, required=False
    )


def _detail(pk: int) -> dict[str, Any]:
    return NextBestActionSerializer(NextBestAction.objects.get(pk=pk)).data


class NextBestActionListApi(APIView):
    """The rules in the order the desk tries them; admins add one."""

    permission_classes = [SupervisorsReadAdminsWrite]

    @extend_schema(summary="Next best actions", responses=NextBestActionSerializer(many=True))
    def get(self, request: AuthenticatedRequest) -> Response:
        rules = NextBestAction.objects.order_by("position", "pk")
        return Response(NextBestActionSerializer(rules, many=True).data)

    @extend_schema(
        summary="Add a next best action",
        request=NextBestActionWriteSerializer,
        responses={201: NextBestActionSerializer},
    )
    def post(self, request: AuthenticatedRequest) -> Response:
        payload = NextBestActionWriteSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        action = next_best_action_create(created_by=request.user, **payload.validated_data)
        return Response(_detail(action.pk), status=status.HTTP_201_CREATED)


class NextBestActionDetailApi(APIView):
    """One rule: read, change (admins) or remove (admins)."""

    permission_classes = [SupervisorsReadAdminsWrite]

    @extend_schema(summary="A next best action", responses=NextBestActionSerializer)
    def get(self, request: AuthenticatedRequest, pk: int) -> Response:
        return Response(NextBestActionSerializer(get_object_or_404(NextBestAction, pk=pk)).data)

    @extend_schema(
        summary="Change a next best action",
        request=NextBestActionWriteSerializer,
        responses=NextBestActionSerializer,
    )
    def patch(self, request: AuthenticatedRequest, pk: int) -> Response:
        action = get_object_or_404(NextBestAction.objects.select_for_update(), pk=pk)
        payload = NextBestActionWriteSerializer(data=request.data, partial=True)
        payload.is_valid(raise_exception=True)
        next_best_action_update(action=action, updated_by=request.user, **payload.validated_data)
        return Response(_detail(pk))

    @extend_schema(summary="Remove a next best action", responses={204: None})
    def delete(self, request: AuthenticatedRequest, pk: int) -> Response:
        action = get_object_or_404(NextBestAction, pk=pk)
        next_best_action_delete(action=action, deleted_by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

"""REST API of the call reasons' after-call follow-ups (the `/call-reasons/` page's data):
supervisors and admins read, admins write; every change is checked and audited by
outreach.services.call_followups, as on the page."""

from django.db import transaction
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from callcenter.http import AuthenticatedRequest
from callcenter.roles import SupervisorsReadAdminsWrite
from outreach.models import CallReasonSetting
from outreach.serializers import CallReasonSettingSerializer
from outreach.services.call_followups import call_reason_setting_delete, call_reason_setting_save


class CallReasonListApi(APIView):
    """Call reasons with follow-ups, by name; admins add one."""

    permission_classes = [SupervisorsReadAdminsWrite]

    @extend_schema(
        summary="Call reasons' follow-ups", responses=CallReasonSettingSerializer(many=True)
    )
    def get(self, request: AuthenticatedRequest) -> Response:
        settings = CallReasonSetting.objects.select_related("csat_template").order_by("reason")
        return Response(CallReasonSettingSerializer(settings, many=True).data)

    @extend_schema(
        summary="Add a call reason's follow-ups",
        request=CallReasonSettingSerializer,
        responses={201: CallReasonSettingSerializer},
    )
    def post(self, request: AuthenticatedRequest) -> Response:
        serializer = CallReasonSettingSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        setting = call_reason_setting_save(
            reason=data["reason"],
            summary_channel=data["summary_channel"],
            csat_template=data.get("csat_template"),
            saved_by=request.user,
        )
        return Response(CallReasonSettingSerializer(setting).data, status=status.HTTP_201_CREATED)


class CallReasonDetailApi(APIView):
    """One call reason's follow-ups: read, change (admins) or remove (admins)."""

    permission_classes = [SupervisorsReadAdminsWrite]

    @extend_schema(summary="A call reason's follow-ups", responses=CallReasonSettingSerializer)
    def get(self, request: AuthenticatedRequest, pk: int) -> Response:
        setting = get_object_or_404(
            CallReasonSetting.objects.select_related("csat_template"), pk=pk
        )
        return Response(CallReasonSettingSerializer(setting).data)

    @extend_schema(
        summary="Change a call reason's follow-ups",
        request=CallReasonSettingSerializer,
        responses=CallReasonSettingSerializer,
    )
    def patch(self, request: AuthenticatedRequest, pk: int) -> Response:
        with transaction.atomic():
            setting = get_object_or_404(CallReasonSetting.objects.select_for_update(), pk=pk)
            serializer = CallReasonSettingSerializer(setting, data=request.data, partial=True)
            serializer.is_valid(raise_exception=True)
            data = serializer.validated_data
            setting = call_reason_setting_save(
                setting=setting,
                reason=data.get("reason", setting.reason),
                summary_channel=data.get("summary_channel", setting.summary_channel),
                csat_template=data.get("csat_template", setting.csat_template),
                saved_by=request.user,
            )
        return Response(CallReasonSettingSerializer(setting).data)

    @extend_schema(summary="Remove a call reason's follow-ups", responses={204: None})
    def delete(self, request: AuthenticatedRequest, pk: int) -> Response:
        setting = get_object_or_404(CallReasonSetting, pk=pk)
        call_reason_setting_delete(setting=setting, deleted_by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

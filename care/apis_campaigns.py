"""REST API of campaigns (supervisors and admins; agents get 403):

    GET  /api/care/campaigns/                 list          POST: create a draft
    GET  /api/care/campaigns/<id>/            one, runs     PATCH: change a draft
    GET  /api/care/campaigns/<id>/preview/    audience per channel and load per day, if it
                                              started now (or at ?at=<ISO time>)
    POST /api/care/campaigns/<id>/launch/     200; 400 when no one is in the audience now
    POST /api/care/campaigns/<id>/pause/ | resume/ | cancel/
                                              202 with the new status at once; the tasks
                                              follow in the background (work_pending)
    GET  /api/care/campaigns/<id>/progress/   work by stage, reached, replied, converted, uplift

Bad input is refused with 400 naming the field, and changes nothing.
"""

from typing import Any

from django.shortcuts import get_object_or_404
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from callcenter.http import AuthenticatedRequest
from callcenter.roles import IsSupervisor
from care.choices import CampaignRecurrence
from care.models import Campaign, CampaignRun
from care.selectors_campaigns import campaign_list, campaign_progress, campaign_runs
from care.services.campaigns import (
    campaign_cancel,
    campaign_create,
    campaign_launch,
    campaign_pause,
    campaign_preview,
    campaign_resume,
    campaign_update,
)

# Ids are PostgreSQL bigints: a larger number is refused as input rather than overflowing.
MAX_ID = 2**63 - 1


class CampaignRunSerializer(serializers.ModelSerializer):
    class Meta:
        model = CampaignRun
        fields = [
            "id", "scheduled_for", "status", "started_at", "members", "control", "tasks", "error",
        ]  # fmt: skip


class CampaignSerializer(serializers.ModelSerializer):
    segment = serializers.IntegerField(source="segment_id", allow_null=True)
    segment_slug = serializers.CharField(source="segment.slug", default=None)
    rule = serializers.IntegerField(source="rule_id")
    rule_name = serializers.CharField(source="rule.name")
    created_by = serializers.CharField(source="created_by.username", default=None)
    launched_by = serializers.CharField(source="launched_by.username", default=None)

    class Meta:
        model = Campaign
        fields = [
            "id", "name", "description", "rule", "rule_name", "segment", "segment_slug",
            "audience_rule", "recurrence", "starts_at", "weekdays", "month_day", "run_dates",
            "ends_at", "holdout_share", "max_per_hour", "status", "status_reason",
            "next_run_at", "paused_at", "work_pending", "created_by", "launched_by", "created_at",
            "updated_at",
        ]  # fmt: skip


class CampaignWriteSerializer(serializers.Serializer):
    """Shapes only; the campaign service checks every value and names the bad one."""

    name = serializers.CharField(max_length=120, required=False, allow_blank=True)
    description = serializers.CharField(required=False, allow_blank=True)
    rule = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    segment = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=MAX_ID
    )
    audience_rule = serializers.JSONField(required=False, allow_null=True)
    recurrence = serializers.ChoiceField(choices=CampaignRecurrence.choices, required=False)
    starts_at = serializers.DateTimeField(required=False)
    weekdays = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=7), required=False, max_length=7
    )
    month_day = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=28)
    run_dates = serializers.ListField(
        child=serializers.CharField(max_length=10), required=False, max_length=100
    )
    ends_at = serializers.DateTimeField(required=False, allow_null=True)
    holdout_share = serializers.FloatField(required=False)
    max_per_hour = serializers.DictField(
        child=serializers.IntegerField(allow_null=True, min_value=1, max_value=1_000_000),
        required=False,
    )


def _detail(campaign: Campaign) -> dict[str, Any]:
    data = CampaignSerializer(campaign_list().get(pk=campaign.pk)).data
    data["runs"] = CampaignRunSerializer(campaign_runs(campaign=campaign), many=True).data
    return data


class CampaignListApi(APIView):
    permission_classes = [IsSupervisor]

    @extend_schema(responses=CampaignSerializer(many=True))
    def get(self, request: AuthenticatedRequest) -> Response:
        return Response(CampaignSerializer(campaign_list(), many=True).data)

    @extend_schema(request=CampaignWriteSerializer, responses={201: CampaignSerializer})
    def post(self, request: AuthenticatedRequest) -> Response:
        payload = CampaignWriteSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = dict(payload.validated_data)
        missing = [name for name in ("name", "rule", "starts_at") if name not in data]
        if missing:
            raise serializers.ValidationError(
                {name: [_("This field is required.")] for name in missing}
            )
        campaign = campaign_create(created_by=request.user, **data)
        return Response(_detail(campaign), status=status.HTTP_201_CREATED)


class CampaignDetailApi(APIView):
    permission_classes = [IsSupervisor]

    @extend_schema(responses=CampaignSerializer)
    def get(self, request: AuthenticatedRequest, pk: int) -> Response:
        return Response(_detail(get_object_or_404(Campaign, pk=pk)))

    @extend_schema(request=CampaignWriteSerializer, responses=CampaignSerializer)
    def patch(self, request: AuthenticatedRequest, pk: int) -> Response:
        campaign = get_object_or_404(Campaign, pk=pk)
        payload = CampaignWriteSerializer(data=request.data, partial=True)
        payload.is_valid(raise_exception=True)
        campaign_update(campaign=campaign, **dict(payload.validated_data))
        return Response(_detail(campaign))


class CampaignPreviewApi(APIView):
    permission_classes = [IsSupervisor]

    @extend_schema(
        parameters=[OpenApiParameter("at", str, description="ISO date and time; default now")],
        responses=dict,
    )
    def get(self, request: Request, pk: int) -> Response:
        campaign = get_object_or_404(Campaign.objects.select_related("rule"), pk=pk)
        moment = None
        if "at" in request.query_params:
            try:
                moment = parse_datetime(request.query_params["at"])
            except ValueError:
                moment = None
            if moment is None or moment.tzinfo is None:
                raise serializers.ValidationError(
                    {"at": [_("Give a date and time with a time zone (ISO 8601).")]}
                )
        return Response(campaign_preview(campaign=campaign, now=moment).as_dict())


class CampaignProgressApi(APIView):
    permission_classes = [IsSupervisor]

    @extend_schema(responses=dict)
    def get(self, request: Request, pk: int) -> Response:
        campaign = get_object_or_404(Campaign, pk=pk)
        return Response(campaign_progress(campaign=campaign).as_dict())


class _CampaignActionApi(APIView):
    permission_classes = [IsSupervisor]
    action_name = ""
    # Pause, resume and cancel answer 202 (_CampaignDecisionApi): the status is the new one,
    # the tasks follow in the background (`work_pending` is true until they have).
    response_status: int = status.HTTP_200_OK

    def act(self, request: AuthenticatedRequest, campaign: Campaign) -> None:
        raise NotImplementedError

    @extend_schema(request=None, responses=CampaignSerializer)
    def post(self, request: AuthenticatedRequest, pk: int) -> Response:
        campaign = get_object_or_404(Campaign, pk=pk)
        self.act(request, campaign)
        return Response(_detail(campaign), status=self.response_status)


class CampaignLaunchApi(_CampaignActionApi):
    def act(self, request: AuthenticatedRequest, campaign: Campaign) -> None:
        campaign_launch(campaign=campaign, launched_by=request.user)


class _CampaignDecisionApi(_CampaignActionApi):
    """Pause, resume and cancel: the decision at once (202), the tasks in the background."""

    response_status = status.HTTP_202_ACCEPTED

    @extend_schema(request=None, responses={202: CampaignSerializer})
    def post(self, request: AuthenticatedRequest, pk: int) -> Response:
        return super().post(request, pk)


class CampaignPauseApi(_CampaignDecisionApi):
    def act(self, request: AuthenticatedRequest, campaign: Campaign) -> None:
        campaign_pause(campaign=campaign)


class CampaignResumeApi(_CampaignDecisionApi):
    def act(self, request: AuthenticatedRequest, campaign: Campaign) -> None:
        campaign_resume(campaign=campaign)


class CampaignCancelApi(_CampaignDecisionApi):
    def act(self, request: AuthenticatedRequest, campaign: Campaign) -> None:
        campaign_cancel(campaign=campaign)

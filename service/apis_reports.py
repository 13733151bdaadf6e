"""REST API of the service reports.

    endpoint                        agent        supervisor  admin
    GET /api/service/sla/report/                 x           x
    GET /api/service/scorecards/    own card     x           x

An agent's scorecards answer holds their own card (with their team's average) and nothing
about anyone else: no other card, no team list, no unassigned line. Bad parameters answer 400
with the reason per field.
"""

from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from callcenter.roles import IsAgent, IsSupervisor
from service.selectors.scorecards import PERIOD_KINDS, scorecard_period, scorecards_for
from service.selectors.sla_report import (
    DEFAULT_WEEKS,
    MAX_WEEKS,
    SlaRow,
    report_period,
    sla_report,
)
from service.views.reports import OLDEST_SCORECARD_DATE


class SlaReportQuery(serializers.Serializer):
    weeks = serializers.IntegerField(min_value=1, max_value=MAX_WEEKS, default=DEFAULT_WEEKS)


class ScorecardQuery(serializers.Serializer):
    period = serializers.ChoiceField(choices=PERIOD_KINDS, default="week")
    date = serializers.DateField(required=False)

    def validate_date(self, value: Any) -> Any:
        if not OLDEST_SCORECARD_DATE <= value <= timezone.localdate():
            raise serializers.ValidationError(_("Give a date from 2000-01-01 to today."))
        return value


def _row(row: SlaRow) -> dict[str, Any]:
    key = row.key.isoformat() if hasattr(row.key, "isoformat") else row.key
    return {"key": key, "label": row.label, **row.figures.as_dict()}


class SlaReportApi(APIView):
    """First-response and resolution compliance, breaches and percentiles of the minutes taken,
    per policy, team, agent and week (see service.selectors.sla_report for the definitions)."""

    permission_classes = [IsSupervisor]

    @extend_schema(
        parameters=[OpenApiParameter("weeks", int, description="1 to 52, default 8")],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request) -> Response:
        query = SlaReportQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        start, end = report_period(weeks=query.validated_data["weeks"])
        report = sla_report(start=start, end=end)
        return Response(
            {
                "start": start.isoformat(),
                "end": end.isoformat(),
                "total": report.total.as_dict(),
                "by_policy": [_row(row) for row in report.by_policy],
                "by_team": [_row(row) for row in report.by_team],
                "by_agent": [{**_row(row), "team": row.team} for row in report.by_agent],
                "by_week": [_row(row) for row in report.by_week],
            }
        )


class ScorecardsApi(APIView):
    """Scorecards of the week or month holding `date` (today by default)."""

    permission_classes = [IsAgent]

    @extend_schema(
        parameters=[
            OpenApiParameter("period", str, enum=list(PERIOD_KINDS)),
            OpenApiParameter("date", OpenApiTypes.DATE),
        ],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request) -> Response:
        query = ScorecardQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        on = query.validated_data.get("date") or timezone.localdate()
        start, end = scorecard_period(kind=query.validated_data["period"], on=on)
        scorecards = scorecards_for(user=request.user, start=start, end=end)
        return Response(
            {
                "start": start.isoformat(),
                "end": end.isoformat(),
                "cards": [
                    {
                        "agent": {"id": card.agent_id, "name": card.name, "team": card.team},
                        "figures": card.figures.as_dict(),
                        "team_average": card.team_average,
                    }
                    for card in scorecards.cards
                ],
                "teams": [
                    {"team": team.team, "members": team.members, "average": team.average}
                    for team in scorecards.teams
                ],
                "unassigned": scorecards.unassigned.as_dict() if scorecards.teams else None,
            }
        )

"""REST API of the holiday calendar: a year's holidays and make-up working days (any
call-center role); admins add and remove their own dates (audited).

`GET /api/calendar-days/?year=2026` answers `covered: false` for a year the public calendar
package has no data for: its public holidays are unknown, not absent.
"""

from typing import Any

from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from callcenter.choices import CalendarDayKind
from callcenter.http import AuthenticatedRequest
from callcenter.models import CalendarDay
from callcenter.roles import IsAdmin, IsAgent
from callcenter.selectors.calendar import (
    CALENDAR_YEARS,
    calendar_day_label,
    calendar_days_of_year,
)
from callcenter.services.calendar import calendar_day_add, calendar_day_remove, package_years


class CalendarDaySerializer(serializers.ModelSerializer):
    display_name = serializers.SerializerMethodField(
        help_text="The name in the request's language."
    )

    class Meta:
        model = CalendarDay
        fields = ["id", "day", "kind", "name", "display_name", "source", "reason"]

    def get_display_name(self, entry: CalendarDay) -> str:
        return calendar_day_label(entry.name)


class CalendarYearSerializer(serializers.Serializer):
    year = serializers.IntegerField(
        required=False, min_value=CALENDAR_YEARS.start, max_value=CALENDAR_YEARS.stop - 1
    )


class CalendarDayInputSerializer(serializers.Serializer):
    day = serializers.DateField()
    kind = serializers.ChoiceField(choices=CalendarDayKind.choices)
    name = serializers.CharField(max_length=100)
    reason = serializers.CharField(max_length=255)


CalendarListSerializer = inline_serializer(
    "CalendarYear",
    {
        "year": serializers.IntegerField(),
        "covered": serializers.BooleanField(
            help_text="False when the public calendar has no data for the year."
        ),
        "results": CalendarDaySerializer(many=True),
    },
)


class CalendarDayListApi(APIView):
    """A year's calendar (any role); add a company date (admins)."""

    def get_permissions(self) -> list[BasePermission]:
        return [IsAdmin()] if self.request.method == "POST" else [IsAgent()]

    @extend_schema(
        summary="Holidays and make-up working days of a year",
        parameters=[OpenApiParameter("year", int, description="Default: this year.")],
        responses=CalendarListSerializer,
    )
    def get(self, request: AuthenticatedRequest) -> Response:
        query = CalendarYearSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        year = query.validated_data.get("year") or timezone.localdate().year
        data: dict[str, Any] = {
            "year": year,
            "covered": year in package_years(),
            "results": CalendarDaySerializer(calendar_days_of_year(year), many=True).data,
        }
        return Response(data)

    @extend_schema(
        summary="Add a company date (admins; audited)",
        request=CalendarDayInputSerializer,
        responses={201: CalendarDaySerializer},
    )
    def post(self, request: AuthenticatedRequest) -> Response:
        serializer = CalendarDayInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        entry = calendar_day_add(**serializer.validated_data, added_by=request.user)
        return Response(CalendarDaySerializer(entry).data, status=status.HTTP_201_CREATED)


class CalendarDayDetailApi(APIView):
    """Remove a date an admin added (admins; audited); the public calendar's entry returns."""

    permission_classes = [IsAdmin]

    @extend_schema(summary="Remove a company date", responses={204: None})
    def delete(self, request: AuthenticatedRequest, pk: int) -> Response:
        calendar_day_remove(entry=get_object_or_404(CalendarDay, pk=pk), removed_by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

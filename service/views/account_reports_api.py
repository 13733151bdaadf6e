"""REST API of business accounts' monthly reports.

    endpoint                                             advisor (agent)   supervisor/admin
    GET  /api/service/accounts/{id}/reports/             their accounts    all
    POST /api/service/accounts/{id}/reports/             -                 x  {"month": "YYYY-MM"}
    GET  /api/service/accounts/{id}/reports/{month}.pdf  their accounts    all

Other agents get 403; an id that is not an active business account is 404.
"""

from django.http import HttpResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from callcenter.errors import ApplicationError
from callcenter.http import AuthenticatedRequest
from callcenter.models import Customer
from callcenter.roles import MANAGER_ROLES, IsAgent, has_role
from service.models import AccountReport, AccountReportStatus
from service.services.account_reports import (
    account_report_generate,
    account_reports_check_view,
    business_account_get,
    parse_month,
)
from service.views.account_reports import pdf_response


class AccountReportSerializer(serializers.ModelSerializer):
    month = serializers.SerializerMethodField()
    pdf_url = serializers.SerializerMethodField()

    class Meta:
        model = AccountReport
        fields = (
            "id",
            "month",
            "status",
            "language",
            "version",
            "generated_at",
            "pdf_sha256",
            "pdf_size",
            "error",
            "notified_at",
            "email_count",
            "call_task",
            "pdf_url",
            "data",
        )
        read_only_fields = fields

    def get_month(self, report: AccountReport) -> str:
        return f"{report.month:%Y-%m}"

    def get_pdf_url(self, report: AccountReport) -> str | None:
        if report.status != AccountReportStatus.READY:
            return None
        return reverse(
            "api-account-report-pdf",
            kwargs={"pk": report.account_id, "month": f"{report.month:%Y-%m}"},
        )


class GenerateInputSerializer(serializers.Serializer):
    month = serializers.RegexField(r"^\d{4}-\d{2}$", help_text="YYYY-MM")
    send = serializers.BooleanField(
        default=False,
        help_text="Also send a finished month's report not sent yet, as the monthly run does.",
    )


def _account(request: Request, pk: int) -> Customer:
    account = business_account_get(pk)
    if account is None:
        raise NotFound()
    account_reports_check_view(request.user, account)
    return account


class AccountReportListApi(APIView):
    """An account's reports, newest month first; POST generates (or regenerates) one."""

    permission_classes = [IsAgent]

    @extend_schema(responses=AccountReportSerializer(many=True))
    def get(self, request: AuthenticatedRequest, pk: int) -> Response:
        account = _account(request, pk)
        reports = AccountReport.objects.filter(account=account).order_by("-month")
        return Response(AccountReportSerializer(reports, many=True).data)

    @extend_schema(request=GenerateInputSerializer, responses={201: AccountReportSerializer})
    def post(self, request: AuthenticatedRequest, pk: int) -> Response:
        account = _account(request, pk)
        # The role first: an advisor's malformed request is refused, not validated.
        if not has_role(request.user, MANAGER_ROLES):
            raise PermissionDenied(_("Only supervisors and admins generate reports."))
        form = GenerateInputSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            month = parse_month(form.validated_data["month"])
        except ApplicationError as exc:
            raise serializers.ValidationError({"month": [exc.message]}) from exc
        report = account_report_generate(
            account=account, month=month, user=request.user, send=form.validated_data["send"]
        )
        return Response(AccountReportSerializer(report).data, status=status.HTTP_201_CREATED)


class AccountReportPdfApi(APIView):
    """The generated PDF of a month (404 before it is generated)."""

    permission_classes = [IsAgent]

    @extend_schema(responses={(200, "application/pdf"): OpenApiTypes.BINARY})
    def get(self, request: AuthenticatedRequest, pk: int, month: str) -> HttpResponse:
        account = _account(request, pk)
        try:
            first = parse_month(month)
        except ApplicationError as exc:
            raise NotFound(exc.message) from exc
        report = AccountReport.objects.filter(
            account=account, month=first, status=AccountReportStatus.READY
        ).first()
        if report is None:
            raise NotFound()
        return pdf_response(report)

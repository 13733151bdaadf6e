"""Pages of business accounts' monthly reports: the report of a month (HTML with a chart, the
PDF to download), generating it on demand, and the public download of an emailed link.

Supervisors and admins see every account's reports; an agent only those of the accounts they
advise (others get 403). Only supervisors and admins generate."""

import math
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST, require_safe

from callcenter.errors import ApplicationError
from callcenter.http import AuthenticatedHttpRequest
from callcenter.roles import MANAGER_ROLES, has_role
from callcenter.views import role_required
from outreach.views.links import TrackedLinkThrottle
from service.models import AccountReport, AccountReportPdf, AccountReportStatus
from service.services.account_report_data import account_reports_data
from service.services.account_report_pdf import (
    figure_label,
    kind_label,
    percent_text,
    role_label,
)
from service.services.account_reports import (
    account_report_generate,
    business_account_get,
    can_view_account_reports,
    last_month,
    parse_month,
)

# Reports listed beside the report (three years of months).
REPORTS_LISTED = 36


def pdf_response(report: AccountReport, *, download: bool = True) -> HttpResponse:
    """The stored PDF, with its checksum as the ETag."""
    content = AccountReportPdf.objects.filter(report=report).values_list("content", flat=True)
    response = HttpResponse(bytes(content.get()), content_type="application/pdf")
    disposition = "attachment" if download else "inline"
    response["Content-Disposition"] = (
        f'{disposition}; filename="account-{report.account_id}-{report.month:%Y-%m}.pdf"'
    )
    response["ETag"] = f'"{report.pdf_sha256}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


def present(data: dict[str, Any], language: str) -> dict[str, Any]:
    """The report's figures with their labels in `language`, for the template."""
    with translation.override(language):
        tickets = data["tickets"]
        return {
            "figures": [
                {"label": figure_label(f["key"], language), "value": f["value"]}
                for f in data["figures"]
                if f["value"] is not None
            ],
            "contacts": [
                {"name": c["name"], "role": role_label(c["role"])} for c in data["contacts"]
            ],
            "by_kind": [{**row, "label": kind_label(row["kind"])} for row in tickets["by_kind"]],
            "first_response": percent_text(tickets["first_response"]["percent"]),
            "resolution": percent_text(tickets["resolution"]["percent"]),
        }


def _chart(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "labels": [point["month"] for point in data["orders"]["by_month"]],
        "amounts": [float(Decimal(point["amount"])) for point in data["orders"]["by_month"]],
        "counts": [point["count"] for point in data["orders"]["by_month"]],
    }


@require_GET
@role_required()
def account_report_view(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """The report of `?month=YYYY-MM` (default last month): as generated, or, before it is,
    a preview computed now."""
    account = business_account_get(pk)
    if account is None:
        raise Http404(_("No such business account."))
    if not can_view_account_reports(request.user, account):
        raise PermissionDenied
    now = timezone.now()
    try:
        month = parse_month(request.GET["month"]) if request.GET.get("month") else last_month(now)
    except ApplicationError as exc:
        return render(
            request,
            "service/account_report.html",
            {"account": account, "error": exc.message},
            status=400,
        )
    report = AccountReport.objects.filter(account=account, month=month).first()
    if report is not None and report.status == AccountReportStatus.READY:
        data, language = report.data, report.language
    else:
        data = account_reports_data(account_ids=[account.pk], month=month, now=now)[account.pk]
        language = account.language
    reports = list(
        AccountReport.objects.filter(account=account)
        .order_by("-month")
        .values("month", "status", "generated_at", "notified_at")[:REPORTS_LISTED]
    )
    context = {
        "account": account,
        "month": month,
        "report": report,
        "data": data,
        "language": language,
        "shown": present(data, language),
        "chart": _chart(data),
        "reports": reports,
        "can_generate": has_role(request.user, MANAGER_ROLES),
        # A finished month's report not sent yet may go out now.
        "can_send": month <= last_month(now) and not (report is not None and report.notified_at),
    }
    return render(request, "service/account_report.html", context)


@require_POST
@role_required(MANAGER_ROLES)
def account_report_generate_view(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Generate or regenerate the report of the posted month (supervisors, admins)."""
    account = business_account_get(pk)
    if account is None:
        raise Http404(_("No such business account."))
    try:
        month = parse_month(request.POST.get("month", ""))
        send = "send" in request.POST
        report = account_report_generate(account=account, month=month, user=request.user, send=send)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("account-report", pk=account.pk)
    if send:
        messages.success(
            request,
            _("The report of %(month)s is ready and sent: %(emails)s emails, a call.")
            % {"month": f"{month:%Y-%m}", "emails": report.email_count},
        )
    else:
        messages.success(
            request, _("The report of %(month)s is ready.") % {"month": f"{month:%Y-%m}"}
        )
    return redirect(f"{reverse('account-report', kwargs={'pk': account.pk})}?month={month:%Y-%m}")


@never_cache
@require_safe
def account_report_public_view(request: HttpRequest, token: str) -> HttpResponse:
    """The PDF behind an emailed link: its random token is the key (no login). Limited per
    client address like tracked links."""
    throttle = TrackedLinkThrottle()
    if not throttle.allow_request(request, None):  # type: ignore[arg-type]
        response = HttpResponse(_("Too many requests."), status=429, content_type="text/plain")
        response["Retry-After"] = str(math.ceil(throttle.wait() or 1))
        return response
    report = AccountReport.objects.filter(token=token, status=AccountReportStatus.READY).first()
    if report is None:
        raise Http404(_("This report is not available."))
    return pdf_response(report, download=False)

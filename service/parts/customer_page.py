"""What the service app adds to the customer page (callcenter.views.customers): on a business
account, its latest monthly reports and the link to the report page (shown to supervisors and
the account's advisor, who may open it)."""

from callcenter.choices import CustomerKind
from callcenter.models import Customer
from callcenter.page_parts import PagePart
from callcenter.views.customers import customer_page_panels
from service.models import AccountReport

# Latest reports listed on the panel (one query for any history).
REPORTS_SHOWN = 3


def account_reports_panel(customer: Customer) -> PagePart:
    """The business account's latest reports (none and no query for a person)."""
    reports = None
    if customer.kind == CustomerKind.BUSINESS:
        reports = list(
            AccountReport.objects.filter(account_id=customer.pk)
            .order_by("-month")
            .values("month", "status", "notified_at")[:REPORTS_SHOWN]
        )
    return PagePart(
        template="service/partials/customer_account_reports.html",
        context={"account_reports": reports, "report_account": customer},
    )


def register() -> None:
    """Fill the customer page's registry (called from ServiceConfig.ready())."""
    customer_page_panels.register("service-account-reports", account_reports_panel, order=40)

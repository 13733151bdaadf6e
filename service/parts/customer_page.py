"""What the service app adds to the customer page (callcenter.views.customers): the customer's
open tickets with their SLA time left, linked to the ticket page; on a business account, its
latest monthly reports and the link to the report page (shown to supervisors and the account's
advisor, who may open it)."""

from django.utils import timezone

from callcenter.choices import CustomerKind
from callcenter.models import Customer
from callcenter.page_parts import PagePart
from callcenter.views.customers import customer_page_panels
from service.models import AccountReport
from service.selectors.ticket_parts import customer_open_tickets

# Latest reports listed on the panel (one query for any history).
REPORTS_SHOWN = 3


def service_tickets_panel(customer: Customer) -> PagePart:
    """The customer's open tickets, the nearest SLA due first (one query)."""
    tickets = customer_open_tickets(customer_id=customer.pk, now=timezone.now())
    return PagePart(template="service/partials/customer_tickets.html", context={"tickets": tickets})


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
    customer_page_panels.register("service_tickets", service_tickets_panel, order=5)
    customer_page_panels.register("service-account-reports", account_reports_panel, order=40)

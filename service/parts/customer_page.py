"""What the service app adds to the customer page (callcenter.views.customers): the customer's
open tickets with their SLA time left, linked to the ticket page."""

from django.utils import timezone

from callcenter.models import Customer
from callcenter.page_parts import PagePart
from callcenter.views.customers import customer_page_panels
from service.selectors.ticket_parts import customer_open_tickets


def service_tickets_panel(customer: Customer) -> PagePart:
    """The customer's open tickets, the nearest SLA due first (one query)."""
    tickets = customer_open_tickets(customer_id=customer.pk, now=timezone.now())
    return PagePart(template="service/partials/customer_tickets.html", context={"tickets": tickets})


def register() -> None:
    """Fill the customer page's registry (called from ServiceConfig.ready())."""
    customer_page_panels.register("service_tickets", service_tickets_panel, order=5)

"""Models of the service app, one module per area."""

from .account_reports import AccountReport, AccountReportPdf, AccountReportStatus
from .sla import BusinessCalendar, BusinessCalendarDate, SlaPolicy, SlaPolicyVersion, TicketSla

__all__ = [
    "AccountReport",
    "AccountReportPdf",
    "AccountReportStatus",
    "BusinessCalendar",
    "BusinessCalendarDate",
    "SlaPolicy",
    "SlaPolicyVersion",
    "TicketSla",
]

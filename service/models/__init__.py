"""Models of the service app, one module per area."""

from .sla import BusinessCalendar, BusinessCalendarDate, SlaPolicy, SlaPolicyVersion, TicketSla

__all__ = [
    "BusinessCalendar",
    "BusinessCalendarDate",
    "SlaPolicy",
    "SlaPolicyVersion",
    "TicketSla",
]

"""Customer-profile models, split by sub-domain and re-exported here."""

from .activity import Interaction, Order, SurveyResponse, Ticket, TicketUpdate
from .audit import AuditLog
from .base import TimeStampedModel
from .calendar import CalendarDay
from .customers import AgentProfile, ConsentChange, ContactPoint, Customer
from .identity import CustomerMerge, MergeProposal
from .imports import ImportRun

__all__ = [
    "AgentProfile",
    "AuditLog",
    "CalendarDay",
    "ConsentChange",
    "ContactPoint",
    "Customer",
    "CustomerMerge",
    "ImportRun",
    "Interaction",
    "MergeProposal",
    "Order",
    "SurveyResponse",
    "Ticket",
    "TicketUpdate",
    "TimeStampedModel",
]

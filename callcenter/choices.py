"""Enumerations of the customer-profile domain."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    """Roles are Django groups with these names (created by a data migration)."""

    ADMIN = "admin", _("Admin")
    SUPERVISOR = "supervisor", _("Supervisor")
    AGENT = "agent", _("Agent")


class CustomerKind(models.TextChoices):
    PERSON = "person", _("Person")
    BUSINESS = "business", _("Business")


class CustomerStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    MERGED = "merged", _("Merged into another customer")


class Gender(models.TextChoices):
    """A person's gender, an optional profile fact for segmentation (blank: not given)."""

    FEMALE = "female", _("Female")
    MALE = "male", _("Male")
    OTHER = "other", _("Other")


class Language(models.TextChoices):
    ZH_HANS = "zh-hans", _("Simplified Chinese")
    EN = "en", _("English")


class ContactKind(models.TextChoices):
    PHONE = "phone", _("Phone")
    EMAIL = "email", _("Email")
    WECHAT = "wechat", _("WeChat ID")
    EXTERNAL = "external", _("External ID")
    WECOM = "wecom", _("WeCom external contact ID")


class ConsentChannel(models.TextChoices):
    SMS = "sms", _("SMS")
    CALL = "call", _("Call")
    EMAIL = "email", _("Email")
    ALL = "all", _("Do not contact")
    WECHAT = "wechat", _("WeChat")
    WECOM = "wecom", _("WeCom")


class ConsentSource(models.TextChoices):
    IMPORT = "import", _("Import")
    API = "api", _("API")
    AGENT = "agent", _("Agent")
    ADMIN = "admin", _("Admin")
    INBOUND_SMS = "inbound_sms", _("Inbound SMS")
    MERGE = "merge", _("Merge")
    INBOUND_WECHAT = "inbound_wechat", _("Inbound WeChat message")
    PROVIDER = "provider", _("Message provider")


class OrderStatus(models.TextChoices):
    PAID = "paid", _("Paid")
    REFUNDED = "refunded", _("Refunded")
    CANCELLED = "cancelled", _("Cancelled")


class InteractionChannel(models.TextChoices):
    CALL = "call", _("Call")
    SMS = "sms", _("SMS")
    EMAIL = "email", _("Email")
    CHAT = "chat", _("Chat")
    WECHAT = "wechat", _("WeChat")
    IVR = "ivr", _("IVR")


class Direction(models.TextChoices):
    INBOUND = "inbound", _("Inbound")
    OUTBOUND = "outbound", _("Outbound")


class AccountRole(models.TextChoices):
    """What a contact person does for the business account they belong to."""

    DECISION_MAKER = "decision_maker", _("Decision maker")
    FINANCE = "finance", _("Finance")
    HR = "hr", _("HR")
    USER = "user", _("User")
    OTHER = "other", _("Other")


class TicketKind(models.TextChoices):
    INQUIRY = "inquiry", _("Inquiry")
    COMPLAINT = "complaint", _("Complaint")
    SUGGESTION = "suggestion", _("Suggestion")


class TicketStatus(models.TextChoices):
    OPEN = "open", _("Open")
    IN_PROGRESS = "in_progress", _("In progress")
    WAITING = "waiting", _("Waiting on customer")
    RESOLVED = "resolved", _("Resolved")
    CLOSED = "closed", _("Closed")


class TicketChangeKind(models.TextChoices):
    """What happened to a ticket (announced to listeners, kept in its history)."""

    OPENED = "opened", _("Opened")
    RESPONDED = "responded", _("Responded to the customer")
    CUSTOMER_REPLIED = "customer_replied", _("The customer wrote back")
    WAITING = "waiting", _("Waiting on the customer")
    RESUMED = "resumed", _("No longer waiting on the customer")
    ASSIGNED = "assigned", _("Assigned")
    RESOLVED = "resolved", _("Resolved")
    REOPENED = "reopened", _("Reopened")
    UPDATED = "updated", _("Kind, priority or channel changed")


class TicketPriority(models.TextChoices):
    LOW = "low", _("Low")
    NORMAL = "normal", _("Normal")
    HIGH = "high", _("High")
    URGENT = "urgent", _("Urgent")


class SurveyKind(models.TextChoices):
    NPS = "nps", _("NPS (0-10)")
    CSAT = "csat", _("CSAT (1-5)")


class MergeProposalStatus(models.TextChoices):
    OPEN = "open", _("Open")
    MERGED = "merged", _("Merged")
    DISMISSED = "dismissed", _("Dismissed")


class ImportKind(models.TextChoices):
    CUSTOMERS = "customers", _("Customers")
    ORDERS = "orders", _("Orders")
    INTERACTIONS = "interactions", _("Interactions")
    TICKETS = "tickets", _("Tickets")
    SURVEYS = "surveys", _("Surveys")


class ImportStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    SUCCEEDED = "succeeded", _("Imported")
    REJECTED = "rejected", _("Rejected")
    FAILED = "failed", _("Failed")


# A background import not finished yet (its progress is live; see services/imports/run.py).
IMPORT_PENDING_STATUSES = (ImportStatus.QUEUED, ImportStatus.RUNNING)


class Integration(models.TextChoices):
    """Systems that sign their requests with a secret of their own (callcenter.signatures)."""

    SMS = "sms", _("SMS gateway (delivery receipts, inbound SMS)")
    VOICE = "voice", _("Voice platform (automated-call results)")
    CTI = "cti", _("Telephony (call events)")
    EVENTS = "events", _("Care events from other systems")


OPEN_TICKET_STATUSES = (TicketStatus.OPEN, TicketStatus.IN_PROGRESS, TicketStatus.WAITING)


class CalendarDayKind(models.TextChoices):
    """What a day of the holiday calendar is: a day off, or a weekend day worked instead."""

    HOLIDAY = "holiday", _("Holiday")
    WORKDAY = "workday", _("Make-up working day")


class CalendarDaySource(models.TextChoices):
    """Where a day of the holiday calendar comes from."""

    PACKAGE = "package", _("Public calendar")
    ADMIN = "admin", _("Added by an admin")

"""Enumerations of care plans."""

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class EventType(models.TextChoices):
    TICKET_OPENED = "ticket_opened", _("Ticket opened")
    TICKET_RESOLVED = "ticket_resolved", _("Ticket resolved")
    FIRST_ORDER = "first_order", _("First order")
    ORDER_PLACED = "order_placed", _("Order placed")
    ORDER_REFUNDED = "order_refunded", _("Order refunded")
    SURVEY_SUBMITTED = "survey_submitted", _("Survey answered")
    INTERACTION_LOGGED = "interaction_logged", _("Interaction logged")
    CONSENT_CHANGED = "consent_changed", _("Consent changed")
    CUSTOMER_CREATED = "customer_created", _("Customer created")
    SEGMENT_ENTERED = "segment_entered", _("Segment entered")
    SEGMENT_EXITED = "segment_exited", _("Segment exited")
    BIRTHDAY = "birthday", _("Birthday")
    ANNIVERSARY = "anniversary", _("Membership anniversary")
    INACTIVITY = "inactivity", _("No order for N days")
    MONTHLY = "monthly", _("First day of the month")
    DATE_REACHED = "date_reached", _("Date reached")
    HOLIDAY = "holiday", _("Holiday")
    THRESHOLD_CROSSED = "threshold_crossed", _("Threshold crossed")
    CUSTOMER_REPLIED = "customer_replied", _("Customer replied")
    CALL_RESULT = "call_result", _("Automated call result")
    LINK_CLICKED = "link_clicked", _("Link clicked")
    TASK_OUTCOME = "task_outcome", _("Call task outcome")
    EXTERNAL = "external", _("External event")
    CAMPAIGN = "campaign", _("Campaign")


class WaitFor(models.TextChoices):
    """What a journey step waits for before it branches (empty: no wait)."""

    SMS_REPLY = "sms_reply", _("An SMS reply")
    LINK_CLICK = "link_click", _("A link click")
    CALL_RESULT = "call_result", _("The automated call's result")
    TASK_OUTCOME = "task_outcome", _("The call task's outcome")
    ORDER_PLACED = "order_placed", _("An order")
    TICKET_RESOLVED = "ticket_resolved", _("A ticket resolved")
    EXTERNAL_EVENT = "external_event", _("An event from another system")


class EventSource(models.TextChoices):
    DOMAIN = "domain", _("Domain write")
    API = "api", _("API")
    SCHEDULE = "schedule", _("Daily schedule")
    SEGMENTS = "segments", _("Segment refresh")
    WEBHOOK = "webhook", _("Webhook")
    CAMPAIGN = "campaign", _("Campaign")


class StepChannel(models.TextChoices):
    SMS = "sms", _("SMS")
    EMAIL = "email", _("Email")
    CALL = "call", _("Call task")
    AUTO_CALL = "auto_call", _("Automated call")
    WECHAT = "wechat", _("WeChat template message")
    WECOM = "wecom", _("WeCom message")


class DelayUnit(models.TextChoices):
    MINUTES = "minutes", _("Minutes")
    HOURS = "hours", _("Hours")
    DAYS = "days", _("Days")


class AssigneeRule(models.TextChoices):
    ADVISOR = "advisor", _("Dedicated advisor")
    QUEUE = "queue", _("A queue")
    LEAST_LOADED = "least_loaded", _("Least-loaded agent of a group")


class TouchKind(models.TextChoices):
    PROACTIVE = "proactive", _("Proactive (counts towards the frequency cap)")
    SERVICE = "service", _("Service (about the customer's own open complaint)")


class StopCondition(models.TextChoices):
    TICKET_RESOLVED = "ticket_resolved", _("Ticket resolved")
    CUSTOMER_ORDERED = "customer_ordered", _("Customer ordered")
    CUSTOMER_REPLIED = "customer_replied", _("Customer replied")
    OPTED_OUT = "opted_out", _("Customer opted out")


# A stop condition "external:<name>" is met by an external event of that name.
EXTERNAL_STOP_PREFIX = "external:"


class EnrollmentStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    COMPLETED = "completed", _("Completed")
    STOPPED = "stopped", _("Stopped")
    # Triggered, but another plan of the same category had the customer (never started).
    HELD = "held", _("Held back")


class RuleCategory(models.TextChoices):
    """What a plan is for. A customer is in at most one active plan per proactive category
    (the higher priority wins); service plans (about the customer's own complaint) never
    compete (care.services.arbitration)."""

    SERVICE = "service", _("Service")
    RETENTION = "retention", _("Retention")
    MARKETING = "marketing", _("Marketing")
    COLLECTIONS = "collections", _("Collections")


class ArbitrationReason(models.TextChoices):
    """Why a plan did not run (Enrollment.stop_reason beside the StopCondition values)."""

    PREEMPTED = "preempted", _("Preempted by a higher-priority plan")
    HELD_BACK = "held_back", _("Held back by another plan of its category")


class TemplateChannel(models.TextChoices):
    SMS = "sms", _("SMS")
    EMAIL = "email", _("Email")
    CALL_SCRIPT = "call_script", _("Call script")


class Escalation(models.TextChoices):
    """What the SLA sweep does with a call task of this step that missed its deadline."""

    REASSIGN = "reassign", _("Reassign to a colleague with room")
    NOTIFY = "notify", _("Notify supervisors")


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SCHEDULED = "scheduled", _("Scheduled")
    RUNNING = "running", _("Running")
    PAUSED = "paused", _("Paused")
    CANCELLED = "cancelled", _("Cancelled")
    FINISHED = "finished", _("Finished")


class CampaignRecurrence(models.TextChoices):
    ONCE = "once", _("Once")
    WEEKLY = "weekly", _("Weekly")
    MONTHLY = "monthly", _("Monthly")
    DATES = "dates", _("On given dates")


class CampaignRunStatus(models.TextChoices):
    PENDING = "pending", _("Waiting to start")
    STARTED = "started", pgettext_lazy("campaign run status", "Started")
    FAILED = "failed", _("Failed")
    SKIPPED = "skipped", _("Skipped")

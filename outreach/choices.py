"""Enumerations of outreach."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from care.choices import StepChannel


class TaskStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    CLAIMED = "claimed", _("Claimed")
    SENT = "sent", _("Sent")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")
    DONE = "done", _("Done")
    CANCELLED = "cancelled", _("Cancelled")
    SKIPPED = "skipped", _("Skipped")
    # A task of a paused campaign: neither dispatched nor shown in a queue until resumed.
    HELD = "held", _("Held (campaign paused)")


OPEN_TASK_STATUSES = (TaskStatus.PENDING, TaskStatus.CLAIMED)
# The channels the dispatcher sends on (the others are call tasks for agents).
AUTOMATED_CHANNELS = (
    StepChannel.SMS,
    StepChannel.EMAIL,
    StepChannel.AUTO_CALL,
    StepChannel.WECHAT,
    StepChannel.WECOM,
)


class TaskOutcome(models.TextChoices):
    REACHED = "reached", _("Reached")
    NO_ANSWER = "no_answer", _("No answer")
    CALLBACK_REQUESTED = "callback_requested", _("Callback requested")
    CONVERTED = "converted", _("Converted")
    DECLINED = "declined", _("Declined")
    WRONG_NUMBER = "wrong_number", _("Wrong number")


class CallResult(models.TextChoices):
    """What the voice platform reports of an automated call."""

    ANSWERED = "answered", _("Answered")
    NO_ANSWER = "no_answer", _("No answer")
    BUSY = "busy", _("Busy")
    FAILED = "failed", _("Failed")
    VOICEMAIL = "voicemail", _("Voicemail")


class CallIntent(models.TextChoices):
    """The intents the voice platform may recognise that journeys branch on; a platform may
    report others, which are kept as given."""

    TRANSFER_TO_HUMAN = "transfer_to_human", _("Transfer to a human")
    PROMISE_TO_PAY = "promise_to_pay", _("Promise to pay")
    CALLBACK_REQUESTED = "callback_requested", _("Callback requested")
    NOT_INTERESTED = "not_interested", _("Not interested")


class InboundAction(models.TextChoices):
    OPTED_OUT = "opted_out", _("Opted out of SMS")
    REPLY = "reply", _("Reply recorded")
    UNKNOWN_SENDER = "unknown_sender", _("Unknown sender")
    SURVEY_ANSWER = "survey_answer", _("Satisfaction score recorded")


class SummaryChannel(models.TextChoices):
    """How a call reason's after-call summary goes to the customer."""

    NONE = "none", _("No summary")
    SMS = "sms", _("SMS")
    EMAIL = "email", _("Email")

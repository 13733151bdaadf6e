"""Why a task was skipped or cancelled, or why a pending one waits: stable codes stored in
`OutreachTask.reason`."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from care.choices import ArbitrationReason, StopCondition


class SkipReason(models.TextChoices):
    DO_NOT_CONTACT = "do_not_contact", _("Customer is marked do-not-contact")
    OPTED_OUT = "opted_out", _("Customer opted out of this channel")
    CONDITIONS_NOT_MET = "conditions_not_met", _("Step conditions not met when due")
    CUSTOMER_RESPONDED = "customer_responded", _("Customer already responded")
    FREQUENCY_CAP = "frequency_cap", _("Frequency cap reached")
    NO_ADDRESS = "no_address", _("No address on this channel (phone, email, WeChat or WeCom id)")
    CUSTOMER_MERGED = "customer_merged", _("Customer was merged into another")
    UNREACHABLE = "unreachable", _("The provider cannot reach the customer on this channel")
    # care.services.campaigns.CANCEL_REASON: the campaign was cancelled before this task ran.
    CAMPAIGN_CANCELLED = "campaign_cancelled", _("Campaign cancelled")
    # A satisfaction question went to the customer within the care settings' survey interval.
    SURVEY_RECENT = "survey_recent", _("Customer was asked for satisfaction recently")


class WaitReason(models.TextChoices):
    """Why a pending task waits (cleared when it is sent)."""

    # The dispatcher moved it to the end of quiet hours on the customer's clock.
    QUIET_HOURS = "quiet_hours", _("Deferred by quiet hours")


# Every code `reason` may hold (the dispatcher's skips and waits, the stop conditions and
# arbitration outcomes care cancels with), for people to read.
REASON_LABELS = {
    **dict(SkipReason.choices),
    **dict(StopCondition.choices),
    **dict(ArbitrationReason.choices),
    **dict(WaitReason.choices),
}

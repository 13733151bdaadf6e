"""Why a task was skipped or cancelled: stable codes stored in `OutreachTask.reason`."""

from django.db import models
from django.utils.translation import gettext_lazy as _


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

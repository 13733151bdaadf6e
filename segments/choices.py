"""Enumerations of the segmentation engine."""

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class LifecycleStage(models.TextChoices):
    PROSPECT = "prospect", _("Prospect")
    NEW = "new", _("New")
    ACTIVE = "active", pgettext_lazy("lifecycle stage", "Active")
    DORMANT = "dormant", _("Dormant")
    CHURN_RISK = "churn_risk", _("Churn risk")
    LOST = "lost", _("Lost")


class ValueTier(models.TextChoices):
    HIGH = "high", _("High value")
    MEDIUM = "medium", _("Medium value")
    LOW = "low", _("Low value")


class ValuePotential(models.TextChoices):
    """The potential-value layer beside the value tiers: predicted value (the next 365 days,
    from the value model) against past value (the value tier)."""

    GROW = "grow", _("Grow: high predicted, lower past value")
    KEEP = "keep", _("Keep: high past and predicted value")
    SLIPPING = "slipping", _("Slipping: high past, lower predicted value")
    STEADY = "steady", _("Steady: lower past and predicted value")


class TierMethod(models.TextChoices):
    THRESHOLDS = "thresholds", _("Fixed spend thresholds")
    PERCENTILES = "percentiles", _("Percentiles of spend")


class RfmSegmentName(models.TextChoices):
    CHAMPIONS = "champions", _("Champions")
    LOYAL = "loyal", _("Loyal")
    POTENTIAL_LOYALIST = "potential_loyalist", _("Potential loyalist")
    NEW = "new", _("New customers")
    PROMISING = "promising", _("Promising")
    NEED_ATTENTION = "need_attention", _("Need attention")
    ABOUT_TO_SLEEP = "about_to_sleep", _("About to sleep")
    AT_RISK = "at_risk", _("At risk")
    CANNOT_LOSE = "cannot_lose", _("Cannot lose them")
    HIBERNATING = "hibernating", _("Hibernating")
    LOST = "lost", _("Lost")


class SegmentKind(models.TextChoices):
    RFM = "rfm", _("RFM segment")
    LIFECYCLE = "lifecycle", _("Lifecycle stage")
    TIER = "tier", _("Value tier")
    CLUSTER = "cluster", _("Behaviour cluster")
    POTENTIAL = "potential", _("Potential value")
    RULE = "rule", _("Rule segment")


class PriorityField(models.TextChoices):
    MONETARY = "monetary", _("Spend in window")
    CHURN_PROBABILITY = "churn_probability", _("Churn probability")
    FREQUENCY = "frequency", _("Orders in window")
    RECENCY = "recency_days", _("Days since last order")
    SPEND_90D = "spend_90d", _("Spend in 90 days")
    PREDICTED_VALUE = "predicted_value_365d", _("Predicted value, 365 days")
    # Predicted value x churn probability x reachability (segments.selectors.touch_value).
    TOUCH_VALUE = "touch_value", _("Expected value of the touch")


class ReachChannel(models.TextChoices):
    """The channels reachability is measured on (the best one is shown on the desk card)."""

    CALL = "call", _("Call")
    SMS = "sms", _("SMS")
    EMAIL = "email", _("Email")


class RunStatus(models.TextChoices):
    RUNNING = "running", _("Running")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")
    # One rule segment computed on its own right after it was saved (not a refresh: the
    # metrics stay those of the latest succeeded run); its entries and exits point to it.
    SEGMENT = "segment", _("One segment computed")


class ChurnModelStatus(models.TextChoices):
    TRAINED = "trained", _("Trained")
    SKIPPED = "skipped", _("Skipped: too little history")
    FAILED = "failed", _("Failed")


class AgeBand(models.TextChoices):
    """Age bands of people with a birthday, counted to the refresh's as-of moment."""

    UNDER_25 = "under_25", _("Under 25")
    FROM_25 = "25_34", _("25-34")
    FROM_35 = "35_44", _("35-44")
    FROM_45 = "45_54", _("45-54")
    FROM_55 = "55_64", _("55-64")
    FROM_65 = "65_plus", _("65 and over")


# Age bands by their exclusive upper age; older is AgeBand.FROM_65.
AGE_BAND_UPPER_BOUNDS = (
    (25, AgeBand.UNDER_25),
    (35, AgeBand.FROM_25),
    (45, AgeBand.FROM_35),
    (55, AgeBand.FROM_45),
    (65, AgeBand.FROM_55),
)


def age_band(age: int) -> AgeBand:
    """The band of a whole age in years."""
    for upper, band in AGE_BAND_UPPER_BOUNDS:
        if age < upper:
            return band
    return AgeBand.FROM_65


class IsoWeekday(models.TextChoices):
    """ISO weekdays, 1 Monday ... 7 Sunday (held as whole numbers; text here so that the rule
    builder offers them as a choice)."""

    MONDAY = "1", _("Monday")
    TUESDAY = "2", _("Tuesday")
    WEDNESDAY = "3", _("Wednesday")
    THURSDAY = "4", _("Thursday")
    FRIDAY = "5", _("Friday")
    SATURDAY = "6", _("Saturday")
    SUNDAY = "7", _("Sunday")

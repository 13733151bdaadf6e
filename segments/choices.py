"""Enumerations of the segmentation engine."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class LifecycleStage(models.TextChoices):
    PROSPECT = "prospect", _("Prospect")
    NEW = "new", _("New")
    ACTIVE = "active", _("Active")
    DORMANT = "dormant", _("Dormant")
    CHURN_RISK = "churn_risk", _("Churn risk")
    LOST = "lost", _("Lost")


class ValueTier(models.TextChoices):
    HIGH = "high", _("High value")
    MEDIUM = "medium", _("Medium value")
    LOW = "low", _("Low value")


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
    RULE = "rule", _("Rule segment")


class PriorityField(models.TextChoices):
    MONETARY = "monetary", _("Spend in window")
    CHURN_PROBABILITY = "churn_probability", _("Churn probability")
    FREQUENCY = "frequency", _("Orders in window")
    RECENCY = "recency_days", _("Days since last order")
    SPEND_90D = "spend_90d", _("Spend in 90 days")


class RunStatus(models.TextChoices):
    RUNNING = "running", _("Running")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")


class ChurnModelStatus(models.TextChoices):
    TRAINED = "trained", _("Trained")
    SKIPPED = "skipped", _("Skipped: too little history")
    FAILED = "failed", _("Failed")

"""Reads of campaigns: the list, one campaign with its runs, and its live progress (the
executor's work by stage, and reached, replied, converted with the uplift and its interval,
from the care reports' own definitions)."""

from dataclasses import dataclass
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet

from care.choices import CampaignStatus
from care.models import Campaign, CampaignMember, CampaignRun, Enrollment
from care.selectors_reports import EnrollmentsEffect, enrollments_effect
from care.services.campaigns import executors
from care.services.campaigns.runs import campaign_enrollments_sql


def campaign_list() -> QuerySet[Campaign]:
    """Campaigns, newest first, with their journey, segment and authors (one query)."""
    return Campaign.objects.select_related("rule", "segment", "created_by", "launched_by")


def campaign_work_frozen(enrollment_ref: str = "enrollment_id") -> Exists:
    """True for work whose enrollment (the outer query's `enrollment_ref`) belongs to a campaign
    that is paused or cancelled, or whose last decision's background job has not run yet: the
    dispatcher and the queues skip such pending tasks, so a pause or a cancel takes effect at
    its commit. One anti-join on the member's unique enrollment key."""
    frozen = Q(run__campaign__status__in=[CampaignStatus.PAUSED, CampaignStatus.CANCELLED]) | Q(
        run__campaign__work_pending=True
    )
    return Exists(CampaignMember.objects.filter(frozen, enrollment_id=OuterRef(enrollment_ref)))


def campaign_runs(*, campaign: Campaign) -> QuerySet[CampaignRun]:
    return campaign.runs.order_by("-scheduled_for")


@dataclass(frozen=True)
class CampaignProgress:
    """Work by stage (queued, held, sent, delivered, failed, skipped, cancelled, done) and the
    outcomes of the campaign's enrollments."""

    work: dict[str, int]
    effect: EnrollmentsEffect

    def as_dict(self) -> dict[str, Any]:
        uplift = self.effect.uplift
        return {
            **self.work,
            "enrolled": self.effect.enrolled,
            "control": self.effect.control,
            "reached": self.effect.reached,
            "replied": self.effect.responded,
            "converted": self.effect.converted,
            "control_converted": self.effect.control_converted,
            "uplift": {
                "treated_rate": uplift.treated_rate,
                "control_rate": uplift.control_rate,
                "difference": uplift.difference,
                "low": uplift.low,
                "high": uplift.high,
                "verdict": uplift.verdict,
            },
        }


def campaign_progress(*, campaign: Campaign) -> CampaignProgress:
    """The campaign's progress over all its runs: two statements."""
    sql, params = campaign_enrollments_sql(campaign.pk)
    work = executors.progress(enrollments_sql=sql, params=params)
    effect = enrollments_effect(
        enrollments=Enrollment.objects.filter(campaign_member__run__campaign_id=campaign.pk)
    )
    return CampaignProgress(work=work, effect=effect)

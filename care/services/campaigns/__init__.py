"""Campaigns: a journey sent to a segment or a rule tree's customers at a moment, once or
recurring, with a frozen audience, a hold-out, pacing, pause, resume and cancel. Re-exported
from the modules of this package: executors (what outreach does for campaigns), schedule,
runs (freezing, enrolling and pacing, set-based), preview and lifecycle."""

from care.services.campaigns.executors import CampaignExecutor, campaign_executors
from care.services.campaigns.lifecycle import (
    CANCEL_REASON,
    campaign_cancel,
    campaign_create,
    campaign_launch,
    campaign_pause,
    campaign_resume,
    campaign_update,
    campaign_work_settle,
    campaigns_tick,
)
from care.services.campaigns.preview import CampaignPreview, campaign_preview
from care.services.campaigns.runs import campaign_enrollments_sql, campaign_run_start

__all__ = [
    "CANCEL_REASON",
    "CampaignExecutor",
    "CampaignPreview",
    "campaign_cancel",
    "campaign_create",
    "campaign_enrollments_sql",
    "campaign_executors",
    "campaign_launch",
    "campaign_pause",
    "campaign_preview",
    "campaign_resume",
    "campaign_run_start",
    "campaign_update",
    "campaign_work_settle",
    "campaigns_tick",
]

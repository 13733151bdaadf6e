"""Campaign pages (supervisors and admins): the list, the form, and the campaign page with its
preview, runs, actions (launch, pause, resume, cancel) and live progress (HTMX polling)."""

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from callcenter.errors import ApplicationError
from callcenter.http import AuthenticatedHttpRequest
from callcenter.roles import MANAGER_ROLES
from callcenter.views import role_required
from care.choices import CampaignStatus
from care.forms_campaigns import CampaignForm
from care.models import Campaign
from care.selectors_campaigns import (
    CampaignProgress,
    campaign_list,
    campaign_progress,
    campaign_runs,
)
from care.services.campaigns import (
    campaign_cancel,
    campaign_create,
    campaign_launch,
    campaign_pause,
    campaign_preview,
    campaign_resume,
    campaign_update,
)

# Seconds between two refreshes of the progress panel while work is under way; a large
# campaign's figures take a while to count (two statements over all its tasks and
# enrollments), so its panel refreshes less often.
PROGRESS_POLL_SECONDS = 5
LARGE_CAMPAIGN_MEMBERS = 20_000
LARGE_CAMPAIGN_POLL_SECONDS = 30
LIVE = (CampaignStatus.SCHEDULED, CampaignStatus.RUNNING, CampaignStatus.PAUSED)


@require_GET
@role_required(MANAGER_ROLES)
def campaign_list_view(request: AuthenticatedHttpRequest) -> HttpResponse:
    return render(request, "care/campaign_list.html", {"campaigns": list(campaign_list())})


def _attach(exc: ApplicationError, form: CampaignForm) -> None:
    field = str(exc.extra.get("field") or "")
    if field == "holdout_share":
        field = "holdout_percent"
    if field == "max_per_hour":
        field = "sms_per_hour"
    if field in form.fields:
        form.add_error(field, exc.message)
    else:
        form.add_error(None, exc.message)


@require_http_methods(["GET", "POST"])
@role_required(MANAGER_ROLES)
def campaign_edit_view(request: AuthenticatedHttpRequest, pk: int | None = None) -> HttpResponse:
    """Create a campaign, or change a draft one."""
    campaign = get_object_or_404(Campaign, pk=pk) if pk is not None else None
    if campaign is not None and campaign.status != CampaignStatus.DRAFT:
        messages.error(request, _("Only a draft campaign can be changed."))
        return redirect("care-campaign", pk=campaign.pk)
    if request.method == "POST":
        form = CampaignForm(request.POST)
        if form.is_valid():
            try:
                if campaign is None:
                    campaign = campaign_create(created_by=request.user, **form.service_fields())
                else:
                    campaign_update(campaign=campaign, **form.service_fields())
            except ApplicationError as exc:
                _attach(exc, form)
            else:
                messages.success(request, _("Campaign saved. Check the preview, then launch."))
                return redirect("care-campaign", pk=campaign.pk)
        status = 400
    else:
        form = CampaignForm(initial=CampaignForm.initial_for(campaign))
        status = 200
    return render(
        request, "care/campaign_form.html", {"form": form, "campaign": campaign}, status=status
    )


def _progress_context(campaign: Campaign, progress: CampaignProgress) -> dict[str, Any]:
    uplift = progress.effect.uplift

    def percent(value: float | None) -> float | None:
        return None if value is None else value * 100

    return {
        "campaign": campaign,
        "progress": progress,
        "work": progress.work,
        "effect": progress.effect,
        "uplift": {
            "treated": percent(uplift.treated_rate),
            "control": percent(uplift.control_rate),
            "difference": percent(uplift.difference),
            "low": percent(uplift.low),
            "high": percent(uplift.high),
            "verdict": uplift.verdict,
        },
        "poll": campaign.status in LIVE or campaign.work_pending,
        "poll_seconds": (
            LARGE_CAMPAIGN_POLL_SECONDS
            if progress.effect.enrolled + progress.effect.control >= LARGE_CAMPAIGN_MEMBERS
            else PROGRESS_POLL_SECONDS
        ),
    }


@require_GET
@role_required(MANAGER_ROLES)
def campaign_detail_view(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """The campaign: its settings, the preview (before launch), its runs and progress."""
    campaign = get_object_or_404(campaign_list(), pk=pk)
    preview, preview_error = None, ""
    if campaign.status == CampaignStatus.DRAFT:
        try:
            preview = campaign_preview(campaign=campaign)
        except ApplicationError as exc:
            # e.g. the audience rule names a segment deleted since: say so, launch will refuse
            preview_error = exc.message
    context = {
        **_progress_context(campaign, campaign_progress(campaign=campaign)),
        "preview": preview,
        "preview_error": preview_error,
        "runs": list(campaign_runs(campaign=campaign)),
    }
    return render(request, "care/campaign_detail.html", context)


@require_GET
@role_required(MANAGER_ROLES)
def campaign_progress_view(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """The progress panel alone, for HTMX polling."""
    campaign = get_object_or_404(Campaign, pk=pk)
    context = _progress_context(campaign, campaign_progress(campaign=campaign))
    return render(request, "care/partials/campaign_progress.html", context)


ACTIONS = {
    "launch": lambda request, campaign: campaign_launch(
        campaign=campaign, launched_by=request.user
    ),
    "pause": lambda request, campaign: campaign_pause(campaign=campaign),
    "resume": lambda request, campaign: campaign_resume(campaign=campaign),
    "cancel": lambda request, campaign: campaign_cancel(campaign=campaign),
}
ACTION_MESSAGES = {
    "launch": lambda: _("Campaign launched."),
    "pause": lambda: _("Campaign paused: its tasks are being held."),
    "resume": lambda: _("Campaign resumed: its tasks are being released."),
    "cancel": lambda: _("Campaign cancelled: its tasks are being cancelled."),
}


@require_POST
@role_required(MANAGER_ROLES)
def campaign_action_view(request: AuthenticatedHttpRequest, pk: int, action: str) -> HttpResponse:
    """Launch, pause, resume or cancel; a refused action changes nothing and says why."""
    if action not in ACTIONS:
        raise Http404
    campaign = get_object_or_404(Campaign, pk=pk)
    try:
        ACTIONS[action](request, campaign)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, ACTION_MESSAGES[action]())
    return redirect("care-campaign", pk=campaign.pk)

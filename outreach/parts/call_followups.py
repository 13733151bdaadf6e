"""After-call follow-ups (outreach.services.call_followups): the listener of logged calls, and
what the desk's call-log form says logging a call will send."""

from typing import Any

from callcenter.models import Interaction
from callcenter.selectors.desk import DeskCard, DeskPart, desk_parts
from callcenter.services.interaction_listeners import interaction_listeners
from outreach.choices import SummaryChannel
from outreach.models import CallReasonSetting
from outreach.services.call_followups import call_followups_create

# Reasons listed under the call-log form at most (admins keep a handful).
REASONS_SHOWN = 20


def call_followups_desk_load(card: DeskCard) -> dict[str, Any]:
    """The call reasons that send something after the call, and whether this customer can get
    it (their consent from the card; one query)."""
    consent = (card.customer or {}).get("consent") or {}
    blocked = bool(consent.get("do_not_contact"))
    reasons = []
    for setting in CallReasonSetting.objects.exclude(
        summary_channel=SummaryChannel.NONE, csat_template__isnull=True
    ).order_by("reason")[:REASONS_SHOWN]:
        summary = setting.summary_channel != SummaryChannel.NONE
        reasons.append(
            {
                "reason": setting.reason,
                "summary": setting.get_summary_channel_display() if summary else "",
                "summary_blocked": summary
                and (blocked or bool(consent.get(f"{setting.summary_channel}_opt_out"))),
                "survey": setting.csat_template_id is not None,
            }
        )
    return {"followup_reasons": reasons}


def _call_logged(interaction: Interaction) -> None:
    call_followups_create(interaction)


def register() -> None:
    """Listen to logged calls; add the follow-ups note to the desk's call-log form."""
    interaction_listeners.register("outreach-call-followups", _call_logged)
    desk_parts.register(
        "outreach-call-followups",
        DeskPart(
            load=call_followups_desk_load,
            sections={"log_call": "outreach/partials/desk_call_followups.html"},
        ),
        order=90,
    )

"""Decisions for campaigns, pages and API: supervisors and admins create, launch and watch
them; agents and everyone else are refused."""

from typing import Any

from django.utils import timezone

from care.choices import EventType
from care.services.campaigns import campaign_create
from care.services.rules import care_rule_create
from care.services.templates import template_create
from segments.models import Segment
from tests.matrix import MANAGERS, Entry, _e, _page

EXPECTATIONS: dict[str, Entry] = {
    "care-campaigns": _page(get=MANAGERS),
    "care-campaign-create": _page(get=MANAGERS, post=MANAGERS),
    "care-campaign": _page("campaign", get=MANAGERS),
    "care-campaign-edit": _page("campaign", get=MANAGERS, post=MANAGERS),
    "care-campaign-progress": _page("campaign", get=MANAGERS),
    "care-campaign-launch": _page("campaign", post=MANAGERS),
    "care-campaign-pause": _page("campaign", post=MANAGERS),
    "care-campaign-resume": _page("campaign", post=MANAGERS),
    "care-campaign-cancel": _page("campaign", post=MANAGERS),
    "api-care-campaigns": _e(get=MANAGERS, post=MANAGERS),
    "api-care-campaign": _e("campaign", get=MANAGERS, patch=MANAGERS),
    "api-care-campaign-preview": _e("campaign", get=MANAGERS),
    "api-care-campaign-progress": _e("campaign", get=MANAGERS),
    "api-care-campaign-launch": _e("campaign", post=MANAGERS),
    "api-care-campaign-pause": _e("campaign", post=MANAGERS),
    "api-care-campaign-resume": _e("campaign", post=MANAGERS),
    "api-care-campaign-cancel": _e("campaign", post=MANAGERS),
}


def extra_objects(context: dict[str, Any]) -> dict[str, int]:
    """A draft campaign to a segment, with a one-SMS journey."""
    sms = template_create(name="Matrix campaign", channel="sms", variants={"en": {"body": "Hello"}})
    rule = care_rule_create(
        name="Matrix journey",
        trigger_type=EventType.CAMPAIGN,
        steps=[{"channel": "sms", "template_id": sms.pk, "sla_minutes": 60}],
    )
    campaign = campaign_create(
        created_by=None,
        name="Matrix campaign",
        rule=rule.pk,
        segment=Segment.objects.get(pk=context["ids"]["segment"]).pk,
        starts_at=timezone.now(),
    )
    return {"campaign": campaign.pk}

"""The campaign form: audience (a segment or a rule tree), journey, schedule, hold-out and
pacing. Shapes only; the campaign services check every value and name the bad one."""

import datetime as dt
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from callcenter.forms_manage import ISO_WEEKDAYS
from care.choices import CampaignRecurrence, EventType, StepChannel
from care.forms import JSON_ATTRS, OptionalJSONField, conditions_or_none
from care.models import Campaign, CareRule
from segments.models import Segment

AUDIENCE_SEGMENT = "segment"
AUDIENCE_RULE = "rule"
# Paced channels and the form field of each.
PACING_FIELDS = {
    StepChannel.SMS: "sms_per_hour",
    StepChannel.EMAIL: "email_per_hour",
    StepChannel.AUTO_CALL: "auto_call_per_hour",
}


class DateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self) -> None:
        super().__init__(format="%Y-%m-%dT%H:%M")


def _per_hour(label: Any) -> forms.IntegerField:
    return forms.IntegerField(
        label=label,
        required=False,
        min_value=1,
        max_value=1_000_000,
        help_text=_("Empty: no limit."),
    )


class SegmentChoiceField(forms.ModelChoiceField):
    """Segments by their name in the active language (built-in ones translated)."""

    def label_from_instance(self, obj: Any) -> str:
        return str(obj.display_name)


class CampaignForm(forms.Form):
    name = forms.CharField(label=pgettext_lazy("thing", "Name"), max_length=120)
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    rule = forms.ModelChoiceField(
        label=_("Journey"),
        queryset=CareRule.objects.filter(trigger_type=EventType.CAMPAIGN).order_by("name"),
        help_text=_('A care rule triggered by "Campaign": its steps, templates and guardrails.'),
    )
    audience = forms.ChoiceField(
        label=_("Audience"),
        choices=[(AUDIENCE_SEGMENT, _("A segment")), (AUDIENCE_RULE, _("A rule tree"))],
        initial=AUDIENCE_SEGMENT,
        widget=forms.RadioSelect,
    )
    segment = SegmentChoiceField(
        label=_("Segment"),
        queryset=Segment.objects.filter(is_active=True).order_by("kind", "name"),
        required=False,
    )
    audience_rule = OptionalJSONField(
        label=_("Audience rule"),
        required=False,
        widget=forms.Textarea(attrs=JSON_ATTRS),
        help_text=_("A rule tree, as the segment builder makes."),
    )
    recurrence = forms.ChoiceField(
        label=_("Runs"), choices=CampaignRecurrence.choices, initial=CampaignRecurrence.ONCE
    )
    starts_at = forms.DateTimeField(
        label=_("Starts at"),
        widget=DateTimeInput(),
        help_text=_("Recurring campaigns run at this time of day."),
    )
    weekdays = forms.TypedMultipleChoiceField(
        label=_("On weekdays"),
        choices=ISO_WEEKDAYS,
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    month_day = forms.IntegerField(label=_("Day of the month"), required=False)
    run_dates = forms.CharField(
        label=_("On dates"), required=False, help_text=_("YYYY-MM-DD, separated by commas.")
    )
    ends_at = forms.DateTimeField(label=_("Ends at"), required=False, widget=DateTimeInput())
    holdout_percent = forms.IntegerField(
        label=_("Control group (%)"),
        initial=0,
        min_value=0,
        max_value=90,
        help_text=_("This share of the audience gets no contact, to measure the uplift."),
    )
    sms_per_hour = _per_hour(_("SMS per hour"))
    email_per_hour = _per_hour(_("Emails per hour"))
    auto_call_per_hour = _per_hour(_("Automated calls per hour"))

    def clean_audience_rule(self) -> Any:
        return conditions_or_none(self.cleaned_data.get("audience_rule"))

    def service_fields(self) -> dict[str, Any]:
        """The cleaned values as the campaign services take them."""
        data = self.cleaned_data
        by_segment = data["audience"] == AUDIENCE_SEGMENT
        segment = data.get("segment")
        dates = [part.strip() for part in (data.get("run_dates") or "").split(",")]
        return {
            "name": data["name"],
            "description": data["description"],
            "rule": data["rule"].pk,
            "segment": segment.pk if by_segment and segment is not None else None,
            "audience_rule": None if by_segment else data.get("audience_rule"),
            "recurrence": data["recurrence"],
            "starts_at": data["starts_at"],
            "weekdays": list(data.get("weekdays") or []),
            "month_day": data.get("month_day"),
            "run_dates": [day for day in dates if day],
            "ends_at": data.get("ends_at"),
            "holdout_share": round(data["holdout_percent"] / 100, 4),
            "max_per_hour": {
                channel: data[name]
                for channel, name in PACING_FIELDS.items()
                if data.get(name) is not None
            },
        }

    @classmethod
    def initial_for(cls, campaign: Campaign | None) -> dict[str, Any]:
        if campaign is None:
            start = timezone.localtime() + dt.timedelta(hours=1)
            return {"starts_at": start.replace(minute=0, second=0, microsecond=0)}
        pacing = campaign.max_per_hour or {}
        return {
            "name": campaign.name,
            "description": campaign.description,
            "rule": campaign.rule_id,
            "audience": AUDIENCE_SEGMENT if campaign.segment_id else AUDIENCE_RULE,
            "segment": campaign.segment_id,
            "audience_rule": campaign.audience_rule,
            "recurrence": campaign.recurrence,
            "starts_at": timezone.localtime(campaign.starts_at),
            "weekdays": campaign.weekdays,
            "month_day": campaign.month_day,
            "run_dates": ", ".join(campaign.run_dates or []),
            "ends_at": timezone.localtime(campaign.ends_at) if campaign.ends_at else None,
            "holdout_percent": round(campaign.holdout_share * 100),
            **{name: pacing.get(channel) for channel, name in PACING_FIELDS.items()},
        }

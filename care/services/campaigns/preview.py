"""What a campaign would do if it started at a moment: its audience now, how many of them each
channel cannot reach or must defer (from the executor's guardrails, one statement), and the
load it puts on each channel and call queue per day (the same pacing a run applies). A few
set-based statements whatever the audience's size."""

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _

from callcenter.errors import ApplicationError
from care.choices import StepChannel
from care.models import Campaign, CareRuleVersion, CareSettings
from care.services.campaigns import executors
from care.services.campaigns.runs import (
    audience_sql,
    call_days,
    calls_fit_check,
    empty_audience_error,
)
from care.services.campaigns.schedule import center_zone
from care.services.journeys import journey_chain
from care.services.rules import step_delay_minutes

# Days of load listed per channel or queue (the rest is summed into the last line).
LOAD_DAYS = 31
BLOCK_KEYS = ("opted_out", "do_not_contact", "frequency_capped", "quiet_hours")
COUNT_SQL = "SELECT count(*) FROM ({audience}) a"


@dataclass
class ChannelAudience:
    channel: str
    label: str
    members: int
    opted_out: int = 0
    do_not_contact: int = 0
    frequency_capped: int = 0
    quiet_hours: int = 0

    @property
    def reachable(self) -> int:
        blocked = self.opted_out + self.do_not_contact + self.frequency_capped
        return max(self.members - blocked, 0)


@dataclass
class LoadLine:
    """Tasks per day on one channel (sends) or call queue."""

    label: str
    channel: str
    days: list[tuple[dt.date, int]]

    @property
    def total(self) -> int:
        return sum(count for _day, count in self.days)


@dataclass
class CampaignPreview:
    members: int
    control: int
    treated: int
    moment: dt.datetime
    channels: list[ChannelAudience] = field(default_factory=list)
    load: list[LoadLine] = field(default_factory=list)
    error: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "moment": self.moment,
            "members": self.members,
            "control": self.control,
            "treated": self.treated,
            "channels": [
                {
                    "channel": row.channel,
                    "members": row.members,
                    **{key: getattr(row, key) for key in BLOCK_KEYS},
                    "reachable": row.reachable,
                }
                for row in self.channels
            ],
            "load": [
                {
                    "label": line.label,
                    "channel": line.channel,
                    "total": line.total,
                    "days": [{"day": day, "tasks": count} for day, count in line.days],
                }
                for line in self.load
            ],
            "error": self.error,
        }


def _send_load(
    *, start: dt.datetime, treated: int, per_hour: int | None
) -> list[tuple[dt.date, int]]:
    """Sends per local day of `treated` members spread at `per_hour` from `start`."""
    zone = center_zone()
    local = start.astimezone(zone)
    if not per_hour or treated <= 0:
        return [(local.date(), treated)] if treated else []
    days: list[tuple[dt.date, int]] = []
    left = treated
    day = local.date()
    hours_left = 24 - local.hour - local.minute / 60
    while left > 0:
        take = min(left, math.ceil(per_hour * hours_left))
        if len(days) == LOAD_DAYS - 1:
            take = left
        days.append((day, take))
        left -= take
        day += dt.timedelta(days=1)
        hours_left = 24
    return days


def campaign_preview(*, campaign: Campaign, now: dt.datetime | None = None) -> CampaignPreview:
    """The preview of `campaign` starting at `now` (default: now). A call step that does not
    fit its queue's capacity, or an empty audience, is reported in `error`, not raised."""
    now = now or timezone.now()
    sql, params = audience_sql(
        segment_id=campaign.segment_id, audience_rule=campaign.audience_rule, as_of=now
    )
    with connection.cursor() as cursor:
        cursor.execute(COUNT_SQL.format(audience=sql), params)
        members = cursor.fetchone()[0]
    control = round(members * campaign.holdout_share)
    preview = CampaignPreview(
        members=members, control=control, treated=members - control, moment=now
    )
    version = CareRuleVersion.objects.filter(
        rule_id=campaign.rule_id, version=campaign.rule.version
    ).first()
    steps = list((version.snapshot if version else {}).get("steps") or [])
    channels = list(dict.fromkeys(step["channel"] for step in steps))
    blocks = executors.audience_blocks(
        members_sql=sql, params=params, channels=channels, moment=now
    )
    labels = dict(StepChannel.choices)
    for channel in channels:
        counts = blocks.get(channel, {})
        preview.channels.append(
            ChannelAudience(
                channel=channel,
                label=str(labels.get(channel, channel)),
                members=members,
                **{key: counts.get(key, 0) for key in BLOCK_KEYS},
            )
        )
    # The load is the first chain's, planned at launch (branches follow outcomes, unpaced).
    chain = journey_chain(steps)
    spread = call_days(steps=chain, now=now, care_settings=CareSettings.load())
    try:
        if not members:
            raise empty_audience_error()
        calls_fit_check(days=spread, treated=preview.treated)
    except ApplicationError as exc:
        preview.error = exc.message
    zone = center_zone()
    for step in chain:
        name = step.get("name") or str(labels.get(step["channel"], step["channel"]))
        if step["channel"] == StepChannel.CALL:
            days = spread[step["position"]]
            loads = days.loads(preview.treated)
            line = [
                (timezone.localtime(start, zone).date(), count)
                for start, count in zip(days.starts, loads, strict=True)
                if count
            ]
            queue = step.get("assignee_target") or "general"
            label = _("%(step)s (queue %(queue)s)") % {"step": name, "queue": queue}
        else:
            line = _send_load(
                start=now + dt.timedelta(minutes=step_delay_minutes(step)),
                treated=preview.treated,
                per_hour=(campaign.max_per_hour or {}).get(step["channel"]),
            )
            label = name
        preview.load.append(LoadLine(label=label, channel=step["channel"], days=line))
    return preview

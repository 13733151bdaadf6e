"""Send-time guardrails: consent, quiet hours, frequency cap, step conditions, responses.

Each check is a small function the dispatcher calls right before a send (or before a call
task is released to an agent), so a customer who opted out, replied or was contacted enough
in the meantime is not touched.
"""

import datetime as dt
import zoneinfo
from collections.abc import Iterable
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q

from callcenter.choices import CustomerStatus, Direction, OrderStatus
from callcenter.models import Customer, Interaction, Order
from care.choices import StepChannel, TouchKind
from care.models import CareSettings
from outreach.choices import InboundAction, TaskOutcome, TaskStatus
from outreach.models import InboundMessage, OutreachTask
from outreach.reasons import SkipReason
from outreach.services.capacity import center_zone
from segments.rules import rule_matches

# The opt-out flag of each channel (do_not_contact blocks every channel).
CHANNEL_OPT_OUT: dict[str, str] = {
    StepChannel.SMS: "sms_opt_out",
    StepChannel.EMAIL: "email_opt_out",
    StepChannel.AUTO_CALL: "call_opt_out",
    StepChannel.CALL: "call_opt_out",
    StepChannel.WECHAT: "wechat_opt_out",
    StepChannel.WECOM: "wecom_opt_out",
}
CONSENT_FIELDS = ("status", "do_not_contact", *sorted(set(CHANNEL_OPT_OUT.values())))
# A call counts as a touch when the customer was actually reached.
REACHED_OUTCOMES = (
    TaskOutcome.REACHED,
    TaskOutcome.CALLBACK_REQUESTED,
    TaskOutcome.CONVERTED,
    TaskOutcome.DECLINED,
)


def consent_block(channel: str, customer: dict[str, Any]) -> str | None:
    """The skip reason when `customer` (a dict of CONSENT_FIELDS) may not get `channel`."""
    if customer["status"] != CustomerStatus.ACTIVE:
        return SkipReason.CUSTOMER_MERGED
    if customer["do_not_contact"]:
        return SkipReason.DO_NOT_CONTACT
    if customer[CHANNEL_OPT_OUT[channel]]:
        return SkipReason.OPTED_OUT
    return None


def customer_zone(name: str) -> zoneinfo.ZoneInfo:
    """The customer's time zone, or the call center's when theirs is unknown."""
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return center_zone()


def quiet_hours_resume(
    *, moment: dt.datetime, zone_name: str, quiet_start: dt.time, quiet_end: dt.time
) -> dt.datetime | None:
    """If `moment` falls in quiet hours on the customer's clock, the moment they end (aware);
    else None. A window whose start is after its end spans midnight (21:00-08:00)."""
    if quiet_start == quiet_end:
        return None
    zone = customer_zone(zone_name)
    local = moment.astimezone(zone)
    clock = local.time().replace(tzinfo=None)
    if quiet_start < quiet_end:
        if not quiet_start <= clock < quiet_end:
            return None
        resume_day = local.date()
    else:
        if quiet_end <= clock < quiet_start:
            return None
        resume_day = local.date() + dt.timedelta(days=1) if clock >= quiet_start else local.date()
    return dt.datetime.combine(resume_day, quiet_end, tzinfo=zone).astimezone(dt.UTC)


def proactive_touches(
    *, customer_ids: Iterable[int], now: dt.datetime, settings: CareSettings
) -> dict[int, int]:
    """Proactive touches each customer got in the frequency window (one query; customers with
    none are absent): messages sent (or delivered) and calls that reached them. Service
    touches never count."""
    since = now - dt.timedelta(days=settings.frequency_window_days)
    rows = (
        OutreachTask.objects.filter(customer_id__in=list(customer_ids))
        .filter(touch_kind=TouchKind.PROACTIVE)
        .filter(
            Q(status__in=[TaskStatus.SENT, TaskStatus.DELIVERED], sent_at__gte=since)
            | Q(
                channel=StepChannel.CALL,
                status=TaskStatus.DONE,
                outcome__in=REACHED_OUTCOMES,
                completed_at__gte=since,
            )
        )
        .values("customer_id")
        .annotate(touches=Count("id"))
        .order_by()
    )
    return {row["customer_id"]: row["touches"] for row in rows}


def customer_responded(*, customer_id: int, since: dt.datetime) -> bool:
    """Whether the customer replied by SMS, contacted us or ordered since `since` (one query)."""
    replied = InboundMessage.objects.filter(
        customer_id=OuterRef("pk"), action=InboundAction.REPLY, received_at__gte=since
    )
    contacted = Interaction.objects.filter(
        customer_id=OuterRef("pk"), direction=Direction.INBOUND, occurred_at__gte=since
    )
    ordered = Order.objects.filter(
        customer_id=OuterRef("pk"), status=OrderStatus.PAID, placed_at__gte=since
    )
    return (
        Customer.objects.filter(pk=customer_id)
        .filter(Exists(replied) | Exists(contacted) | Exists(ordered))
        .exists()
    )


def step_rules(task: OutreachTask) -> tuple[Any, bool]:
    """The step's `conditions` tree and `only_if_no_response` flag, as the enrollment's rule
    version froze them (falling back to the live step when the snapshot lacks the step)."""
    enrollment = task.enrollment
    if enrollment is not None and task.step_position is not None:
        snapshot = enrollment.rule_version.snapshot or {}
        for step in snapshot.get("steps") or []:
            if isinstance(step, dict) and step.get("position") == task.step_position:
                return step.get("conditions"), bool(step.get("only_if_no_response"))
    if task.step is not None:
        return task.step.conditions, task.step.only_if_no_response
    return None, False


def step_fallback(task: OutreachTask) -> str:
    """The channel the step falls back to when the customer cannot be reached on its own
    ("WeChat, else SMS"), as the enrollment's rule version froze it; "" for none."""
    enrollment = task.enrollment
    if enrollment is not None and task.step_position is not None:
        snapshot = enrollment.rule_version.snapshot or {}
        for step in snapshot.get("steps") or []:
            if isinstance(step, dict) and step.get("position") == task.step_position:
                return str(step.get("fallback_channel") or "")
    if task.step is not None:
        return task.step.fallback_channel
    return ""


def step_block(task: OutreachTask, *, now: dt.datetime) -> str | None:
    """The skip reason when the step's own conditions say not to act now."""
    conditions, only_if_no_response = step_rules(task)
    if only_if_no_response:
        since = task.enrollment.enrolled_at if task.enrollment is not None else task.created_at
        if customer_responded(customer_id=task.customer_id, since=since):
            return SkipReason.CUSTOMER_RESPONDED
    if conditions and not rule_matches(tree=conditions, customer_id=task.customer_id, as_of=now):
        return SkipReason.CONDITIONS_NOT_MET
    return None

"""What segments adds to the agent desk's card (callcenter.selectors.desk): the caller's
badges (RFM segment, lifecycle stage, value tier, potential value, churn risk), the value
model's line (predicted value over 365 days, chance still active), rule segments among the
header's chips and a line on their buying habits, and advice from their stage, value and
potential.

Both read the segments section of the screen-pop card (segments.screenpop), which the card
already holds: no query of their own. The next best actions (the admins' rules,
segments.next_best_actions) are a part of their own: one query for every active rule.
"""

from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import pgettext_lazy

from callcenter.selectors.desk import DeskCard, DeskPart, choice_label, desk_advice, desk_parts
from segments.choices import (
    IsoWeekday,
    LifecycleStage,
    ReachChannel,
    RfmSegmentName,
    SegmentKind,
    ValuePotential,
    ValueTier,
)
from segments.next_best_actions import next_best_actions_for_customer
from segments.selectors import rule_segments_why

# Churn probability from which the desk suggests a retention offer.
CHURN_ALERT = 0.6

_STAGE_CSS = {
    LifecycleStage.NEW: "badge-blue",
    LifecycleStage.ACTIVE: "badge-green",
    LifecycleStage.DORMANT: "badge-amber",
    LifecycleStage.CHURN_RISK: "badge-red",
    LifecycleStage.LOST: "badge-gray",
}
_TIER_CSS = {ValueTier.HIGH: "badge-violet", ValueTier.MEDIUM: "badge-blue"}
_POTENTIAL_CSS = {
    ValuePotential.GROW: "badge-green",
    ValuePotential.KEEP: "badge-violet",
    ValuePotential.SLIPPING: "badge-amber",
}
# Short badge texts of the potential-value layer (the choices' labels explain it in full).
_POTENTIAL_SHORT = {
    ValuePotential.GROW: pgettext_lazy("potential value", "Grow"),
    ValuePotential.KEEP: pgettext_lazy("potential value", "Keep"),
    ValuePotential.SLIPPING: pgettext_lazy("potential value", "Slipping"),
    ValuePotential.STEADY: pgettext_lazy("potential value", "Steady"),
}


def _section(card: DeskCard) -> dict[str, Any]:
    return card.screenpop.get("segments") or {}


def segment_badges(metrics: dict[str, Any] | None) -> list[dict[str, str]]:
    """Badges (text, css class, what it is) from a customer's metrics row; empty without one."""
    if not metrics:
        return []
    badges = []
    if metrics.get("rfm_segment"):
        badges.append(
            {
                "text": choice_label(RfmSegmentName, metrics["rfm_segment"]),
                "css": "badge-violet",
                "title": _("RFM segment %(code)s") % {"code": metrics.get("rfm_code") or ""},
            }
        )
    if metrics.get("lifecycle_stage"):
        badges.append(
            {
                "text": choice_label(LifecycleStage, metrics["lifecycle_stage"]),
                "css": _STAGE_CSS.get(metrics["lifecycle_stage"], "badge-gray"),
                "title": _("Lifecycle stage"),
            }
        )
    if metrics.get("value_tier"):
        badges.append(
            {
                "text": choice_label(ValueTier, metrics["value_tier"]),
                "css": _TIER_CSS.get(metrics["value_tier"], "badge-gray"),
                "title": _("Value tier"),
            }
        )
    potential = metrics.get("value_potential")
    if potential in ValuePotential.values:
        badges.append(
            {
                "text": str(_POTENTIAL_SHORT[ValuePotential(potential)]),
                "css": _POTENTIAL_CSS.get(potential, "badge-gray"),
                "title": choice_label(ValuePotential, potential),
            }
        )
    churn = metrics.get("churn_probability")
    if churn is not None:
        badges.append(
            {
                "text": _("Churn risk %(percent)s%%") % {"percent": round(churn * 100)},
                "css": "badge-red" if churn >= CHURN_ALERT else "badge-gray",
                "title": _("Churn probability"),
            }
        )
    return badges


def habits_line(habits: dict[str, Any] | None) -> str:
    """The card's one line on what and when the caller buys (top category with its share of
    spend, usual weekday and hour in their time zone); empty without a row or orders."""
    if not habits:
        return ""
    parts = []
    if habits.get("top_category"):
        share = habits.get("top_category_share")
        parts.append(
            _("Buys mostly %(category)s (%(percent)s%% of spend)")
            % {"category": habits["top_category"], "percent": round((share or 0) * 100)}
        )
    if habits.get("usual_hour") is not None:
        day = choice_label(IsoWeekday, str(habits.get("usual_weekday") or ""))
        parts.append(
            _("usually orders %(day)s around %(hour)s:00")
            % {"day": day, "hour": habits["usual_hour"]}
        )
    return " · ".join(parts)


def reach_line(reach: dict[str, Any] | None, habits: dict[str, Any] | None) -> str:
    """The card's line on how to reach the caller: the best hour to call in their time zone,
    the channel that reaches them best (with its answered or delivered share) and the channel
    they prefer to buy through; empty without any of these."""
    reach = reach or {}
    parts = []
    if reach.get("best_call_hour") is not None:
        hour = reach["best_call_hour"]
        parts.append(
            _("best time to call %(start)s:00-%(end)s:00 (their time)")
            % {"start": hour, "end": (hour + 1) % 24}
        )
    channel = reach.get("best_channel")
    if channel:
        share = {
            ReachChannel.CALL: reach.get("call_answer_share"),
            ReachChannel.SMS: reach.get("sms_delivered_share"),
            ReachChannel.EMAIL: reach.get("email_delivered_share"),
        }.get(channel)
        parts.append(
            _("best reached by %(channel)s (%(percent)s%%)")
            % {
                "channel": choice_label(ReachChannel, channel),
                "percent": round((share or 0) * 100),
            }
        )
    if habits and habits.get("preferred_channel"):
        parts.append(_("buys via %(channel)s") % {"channel": habits["preferred_channel"]})
    text = " · ".join(parts)
    return text[:1].upper() + text[1:]


def value_line(metrics: dict[str, Any] | None) -> dict[str, Any] | None:
    """The value model's predictions for the card: predicted value over the next 365 days (text,
    as the statement gives money) and the chance the customer is still active, in percent;
    None before the value model scored the customer."""
    if not metrics:
        return None
    predicted = metrics.get("predicted_value_365d")
    p_alive = metrics.get("p_alive")
    if predicted is None and p_alive is None:
        return None
    return {
        "predicted": predicted,
        "alive_percent": None if p_alive is None else round(p_alive * 100),
    }


def segments_desk_load(card: DeskCard) -> dict[str, Any]:
    """The badges, the value model's line and the rule segments the card's header shows."""
    section = _section(card)
    rule_segments = [
        segment for segment in section.get("segments") or [] if segment["kind"] == SegmentKind.RULE
    ]
    customer_id = (card.customer or {}).get("id")
    if rule_segments and customer_id is not None:
        # In words with the caller's own values (the card's `why` is the text stored at entry).
        whys = rule_segments_why(
            customer_id=customer_id, slugs=[segment["slug"] for segment in rule_segments]
        )
        rule_segments = [
            {**segment, "why": whys.get(segment["slug"]) or segment["why"]}
            for segment in rule_segments
        ]
    return {
        "habits": habits_line(section.get("habits")),
        "reach": reach_line(section.get("reach"), section.get("habits")),
        "badges": segment_badges(section.get("metrics")),
        "value_line": value_line(section.get("metrics")),
        "rule_segments": rule_segments,
    }


def segments_desk_advice(card: DeskCard) -> list[str]:
    """What to do given the customer's lifecycle stage, churn risk, value tier and potential
    value."""
    metrics = _section(card).get("metrics") or {}
    actions: list[str] = []
    stage = metrics.get("lifecycle_stage")
    churn = metrics.get("churn_probability")
    if stage == LifecycleStage.CHURN_RISK or (churn is not None and churn >= CHURN_ALERT):
        actions.append(
            _("Churn risk: ask what would make them stay and offer a retention benefit.")
        )
    elif stage == LifecycleStage.DORMANT:
        actions.append(_("Dormant: mention what is new and offer the wake-up voucher."))
    elif stage == LifecycleStage.NEW:
        actions.append(_("New customer: welcome them and check that the first order went well."))
    elif stage == LifecycleStage.LOST:
        actions.append(_("Lost customer: ask why they left and invite them back."))
    if metrics.get("value_tier") == ValueTier.HIGH:
        actions.append(_("High-value customer: thank them for their loyalty."))
    potential = metrics.get("value_potential")
    if potential == ValuePotential.GROW:
        actions.append(
            _(
                "Grow: high predicted value, low past spend. Suggest what fits their next "
                "purchase and invite them to buy more."
            )
        )
    elif potential == ValuePotential.SLIPPING:
        actions.append(
            _(
                "Slipping: high past value, lower predicted value. Ask what changed and what "
                "would bring them back to their usual orders."
            )
        )
    return actions


# Next best actions (segments.next_best_actions): the admins' rules for this customer.
def next_best_actions_desk_load(card: DeskCard) -> dict[str, Any]:
    """The first matching next best actions with their reasons. One query for every active
    rule (their conditions and the placeholders' figures), the rules themselves cached."""
    assert card.customer is not None
    return {"next_best_actions": next_best_actions_for_customer(customer_id=card.customer["id"])}


def register() -> None:
    """Fill the desk's registries (called from SegmentsConfig.ready())."""
    desk_parts.register(
        "next_best_actions",
        DeskPart(
            load=next_best_actions_desk_load,
            sections={"what_to_do": "segments/partials/desk_next_best_actions.html"},
        ),
        order=15,
    )
    desk_parts.register(
        "segments",
        DeskPart(
            load=segments_desk_load, sections={"header": "segments/partials/desk_badges.html"}
        ),
        order=30,
    )
    desk_advice.register("segments", segments_desk_advice, order=50)

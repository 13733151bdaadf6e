"""Default RFM segment grid and the built-in segments every installation starts with."""

from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _

from segments.choices import (
    LifecycleStage,
    RfmSegmentName,
    SegmentKind,
    ValuePotential,
    ValueTier,
)

# (name, R from, R to, FM from, FM to), tried in this order; together they cover all 25 cells.
DEFAULT_RFM_GRID: list[tuple[str, int, int, int, int]] = [
    (RfmSegmentName.CHAMPIONS, 4, 5, 4, 5),
    (RfmSegmentName.LOYAL, 3, 5, 3, 5),
    (RfmSegmentName.POTENTIAL_LOYALIST, 4, 5, 2, 2),
    (RfmSegmentName.NEW, 5, 5, 1, 1),
    (RfmSegmentName.PROMISING, 4, 4, 1, 1),
    (RfmSegmentName.NEED_ATTENTION, 3, 3, 2, 2),
    (RfmSegmentName.ABOUT_TO_SLEEP, 3, 3, 1, 1),
    (RfmSegmentName.CANNOT_LOSE, 1, 1, 4, 5),
    (RfmSegmentName.AT_RISK, 1, 2, 3, 5),
    (RfmSegmentName.HIBERNATING, 2, 2, 1, 2),
    (RfmSegmentName.LOST, 1, 1, 1, 2),
]

BUILTIN_SEGMENTS: list[tuple[str, type[models.TextChoices]]] = [
    (SegmentKind.RFM, RfmSegmentName),
    (SegmentKind.LIFECYCLE, LifecycleStage),
    (SegmentKind.TIER, ValueTier),
    (SegmentKind.POTENTIAL, ValuePotential),
]


# The next best actions every installation starts with (segments.models.NextBestAction; the
# migration 0014 installs them in English). Keyed, so a default the admins have not reworded
# shows in the agent's language (NextBestAction.display). Positions leave room in between.
DEFAULT_NEXT_BEST_ACTIONS: list[dict[str, Any]] = [
    {
        "key": "resolve-complaint",
        "position": 10,
        "name": _("Unhappy with an open complaint: resolve it first"),
        "condition": {
            "op": "and",
            "children": [
                {"field": "open_tickets", "cmp": "gte", "value": 1},
                {"field": "tickets_complaint_90d", "cmp": "gte", "value": 1},
                {
                    "op": "or",
                    "children": [
                        {"field": "last_nps", "cmp": "lte", "value": 6},
                        {"field": "last_csat", "cmp": "lte", "value": 2},
                    ],
                },
            ],
        },
        "action_text": _("Resolve the open complaint first; offer nothing before it is settled."),
        "reason_text": _(
            "Unhappy customer (last NPS {last_nps}, last CSAT {last_csat}) with "
            "{open_tickets} open ticket(s) and a complaint in the last 90 days."
        ),
        "channel": "call",
    },
    {
        "key": "overdue-category",
        "position": 20,
        "name": _("Overdue repeat buyer of a category: offer it"),
        "condition": {
            "op": "and",
            "children": [
                {"field": "top_category", "cmp": "is_set"},
                {"field": "repeat_category_share", "cmp": "gte", "value": 0.5},
                {"field": "median_gap_days", "cmp": "gte", "value": 7},
                {"field": "overdue_ratio", "cmp": "gte", "value": 1.2},
            ],
        },
        "action_text": _("Offer {top_category}."),
        "reason_text": _(
            "Usually buys {top_category} every {median_gap_days} days; "
            "{overdue_days} days overdue ({days_since_order} days since the last order)."
        ),
        "channel": "",
    },
    {
        "key": "slipping-retention",
        "position": 30,
        "name": _("Slipping high-value customer: retention call"),
        "condition": {
            "op": "and",
            "children": [{"field": "value_potential", "cmp": "eq", "value": "slipping"}],
        },
        "action_text": _(
            "Retention call: ask what changed and offer a benefit that brings back their usual "
            "orders."
        ),
        "reason_text": _(
            "High past spend, but the predicted value for the next 365 days is only "
            "{predicted_value} (chance still active {p_alive_percent}%)."
        ),
        "channel": "call",
    },
    {
        "key": "grow-upsell",
        "position": 40,
        "name": _("Grow potential: upsell call"),
        "condition": {
            "op": "and",
            "children": [{"field": "value_potential", "cmp": "eq", "value": "grow"}],
        },
        "action_text": _("Upsell: suggest what fits their next purchase and a bundle around it."),
        "reason_text": _(
            "Predicted value for the next 365 days is {predicted_value}, well above what they "
            "have spent so far."
        ),
        "channel": "call",
    },
]

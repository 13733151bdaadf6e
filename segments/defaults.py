"""Default RFM segment grid and the built-in segments every installation starts with."""

from django.db import models

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

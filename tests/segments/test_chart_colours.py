"""One colour per lifecycle stage and per value tier: every chart of the dashboard and of a
segment's composition gets the same colour with each stage's data, whatever the chart's order."""

import datetime as dt
import json
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from segments.choices import LifecycleStage, RunStatus, SegmentKind, ValueTier
from segments.colours import LIFECYCLE_COLOURS, TIER_COLOURS
from segments.models import RefreshRun, Segment, SegmentSnapshot
from tests.callcenter.factories import CustomerFactory
from tests.segments.factories import (
    CustomerMetricsFactory,
    SegmentFactory,
    SegmentMembershipFactory,
)

pytestmark = pytest.mark.django_db


def _chart_data(html: str, element_id: str) -> Any:
    """The JSON a page hands its charts (`json_script`)."""
    start = html.index(f'<script id="{element_id}" type="application/json">')
    start = html.index(">", start) + 1
    return json.loads(html[start : html.index("</script>", start)])


def _scored_in_every_stage() -> list[Any]:
    stages, tiers = list(LifecycleStage.values), list(ValueTier.values)
    return [
        CustomerMetricsFactory(
            customer=CustomerFactory(name=f"Colour {i}"),
            lifecycle_stage=stages[i % len(stages)],
            value_tier=tiers[i % len(tiers)],
        ).customer
        for i in range(12)
    ]


def _labels(choices: Any, language: str) -> list[tuple[str, str]]:
    with translation.override(language):
        return [(value, str(label)) for value, label in choices.choices]


def _lifecycle_history() -> None:
    """Two refreshes' snapshots of every built-in lifecycle segment."""
    for days_ago in (2, 1):
        run = RefreshRun.objects.create(
            as_of=timezone.now(), window_days=365, status=RunStatus.SUCCEEDED
        )
        for segment in Segment.objects.filter(kind=SegmentKind.LIFECYCLE):
            SegmentSnapshot.objects.create(
                segment=segment,
                run=run,
                taken_at=timezone.now() - dt.timedelta(days=days_ago),
                size=days_ago,
                entered=0,
                exited=0,
            )


def test_every_stage_and_tier_has_its_own_colour() -> None:
    assert set(LIFECYCLE_COLOURS) == set(LifecycleStage.values)
    assert set(TIER_COLOURS) == set(ValueTier.values)
    assert len(set(LIFECYCLE_COLOURS.values())) == len(LIFECYCLE_COLOURS)
    assert len(set(TIER_COLOURS.values())) == len(TIER_COLOURS)


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_dashboards_two_lifecycle_charts_paint_each_stage_alike(
    client: Client, supervisor_user: Any, language: str
) -> None:
    _scored_in_every_stage()
    _lifecycle_history()
    client.force_login(supervisor_user)

    html = client.get(reverse("dashboard"), HTTP_ACCEPT_LANGUAGE=language).content.decode()

    data = _chart_data(html, "dashboard-chart-data")
    labels = {str(label): value for value, label in _labels(LifecycleStage, language)}
    doughnut = {labels[row["label"]]: row["color"] for row in data["lifecycle"]}
    lines = {labels[series["label"]]: series["color"] for series in data["lifecycle_series"]}
    assert doughnut == lines == LIFECYCLE_COLOURS
    tiers = {str(label): value for value, label in _labels(ValueTier, language)}
    assert {tiers[row["label"]]: row["color"] for row in data["tiers"]} == TIER_COLOURS


def test_a_segments_composition_uses_the_same_stage_and_tier_colours(
    client: Client, supervisor_user: Any
) -> None:
    customers = _scored_in_every_stage()
    segment = SegmentFactory(name="Colourful", rule={"field": "monetary", "cmp": "gte", "value": 1})
    for customer in customers:
        SegmentMembershipFactory(segment=segment, customer=customer)
    client.force_login(supervisor_user)

    html = client.get(reverse("segment-detail", args=[segment.pk])).content.decode()

    composition = _chart_data(html, "segment-chart-data")["composition"]
    assert [row["color"] for row in composition["lifecycle"]] == [
        LIFECYCLE_COLOURS[stage] for stage in LifecycleStage.values
    ]
    assert [row["color"] for row in composition["tier"]] == [
        TIER_COLOURS[tier] for tier in ValueTier.values
    ]
    # RFM segments have no colours of their own: the charts' palette paints them.
    assert all("color" not in row for row in composition["rfm"])

"""Metrics are shown as of the moment the scores were computed, everywhere: after a refresh with
an as-of in the past, days since the last order (and contact) count to that as-of, not to now,
so they agree with the R score; every export and API read says which moment that is; rule
segments and their preview are evaluated at that moment too."""

import csv
import datetime as dt
import io
from decimal import Decimal
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from segments.choices import RunStatus, SegmentKind
from segments.models import RefreshRun, Segment
from segments.services.refresh import as_of_from_date, segment_refresh
from segments.services.segments import segment_create
from tests.callcenter.factories import (
    CustomerFactory,
    InteractionFactory,
    OrderFactory,
    PhoneFactory,
)

pytestmark = pytest.mark.django_db

# `refresh_segments --as-of 2020-07-01` means midnight of that day in TIME_ZONE (Asia/Shanghai).
PAST = as_of_from_date(dt.date(2020, 7, 1))
PAST_TEXT = "2020-07-01T00:00:00+08:00"
# Whole days from each customer's last paid order to PAST; the hours check the flooring.
RECENCY = {"Recent": 3, "Month": 20, "Season": 45, "Old": 300}
RECENT_PHONE = "+8613800138111"
RECENTLY_ORDERED = {"op": "and", "children": [{"field": "recency_days", "cmp": "lte", "value": 30}]}


@pytest.fixture
def customers() -> dict[str, Any]:
    """Four buyers whose last orders lie 3 to 300 days before PAST, one contact 7 days before
    it, and orders after PAST, which a refresh as of PAST does not see."""
    made = {}
    for name, days in RECENCY.items():
        customer = CustomerFactory(name=name, external_id=f"ASOF-{name}")
        OrderFactory(
            customer=customer,
            placed_at=PAST - dt.timedelta(days=days, hours=5),
            amount=Decimal("100.00"),
        )
        OrderFactory(
            customer=customer,
            placed_at=PAST - dt.timedelta(days=days + 30),
            amount=Decimal("50.00"),
        )
        made[name] = customer
    OrderFactory(customer=made["Old"], placed_at=PAST + dt.timedelta(days=30), amount="9.00")
    InteractionFactory(customer=made["Recent"], occurred_at=PAST - dt.timedelta(days=7, hours=1))
    PhoneFactory(customer=made["Recent"], value=RECENT_PHONE)
    return made


@pytest.fixture
def refreshed(customers: dict[str, Any], supervisor_user: Any) -> RefreshRun:
    segment_create(name="Recently ordered", rule=RECENTLY_ORDERED, created_by=supervisor_user)
    call_command(
        "refresh_segments",
        "--as-of",
        "2020-07-01",
        "--window-days",
        "365",
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )
    run = RefreshRun.objects.get()
    assert (run.status, run.as_of) == (RunStatus.SUCCEEDED, PAST), run.error
    return run


def _rows(text: str) -> dict[str, dict[str, str]]:
    return {row["name"]: row for row in csv.DictReader(io.StringIO(text))}


def _assert_recency_agrees_with_r_scores(rows: dict[str, dict[str, str]]) -> None:
    assert {name: int(rows[name]["recency_days"]) for name in RECENCY} == RECENCY
    by_recency = sorted(RECENCY, key=RECENCY.get)
    r_scores = [int(rows[name]["r_score"]) for name in by_recency]
    assert r_scores == sorted(r_scores, reverse=True), "more recent, higher (or equal) R"
    assert r_scores[0] > r_scores[-1]


def test_export_metrics_counts_recency_to_the_refresh_as_of_and_states_it(
    refreshed: RefreshRun, tmp_path: Any
) -> None:
    # when the metrics are exported years after the refresh's as-of
    target = tmp_path / "metrics.csv"
    call_command("export_metrics", str(target), stderr=io.StringIO())

    # then recency is as of the same moment as the scores, and each row says which moment
    text = target.read_text(encoding="utf-8")
    assert text.splitlines()[0].split(",")[-1] == "as_of"
    rows = _rows(text)
    _assert_recency_agrees_with_r_scores(rows)
    assert {row["as_of"] for row in rows.values()} == {PAST_TEXT}


def test_api_exports_are_as_of_the_refresh(
    refreshed: RefreshRun, supervisor_user: Any, api_as: Any
) -> None:
    client = api_as(supervisor_user)
    every = client.get("/api/segments/export/")
    recent = Segment.objects.get(name="Recently ordered")
    members = client.get(f"/api/segments/{recent.pk}/export/")

    rows = _rows(b"".join(every.streaming_content).decode())
    _assert_recency_agrees_with_r_scores(rows)
    assert {row["as_of"] for row in rows.values()} == {PAST_TEXT}
    member_rows = _rows(b"".join(members.streaming_content).decode())
    assert set(member_rows) == {"Recent", "Month"}
    assert {name: int(row["recency_days"]) for name, row in member_rows.items()} == {
        "Recent": 3,
        "Month": 20,
    }
    assert {row["as_of"] for row in member_rows.values()} == {PAST_TEXT}


def test_customer_metrics_api_counts_days_to_the_refresh_as_of(
    refreshed: RefreshRun, customers: dict[str, Any], agent_user: Any, api_as: Any
) -> None:
    response = api_as(agent_user).get(f"/api/customers/{customers['Recent'].pk}/metrics/")

    body = response.json()
    assert response.status_code == 200
    assert (body["recency_days"], body["days_since_contact"]) == (3, 7)
    assert body["as_of"] == PAST_TEXT


def test_segment_members_api_counts_days_to_the_refresh_as_of(
    refreshed: RefreshRun, supervisor_user: Any, api_as: Any
) -> None:
    lost = Segment.objects.get(kind=SegmentKind.LIFECYCLE, key="lost")

    body = api_as(supervisor_user).get(f"/api/segments/{lost.pk}/members/").json()

    metrics = {row["name"]: row["metrics"] for row in body["results"]}
    assert metrics["Old"]["recency_days"] == 300
    assert metrics["Old"]["as_of"] == PAST_TEXT


def test_screenpop_scores_and_recency_are_as_of_the_refresh(
    refreshed: RefreshRun, agent_user: Any, api_as: Any
) -> None:
    card = api_as(agent_user).get("/api/screenpop/", {"phone": RECENT_PHONE}).json()

    metrics = card["segments"]["metrics"]
    assert metrics["recency_days"] == 3
    assert metrics["as_of"] == "2020-06-30T16:00:00Z"  # the API's timestamps are in UTC


def test_customer_page_shows_days_to_the_refresh_as_of_and_says_so(
    refreshed: RefreshRun, customers: dict[str, Any], agent_user: Any, client: Client
) -> None:
    client.force_login(agent_user)

    response = client.get(reverse("customer-segments-fragment", args=[customers["Season"].pk]))

    html = response.content.decode()
    assert "45 days since the last order" in html
    assert "Scores as of 2020-07-01 00:00" in html


def test_dashboard_and_member_list_state_the_moment_of_the_scores(
    refreshed: RefreshRun, supervisor_user: Any, client: Client
) -> None:
    client.force_login(supervisor_user)
    lost = Segment.objects.get(kind=SegmentKind.LIFECYCLE, key="lost")

    dashboard = client.get(reverse("dashboard")).content.decode()
    members = client.get(reverse("segment-detail", args=[lost.pk])).content.decode()

    assert "scores as of" in dashboard
    assert "2020" in dashboard.split("scores as of", 1)[1][:40]
    assert "scores as of" in members


def test_rule_segments_and_their_preview_count_days_to_the_refresh_as_of(
    refreshed: RefreshRun, customers: dict[str, Any], supervisor_user: Any, api_as: Any
) -> None:
    # the refresh evaluated "last order at most 30 days ago" as of its as-of
    recent = Segment.objects.get(name="Recently ordered")
    members = set(recent.memberships.filter(exited_at__isnull=True).values_list("customer__name"))
    assert members == {("Recent",), ("Month",)}

    # and the preview of the same rule agrees with the members the refresh stored
    preview = api_as(supervisor_user).post(
        "/api/segments/preview/", {"rule": RECENTLY_ORDERED}, format="json"
    )

    assert preview.status_code == 200
    assert preview.json()["count"] == 2
    assert {row["name"] for row in preview.json()["sample"]} == {"Recent", "Month"}
    assert preview.json()["as_of"] == PAST_TEXT


def test_before_any_refresh_there_is_no_moment_and_no_recency(
    customers: dict[str, Any], supervisor_user: Any, tmp_path: Any
) -> None:
    # metrics rows without a successful refresh behind them: nothing to count days to
    segment_refresh(as_of=PAST)
    RefreshRun.objects.update(status=RunStatus.FAILED)
    target = tmp_path / "metrics.csv"

    call_command("export_metrics", str(target), stderr=io.StringIO())

    rows = _rows(target.read_text(encoding="utf-8"))
    assert {row["as_of"] for row in rows.values()} == {""}
    assert {row["recency_days"] for row in rows.values()} == {""}

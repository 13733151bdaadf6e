"""The supervisor workspace pages: dashboard, segments (list, detail, members, settings, rule
editor), refresh, clusters and churn. Query counts are pinned and do not grow with the number
of customers or segments; agents are refused by the server."""

import datetime as dt
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from segments.choices import ChurnModelStatus, LifecycleStage, RunStatus, SegmentKind, ValueTier
from segments.models import ChurnModel, ClusterProfile, RefreshRun, Segment, SegmentSnapshot
from segments.selectors_ui import segments_with_trends
from tests.callcenter.factories import CustomerFactory
from tests.segments.factories import (
    CustomerMetricsFactory,
    SegmentFactory,
    SegmentMembershipFactory,
)

pytestmark = pytest.mark.django_db

# The request's savepoint and its release, session, user, role groups, then: lifecycle and
# tier distributions, segments and their prefetched snapshots, the R x F grid, the latest run
# and the as-of of the latest successful one.
DASHBOARD_QUERIES = 12
# Session, user, role groups, savepoint and release, then: the segment, its snapshots, three
# composition queries (lifecycle, tier, RFM), the member count, the member page and the why of
# the page's members (each condition's value for every member, in one statement).
SEGMENT_DETAIL_QUERIES = 13


@pytest.fixture
def client_as(client: Client) -> Callable[[Any], Client]:
    def _as(user: Any) -> Client:
        client.force_login(user)
        return client

    return _as


def _scored(n: int, *, start: int = 0, **metrics: Any) -> list[Any]:
    """`n` customers with metrics; scores spread over the R x F grid."""
    rows = []
    for i in range(start, start + n):
        customer = CustomerFactory(name=f"Scored {i}", external_id=f"S-{i}")
        rows.append(
            CustomerMetricsFactory(
                customer=customer,
                r_score=1 + i % 5,
                f_score=1 + (i // 5) % 5,
                m_score=3,
                rfm_code="333",
                rfm_segment="loyal",
                monetary=Decimal(100 + i),
                frequency=1 + i % 4,
                last_order_at=timezone.now() - dt.timedelta(days=i),
                churn_probability=(i % 10) / 10,
                lifecycle_stage=list(LifecycleStage.values)[i % 6],
                value_tier=list(ValueTier.values)[i % 3],
                **metrics,
            ).customer
        )
    return rows


def _segment_with_members(customers: list[Any], name: str = "Big spenders") -> Segment:
    segment = SegmentFactory(name=name, rule={"field": "monetary", "cmp": "gte", "value": 1})
    for customer in customers:
        SegmentMembershipFactory(segment=segment, customer=customer, reason="monetary ≥ 1")
    run = RefreshRun.objects.create(
        as_of=timezone.now(), window_days=365, status=RunStatus.SUCCEEDED
    )
    for day in range(3):
        SegmentSnapshot.objects.create(
            segment=segment,
            run=run
            if day == 0
            else RefreshRun.objects.create(
                as_of=timezone.now(), window_days=365, status=RunStatus.SUCCEEDED
            ),
            taken_at=timezone.now() - dt.timedelta(days=3 - day),
            size=len(customers) - day,
            entered=2,
            exited=1,
        )
    segment.size = len(customers)
    segment.save()
    return segment


def test_dashboard_shows_distributions_grid_and_segments_in_fixed_queries(
    client_as: Callable[[Any], Client],
    supervisor_user: Any,
    django_assert_num_queries: Any,
) -> None:
    # given: customers spread over the grid and a segment with history
    customers = _scored(12)
    _segment_with_members(customers[:6])
    client = client_as(supervisor_user)
    client.get(reverse("dashboard"))  # warm caches (content types, translations)

    # when
    with django_assert_num_queries(DASHBOARD_QUERIES):
        response = client.get(reverse("dashboard"))

    # then
    assert response.status_code == 200
    html = response.content.decode()
    assert "Lifecycle stage" in html
    assert f"{reverse('dashboard-cell')}?r=5&amp;f=1" in html
    assert "Big spenders" in html
    # more customers and segments: the same number of queries
    more = _scored(15, start=12)
    _segment_with_members(more, name="Second")
    _segment_with_members(more[:3], name="Third")
    with django_assert_num_queries(DASHBOARD_QUERIES):
        assert client.get(reverse("dashboard") + "?days=7").status_code == 200


def test_an_unscored_dashboard_offers_the_first_refresh_and_then_says_it_runs(
    client_as: Callable[[Any], Client],
    supervisor_user: Any,
    django_assert_num_queries: Any,
) -> None:
    client = client_as(supervisor_user)
    client.get(reverse("dashboard"))

    with django_assert_num_queries(DASHBOARD_QUERIES):
        empty = client.get(reverse("dashboard")).content.decode()
    RefreshRun.objects.create(as_of=timezone.now(), window_days=365, status=RunStatus.RUNNING)
    running = client.get(reverse("dashboard")).content.decode()
    scored = _scored(3)
    client.get(reverse("dashboard"))
    RefreshRun.objects.update(status=RunStatus.SUCCEEDED)
    done = client.get(reverse("dashboard")).content.decode()

    assert 'data-testid="first-refresh"' in empty
    assert f'action="{reverse("segment-refresh")}"' in empty
    assert "Not scored yet" in empty
    assert 'data-testid="first-refresh"' not in running
    assert "The first refresh is running" in running
    assert scored
    assert 'data-testid="not-scored"' not in done


def test_dashboard_period_selector_passes_days_to_the_care_kpis(
    client_as: Callable[[Any], Client], supervisor_user: Any
) -> None:
    response = client_as(supervisor_user).get(reverse("dashboard") + "?days=90")

    html = response.content.decode()
    assert f'hx-get="{reverse("care-dashboard-kpis")}?days=90"' in html


def test_rf_cell_lists_the_customers_with_those_scores(
    client_as: Callable[[Any], Client], supervisor_user: Any
) -> None:
    customers = _scored(10)
    in_cell = [c for c in customers if c.metrics.r_score == 3 and c.metrics.f_score == 1]

    response = client_as(supervisor_user).get(reverse("dashboard-cell") + "?r=3&f=1")

    html = response.content.decode()
    assert response.status_code == 200
    assert all(c.name in html for c in in_cell)
    assert "Scored 0<" not in html
    assert client_as(supervisor_user).get(reverse("dashboard-cell") + "?r=9&f=1").status_code == 400


def test_segment_list_shows_size_trend_and_filters_by_kind(
    client_as: Callable[[Any], Client], supervisor_user: Any
) -> None:
    segment = _segment_with_members(_scored(4))

    client = client_as(supervisor_user)
    everything = client.get(reverse("segment-list")).content.decode()
    rules_only = client.get(reverse("segment-list") + "?kind=rule").content.decode()
    tiers_only = client.get(reverse("segment-list") + "?kind=tier").content.decode()

    assert segment.name in everything
    assert segment.name in rules_only
    assert 'data-sparkline="4,3,2"' in rules_only
    assert segment.name not in tiers_only
    assert Segment.objects.get(kind=SegmentKind.TIER, key="high").name in tiers_only


def test_segment_detail_pins_its_queries_whatever_the_members(
    client_as: Callable[[Any], Client],
    supervisor_user: Any,
    django_assert_num_queries: Any,
) -> None:
    segment = _segment_with_members(_scored(8))
    client = client_as(supervisor_user)
    url = reverse("segment-detail", args=[segment.pk])
    client.get(url)

    with django_assert_num_queries(SEGMENT_DETAIL_QUERIES):
        response = client.get(url)

    html = response.content.decode()
    assert response.status_code == 200
    assert "Scored 7" in html
    assert "Spend in window at least 1" in html  # the rule in words
    assert reverse("api-segment-export", args=[segment.pk]) in html
    assert 'id="segment-chart-data"' in html
    for customer in _scored(30, start=8):
        SegmentMembershipFactory(segment=segment, customer=customer)
    with django_assert_num_queries(SEGMENT_DETAIL_QUERIES):
        assert client.get(url + "?page=2&sort=-churn").status_code == 200


def test_members_are_searchable_and_sortable(
    client_as: Callable[[Any], Client], supervisor_user: Any
) -> None:
    segment = _segment_with_members(_scored(6))
    url = reverse("segment-members", args=[segment.pk])
    client = client_as(supervisor_user)

    found = client.get(url, {"q": "S-4"}).content.decode()
    cheapest_first = client.get(url, {"sort": "monetary"}).content.decode()
    bad_sort = client.get(url, {"sort": "password"})

    assert "Scored 4" in found
    assert "Scored 5" not in found
    assert cheapest_first.index("Scored 0") < cheapest_first.index("Scored 5")
    assert bad_sort.status_code == 200


def test_settings_form_saves_capacity_and_priority(
    client_as: Callable[[Any], Client], supervisor_user: Any
) -> None:
    segment = SegmentFactory()
    url = reverse("segment-settings", args=[segment.pk])

    response = client_as(supervisor_user).post(
        url, {"capacity": "50", "priority_field": "churn_probability"}
    )

    assert response.status_code == 302
    segment.refresh_from_db()
    assert segment.capacity == 50
    assert segment.priority_field == "churn_probability"
    assert segment.priority_descending is False


def test_settings_form_refuses_bad_input_and_changes_nothing(
    client_as: Callable[[Any], Client], supervisor_user: Any
) -> None:
    segment = SegmentFactory(capacity=10)

    response = client_as(supervisor_user).post(
        reverse("segment-settings", args=[segment.pk]),
        {"capacity": "0", "priority_field": "monetary", "priority_descending": "on"},
    )

    assert response.status_code == 400
    assert "greater than or equal to 1" in response.content.decode()
    segment.refresh_from_db()
    assert segment.capacity == 10


def test_rule_editor_creates_a_rule_segment_and_goes_to_it(
    client_as: Callable[[Any], Client], supervisor_user: Any
) -> None:
    rule = {"op": "or", "children": [{"field": "city", "cmp": "eq", "value": "杭州"}]}

    response = client_as(supervisor_user).post(
        reverse("segment-create"),
        {"name": "Hangzhou", "rule": json.dumps(rule), "priority_field": "monetary"},
    )

    segment = Segment.objects.get(name="Hangzhou")
    assert response.status_code == 302
    assert response["Location"] == reverse("segment-detail", args=[segment.pk])
    assert segment.kind == SegmentKind.RULE
    assert segment.rule == rule


def test_rule_editor_shows_the_error_at_the_bad_node_and_saves_nothing(
    client_as: Callable[[Any], Client], supervisor_user: Any
) -> None:
    rule = {
        "op": "and",
        "children": [
            {"field": "city", "cmp": "eq", "value": "杭州"},
            {"field": "birthday_month", "cmp": "eq", "value": 13},
        ],
    }

    response = client_as(supervisor_user).post(
        reverse("segment-create"),
        {"name": "Broken", "rule": json.dumps(rule), "priority_field": "monetary"},
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-error-path="children[1]"' in html
    assert "birthday_month" in html
    assert not Segment.objects.filter(name="Broken").exists()


def test_rule_editor_edits_an_existing_rule_segment(
    client_as: Callable[[Any], Client], supervisor_user: Any
) -> None:
    segment = SegmentFactory(name="Old name")
    url = reverse("segment-edit", args=[segment.pk])
    client = client_as(supervisor_user)
    assert "Old name" in client.get(url).content.decode()

    client.post(
        url,
        {
            "name": "New name",
            "rule": json.dumps(
                {"op": "and", "children": [{"field": "kind", "cmp": "eq", "value": "business"}]}
            ),
            "capacity": "5",
            "priority_field": "frequency",
        },
    )

    segment.refresh_from_db()
    assert (segment.name, segment.capacity, segment.priority_field) == ("New name", 5, "frequency")


def test_refresh_now_starts_a_run_and_polls_until_it_ends(
    client_as: Callable[[Any], Client],
    supervisor_user: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    client = client_as(supervisor_user)

    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(reverse("segment-refresh"), headers={"HX-Request": "true"})

    run = RefreshRun.objects.get()
    html = response.content.decode()
    assert len(callbacks) == 1
    assert f'hx-get="{reverse("segment-refresh-progress", args=[run.pk])}"' in html
    assert 'hx-trigger="every 1s"' in html
    # the run ends: the bar shows done and stops polling
    RefreshRun.objects.filter(pk=run.pk).update(
        status=RunStatus.SUCCEEDED, phase="done", percent=100, counts={"customers": 3}
    )
    done = client.get(reverse("segment-refresh-progress", args=[run.pk])).content.decode()
    assert "every 1s" not in done
    assert "refresh-done" in done
    history = client.get(reverse("segment-refresh")).content.decode()
    assert f"#{run.pk}" in history


def test_a_started_refresh_is_in_the_run_history_while_it_runs(
    client_as: Callable[[Any], Client], supervisor_user: Any
) -> None:
    # given a page whose history was empty when it loaded
    client = client_as(supervisor_user)
    assert "No refresh has run yet." in client.get(reverse("segment-refresh")).content.decode()

    # when Refresh now starts a run (its task is sent on commit, which this test never does)
    response = client.post(reverse("segment-refresh"), headers={"HX-Request": "true"})

    # then the answer also replaces the history, which lists the run as running
    run = RefreshRun.objects.get()
    html = response.content.decode()
    history = html[html.index('id="run-history"') :]
    assert 'hx-swap-oob="true"' in history
    assert f"#{run.pk}" in history
    assert "Running" in history
    assert "No refresh has run yet." not in html


def test_clusters_page_shows_profiles_model_and_customers_at_risk(
    client_as: Callable[[Any], Client], supervisor_user: Any
) -> None:
    customers = _scored(10)
    run = RefreshRun.objects.create(as_of=timezone.now(), window_days=365)
    for number, label in ((0, "Loyal big spenders"), (1, "Sleeping one-timers")):
        ClusterProfile.objects.create(
            run=run, number=number, label=label, size=5, mean_frequency=2, mean_monetary=300,
            mean_r=3, mean_f=2, mean_m=4, mean_complaints=0.1, mean_recency_days=20,
        )  # fmt: skip
    ChurnModel.objects.create(
        status=ChurnModelStatus.TRAINED, version=3, cutoff=timezone.now(), horizon_days=90,
        holdout_auc=0.812, is_current=True,
    )  # fmt: skip

    html = client_as(supervisor_user).get(reverse("clusters")).content.decode()

    assert "Loyal big spenders" in html
    assert "Sleeping one-timers" in html
    assert "0.812" in html
    assert "v3" in html
    riskiest = max(customers, key=lambda c: c.metrics.churn_probability)
    assert reverse("customer-detail", args=[riskiest.pk]) in html


def test_retrain_queues_the_churn_training(
    client_as: Callable[[Any], Client],
    supervisor_user: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks() as callbacks:
        response = client_as(supervisor_user).post(reverse("churn-retrain"))

    assert response.status_code == 302
    assert len(callbacks) == 1


@pytest.mark.parametrize(
    ("name", "method", "needs_segment"),
    [
        ("dashboard", "get", False),
        ("segment-list", "get", False),
        ("segment-create", "get", False),
        ("segment-create", "post", False),
        ("segment-edit", "get", True),
        ("segment-edit", "post", True),
        ("segment-detail", "get", True),
        ("segment-members", "get", True),
        ("segment-settings", "post", True),
        ("segment-refresh", "post", False),
        ("clusters", "get", False),
        ("churn-retrain", "post", False),
        ("api-segment-export", "get", True),
    ],
)
def test_agents_are_refused_by_the_server(
    client_as: Callable[[Any], Client], agent_user: Any, name: str, method: str, needs_segment: bool
) -> None:
    segment = SegmentFactory()
    url = reverse(name, args=[segment.pk] if needs_segment else [])

    response = getattr(client_as(agent_user), method)(url)

    assert response.status_code == 403
    segment.refresh_from_db()
    assert not RefreshRun.objects.exists()


def test_trends_read_only_the_latest_snapshots_of_each_segment() -> None:
    first = _segment_with_members(_scored(4), name="First")
    second = _segment_with_members(_scored(2, start=4), name="Second")

    segments = {s.pk: s for s in segments_with_trends(points=2)}

    assert [s.size for s in segments[first.pk].snapshots.all()] == [2, 3]
    assert [s.size for s in segments[second.pk].snapshots.all()] == [0, 1]


def test_the_at_risk_list_ranks_those_worth_saving_and_shows_the_lost_apart(
    client_as: Callable[[Any], Client], supervisor_user: Any
) -> None:
    # given a lost customer (the highest churn probability, since they are gone), a dormant
    # big spender at medium risk and an active small spender at high risk
    def scored(name: str, stage: str, churn: float, spend: str, days: int) -> Any:
        customer = CustomerFactory(name=name)
        CustomerMetricsFactory(
            customer=customer,
            lifecycle_stage=stage,
            churn_probability=churn,
            monetary=Decimal(spend),
            last_order_at=timezone.now() - dt.timedelta(days=days),
        )
        return customer

    gone = scored("Gone", LifecycleStage.LOST, 0.99, "0", 400)
    sleeper = scored("Sleeper", LifecycleStage.DORMANT, 0.5, "2000", 120)
    small = scored("Small", LifecycleStage.ACTIVE, 0.9, "100", 10)

    html = client_as(supervisor_user).get(reverse("clusters")).content.decode()

    # then the dormant big spender (value at risk 1,000) leads the small one (90), and the
    # lost customer is only in the win-back list
    at_risk = html[html.index('data-testid="at-risk"') : html.index('data-testid="lost"')]
    lost = html[html.index('data-testid="lost"') :]
    sleeper_url, small_url, gone_url = (
        reverse("customer-detail", args=[c.pk]) for c in (sleeper, small, gone)
    )
    assert at_risk.index(sleeper_url) < at_risk.index(small_url)
    assert gone_url not in at_risk
    assert gone_url in lost
    assert "1,000.00" in at_risk

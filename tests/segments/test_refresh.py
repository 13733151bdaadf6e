"""The refresh end to end on real PostgreSQL: metrics, scores, memberships with history,
snapshots, events, capacity, concurrency, failure atomicity and the commands."""

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Count
from django.utils import timezone

from callcenter.choices import OrderStatus
from segments.choices import LifecycleStage, RunStatus, SegmentKind
from segments.models import (
    CustomerMetrics,
    RefreshRun,
    Segment,
    SegmentMembership,
    SegmentSnapshot,
    days_since,
)
from segments.services import refresh as refresh_module
from segments.services.refresh import as_of_from_date, segment_refresh, segment_refresh_execute
from segments.services.refresh_runs import segment_refresh_request
from segments.services.segments import segment_create
from segments.signals import segment_memberships_changed
from tests.callcenter.factories import CustomerFactory, OrderFactory, TicketFactory

pytestmark = pytest.mark.django_db

AS_OF = as_of_from_date(dt.date(2026, 6, 1))


def _order(customer, days_ago: float, amount: str, status: str = OrderStatus.PAID) -> None:
    OrderFactory(
        customer=customer,
        placed_at=AS_OF - dt.timedelta(days=days_ago),
        amount=Decimal(amount),
        status=status,
    )


def _members(slug: str) -> set[int]:
    return set(
        SegmentMembership.objects.filter(segment__slug=slug, exited_at__isnull=True).values_list(
            "customer_id", flat=True
        )
    )


def _top_two_spenders(name: str, created_by) -> None:
    """A rule segment of the customers with spend, capped to the two who spent most."""
    segment_create(
        name=name,
        rule={"op": "and", "children": [{"field": "monetary", "cmp": "gt", "value": 0}]},
        capacity=2,
        priority_field="monetary",
        created_by=created_by,
    )


@pytest.fixture
def base():
    """Five customers with distinct, hand-checkable histories."""
    loyal = CustomerFactory(name="Loyal")
    for days in (3, 20, 40, 70, 100, 130):
        _order(loyal, days, "300.00")
    recent_one = CustomerFactory(name="New")
    _order(recent_one, 5, "80.00")
    dormant = CustomerFactory(name="Dormant")
    _order(dormant, 90, "120.00")
    _order(dormant, 200, "120.00")
    lost = CustomerFactory(name="Lost")
    _order(lost, 300, "50.00")
    # a refund and an order after the as-of moment must not count
    _order(lost, 10, "999.00", status=OrderStatus.REFUNDED)
    _order(lost, -3, "999.00")
    # outside the 365-day window: counts for recency, not for frequency or monetary
    _order(lost, 400, "70.00")
    prospect = CustomerFactory(name="Prospect")
    TicketFactory(customer=loyal, opened_at=AS_OF - dt.timedelta(days=10))
    return {
        "loyal": loyal,
        "new": recent_one,
        "dormant": dormant,
        "lost": lost,
        "prospect": prospect,
    }


def test_metrics_and_scores_by_hand(base) -> None:
    run = segment_refresh(as_of=AS_OF, window_days=365)
    assert run.status == RunStatus.SUCCEEDED, run.error

    metrics = {m.customer.name: m for m in CustomerMetrics.objects.select_related("customer")}
    loyal, lost = metrics["Loyal"], metrics["Lost"]
    recency = {name: days_since(m.last_order_at, as_of=AS_OF) for name, m in metrics.items()}
    assert (recency["Loyal"], loyal.frequency, loyal.monetary) == (3, 6, Decimal("1800.00"))
    assert loyal.complaints_90d == 1
    assert loyal.orders_90d == 4
    assert (recency["Lost"], lost.frequency, lost.monetary) == (300, 1, Decimal("50.00"))
    assert lost.orders_lifetime == 2
    # four scored customers; recency 3 < 5 < 90 < 300 -> R 5, 4, 2, 1 (floor((r-.5)*5/4)+1)
    assert [metrics[n].r_score for n in ("Loyal", "New", "Dormant", "Lost")] == [5, 4, 2, 1]
    assert metrics["Prospect"].r_score is None
    assert metrics["Prospect"].rfm_code == ""
    stages = {name: m.lifecycle_stage for name, m in metrics.items()}
    assert stages == {
        "Loyal": LifecycleStage.ACTIVE,
        "New": LifecycleStage.NEW,
        "Dormant": LifecycleStage.DORMANT,
        "Lost": LifecycleStage.LOST,
        "Prospect": LifecycleStage.PROSPECT,
    }
    assert run.counts["customers"] == 5
    assert set(run.timings) >= {"aggregate", "score", "write", "memberships", "total"}


def test_membership_history_enter_stay_exit_reenter(base) -> None:
    loyal = base["loyal"]
    segment_refresh(as_of=AS_OF)
    assert loyal.pk in _members("lifecycle-active")

    # same data, a day later: stays (no new membership row)
    segment_refresh(as_of=AS_OF + dt.timedelta(days=1))
    assert (
        SegmentMembership.objects.filter(customer=loyal, segment__slug="lifecycle-active").count()
        == 1
    )

    # 61 days later with no new order: exits active, enters dormant
    later = AS_OF + dt.timedelta(days=61)
    segment_refresh(as_of=later)
    stay = SegmentMembership.objects.get(customer=loyal, segment__slug="lifecycle-active")
    assert stay.exited_at is not None
    assert loyal.pk in _members("lifecycle-dormant")

    # buys again: re-enters active with a second stay, history kept
    _order(loyal, -60, "100.00")
    segment_refresh(as_of=later + dt.timedelta(days=1))
    stays = SegmentMembership.objects.filter(customer=loyal, segment__slug="lifecycle-active")
    assert stays.count() == 2
    assert stays.filter(exited_at__isnull=True).count() == 1
    assert loyal.pk not in _members("lifecycle-dormant")


def test_snapshots_and_segment_sizes(base) -> None:
    run = segment_refresh(as_of=AS_OF)
    active = Segment.objects.get(slug="lifecycle-active")
    snapshot = SegmentSnapshot.objects.get(segment=active, run=run)
    assert (snapshot.size, snapshot.entered, snapshot.exited) == (1, 1, 0)
    assert active.size == 1
    assert active.last_refreshed_at is not None


def test_sizes_equal_the_open_memberships_after_every_run(base, supervisor_user) -> None:
    _top_two_spenders("Top two", supervisor_user)
    Segment.objects.filter(slug="lifecycle-new").update(is_active=False)
    runs = [segment_refresh(as_of=AS_OF)]
    _order(base["prospect"], 1, "5000.00")
    _order(base["new"], 2, "900.00")
    runs.append(segment_refresh(as_of=AS_OF + dt.timedelta(days=1)))

    for run in runs:
        assert run.status == RunStatus.SUCCEEDED, run.error
    open_counts = dict(
        SegmentMembership.objects.filter(exited_at__isnull=True)
        .values_list("segment_id")
        .annotate(size=Count("id"))
        .values_list("segment_id", "size")
    )
    sizes = dict(SegmentSnapshot.objects.filter(run=runs[-1]).values_list("segment_id", "size"))
    assert sizes == {
        pk: open_counts.get(pk, 0) for pk in Segment.objects.values_list("pk", flat=True)
    }
    assert sizes[Segment.objects.get(slug="rule-top-two").pk] == 2
    assert sum(sizes.values()) > 10
    assert dict(Segment.objects.values_list("pk", "size")) == sizes


def test_entries_and_exits_are_announced_once_per_run(base) -> None:
    seen: list[int] = []

    def receiver(sender, run_id, **kwargs):
        seen.append(run_id)

    segment_memberships_changed.connect(receiver, dispatch_uid="test-refresh")
    try:
        run = segment_refresh(as_of=AS_OF)
    finally:
        segment_memberships_changed.disconnect(dispatch_uid="test-refresh")
    assert seen == [run.pk]
    assert SegmentMembership.objects.filter(entered_run=run).count() > 0


def test_rule_segment_with_capacity_keeps_top_spenders(base, supervisor_user) -> None:
    _top_two_spenders("Big spenders to call", supervisor_user)
    segment_refresh(as_of=AS_OF)
    members = _members("rule-big-spenders-to-call")
    assert members == {base["loyal"].pk, base["dormant"].pk}
    reason = SegmentMembership.objects.filter(segment__slug="rule-big-spenders-to-call").first()
    assert "monetary" in reason.reason


def test_the_refresh_compiles_no_statement(base) -> None:
    """JIT is off for the refresh's statements (see `transaction_jit_off`), whatever the
    server's setting: read inside its transaction, where its entries are announced."""
    seen: list[str] = []

    def receiver(sender, run_id, **kwargs):
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('jit')")
            seen.append(cursor.fetchone()[0])

    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('jit', 'on', false)")
    segment_memberships_changed.connect(receiver, dispatch_uid="test-refresh-jit")
    try:
        segment_refresh(as_of=AS_OF)
    finally:
        segment_memberships_changed.disconnect(dispatch_uid="test-refresh-jit")
        with connection.cursor() as cursor:
            cursor.execute("RESET jit")
    assert seen == ["off"]


def test_a_second_request_joins_the_running_refresh(base) -> None:
    first, created = segment_refresh_request(as_of=AS_OF)
    second, created_again = segment_refresh_request(as_of=AS_OF)
    assert created
    assert not created_again
    assert second.pk == first.pk
    assert RefreshRun.objects.count() == 1
    finished = segment_refresh_execute(run_id=first.pk)
    again = segment_refresh_execute(run_id=first.pk)
    assert finished.status == again.status == RunStatus.SUCCEEDED
    assert SegmentSnapshot.objects.filter(run=first).count() == Segment.objects.count()


def test_a_failed_refresh_changes_nothing(base, monkeypatch) -> None:
    segment_refresh(as_of=AS_OF)
    before_members = set(
        SegmentMembership.objects.values_list("segment_id", "customer_id", "exited_at")
    )
    before_metrics = list(CustomerMetrics.objects.values().order_by("customer_id"))

    def broken(**kwargs):
        raise RuntimeError("disk on fire")

    # the last phase to write fails: everything before it rolls back with it
    monkeypatch.setattr(refresh_module, "rule_memberships_refresh", broken)
    run = segment_refresh(as_of=AS_OF + dt.timedelta(days=100))
    assert run.status == RunStatus.FAILED
    assert "disk on fire" in run.error
    assert (
        set(SegmentMembership.objects.values_list("segment_id", "customer_id", "exited_at"))
        == before_members
    )
    assert list(CustomerMetrics.objects.values().order_by("customer_id")) == before_metrics
    monkeypatch.undo()
    assert segment_refresh(as_of=AS_OF).status == RunStatus.SUCCEEDED


def test_refresh_command_and_export_escape_formulas(base, tmp_path) -> None:
    base["new"].name = '=HYPERLINK("http://evil")'
    base["new"].save()
    out = io.StringIO()
    call_command(
        "refresh_segments",
        "--as-of",
        "2026-06-01",
        "--window-days",
        "365",
        stdout=out,
        stderr=io.StringIO(),
    )
    assert "done" in out.getvalue()
    run = RefreshRun.objects.get()
    assert run.as_of == AS_OF
    target = tmp_path / "metrics.csv"
    call_command("export_metrics", str(target), stderr=io.StringIO())
    rows = list(csv.DictReader(target.open(encoding="utf-8")))
    assert len(rows) == 5
    evil = next(r for r in rows if "HYPERLINK" in r["name"])
    assert evil["name"].startswith("'=")
    loyal = next(r for r in rows if r["name"] == "Loyal")
    assert loyal["rfm_code"]
    assert loyal["lifecycle_stage"] == "active"


def _open_members() -> set[tuple[int, int]]:
    return set(
        SegmentMembership.objects.filter(
            exited_at__isnull=True, segment__kind=SegmentKind.LIFECYCLE
        ).values_list("segment_id", "customer_id")
    )


def test_a_repair_puts_right_memberships_that_drifted_from_the_metrics(base) -> None:
    assert segment_refresh(as_of=AS_OF).status == RunStatus.SUCCEEDED
    expected = _open_members()
    # drift, as a restore or a hand edit leaves it: a stay closed that the metrics say is
    # open, and one opened that they do not
    kept = SegmentMembership.objects.filter(
        exited_at__isnull=True, segment__kind=SegmentKind.LIFECYCLE
    ).first()
    kept.exited_at = timezone.now()
    kept.save(update_fields=["exited_at"])
    stray_segment = Segment.objects.filter(kind=SegmentKind.LIFECYCLE).exclude(
        pk__in=SegmentMembership.objects.filter(
            customer_id=base["new"].pk, exited_at__isnull=True
        ).values("segment_id")
    )[0]
    SegmentMembership.objects.create(
        segment=stray_segment, customer=base["new"], entered_at=timezone.now()
    )
    drifted = _open_members()
    assert drifted != expected

    # a full pass re-aggregates everyone but diffs only the customers whose metrics changed
    assert segment_refresh(as_of=AS_OF, full=True).status == RunStatus.SUCCEEDED
    assert _open_members() == drifted

    call_command(
        "refresh_segments",
        "--as-of",
        "2026-06-01",
        "--repair",
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )
    assert _open_members() == expected
    run = RefreshRun.objects.latest("pk")
    assert run.counts["entered"] >= 1
    assert run.counts["exited"] >= 1


def test_builtin_segments_exist_for_every_score() -> None:
    kinds = set(Segment.objects.values_list("kind", flat=True))
    assert kinds >= {SegmentKind.RFM, SegmentKind.LIFECYCLE, SegmentKind.TIER}
    assert Segment.objects.filter(kind=SegmentKind.RFM).count() == 11


def test_as_of_date_means_start_of_day_in_time_zone(settings) -> None:
    moment = as_of_from_date(dt.date(2026, 6, 1))
    assert timezone.localtime(moment).hour == 0
    assert moment.utcoffset() is not None


def test_screenpop_shows_scores_and_segments_with_why(base, agent_user, api_as) -> None:
    from tests.callcenter.factories import PhoneFactory

    PhoneFactory(customer=base["loyal"], value="+8613800138000")
    segment_refresh(as_of=AS_OF)
    card = api_as(agent_user).get("/api/screenpop/", {"phone": "13800138000"}).json()
    section = card["segments"]
    assert section["metrics"]["lifecycle_stage"] == "active"
    assert section["metrics"]["rfm_code"]
    slugs = {row["slug"]: row["why"] for row in section["segments"]}
    assert slugs["lifecycle-active"] == "lifecycle stage active"
    stored = CustomerMetrics.objects.get(customer=base["loyal"])
    assert section["metrics"]["monetary"] == str(stored.monetary)
    assert section["metrics"]["recency_days"] == days_since(stored.last_order_at, as_of=AS_OF)
    assert "last_order_at" not in section["metrics"]
    order = [(row["kind"], row["name"]) for row in section["segments"]]
    assert order == sorted(order)
    assert all(row["since"] and row["why"] for row in section["segments"])

    PhoneFactory(customer=CustomerFactory(), value="+8613900139000")
    newcomer = api_as(agent_user).get("/api/screenpop/", {"phone": "13900139000"}).json()
    assert newcomer["segments"] == {"habits": None, "metrics": None, "reach": None, "segments": []}


def test_a_merged_customer_leaves_metrics_and_segments_at_the_next_refresh(base) -> None:
    segment_refresh(as_of=AS_OF)
    # nothing changed: nothing is rewritten
    assert segment_refresh(as_of=AS_OF).counts["metrics_written"] == 0
    gone = base["dormant"]
    assert CustomerMetrics.objects.filter(customer=gone).exists()
    gone.status, gone.merged_into = "merged", base["loyal"]
    gone.save()

    run = segment_refresh(as_of=AS_OF + dt.timedelta(hours=1))

    assert run.counts["metrics_deleted"] == 1
    assert not CustomerMetrics.objects.filter(customer=gone).exists()
    assert not SegmentMembership.objects.filter(customer=gone, exited_at__isnull=True).exists()
    assert SegmentMembership.objects.filter(customer=gone, exited_run=run).exists()


def test_every_phase_a_run_reports_has_a_name_in_both_languages() -> None:
    from django.utils import translation

    from segments.services.refresh_runs import PHASES
    from segments.views.refresh import PHASE_LABELS, PHASE_NAMES, phase_label

    phases = [name for name, _weight in PHASES]
    assert set(phases) <= set(PHASE_LABELS)
    assert set(phases) <= set(PHASE_NAMES)
    with translation.override("zh-hans"):
        for phase in phases:
            chinese = [phase_label(phase), str(PHASE_NAMES[phase])]
            with translation.override("en"):
                english = [phase_label(phase), str(PHASE_NAMES[phase])]
            # named in Chinese, not shown in English or as the engine names it
            assert all(zh != en for zh, en in zip(chinese, english, strict=True)), phase

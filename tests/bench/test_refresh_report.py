"""The refresh benchmark's baselines compute the same RFM three ways, and its report says which
path each refresh took, whether the incremental path was checked, and every ratio by wall time
(bench/refresh.py), without a benchmark run."""

import datetime as dt
from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from django.db import connection
from django.utils import timezone

from bench import refresh as bench
from callcenter.choices import OrderStatus
from tests.callcenter.factories import CustomerFactory, OrderFactory


def _sql_rfm(at: float) -> tuple[pd.DataFrame, tuple]:
    with connection.cursor() as cursor:
        cursor.execute(bench.RFM_SQL, bench.rfm_sql_params(at))
        cursor.execute("SELECT * FROM bench_rfm ORDER BY customer_id")
        columns = [column.name for column in cursor.description]
        frame = pd.DataFrame(cursor.fetchall(), columns=columns)
        cursor.execute(bench.RFM_CHECK_SQL.format(table="bench_rfm"))
        row = cursor.fetchone()
        cursor.execute("DROP TABLE bench_rfm")
    return frame, row


def _duckdb_rfm(at: float, directory: Path) -> tuple[pd.DataFrame, tuple]:
    path = directory / "orders.csv"
    with connection.cursor() as cursor, path.open("wb") as out:
        with cursor.cursor.copy(bench.ORDERS_COPY) as copy:
            for data in copy:
                out.write(data)
    with duckdb.connect() as db:
        bench.rfm_duckdb(db, str(path), at)
        frame = db.execute("SELECT * FROM rfm ORDER BY customer_id").df()
        row = db.execute(bench.RFM_CHECK_SQL.format(table="rfm")).fetchone()
    return frame, row


@pytest.mark.django_db
@pytest.mark.filterwarnings("ignore:pandas only supports SQLAlchemy")  # as the baseline reads
def test_the_three_baselines_compute_the_same_rfm(tmp_path: Path) -> None:
    now = timezone.now()
    at = (now + dt.timedelta(minutes=1)).timestamp()
    recent = CustomerFactory()
    # Outside the 365-day window: counts for recency only.
    OrderFactory(customer=recent, placed_at=now - dt.timedelta(days=10), amount=Decimal("100.10"))
    OrderFactory(customer=recent, placed_at=now - dt.timedelta(days=400), amount=Decimal("50"))
    OrderFactory(
        customer=recent,
        placed_at=now - dt.timedelta(days=5),
        amount=Decimal("999"),
        status=OrderStatus.REFUNDED,
    )
    lapsed = CustomerFactory()
    OrderFactory(customer=lapsed, placed_at=now - dt.timedelta(days=500), amount=Decimal("70"))
    refunded_only = CustomerFactory()
    OrderFactory(customer=refunded_only, amount=Decimal("10"), status=OrderStatus.REFUNDED)
    for days in range(1, 9):
        buyer = CustomerFactory()
        for n in range(days):
            OrderFactory(
                customer=buyer,
                placed_at=now - dt.timedelta(days=days * 20 + n),
                amount=Decimal("20.05") * (n + 1),
            )
    orders = pd.read_sql(
        "SELECT customer_id, placed_at, amount, status FROM callcenter_order",
        connection.connection,
    )

    by_pandas = bench.rfm_pandas(orders, at)
    by_sql, sql_sums = _sql_rfm(at)
    by_duckdb, duckdb_sums = _duckdb_rfm(at, tmp_path)

    pandas_check = bench.rfm_check(
        len(by_pandas),
        by_pandas["recency_days"].sum(),
        by_pandas["frequency"].sum(),
        by_pandas["monetary"].sum(),
    )
    assert pandas_check == bench.rfm_check(*sql_sums) == bench.rfm_check(*duckdb_sums)
    assert pandas_check["customers"] == 10  # not the customer with refunded orders only
    assert by_pandas.loc[recent.pk, ["recency_days", "frequency", "monetary"]].tolist() == [
        10,
        1,
        100.10,
    ]
    assert by_pandas.loc[lapsed.pk, ["recency_days", "frequency", "monetary"]].tolist() == [
        500,
        0,
        0,
    ]
    # PostgreSQL and DuckDB agree customer by customer, scores included.
    columns = ["customer_id", "recency_days", "frequency", "r_score", "f_score", "m_score"]
    assert by_sql[columns].astype("int64").equals(by_duckdb[columns].astype("int64"))
    assert by_sql["monetary"].astype(float).tolist() == by_duckdb["monetary"].astype(float).tolist()
    assert sorted(by_sql["r_score"].value_counts().tolist()) == [2, 2, 2, 2, 2]


def _run(seconds: float, *, aggregated: int, written: int = 0, entered: int = 0) -> dict:
    counts = {
        "aggregated": aggregated,
        "customers": 1000,
        "metrics_written": written,
        "metrics_deleted": 0,
        "entered": entered,
        "exited": 0,
    }
    return {
        "seconds": seconds,
        "phases": {"aggregate": seconds / 2, "write": seconds / 4, "total": seconds - 0.5},
        "commit_seconds": 0.5,
        "counts": counts,
        "path": "incremental" if aggregated < 1000 else "full",
        "peak_rss_mb": 400.0,
    }


def _report(**changes: dict) -> dict:
    sums = {"customers": 10, "recency_days": 100, "frequency": 20, "monetary": 300.5}
    report = {
        "refresh": _run(30.0, aggregated=1000, written=1000, entered=4000),
        "refresh_again": _run(6.0, aggregated=3, written=1000),
        "refresh_next_day": _run(5.0, aggregated=1000, written=300, entered=40),
        "refresh_next_day_full": _run(4.0, aggregated=1000),
        "refresh_quiet": _run(2.0, aggregated=12, written=12),
        "refresh_quiet_full": _run(4.0, aggregated=1000),
        "refresh_refit": _run(5.0, aggregated=12, written=1000, entered=30),
        "refresh_monday": _run(6.0, aggregated=1000, written=1000, entered=30),
        "refresh_monday_full": _run(4.0, aggregated=1000),
        "baselines": {
            "pandas": {"seconds": 20.0, "check": sums, "peak_rss_mb": 3000.0},
            "sql": {"seconds": 2.0, "check": sums, "peak_rss_mb": 30.0},
            "duckdb": {"seconds": 2.5, "check": {**sums, "monetary": 300.50001}, "peak_rss_mb": 9},
        },
    }
    return {**report, **changes}


def test_the_report_checks_the_incremental_path_and_takes_ratios_by_wall_time() -> None:
    report = _report()
    checks = bench.checks(report)
    assert checks == {
        "nightly_path": "full",
        "nightly_full_changed_nothing": True,
        "quiet_path": "incremental",
        "quiet_share_aggregated": 0.012,
        "quiet_full_changed_nothing": True,
        "monday_path": "full",
        "monday_full_changed_nothing": True,
        "baselines_agree": True,
        "incremental_checked": True,
    }
    report["ratios"] = ratios = bench.ratios(report)
    assert ratios["best_baseline"] == "sql"
    assert ratios["over_best_baseline"]["refresh_next_day"] == 2.5
    assert ratios["phases_over_best_baseline"]["refresh"] == {
        "aggregate": 7.5,
        "write": 3.75,
        "commit": 0.25,
    }
    assert ratios["over_each_baseline"]["refresh"] == {"pandas": 1.5, "sql": 15.0, "duckdb": 12.0}
    assert ratios["over_full_pass"]["refresh_next_day"] == 1.25
    assert ratios["peak_rss_mb"]["baseline_pandas"] == 3000.0
    targets = bench.targets(report)
    assert {name: target["met"] for name, target in targets.items()} == {
        "refresh_next_day_over_full_pass": True,
        "refresh_quiet_over_full_pass": True,
        "refresh_again_over_full_pass": False,
        "refresh_refit_over_full_pass": True,
        "refresh_monday_over_full_pass": False,
        "refresh_over_full_pass": False,
        "refresh_faster_than_every_baseline": False,
        "refresh_peak_rss_mb": True,
    }


def test_a_quiet_run_that_went_full_or_differed_leaves_the_path_unchecked() -> None:
    went_full = bench.checks(_report(refresh_quiet=_run(2.0, aggregated=1000)))
    assert went_full["quiet_path"] == "full"
    assert went_full["incremental_checked"] is False
    differed = bench.checks(_report(refresh_quiet_full=_run(4.0, aggregated=1000, written=12)))
    assert differed["quiet_full_changed_nothing"] is False
    assert differed["incremental_checked"] is False
    baselines = _report()["baselines"]
    disagree = {**baselines, "duckdb": {**baselines["duckdb"], "check": {"customers": 9}}}
    assert bench.checks(_report(baselines=disagree))["baselines_agree"] is False


def test_a_monday_full_pass_that_differed_fails_its_check() -> None:
    differed = bench.checks(_report(refresh_monday_full=_run(4.0, aggregated=1000, written=3)))
    assert differed["monday_full_changed_nothing"] is False
    assert differed["incremental_checked"] is True


SHANGHAI = dt.timezone(dt.timedelta(hours=8))


@pytest.mark.parametrize(
    "now",
    [
        # every weekday, and each side of the week start and of the nightly hour
        dt.datetime(2026, 12, 7, 0, 5, tzinfo=SHANGHAI),
        dt.datetime(2026, 12, 7, 10, 4, tzinfo=SHANGHAI),
        dt.datetime(2026, 12, 8, 2, 29, tzinfo=SHANGHAI),
        dt.datetime(2026, 12, 9, 2, 31, tzinfo=SHANGHAI),
        dt.datetime(2026, 12, 10, 12, 0, tzinfo=SHANGHAI),
        dt.datetime(2026, 12, 11, 23, 59, tzinfo=SHANGHAI),
        dt.datetime(2026, 12, 12, 8, 0, tzinfo=SHANGHAI),
        dt.datetime(2026, 12, 13, 23, 50, tzinfo=SHANGHAI),
    ],
)
@pytest.mark.parametrize("zone", ["Asia/Shanghai", "America/Los_Angeles"])
def test_the_benchmark_days_are_pinned_to_the_week_whatever_day_it_runs(
    now: dt.datetime, zone: str, settings: object
) -> None:
    # A nightly a day after the first refreshes crossed the week start when the benchmark ran
    # on a Monday: the value model's weekly step, measured as an ordinary night.
    from segments.services.value_model import value_clock

    settings.TIME_ZONE = zone  # type: ignore[attr-defined]
    saturday, sunday, monday = bench.pinned_days(now)

    local = [timezone.localtime(day) for day in (saturday, sunday, monday)]
    assert [day.strftime("%A") for day in local] == ["Saturday", "Sunday", "Monday"]
    assert {(day.hour, day.minute) for day in local} == {(2, 30)}  # the nightly's schedule
    assert value_clock(saturday) == value_clock(sunday) < value_clock(monday)
    # the Monday night and hours of a run after it are behind the wall clock
    assert monday + dt.timedelta(hours=12) < now
    assert now - saturday < dt.timedelta(days=11)


@pytest.mark.django_db
def test_the_base_and_the_activity_lie_before_the_moment_they_are_given() -> None:
    at = timezone.now() - dt.timedelta(days=8)
    with connection.cursor() as cursor:
        # The statements number customers from 1, as on the benchmark's fresh database (the
        # restart is rolled back with the test).
        cursor.execute("SELECT pg_get_serial_sequence('callcenter_customer', 'id')")
        cursor.execute(f"ALTER SEQUENCE {cursor.fetchone()[0]} RESTART")
        sizes = {"customers": 50, "orders": 500, "interactions": 250, "tickets": 5, "surveys": 10}
        for statement in bench.GENERATE_SQL:
            cursor.execute(statement, {**sizes, "at": at})
        cursor.execute("SELECT max(placed_at), count(*) FROM callcenter_order")
        latest, orders = cursor.fetchone()
        assert orders == 500
        assert latest <= at
        cursor.execute(
            "SELECT max(t) FROM (SELECT max(occurred_at) t FROM callcenter_interaction "
            "UNION ALL SELECT max(opened_at) FROM callcenter_ticket "
            "UNION ALL SELECT max(responded_at) FROM callcenter_surveyresponse) m"
        )
        assert cursor.fetchone()[0] <= at

        monday = at + dt.timedelta(days=1)
        activity = {**bench.ACTIVITIES["monday"], "customers": 50, "orders": 30, "calls": 20}
        for statement in bench.ACTIVITY_SQL:
            cursor.execute(statement, {**activity, "at": monday})
        cursor.execute(
            "SELECT min(placed_at), max(placed_at), count(*) FROM callcenter_order "
            "WHERE external_id LIKE 'MON%%'"
        )
        first, last, placed = cursor.fetchone()
        assert placed == 30
        assert monday - dt.timedelta(seconds=activity["seconds"]) <= first <= last <= monday

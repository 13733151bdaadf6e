"""Segment refresh benchmark: the set-based refresh against the usual pandas approach.

    python bench/refresh.py --customers 100000 [--orders-per-customer 10]

Builds a fresh database (BENCH_DB, default bench_crm, on the DATABASE_URL server; --reuse keeps
one built before and only migrates it), fills it server-side with a synthetic base
(generate_series; no row leaves PostgreSQL), then, each in its own process so peak memory is
measured separately:
  - refresh:       the first refresh as of yesterday (a full pass; every membership is an entry);
  - model training (the weekly churn and value-model jobs), then the same refresh again
                   (nothing changed but every churn probability and predicted value);
  - next day:      a day of activity (1% of customers order, 0.5% are called), then the nightly
                   refresh as of today: incremental (only changed customers re-aggregated);
  - next day full: the same moment with --full (every customer re-aggregated); it must change
                   no row the incremental one wrote (`incremental_equals_full`);
  - baseline:      the usual approach, `pandas.read_sql` of every order and a groupby to RFM.
Prints JSON with all of them, the ratios and the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
BENCH_DB = os.environ.get("BENCH_DB", "bench_crm")


def _url_for(database: str) -> str:
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path=f"/{database}"))


def _admin_url() -> str:
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))


def _peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _setup_django(database: str) -> None:
    os.environ["DATABASE_URL"] = _url_for(database)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "callcenter.settings.dev")
    os.environ["DEBUG"] = "false"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


# A fresh database numbers customers 1..N, so history rows pick customer ids directly.
GENERATE_SQL = [
    # customers: 10% businesses
    """
    INSERT INTO callcenter_customer (external_id, kind, status, name, company_name, industry,
        city, region, timezone, language, sms_opt_out, call_opt_out, email_opt_out,
        do_not_contact, consent_source, attributes, created_at, updated_at)
    SELECT 'B' || g, CASE WHEN mod(g, 10) = 0 THEN 'business' ELSE 'person' END, 'active',
        'Customer ' || g, CASE WHEN mod(g, 10) = 0 THEN 'Company ' || g ELSE '' END, '',
        'City ' || mod(g, 50), '', 'Asia/Shanghai', 'zh-hans', false, false, false, false, '',
        '{}'::jsonb, now(), now()
    FROM generate_series(1, %(customers)s) g
    """,
    # business accounts' contacts: the three persons after each business (ids 10k+1..10k+3)
    # are its contacts, so 30% of the persons roll up into an account
    """
    UPDATE callcenter_customer
    SET account_id = id - mod(id, 10),
        account_role = (ARRAY['decision_maker', 'finance', 'user'])[mod(id, 10)]
    WHERE mod(id, 10) BETWEEN 1 AND 3 AND id > 10
    """,
    # orders: customers differ in rhythm and basket so RFM has structure; 10% refunded
    """
    INSERT INTO callcenter_order (external_id, customer_id, placed_at, amount, currency,
        category, product, channel, status, created_at, updated_at)
    SELECT 'BO' || g, o.customer_id,
        now() - make_interval(secs => (random() * 180 * 86400 * (1 + mod(o.customer_id, 3)))::int),
        round((20 + random() * 300 * (1 + mod(o.customer_id, 7)))::numeric, 2), 'CNY',
        'cat' || mod(g, 8), '', (ARRAY['web', 'app', 'store'])[1 + mod(g / 8, 3)],
        CASE WHEN mod(g, 10) = 0 THEN 'refunded' ELSE 'paid' END, now(), now()
    FROM generate_series(1, %(orders)s) g,
        LATERAL (SELECT 1 + mod(hashint4(g) & 2147483647, %(customers)s) AS customer_id) o
    """,
    """
    INSERT INTO callcenter_interaction (customer_id, channel, direction, occurred_at,
        duration_seconds, reason, notes, outcome, sentiment, created_at, updated_at)
    SELECT 1 + mod(hashint4(g + 7) & 2147483647, %(customers)s), 'call', 'inbound',
        now() - make_interval(secs => (random() * 365 * 86400)::int),
        60, '', '', '', random() * 2 - 1, now(), now()
    FROM generate_series(1, %(interactions)s) g
    """,
    """
    INSERT INTO callcenter_ticket (customer_id, kind, status, priority, subject, description,
        opened_at, created_at, updated_at)
    SELECT 1 + mod(g::bigint * 7919, %(customers)s), 'complaint', 'open', 'normal', 'late', '',
        now() - make_interval(secs => (random() * 200 * 86400)::int), now(), now()
    FROM generate_series(1, %(tickets)s) g
    """,
    """
    INSERT INTO callcenter_surveyresponse (customer_id, kind, score, comment, responded_at,
        created_at, updated_at)
    SELECT 1 + mod(g::bigint * 104729, %(customers)s), 'nps', mod(g, 11), '',
        now() - make_interval(secs => (random() * 300 * 86400)::int), now(), now()
    FROM generate_series(1, %(surveys)s) g
    """,
]


def build(customers: int, orders_per_customer: int, interactions_per_customer: int) -> dict:
    import psycopg

    with psycopg.connect(_admin_url(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{BENCH_DB}"')
    env = {**os.environ, "DATABASE_URL": _url_for(BENCH_DB)}
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "migrate", "--noinput", "-v", "0"],
        env=env,
        check=True,
        cwd=ROOT,
    )
    migrate_seconds = time.perf_counter() - started
    sizes = {
        "customers": customers,
        "orders": customers * orders_per_customer,
        "interactions": customers * interactions_per_customer,
        "tickets": customers // 10,
        "surveys": customers // 5,
    }
    started = time.perf_counter()
    with psycopg.connect(
        _url_for(BENCH_DB).replace("postgres://", "postgresql://"), autocommit=True
    ) as conn:
        conn.execute("SET work_mem = '256MB'")
        for statement in GENERATE_SQL:
            conn.execute(statement, sizes)
        conn.execute("VACUUM ANALYZE")
    return {
        **sizes,
        "migrate_seconds": round(migrate_seconds, 1),
        "generate_seconds": round(time.perf_counter() - started, 1),
    }


# One day of activity: 1% of the customers order, 0.5% are called, in the last 24 hours.
ACTIVITY_SQL = [
    """
    INSERT INTO callcenter_order (external_id, customer_id, placed_at, amount, currency,
        category, product, channel, status, created_at, updated_at)
    SELECT 'DAY' || g || '-' || extract(epoch from now())::bigint,
        1 + mod(hashint4(g + 11) & 2147483647, %(customers)s),
        now() - make_interval(secs => (random() * 86000)::int),
        round((20 + random() * 300)::numeric, 2), 'CNY', 'cat1', '', 'web', 'paid', now(),
        now()
    FROM generate_series(1, %(customers)s / 100) g
    """,
    """
    INSERT INTO callcenter_interaction (customer_id, channel, direction, occurred_at,
        duration_seconds, reason, notes, outcome, sentiment, created_at, updated_at)
    SELECT 1 + mod(hashint4(g + 13) & 2147483647, %(customers)s), 'call', 'outbound',
        now() - make_interval(secs => (random() * 86000)::int), 90, '', '', '',
        random() * 2 - 1, now(), now()
    FROM generate_series(1, %(customers)s / 200) g
    """,
]


def run_activity() -> dict:
    import psycopg

    started = time.perf_counter()
    with psycopg.connect(
        _url_for(BENCH_DB).replace("postgres://", "postgresql://"), autocommit=True
    ) as conn:
        customers = conn.execute("SELECT count(*) FROM callcenter_customer").fetchone()[0]
        for statement in ACTIVITY_SQL:
            conn.execute(statement, {"customers": customers})
        conn.execute("ANALYZE")
    return {
        "new_orders": customers // 100,
        "new_interactions": customers // 200,
        "seconds": round(time.perf_counter() - started, 2),
    }


def run_refresh(*, days_ago: int, full: bool, at: float | None) -> dict:
    _setup_django(BENCH_DB)
    import datetime as dt

    from django.utils import timezone

    from segments.services.refresh import segment_refresh

    now = dt.datetime.fromtimestamp(at, tz=dt.UTC) if at is not None else timezone.now()
    as_of = now - dt.timedelta(days=days_ago)
    started = time.perf_counter()
    run = segment_refresh(as_of=as_of, full=full)
    seconds = time.perf_counter() - started
    if run.status != "succeeded":
        raise SystemExit(f"refresh failed: {run.error}")
    return {
        "seconds": round(seconds, 2),
        "phases": run.timings,
        "counts": run.counts,
        "peak_rss_mb": _peak_rss_mb(),
    }


def run_train() -> dict:
    """Train the churn model and fit the value model (the weekly jobs), so the next refresh
    scores with them."""
    _setup_django(BENCH_DB)
    from django.utils import timezone

    from segments.services.churn import churn_model_train
    from segments.services.value_model import value_model_train

    started = time.perf_counter()
    model = churn_model_train(as_of=timezone.now())
    churn_seconds = time.perf_counter() - started
    started = time.perf_counter()
    value = value_model_train(as_of=timezone.now())
    return {
        "seconds": round(churn_seconds, 2),
        "status": model.status,
        "holdout_auc": model.holdout_auc,
        "training_rows": model.training_rows,
        "value_model": {
            "seconds": round(time.perf_counter() - started, 2),
            "status": value.status,
            "sample_customers": value.sample_customers,
            "holdout_error": value.holdout_error,
        },
        "peak_rss_mb": _peak_rss_mb(),
    }


def run_baseline() -> dict:
    """The usual approach: read every order into pandas, then groupby and qcut."""
    _setup_django(BENCH_DB)
    import pandas as pd
    from django.db import connection
    from django.utils import timezone

    started = time.perf_counter()
    with connection.cursor():
        orders = pd.read_sql(
            "SELECT customer_id, placed_at, amount, status FROM callcenter_order",
            connection.connection,
        )
    read_seconds = time.perf_counter() - started
    now = pd.Timestamp(timezone.now())
    paid = orders[orders["status"] == "paid"]
    window = paid[paid["placed_at"] > now - pd.Timedelta(days=365)]
    rfm = pd.DataFrame(
        {
            "recency_days": (now - paid.groupby("customer_id")["placed_at"].max()).dt.days,
            "frequency": window.groupby("customer_id").size(),
            "monetary": window.groupby("customer_id")["amount"].sum().astype(float),
        }
    ).fillna(0)
    for column, ascending in (("recency_days", False), ("frequency", True), ("monetary", True)):
        ranks = rfm[column].rank(method="first", ascending=ascending)
        rfm[column[0] + "_score"] = pd.qcut(ranks, 5, labels=[1, 2, 3, 4, 5])
    return {
        "seconds": round(time.perf_counter() - started, 2),
        "read_seconds": round(read_seconds, 2),
        "customers": len(rfm),
        "peak_rss_mb": _peak_rss_mb(),
    }


def _in_subprocess(phase: str, *args: str) -> dict:
    result = subprocess.run(
        [sys.executable, __file__, "--phase", phase, *args],
        env=os.environ,
        check=True,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def _migrate() -> None:
    env = {**os.environ, "DATABASE_URL": _url_for(BENCH_DB)}
    subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "migrate", "--noinput", "-v", "0"],
        env=env,
        check=True,
        cwd=ROOT,
    )


def _reused() -> dict:
    import psycopg

    _migrate()
    with psycopg.connect(
        _url_for(BENCH_DB).replace("postgres://", "postgresql://"), autocommit=True
    ) as conn:
        sizes = {
            table: conn.execute(f"SELECT count(*) FROM callcenter_{table}").fetchone()[0]  # noqa: S608
            for table in ("customer", "order", "interaction", "ticket", "surveyresponse")
        }
    return {
        "customers": sizes["customer"],
        "orders": sizes["order"],
        "interactions": sizes["interaction"],
        "tickets": sizes["ticket"],
        "surveys": sizes["surveyresponse"],
        "reused": True,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--orders-per-customer", type=int, default=10)
    parser.add_argument("--interactions-per-customer", type=int, default=5)
    parser.add_argument("--reuse", action="store_true", help="keep the database built before")
    parser.add_argument("--phase", choices=["refresh", "baseline", "train", "activity"])
    parser.add_argument("--days-ago", type=int, default=0)
    parser.add_argument("--full", action="store_true")
    parser.add_argument("--at", type=float, help="the refresh moment (Unix time; default now)")
    args = parser.parse_args()
    phases = {
        "refresh": lambda: run_refresh(days_ago=args.days_ago, full=args.full, at=args.at),
        "baseline": run_baseline,
        "train": run_train,
        "activity": run_activity,
    }
    if args.phase:
        print(json.dumps(phases[args.phase]()))
        return
    if args.reuse:
        data = _reused()
    else:
        data = build(args.customers, args.orders_per_customer, args.interactions_per_customer)
    first = _in_subprocess("refresh", "--days-ago", "1", "--full")
    training = _in_subprocess("train")
    again = _in_subprocess("refresh", "--days-ago", "1")
    activity = _in_subprocess("activity")
    # Both as of the same moment, so the full pass must find nothing to change.
    today = str(time.time())
    next_day = _in_subprocess("refresh", "--at", today)
    next_day_full = _in_subprocess("refresh", "--at", today, "--full")
    baseline = _in_subprocess("baseline")
    print(
        json.dumps(
            {
                "benchmark": "segment_refresh",
                "scale": data,
                "refresh": first,
                "churn_training": training,
                "refresh_again": again,
                "activity": activity,
                "refresh_next_day": next_day,
                "refresh_next_day_full": next_day_full,
                "incremental_equals_full": next_day_full["counts"]["metrics_written"] == 0
                and next_day_full["counts"]["metrics_deleted"] == 0
                and next_day_full["counts"]["entered"] == 0
                and next_day_full["counts"]["exited"] == 0,
                "baseline": baseline,
                # The nightly case: a day of activity, then the scheduled refresh. Wall seconds,
                # commit included (the run's phase timings end before its commit).
                "baseline_over_refresh": round(baseline["seconds"] / next_day["seconds"], 2),
                "baseline_over_full_refresh": round(
                    baseline["seconds"] / next_day_full["seconds"], 2
                ),
                "machine": {"cores": os.cpu_count(), "python": platform.python_version()},
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()

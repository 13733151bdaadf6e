"""The refresh's `behaviour` phase alone, on a base `bench/refresh.py` built and refreshed:

    BENCH_DB=bench_crm python bench/refresh.py --customers 100000   # once, builds the base
    BENCH_DB=bench_crm python bench/behaviour.py [--explain]

Each case runs in a transaction that is rolled back, so the base stays as it was:
  - first fill:  the table emptied, then every active customer computed (the first refresh's
                 case), and the deferred constraints checked as the commit would (no
                 foreign key since migration segments 0016);
  - no change:   an incremental pass as of the last refresh's moment, nothing logged;
  - a day:       1% of the customers order and 0.5% are called in the day after the last
                 refresh, then the pass a day on (with the previous as-of a day earlier, so the
                 orders of the day before become current too, as in the nightly run);
                 then a recompute of everybody at the same moment, which must write no row.
Prints JSON: seconds and counts per case. --explain prints the plans (EXPLAIN ANALYZE BUFFERS)
of the statements of the first fill and of the day's pass.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
BENCH_DB = os.environ.get("BENCH_DB", "bench_crm")

DAY_SQL = [
    """
    INSERT INTO callcenter_order (external_id, customer_id, placed_at, amount, currency,
        category, product, channel, status, created_at, updated_at)
    SELECT 'BDAY' || g, 1 + mod(hashint4(g + 11) & 2147483647, %(customers)s),
        %(as_of)s + make_interval(secs => (random() * 86000)::int),
        round((20 + random() * 300)::numeric, 2), 'CNY', 'cat1', '', 'web', 'paid', now(), now()
    FROM generate_series(1, %(customers)s / 100) g
    """,
    """
    INSERT INTO callcenter_interaction (customer_id, channel, direction, occurred_at,
        duration_seconds, reason, notes, outcome, sentiment, created_at, updated_at)
    SELECT 1 + mod(hashint4(g + 13) & 2147483647, %(customers)s), 'call', 'outbound',
        %(as_of)s + make_interval(secs => (random() * 86000)::int), 90, '', '', '',
        random() * 2 - 1, now(), now()
    FROM generate_series(1, %(customers)s / 200) g
    """,
]


def _setup_django() -> None:
    parts = urlsplit(os.environ["DATABASE_URL"])
    os.environ["DATABASE_URL"] = urlunsplit(parts._replace(path=f"/{BENCH_DB}"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "callcenter.settings.dev")
    os.environ["DEBUG"] = "false"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


class _Rollback(Exception):
    pass


def _explaining(enabled: bool):  # type: ignore[no-untyped-def]
    """A cursor wrapper that prints each statement's seconds and, if enabled, the plan
    (EXPLAIN ANALYZE BUFFERS, in a savepoint rolled back) of those that read or write rows."""
    from django.db import connection

    def wrapper(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        text = sql if isinstance(sql, str) else sql.as_string(context["connection"].connection)
        head = text.lstrip().upper()
        cursor = context["cursor"]
        if enabled and not many and head.startswith(("INSERT", "WITH", "DELETE", "CREATE TEMP")):
            cursor.execute("SAVEPOINT bench_explain")
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + text, params)
            print("\n".join(row[0] for row in cursor.fetchall()), file=sys.stderr)
            cursor.execute("ROLLBACK TO SAVEPOINT bench_explain")
        started = time.perf_counter()
        result = execute(sql, params, many, context)
        print(
            f"{time.perf_counter() - started:8.3f} s  {' '.join(text.split())[:100]}",
            file=sys.stderr,
        )
        print("-" * 80, file=sys.stderr)
        return result

    return connection.execute_wrapper(wrapper)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--explain", action="store_true")
    parser.add_argument("--cases", default="first,nochange,day")
    args = parser.parse_args()
    _setup_django()
    from django.db import connection, transaction
    from django.utils import timezone

    from segments.models import RefreshRun
    from segments.services.behaviour import behaviour_refresh
    from segments.services.metrics import dirty_log_snapshot, transaction_jit_off

    last = RefreshRun.objects.filter(status="succeeded").order_by("-as_of").first()
    assert last is not None, "run bench/refresh.py first"
    as_of = last.as_of
    result: dict = {"as_of": as_of.isoformat()}
    cases = args.cases.split(",")

    def run(name, body):  # type: ignore[no-untyped-def]
        try:
            with transaction.atomic():
                # The phase as the refresh runs it: no JIT in its transaction.
                transaction_jit_off()
                result[name] = body()
                raise _Rollback
        except _Rollback:
            pass

    def first() -> dict:
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM segments_customerbehaviour")
        started = time.perf_counter()
        with _explaining(args.explain):
            counts = behaviour_refresh(as_of=as_of, previous_as_of=None, now=timezone.now())
        seconds = time.perf_counter() - started
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        return {
            "seconds": round(seconds, 2),
            "constraints_seconds": round(time.perf_counter() - started, 2),
            **counts,
        }

    def nochange() -> dict:
        dirty_log_snapshot()
        started = time.perf_counter()
        counts = behaviour_refresh(as_of=as_of, previous_as_of=as_of, now=timezone.now())
        return {"seconds": round(time.perf_counter() - started, 2), **counts}

    def day() -> dict:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM callcenter_customer")
            customers = cursor.fetchone()[0]
            for statement in DAY_SQL:
                cursor.execute(statement, {"customers": customers, "as_of": as_of})
            cursor.execute("ANALYZE callcenter_order")
        dirty_log_snapshot()
        next_as_of = as_of + dt.timedelta(days=1)
        started = time.perf_counter()
        with _explaining(args.explain):
            counts = behaviour_refresh(
                as_of=next_as_of, previous_as_of=as_of - dt.timedelta(days=1), now=as_of
            )
        seconds = time.perf_counter() - started
        started = time.perf_counter()
        full = behaviour_refresh(as_of=next_as_of, previous_as_of=None, now=as_of)
        return {
            "seconds": round(seconds, 2),
            **counts,
            "recompute_seconds": round(time.perf_counter() - started, 2),
            "recompute_written": full["behaviour_written"],
        }

    for name, body in (("first", first), ("nochange", nochange), ("day", day)):
        if name in cases:
            run(name, body)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

"""Date triggers: the (hourly) time-events pass with five date rules, against the pass without.

    python bench/date_triggers.py --customers 100000 [--reuse]

Builds a database (bench_dates on the DATABASE_URL server; --reuse keeps one built before and
only migrates it), filled server-side with generate_series: customers in a mix of time zones
(a few in one PostgreSQL does not know), with birthdays, sign-up and consent dates, and custom
attributes holding ISO dates spread over 60 days either side of the pass's moment
(`repayment_due_at`, `membership_expires_at`, `points_expire_at`, `contract_renews_at`, each in
its own format, a few values not dates or missing), and last-order metrics for inactivity.

Then `time_events_emit(now=MOMENT)`, each pass on an empty event table, at a moment when the
date rules fire for most time zones:
  - baseline:        birthdays, anniversaries, the first of the month, inactivity; no date rule
                     (after one discarded pass, so both read a warm cache);
  - with date rules: the same pass with five active date rules (one statement for all);
  the two alternated --repeat times (3), each reported by its median pass, so that a change in
  the shared machine's load falls on both alike; the date rules' own statement by its median;
  - second run:      the same pass again, which must add nothing (idempotency keys).
The processing messages are not sent (there is no worker here; the ids are counted instead).
Prints JSON: wall seconds (commit included) and events of each pass, the ratio to the baseline,
seconds per statement, and the machine. Exits non-zero when no date event was created or the
second run created any.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import synthetic  # noqa: E402
from bench.refresh import _setup_django  # noqa: E402

BENCH_DB = "bench_dates"
# The pass's moment: the first of a month (so business customers get their monthly event too),
# late evening in China, morning in New York, before dawn in Los Angeles, past midnight in Sydney.
MOMENT = dt.datetime(2026, 6, 1, 14, 0, tzinfo=dt.UTC)
ZONES = [
    *["Asia/Shanghai"] * 6,
    "Asia/Hong_Kong",
    "Asia/Kolkata",
    "Europe/London",
    "America/New_York",
    "America/Los_Angeles",
    "Australia/Sydney",
]
DATE_RULES = [
    {"field": "attr:repayment_due_at", "offset_days": -3, "at_hour": 9},
    {"field": "attr:membership_expires_at", "offset_days": -7, "at_hour": 10},
    {"field": "attr:points_expire_at", "offset_days": -7, "at_hour": 9},
    {"field": "attr:contract_renews_at", "offset_days": -30, "at_hour": 9},
    {"field": "consent_updated_at", "offset_days": 365, "at_hour": 10},
]
RULE_SLUG = "bench-date-{}"
# Each attribute's date format as customers' data has it (a date, a local end of day, a naive
# moment); 4 values in 50 are not dates (a word, an unpadded or impossible date, a number) or
# missing. The date is the moment's plus -60..60 days.
ATTRIBUTE_FORMATS = {
    "repayment_due_at": "{day}",
    "membership_expires_at": "{day} || 'T23:59:59+08:00'",
    "points_expire_at": "{day}",
    "contract_renews_at": "{day} || ' 09:00:00'",
}


def _attribute_sql(index: int, fmt: str) -> str:
    hashed = f"(hashint4(g * {index + 3} + {index}) & 2147483647)"
    day = f"(%(moment)s::timestamptz AT TIME ZONE 'UTC')::date + (mod({hashed}, 121) - 60)"
    text = fmt.format(day=f"to_char({day}, 'YYYY-MM-DD')")
    return f"""CASE mod({hashed} / 121, 50)
            WHEN 0 THEN to_jsonb('soon'::text)
            WHEN 1 THEN to_jsonb(to_char({day}, 'YYYY-FMMM-FMDD'))
            WHEN 2 THEN to_jsonb(to_char({day}, 'YYYY-MM') || '-32')
            WHEN 3 THEN to_jsonb(mod({hashed}, 100000))
            WHEN 4 THEN NULL
            ELSE to_jsonb({text}) END"""


GENERATE_SQL = [
    f"""
    INSERT INTO callcenter_customer (external_id, kind, status, name, company_name, industry,
        city, region, timezone, language, sms_opt_out, call_opt_out, email_opt_out,
        do_not_contact, consent_source, birthday, consent_updated_at, attributes, created_at,
        updated_at)
    SELECT 'D' || g, CASE WHEN mod(g, 10) = 0 THEN 'business' ELSE 'person' END, 'active',
        'Customer ' || g, CASE WHEN mod(g, 10) = 0 THEN 'Company ' || g ELSE '' END, '',
        'City ' || mod(g, 50), '',
        CASE WHEN mod(g, 1000) = 999 THEN 'Mars/Olympus'
             ELSE (%(zones)s::text[])[1 + mod(g, %(zone_count)s)] END,
        'zh-hans', false, false, false, false, '',
        CASE WHEN mod(g, 5) <> 0 THEN date '1950-01-01' + mod(h.a, 18262) END,
        CASE WHEN mod(g, 2) = 0
             THEN %(moment)s::timestamptz - make_interval(secs => mod(h.b, 400 * 86400)) END,
        jsonb_strip_nulls(jsonb_build_object(
            'tier', (ARRAY['silver', 'gold', 'platinum'])[1 + mod(g, 3)],
            {
        ", ".join(
            f"'{name}', {_attribute_sql(index, fmt)}"
            for index, (name, fmt) in enumerate(ATTRIBUTE_FORMATS.items())
        )
    }
        )),
        %(moment)s::timestamptz - make_interval(secs => mod(h.c, 5 * 365 * 86400)), now()
    FROM generate_series(1, %(customers)s) g,
        LATERAL (SELECT hashint4(g) & 2147483647 AS a,
                        hashint4(g + 1000003) & 2147483647 AS b,
                        hashint4(g + 2000003) & 2147483647 AS c) h
    """,
    # the last refresh's metrics: a last order up to 240 days before the moment (a fresh
    # database numbers customers 1..N)
    """
    INSERT INTO segments_customermetrics (customer_id, frequency, monetary, orders_lifetime,
        orders_90d, spend_90d, interactions_30d, complaints_90d, rfm_code, rfm_segment,
        lifecycle_stage, value_tier, spend_lifetime, value_potential, first_order_at,
        last_order_at, refreshed_at)
    SELECT g, 1, 100, 3, 0, 0, 0, 0, '', '', '', '', 300, '',
        %(moment)s::timestamptz - interval '400 days',
        %(moment)s::timestamptz
            - make_interval(secs => mod(hashint4(g + 3000017) & 2147483647, 240 * 86400)),
        %(moment)s::timestamptz
    FROM generate_series(1, %(customers)s) g
    """,
]


def _database_url() -> str:
    return synthetic.database_url(BENCH_DB)


def build(customers: int) -> dict[str, object]:
    """A fresh database with `customers` customers and their metrics."""
    return synthetic.build(
        BENCH_DB,
        customers=customers,
        statements=GENERATE_SQL,
        params={"customers": customers, "moment": MOMENT, "zones": ZONES, "zone_count": len(ZONES)},
    )


def reused() -> dict[str, object]:
    """The database built before, migrated."""
    return synthetic.reused(BENCH_DB)


def date_rules() -> list[Any]:
    """The five date rules (created inactive the first time, with an SMS step)."""
    from care.choices import EventType
    from care.models import CareRule
    from care.services.rules import care_rule_create
    from care.services.templates import template_create

    rules = []
    template = None
    for index, params in enumerate(DATE_RULES):
        slug = RULE_SLUG.format(index + 1)
        rule = CareRule.objects.filter(slug=slug).first()
        if rule is None:
            template = template or template_create(
                name="Date reached", channel="sms", variants={"en": {"body": "A date is near"}}
            )
            rule = care_rule_create(
                name=f"Date {index + 1}: {params['field']}",
                slug=slug,
                trigger_type=EventType.DATE_REACHED,
                trigger_params=params,
                steps=[{"channel": "sms", "template_id": template.pk, "sla_minutes": 60}],
            )
        rules.append(rule)
    return rules


DATED_STATEMENT = "date and holiday rules"


def _statement_name(params: dict[str, Any]) -> str:
    if "date_type" in params:
        return DATED_STATEMENT
    if "days" in params:
        return f"inactivity {params['days']} days"
    return str(params["type"])


def time_events_pass() -> dict[str, Any]:
    """One `time_events_emit` at MOMENT (the caller empties the event table first, or not):
    wall seconds with the commit, events per type, seconds per statement."""
    from django.db import connection

    from care.services.events import bulk

    statements: dict[str, float] = {}
    enqueued: list[int] = []

    def timed(execute: Callable, sql: str, params: Any, many: bool, context: dict) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            if isinstance(params, dict) and ("type" in params or "date_type" in params):
                statements[_statement_name(params)] = round(time.perf_counter() - started, 3)

    with (
        mock.patch.object(bulk, "events_enqueue", enqueued.extend),
        connection.execute_wrapper(timed),
    ):
        started = time.perf_counter()
        counts = bulk.time_events_emit(now=MOMENT)
        seconds = time.perf_counter() - started
    if sum(counts.values()) != len(enqueued):
        raise SystemExit(f"counted {counts}, enqueued {len(enqueued)}")
    return {
        "seconds": round(seconds, 3),
        "events": len(enqueued),
        "counts": counts,
        "statements": statements,
    }


def _empty_events() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE care_event CASCADE")


def _date_events_per_field() -> dict[str, int]:
    from django.db.models import Count

    from care.choices import EventType
    from care.models import Event

    rows = (
        Event.objects.filter(type=EventType.DATE_REACHED)
        .values_list("payload__field")
        .annotate(n=Count("id"))
        .order_by("payload__field")
    )
    return {str(field): n for field, n in rows}


def _median_pass(passes: list[dict[str, Any]]) -> dict[str, Any]:
    """The pass of median wall time, with every pass's seconds beside it."""
    ordered = sorted(passes, key=lambda figures: figures["seconds"])
    return {**ordered[len(ordered) // 2], "samples": [figures["seconds"] for figures in passes]}


def measure(repeat: int = 3) -> dict[str, Any]:
    """The baseline and the pass with date rules, alternated `repeat` times (so a change in the
    machine's load falls on both alike) and reported by their medians, then the second run
    (see the module docstring)."""
    _setup_django(BENCH_DB)
    from care.services.rules import care_rule_activate, care_rule_deactivate

    rules = date_rules()
    for rule in rules:
        care_rule_deactivate(rule=rule)
    _empty_events()
    time_events_pass()
    baselines, with_dates = [], []
    for _ in range(repeat):
        _empty_events()
        baselines.append(time_events_pass())
        for rule in rules:
            care_rule_activate(rule=rule)
        _empty_events()
        with_dates.append(time_events_pass())
        for rule in rules:
            care_rule_deactivate(rule=rule)
    for rule in rules:
        care_rule_activate(rule=rule)
    per_rule = _date_events_per_field()
    second = time_events_pass()
    baseline, dated = _median_pass(baselines), _median_pass(with_dates)
    statement = sorted(figures["statements"][DATED_STATEMENT] for figures in with_dates)
    return {
        "repeat": repeat,
        "baseline": baseline,
        "with_date_rules": {**dated, "date_events_per_field": per_rule},
        "date_rules_statement_seconds": statement[len(statement) // 2],
        "second_run": second,
        "with_date_rules_over_baseline": round(dated["seconds"] / baseline["seconds"], 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--reuse", action="store_true", help="keep the database built before")
    parser.add_argument("--repeat", type=int, default=3, help="alternated passes of each kind")
    args = parser.parse_args()
    scale = reused() if args.reuse else build(args.customers)
    figures = measure(max(args.repeat, 1))
    report = {
        "benchmark": "date_triggers",
        "scale": scale,
        "moment": MOMENT.isoformat(),
        "date_rules": DATE_RULES,
        **figures,
        "machine": synthetic.machine(BENCH_DB),
    }
    print(json.dumps(report, indent=2))
    date_events = figures["with_date_rules"]["counts"].get("date_reached", 0)
    return 0 if date_events > 0 and figures["second_run"]["events"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

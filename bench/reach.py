"""Reachability and receptiveness: the nightly pass (outreach.services.reach) at scale.

    python bench/reach.py --customers 100000 --tasks 500000 [--reuse]

Builds a database (bench_reach on the DATABASE_URL server; --reuse keeps one built before and
only migrates it), filled server-side with generate_series: customers in a mix of time zones
(some opted out), phones for 90% and emails for 60% of them, `--tasks` outreach tasks over the
200 days before the pass's moment (calls with outcomes 30%, automated calls 10%, SMS 40% with
delivery receipts for most, emails 15%, WeChat 5%; 80% proactive), phone interactions (0.4 per
customer), inbound replies (0.1 per customer) and paid orders (1 per customer) in the same days.

Then, timed with their commit:
  - first fill:   the first pass, every active customer;
  - nothing new:  the next pass a day later with nothing changed (the customers whose 180-day
                  window edge moved are recomputed; nothing else);
  - incremental:  after 1% of the customers got a new answered call;
  - full again:   a forced full pass over the same data (must write 0 rows).
Prints JSON with the seconds, customers recomputed and rows written of each pass.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import synthetic  # noqa: E402
from bench.refresh import _setup_django  # noqa: E402

BENCH_DB = "bench_reach"
MOMENT = dt.datetime(2026, 6, 1, 2, 10, tzinfo=dt.UTC)
ZONES = ["Asia/Shanghai"] * 6 + ["Asia/Hong_Kong", "Europe/London", "America/New_York"]

GENERATE_SQL = [
    """
    INSERT INTO callcenter_customer (external_id, kind, status, name, company_name, industry,
        city, region, timezone, language, sms_opt_out, call_opt_out, email_opt_out,
        do_not_contact, consent_source, attributes, created_at, updated_at)
    SELECT 'R' || g, 'person', 'active', 'Customer ' || g, '', '', 'City ' || mod(g, 50), '',
        (%(zones)s::text[])[1 + mod(g, %(zone_count)s)], 'zh-hans',
        mod(g, 17) = 0, mod(g, 23) = 0, mod(g, 7) = 0, mod(g, 101) = 0, '', '{}'::jsonb,
        %(moment)s::timestamptz - interval '400 days', %(moment)s::timestamptz - interval '2 days'
    FROM generate_series(1, %(customers)s) g
    """,
    """
    INSERT INTO callcenter_contactpoint (customer_id, kind, system, value, raw_value, label,
        is_primary, is_active, created_at, updated_at)
    SELECT g, 'phone', '', '+86139' || lpad(g::text, 8, '0'), '', '', true, true,
        %(moment)s::timestamptz - interval '300 days', %(moment)s::timestamptz - interval '300 days'
    FROM generate_series(1, %(customers)s) g WHERE mod(g, 10) <> 0
    UNION ALL
    SELECT g, 'email', '', 'c' || g || '@example.com', '', '', true, true,
        %(moment)s::timestamptz - interval '300 days', %(moment)s::timestamptz - interval '300 days'
    FROM generate_series(1, %(customers)s) g WHERE mod(g, 5) < 3
    """,
    """
    INSERT INTO outreach_outreachtask (customer_id, channel, touch_kind, due_at, deadline_at,
        status, reason, priority, subject, body, to_address, attempts, last_error,
        provider_message_id, idempotency_key, claimed_by, outcome, notes, call_result,
        call_keypress, call_intent, sent_at, delivered_at, completed_at, call_result_at,
        created_at, updated_at)
    SELECT c, ch, CASE WHEN mod(h, 5) = 0 THEN 'service' ELSE 'proactive' END, at, at,
        CASE WHEN ch = 'call' THEN 'done' WHEN ch = 'sms' AND mod(h, 10) < 8 THEN 'delivered'
             WHEN mod(h, 20) = 0 THEN 'failed' ELSE 'sent' END,
        '', 0, '', '', '', 1, '', '', 'bench-' || g, '',
        CASE WHEN ch = 'call' THEN (ARRAY['reached', 'no_answer', 'no_answer', 'callback_requested',
            'converted', 'declined', 'wrong_number'])[1 + mod(h, 7)] ELSE '' END, '',
        CASE WHEN ch = 'auto_call' THEN (ARRAY['answered', 'no_answer', 'busy'])[1 + mod(h, 3)]
             ELSE '' END,
        CASE WHEN ch = 'auto_call' AND mod(h, 2) = 0 THEN '1' ELSE '' END, '',
        CASE WHEN ch <> 'call' THEN at END,
        CASE WHEN ch = 'sms' AND mod(h, 10) < 8 THEN at + interval '1 minute' END,
        CASE WHEN ch = 'call' THEN at END,
        CASE WHEN ch = 'auto_call' THEN at END, at, at
    FROM (
        SELECT g, 1 + mod(hashint4(g) & 2147483647, %(customers)s) AS c,
               hashint4(g + 7) & 2147483647 AS h,
               (ARRAY['call', 'call', 'call', 'auto_call', 'sms', 'sms', 'sms', 'sms', 'email',
                      'email'])[1 + mod(g, 10)] AS ch0,
               %(moment)s::timestamptz
                   - make_interval(secs => mod(hashint4(g + 3) & 2147483647, 200 * 86400)) AS at
        FROM generate_series(1, %(tasks)s) g
    ) t,
    LATERAL (SELECT CASE WHEN ch0 = 'email' AND mod(g, 40) = 0 THEN 'wechat' ELSE ch0 END
             AS ch) x
    """,
    """
    INSERT INTO callcenter_interaction (customer_id, channel, direction, occurred_at,
        duration_seconds, reason, notes, outcome, created_at, updated_at)
    SELECT 1 + mod(hashint4(g + 11) & 2147483647, %(customers)s), 'call',
        CASE WHEN mod(g, 3) = 0 THEN 'inbound' ELSE 'outbound' END, at, 120, '', '',
        CASE WHEN mod(g, 4) = 0 THEN 'no_answer' ELSE '' END, at, at
    FROM (SELECT g, %(moment)s::timestamptz
                 - make_interval(secs => mod(hashint4(g + 5) & 2147483647, 200 * 86400)) AS at
          FROM generate_series(1, %(customers)s * 4 / 10) g) i
    """,
    """
    INSERT INTO outreach_inboundmessage (channel, from_number, body, received_at, customer_id,
        action)
    SELECT 'sms', '+86139' || lpad(c::text, 8, '0'), 'ok', at, c, 'reply'
    FROM (SELECT 1 + mod(hashint4(g + 13) & 2147483647, %(customers)s) AS c,
                 %(moment)s::timestamptz
                     - make_interval(secs => mod(hashint4(g + 17) & 2147483647, 200 * 86400)) AS at
          FROM generate_series(1, %(customers)s / 10) g) m
    """,
    """
    INSERT INTO callcenter_order (external_id, customer_id, placed_at, amount, currency,
        category, product, channel, status, created_at, updated_at)
    SELECT 'RO' || g, 1 + mod(hashint4(g + 19) & 2147483647, %(customers)s), at, 100, 'CNY',
        'c', '', 'web', 'paid', at, at
    FROM (SELECT g, %(moment)s::timestamptz
                 - make_interval(secs => mod(hashint4(g + 23) & 2147483647, 200 * 86400)) AS at
          FROM generate_series(1, %(customers)s) g) o
    """,
]

NEW_CALLS_SQL = """
INSERT INTO outreach_outreachtask (customer_id, channel, touch_kind, due_at, deadline_at, status,
    reason, priority, subject, body, to_address, attempts, last_error, provider_message_id,
    idempotency_key, claimed_by, outcome, notes, call_result, call_keypress, call_intent,
    completed_at, created_at, updated_at)
SELECT g, 'call', 'proactive', %(at)s, %(at)s, 'done', '', 0, '', '', '', 1, '', '',
    'bench-new-' || g, '', 'reached', '', '', '', '', %(at)s, %(at)s, %(at)s
FROM generate_series(1, %(customers)s, 100) g
"""


def _pass(now: dt.datetime, *, full: bool = False) -> dict[str, Any]:
    from outreach.services.reach import reach_refresh

    started = time.perf_counter()
    result = reach_refresh(now=now, full=full)
    return {"seconds": round(time.perf_counter() - started, 2), **result}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--tasks", type=int, default=500_000)
    parser.add_argument("--reuse", action="store_true", help="keep the database built before")
    args = parser.parse_args()
    if args.reuse:
        scale = synthetic.reused(BENCH_DB)
    else:
        params = {
            "customers": args.customers,
            "tasks": args.tasks,
            "moment": MOMENT,
            "zones": ZONES,
            "zone_count": len(ZONES),
        }
        scale = synthetic.build(
            BENCH_DB, customers=args.customers, statements=GENERATE_SQL, params=params
        )
    scale["tasks"] = args.tasks
    _setup_django(BENCH_DB)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE segments_customerreach, segments_reachrefreshstate")
        # A reused database: the calls an earlier run added.
        cursor.execute(
            "DELETE FROM outreach_outreachtask WHERE idempotency_key LIKE 'bench-new-%%'"
        )
    report: dict[str, Any] = {"benchmark": "reach", "scale": scale}
    report["first_fill"] = _pass(MOMENT)
    report["nothing_new"] = _pass(MOMENT + dt.timedelta(days=1))
    later = MOMENT + dt.timedelta(days=1, hours=1)
    with connection.cursor() as cursor:
        cursor.execute(
            NEW_CALLS_SQL, {"at": later - dt.timedelta(minutes=5), "customers": args.customers}
        )
    report["incremental"] = _pass(later)
    report["full_again"] = _pass(later, full=True)
    print(json.dumps(report, indent=2, default=str))
    return 0 if report["full_again"]["reach_written"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

"""Agent scorecards: the scorecard query of one week (every agent's card: tasks, ticket SLA,
CSAT and the outcomes of the customers they cared for) against the care KPIs of the same week
(same run, same data), and the 8-week SLA report.

    python bench/scorecard.py --customers 1000000 [--reuse]

Builds a database (BENCH_SCORECARD_DB, default bench_scorecard, on the DATABASE_URL server;
--reuse keeps one built before and only migrates it), filled server-side with generate_series:
customers, 3 paid orders each over 200 days, one lifecycle stage each (a fifth dormant), 200
agents in 10 teams, one task per customer over 90 days (40% calls done by an agent, 60% SMS), a
ticket per 10 customers with its SLA clock, an NPS answer per 3 customers and a CSAT answer per
10 about an agent.

Measured (seconds, the best of REPEATS runs after a first cold one):
  - scorecard: service.selectors.scorecards.agent_scorecards for the last full local week;
  - baseline:  care.selectors_reports.care_kpis for the same week (what the scorecards must
               add up to), and the ratio of the two;
  - sla_report: service.selectors.sla_report.sla_report over the last 8 weeks.
Prints JSON (and writes it to --output). Exits non-zero when the week's cards do not add up to
the care KPIs' totals.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import synthetic  # noqa: E402
from bench.refresh import _setup_django  # noqa: E402

BENCH_DB = os.environ.get("BENCH_SCORECARD_DB", "bench_scorecard")
AGENTS = 200
TEAMS = 10
REPEATS = 3

# A fresh database numbers customers 1..N. Agents first, so tasks, tickets and surveys pick
# them from one array.
GENERATE_SQL = [
    """
    INSERT INTO callcenter_customer (external_id, kind, status, name, company_name, industry,
        city, region, timezone, language, sms_opt_out, call_opt_out, email_opt_out,
        do_not_contact, consent_source, attributes, created_at, updated_at)
    SELECT 'S' || g, 'person', 'active', 'Customer ' || g, '', '', 'City ' || mod(g, 50), '',
        'Asia/Shanghai', 'zh-hans', false, false, false, false, '', '{}'::jsonb,
        now() - interval '400 days', now()
    FROM generate_series(1, %(customers)s) g
    """,
    """
    INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email,
        is_staff, is_active, date_joined)
    SELECT '!', false, 'bench-agent-' || g, 'Agent', g::text, '', false, true, now()
    FROM generate_series(1, %(agents)s) g
    """,
    """
    INSERT INTO auth_user_groups (user_id, group_id)
    SELECT u.id, g.id FROM auth_user u, auth_group g
    WHERE u.username LIKE 'bench-agent-%%' AND g.name = 'agent'
    """,
    """
    INSERT INTO callcenter_agentprofile (user_id, is_senior, is_available, skills, team)
    SELECT id, false, true, '{}', 'Team ' || mod(id, %(teams)s)
    FROM auth_user WHERE username LIKE 'bench-agent-%%'
    """,
    """
    INSERT INTO callcenter_order (external_id, customer_id, placed_at, amount, currency,
        category, channel, status, product, created_at, updated_at)
    SELECT 'SO' || g, 1 + mod(hashint4(g) & 2147483647, %(customers)s),
        now() - make_interval(secs => (random() * 200 * 86400)::int),
        round((20 + random() * 300)::numeric, 2), 'CNY', 'cat' || mod(g, 8), 'web', 'paid', '',
        now(), now()
    FROM generate_series(1, %(customers)s * 3) g
    """,
    """
    INSERT INTO segments_segmentmembership (segment_id, customer_id, entered_at, reason)
    SELECT s.id, c.id, now() - interval '100 days', ''
    FROM callcenter_customer c
    JOIN segments_segment s ON s.kind = 'lifecycle' AND s.key = (ARRAY['active', 'dormant',
        'churn_risk', 'new', 'active'])[1 + mod(c.id, 5)]
    """,
    """
    INSERT INTO outreach_outreachtask (created_at, updated_at, channel, touch_kind, due_at,
        deadline_at, status, reason, priority, subject, body, to_address, attempts, last_error,
        provider_message_id, idempotency_key, claimed_by, outcome, notes, customer_id,
        call_intent, call_keypress, call_result, assignee_id, completed_at, sent_at)
    SELECT t.due, t.due, t.channel, 'proactive', t.due, t.due + interval '8 hours',
        CASE WHEN t.channel = 'sms' THEN 'sent' WHEN mod(g, 10) = 0 THEN 'pending'
             ELSE 'done' END,
        '', 0, '', 'body', '', 0, '', '', 'bench:' || g, '',
        CASE WHEN t.channel = 'call' AND mod(g, 10) <> 0
             THEN (ARRAY['reached', 'no_answer', 'converted', 'callback_requested'])[1 + mod(g, 4)]
             ELSE '' END,
        '', 1 + mod(hashint4(g + 3) & 2147483647, %(customers)s), '', '', '',
        CASE WHEN t.channel = 'call' THEN a.ids[1 + mod(g, %(agents)s)] END,
        CASE WHEN t.channel = 'call' AND mod(g, 10) <> 0
             THEN t.due + make_interval(secs => (random() * 10 * 3600)::int) END,
        CASE WHEN t.channel = 'sms' THEN t.due + make_interval(secs => (random() * 9 * 3600)::int)
             END
    FROM generate_series(1, %(customers)s) g
    CROSS JOIN (SELECT array_agg(id ORDER BY id) AS ids FROM auth_user
                WHERE username LIKE 'bench-agent-%%') a
    CROSS JOIN LATERAL (SELECT CASE WHEN mod(g, 5) < 2 THEN 'call' ELSE 'sms' END AS channel,
        now() - make_interval(secs => (random() * 90 * 86400)::int) AS due) t
    """,
    """
    INSERT INTO callcenter_ticket (customer_id, kind, status, priority, subject, description,
        opened_at, assignee_id, created_at, updated_at)
    SELECT 1 + mod(g::bigint * 7919, %(customers)s), 'complaint', 'resolved', 'normal', 'late',
        '', now() - make_interval(secs => (random() * 90 * 86400)::int),
        a.ids[1 + mod(g, %(agents)s)], now(), now()
    FROM generate_series(1, %(customers)s / 10) g
    CROSS JOIN (SELECT array_agg(id ORDER BY id) AS ids FROM auth_user
                WHERE username LIKE 'bench-agent-%%') a
    """,
    """
    INSERT INTO service_ticketsla (ticket_id, first_response_due_at, first_response_at,
        first_response_minutes, resolution_due_at, resolved_at, resolution_minutes,
        paused_minutes)
    SELECT t.id, t.opened_at + interval '1 hour', t.opened_at + make_interval(mins => f.m),
        f.m, t.opened_at + interval '24 hours', t.opened_at + make_interval(mins => r.m), r.m, 0
    FROM callcenter_ticket t
    CROSS JOIN LATERAL (SELECT (random() * 90)::int AS m) f
    CROSS JOIN LATERAL (SELECT (random() * 1800)::int AS m) r
    """,
    """
    INSERT INTO callcenter_surveyresponse (customer_id, kind, score, comment, responded_at,
        created_at, updated_at)
    SELECT 1 + mod(g::bigint * 104729, %(customers)s), 'nps', mod(g, 11), '',
        now() - make_interval(secs => (random() * 300 * 86400)::int), now(), now()
    FROM generate_series(1, %(customers)s / 3) g
    """,
    """
    INSERT INTO callcenter_surveyresponse (customer_id, kind, score, comment, responded_at,
        agent_id, created_at, updated_at)
    SELECT 1 + mod(g::bigint * 15485863, %(customers)s), 'csat', 1 + mod(g, 5), '',
        now() - make_interval(secs => (random() * 90 * 86400)::int),
        a.ids[1 + mod(g, %(agents)s)], now(), now()
    FROM generate_series(1, %(customers)s / 10) g
    CROSS JOIN (SELECT array_agg(id ORDER BY id) AS ids FROM auth_user
                WHERE username LIKE 'bench-agent-%%') a
    """,
]


def build(customers: int) -> dict[str, object]:
    return synthetic.build(
        BENCH_DB,
        customers=customers,
        statements=GENERATE_SQL,
        params={"customers": customers, "agents": AGENTS, "teams": TEAMS},
    )


def _timed(call: Any) -> tuple[Any, dict[str, float]]:
    """The result of `call()` and its cold and best warm seconds."""
    started = time.perf_counter()
    result = call()
    cold = time.perf_counter() - started
    warm = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        call()
        warm.append(time.perf_counter() - started)
    return result, {
        "cold_seconds": round(cold, 3),
        "seconds": round(min(warm), 3),
        "median_seconds": round(statistics.median(warm), 3),
    }


def last_week() -> tuple[dt.datetime, dt.datetime]:
    from django.utils import timezone

    from service.selectors.scorecards import scorecard_period

    return scorecard_period(kind="week", on=timezone.localdate() - dt.timedelta(days=7))


def measure() -> dict[str, Any]:
    from django.db import connection

    from care.selectors_reports import care_kpis
    from service.selectors.scorecards import agent_scorecards
    from service.selectors.sla_report import report_period, sla_report

    start, end = last_week()
    days = round((end - start).total_seconds() / 86400)
    scorecards, scorecard_time = _timed(lambda: agent_scorecards(start=start, end=end))
    kpis, kpis_time = _timed(lambda: care_kpis(days=days, now=end))
    report_start, report_end = report_period(weeks=8)
    report, report_time = _timed(lambda: sla_report(start=report_start, end=report_end))
    every = [card.figures for card in scorecards.cards] + [scorecards.unassigned]
    sums = {
        "tasks_completed": sum(f.tasks_completed for f in every),
        "sla_due": sum(f.task_sla_due for f in every),
        "sla_met": sum(f.task_sla_met for f in every),
        "csat_answers": sum(f.csat_count for f in every),
    }
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT count(*) FROM outreach_outreachtask),"
            " (SELECT count(*) FROM service_ticketsla),"
            " (SELECT count(*) FROM callcenter_surveyresponse)"
        )
        tasks, tickets, surveys = cursor.fetchone()
    return {
        "week": [start.isoformat(), end.isoformat()],
        "rows": {"tasks": tasks, "tickets_with_sla": tickets, "surveys": surveys},
        "scorecard": {
            **scorecard_time,
            "cards": len(scorecards.cards),
            "teams": len(scorecards.teams),
            "customers_cared_for": sum(card.figures.customers for card in scorecards.cards),
        },
        "baseline_care_kpis": kpis_time,
        "scorecard_over_care_kpis": round(scorecard_time["seconds"] / kpis_time["seconds"], 2)
        if kpis_time["seconds"]
        else None,
        "sla_report_8_weeks": {
            **report_time,
            "first_response_due": report.total.first_due,
            "agents": len(report.by_agent),
        },
        "reconciles": sums
        == {
            "tasks_completed": kpis.tasks_completed,
            "sla_due": kpis.sla_due,
            "sla_met": kpis.sla_met,
            "csat_answers": kpis.csat_answers,
        },
        "sums": sums,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--reuse", action="store_true", help="keep the database built before")
    parser.add_argument("--output", type=Path, help="also write the JSON report to this file")
    args = parser.parse_args()
    scale = synthetic.reused(BENCH_DB) if args.reuse else build(args.customers)
    _setup_django(BENCH_DB)
    figures = measure()
    report = {
        "benchmark": "scorecard",
        "scale": scale,
        **figures,
        "machine": synthetic.machine(BENCH_DB),
    }
    text = json.dumps(report, indent=2, default=str)
    print(text)
    if args.output:
        args.output.write_text(text + "\n", encoding="utf-8")
    return 0 if figures["reconciles"] else 1


if __name__ == "__main__":
    sys.exit(main())

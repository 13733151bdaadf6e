"""The ticket SLA sweep over N open tickets (default 100,000), against same-run baselines.

    python bench/sla.py --tickets 100000 [--reuse]

Builds a database (bench_sla on the DATABASE_URL server; --reuse keeps one built before and
only migrates it), filled server-side with generate_series: N/2 customers (1 in 10 a
business, 1 in 20 of high value), N open tickets opened over the last two days and spread
over 50 available agents in five teams, and the default policies and calendar (VIP, To B in
business hours, B2C) with the 2026-2027 public holidays.

Measured:
  - attach:    the sweep's pass that gives every open ticket without an SLA row its policy
               (matched in SQL) and its dues (computed per chunk in business time), as for
               tickets a CSV import wrote;
  - sweep:     the periodic sweep over the N clocks set to a mix: WARN_SHARE warned (a
               warning moment passed), BREACH_SHARE breached (due passed; each escalated:
               reassigned to the least-loaded teammate, supervisors emailed once), the rest
               untouched;
  - idle:      the same sweep run again, which must change nothing (the every-minute cost
               when nothing is due);
  - baseline:  the naive per-ticket loop (load each clock, compare in Python, save) on
               BASELINE_TICKETS tickets, per ticket, to compare with the sweep's time per
               ticket.
Prints JSON (and writes it to --output). Exits non-zero when the sweep did not warn, breach
and escalate the expected tickets or when the second run changed anything.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import synthetic  # noqa: E402
from bench.refresh import _setup_django  # noqa: E402

BENCH_DB = os.environ.get("BENCH_SLA_DB", "bench_sla")
AGENTS = 50
TEAMS = 5
WARN_SHARE = 0.2
BREACH_SHARE = 0.1
# The per-ticket loop runs this many tickets (each a few queries).
BASELINE_TICKETS = 2000

GENERATE_SQL = [
    """
    INSERT INTO callcenter_customer (external_id, kind, status, name, company_name, industry,
        city, region, timezone, language, sms_opt_out, call_opt_out, email_opt_out,
        do_not_contact, consent_source, attributes, created_at, updated_at)
    SELECT 'S' || g, CASE WHEN mod(g, 10) = 0 THEN 'business' ELSE 'person' END, 'active',
        'Customer ' || g, CASE WHEN mod(g, 10) = 0 THEN 'Company ' || g ELSE '' END, '',
        'City ' || mod(g, 50), '', 'Asia/Shanghai', 'zh-hans', false, false, false, false, '',
        '{}'::jsonb, now() - interval '400 days', now()
    FROM generate_series(1, %(customers)s) g
    """,
    """
    INSERT INTO segments_customermetrics (customer_id, frequency, monetary, orders_lifetime,
        orders_90d, spend_90d, interactions_30d, complaints_90d, rfm_code, rfm_segment,
        lifecycle_stage, value_tier, spend_lifetime, value_potential, refreshed_at)
    SELECT c.id, 1, 100, 3, 0, 0, 0, 0, '', '', 'active',
        CASE WHEN mod(c.id, 20) = 0 THEN 'high' ELSE 'medium' END, 300, '', now()
    FROM callcenter_customer c
    """,
    """
    INSERT INTO callcenter_ticket (customer_id, kind, status, priority, subject, description,
        channel, opened_at, created_at, updated_at)
    SELECT 1 + mod(g, %(customers)s), (ARRAY['complaint', 'inquiry', 'suggestion'])[1 + mod(g, 3)],
        (ARRAY['open', 'in_progress'])[1 + mod(g, 2)], 'normal', 'Ticket ' || g, '', 'call',
        now() - (mod(g, 2880) || ' minutes')::interval, now(), now()
    FROM generate_series(1, %(tickets)s) g
    """,
]


def build(tickets: int) -> dict[str, object]:
    customers = max(tickets // 2, 1)
    return synthetic.build(
        BENCH_DB,
        customers=customers,
        statements=GENERATE_SQL,
        params={"customers": customers, "tickets": tickets},
    )


def setup() -> dict[str, Any]:
    """Agents in teams (tickets spread over them), a supervisor with an address, the holiday
    calendar and the default policies; earlier runs' clocks removed."""
    from django.conf import settings
    from django.contrib.auth.models import Group, User
    from django.db import connection

    from callcenter.choices import Role
    from callcenter.models import AgentProfile, AuditLog
    from callcenter.services.calendar import calendar_days_sync
    from service.models import TicketSla
    from service.services.sla_defaults import sla_defaults_install

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    agent_group = Group.objects.get(name=Role.AGENT)
    agents = []
    for n in range(AGENTS):
        user, _created = User.objects.get_or_create(username=f"bench-sla-{n}")
        user.groups.add(agent_group)
        AgentProfile.objects.update_or_create(
            user=user, defaults={"team": f"team-{n % TEAMS}", "is_available": True}
        )
        agents.append(user.pk)
    boss, _created = User.objects.get_or_create(
        username="bench-sla-boss", defaults={"email": "boss@example.com"}
    )
    boss.groups.add(Group.objects.get(name=Role.SUPERVISOR))
    calendar_days_sync(years=[2026, 2027])
    sla_defaults_install()
    TicketSla.objects.all().delete()
    AuditLog.objects.filter(action="ticket.sla_breach").delete()
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE callcenter_ticket SET assignee_id = (%s::int[])[1 + mod(id, %s)]",
            [agents, AGENTS],
        )
        cursor.execute("ANALYZE callcenter_ticket")
    return {"agents": agents}


def _mix(now: Any) -> dict[str, int]:
    """Set every clock to the measured mix, from its ticket id (no Python per ticket)."""
    from django.db import connection

    warn_mod = round(1 / WARN_SHARE)
    breach_mod = round(1 / BREACH_SHARE)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE service_ticketsla SET
              warned_at = NULL, escalated_at = NULL, paused_at = NULL, resolved_at = NULL,
              first_response_at = NULL, first_response_breached_at = NULL,
              next_response_breached_at = NULL, resolution_breached_at = NULL,
              next_response_due_at = NULL, next_response_warn_at = NULL,
              first_response_due_at = CASE
                WHEN mod(ticket_id, %(b)s) = 0 THEN %(now)s - interval '5 minutes'
                ELSE %(now)s + interval '2 hours' END,
              first_response_warn_at = CASE
                WHEN mod(ticket_id, %(b)s) = 0 OR mod(ticket_id, %(w)s) = 1
                  THEN %(now)s - interval '10 minutes'
                ELSE %(now)s + interval '1 hour' END,
              resolution_due_at = %(now)s + interval '1 day',
              resolution_warn_at = %(now)s + interval '18 hours'
            """,
            {"now": now, "b": breach_mod, "w": warn_mod},
        )
        cursor.execute("ANALYZE service_ticketsla")
        cursor.execute(
            "SELECT count(*) FILTER (WHERE mod(ticket_id, %s) = 0), "
            "count(*) FILTER (WHERE mod(ticket_id, %s) = 0 OR mod(ticket_id, %s) = 1) "
            "FROM service_ticketsla",
            [breach_mod, breach_mod, warn_mod],
        )
        breaching, warning = cursor.fetchone()
    return {"breaching": breaching, "warning": warning}


def measure() -> dict[str, Any]:
    from django.core import mail
    from django.db.models import Count
    from django.utils import timezone

    from callcenter.models import AuditLog
    from service.models import TicketSla
    from service.services.sla_sweep import sla_attach_missing, ticket_sla_sweep

    now = timezone.now()
    started = time.perf_counter()
    attached = sla_attach_missing(now=now)
    attach_seconds = time.perf_counter() - started
    policies = {
        row["policy__name"] or "none": row["n"]
        for row in TicketSla.objects.values("policy__name").annotate(n=Count("pk"))
    }
    expected = _mix(now)
    mail.outbox = []
    started = time.perf_counter()
    sweep = ticket_sla_sweep(now=now)
    sweep_seconds = time.perf_counter() - started
    started = time.perf_counter()
    idle = ticket_sla_sweep(now=now)
    idle_seconds = time.perf_counter() - started
    return {
        "attach": {
            "seconds": round(attach_seconds, 3),
            "tickets": attached,
            "ms_per_ticket": round(attach_seconds * 1000 / max(attached, 1), 4),
            "by_policy": policies,
        },
        "expected": expected,
        "sweep": {"seconds": round(sweep_seconds, 3), **sweep},
        "idle": {"seconds": round(idle_seconds, 3), **idle},
        "emails": len(mail.outbox),
        "audit_entries": AuditLog.objects.filter(action="ticket.sla_breach").count(),
    }


def measure_baseline() -> dict[str, Any]:
    """The naive loop: for each of BASELINE_TICKETS clocks, load it, decide in Python, save."""
    from django.utils import timezone

    from service.models import TicketSla

    now = timezone.now()
    ids = list(
        TicketSla.objects.order_by("ticket_id").values_list("ticket_id", flat=True)[
            :BASELINE_TICKETS
        ]
    )
    _mix(now)
    started = time.perf_counter()
    for ticket_id in ids:
        sla = TicketSla.objects.get(pk=ticket_id)
        changed = False
        if sla.warned_at is None and (
            (sla.first_response_warn_at and sla.first_response_warn_at <= now)
            or (sla.resolution_warn_at and sla.resolution_warn_at <= now)
        ):
            sla.warned_at = now
            changed = True
        if sla.first_response_due_at and sla.first_response_due_at <= now:
            sla.first_response_breached_at = now
            changed = True
        if changed:
            sla.save()
    seconds = time.perf_counter() - started
    return {
        "tickets": len(ids),
        "seconds": round(seconds, 3),
        "ms_per_ticket": round(seconds * 1000 / max(len(ids), 1), 4),
    }


def _machine() -> dict[str, Any]:
    return {"cores": os.cpu_count(), "load": os.getloadavg(), "python": platform.python_version()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--reuse", action="store_true")
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    database = synthetic.reused(BENCH_DB) if args.reuse else build(args.tickets)
    _setup_django(BENCH_DB)
    setup()
    figures = measure()
    baseline = measure_baseline()
    sweep = figures["sweep"]
    tickets = figures["attach"]["tickets"]
    sweep_ms = sweep["seconds"] * 1000 / max(tickets, 1)
    report = {
        "benchmark": "ticket_sla_sweep",
        "database": database,
        "tickets": tickets,
        **figures,
        "sweep_ms_per_ticket": round(sweep_ms, 4),
        "baseline_per_ticket_loop": baseline,
        "per_ticket_loop_over_sweep": round(baseline["ms_per_ticket"] / sweep_ms, 1)
        if sweep_ms
        else None,
        "machine": _machine(),
    }
    text = json.dumps(report, indent=2, default=str)
    print(text)
    if args.output:
        args.output.write_text(text + "\n", encoding="utf-8")
    expected = figures["expected"]
    idle = figures["idle"]
    good = (
        sweep["breached"] == expected["breaching"]
        and sweep["warned"] == expected["warning"]
        and sweep["escalated"] == expected["breaching"]
        and idle["warned"] == idle["breached"] == idle["escalated"] == idle["attached"] == 0
    )
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())

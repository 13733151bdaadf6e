"""Campaigns: a campaign to a segment of N members, audience frozen and tasks created, against
the per-event path the rules use (same run, same journey).

    python bench/campaign.py --customers 100000 [--reuse]

Builds a database (bench_campaign on the DATABASE_URL server; --reuse keeps one built before
and only migrates it), filled server-side with generate_series: customers (1 in 50 opted out
of SMS, 1 in 200 do-not-contact), their metrics (spend, the pacing's value order), a segment
holding every one of them, and a call queue of 50 agents (the default 40 calls a day each).
The journey: an SMS now, paced at 5,000 an hour, and a call task a day later in that queue,
spread over business days by its capacity and handed to the queue's least-loaded agents within
their daily limit (set-based, at insertion); 10% held out as control.

Measured, each on a fresh campaign:
  - preview:   the page's audience per channel minus guardrails and the load per day;
  - campaign:  launch and the run's start: audience frozen (one INSERT ... SELECT), events and
               enrollments (one statement), tasks paced and created (one statement per step),
               with the time of each phase;
  - second start: the same run started again, which must create nothing;
  - pause and resume of all its tasks: the decision (the web request's part) and the
               background job that moves the rows (campaign_work_settle);
  - baseline:  the per-event path (events_process, as a segment-entry rule would enroll) for
               the first BASELINE_MEMBERS members, per member, to compare with the campaign's
               time per member.
Prints JSON (and writes it to --output). Exits non-zero when the run created no task or the
second start created any.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import synthetic  # noqa: E402
from bench.refresh import _setup_django  # noqa: E402

BENCH_DB = "bench_campaign"
SEGMENT_SLUG = "bench-campaign-everyone"
QUEUE_SLUG = "bench-campaign-calls"
# The call step hands its calls to the queue's least-loaded agents (a database built with the
# earlier journey, whose calls only waited in the queue, gets this one beside it).
JOURNEY_SLUG = "bench-campaign-least-loaded"
AGENTS = 50
SMS_PER_HOUR = 5000
HOLDOUT = 0.1
# The per-event baseline runs this many members (each one is a few queries).
BASELINE_MEMBERS = 1000

GENERATE_SQL = [
    """
    INSERT INTO callcenter_customer (external_id, kind, status, name, company_name, industry,
        city, region, timezone, language, sms_opt_out, call_opt_out, email_opt_out,
        do_not_contact, consent_source, attributes, created_at, updated_at)
    SELECT 'C' || g, 'person', 'active', 'Customer ' || g, '', '', 'City ' || mod(g, 50), '',
        'Asia/Shanghai', 'zh-hans', mod(g, 50) = 0, false, false, mod(g, 200) = 1, '',
        '{}'::jsonb, now() - interval '400 days', now()
    FROM generate_series(1, %(customers)s) g
    """,
    """
    INSERT INTO segments_customermetrics (customer_id, frequency, monetary, orders_lifetime,
        orders_90d, spend_90d, interactions_30d, complaints_90d, rfm_code, rfm_segment,
        lifecycle_stage, value_tier, spend_lifetime, value_potential, refreshed_at)
    SELECT c.id, 1, mod(hashint4(c.id::int) & 2147483647, 100000) / 10.0, 3, 0, 0, 0, 0, '', '', '',
        '', mod(hashint4(c.id::int) & 2147483647, 100000) / 10.0, '', now()
    FROM callcenter_customer c
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
        params={"customers": customers},
    )


def reused() -> dict[str, object]:
    """The database built before, migrated."""
    return synthetic.reused(BENCH_DB)


def setup() -> dict[str, Any]:
    """The segment (everyone), the staffed queue and the journey; earlier runs' campaigns,
    enrollments, events and tasks removed."""
    from django.contrib.auth.models import Group, User
    from django.db import connection
    from django.utils import timezone

    from outreach.models import Queue
    from segments.choices import SegmentKind
    from segments.models import Segment

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE care_campaign, care_campaignrun, care_campaignmember, care_enrollment,"
            " care_event, outreach_outreachtask CASCADE"
        )
    segment, created = Segment.objects.get_or_create(
        slug=SEGMENT_SLUG,
        defaults={
            "name": "Everyone",
            "kind": SegmentKind.RULE,
            "rule": {"field": "monetary", "cmp": "gte", "value": 0},
        },
    )
    if created:
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO segments_segmentmembership (segment_id, customer_id, entered_at,"
                " reason) SELECT %s, id, now(), '' FROM callcenter_customer",
                [segment.pk],
            )
            cursor.execute("ANALYZE segments_segmentmembership")
    queue, _created = Queue.objects.get_or_create(slug=QUEUE_SLUG, defaults={"name": "Calls"})
    if queue.members.count() < AGENTS:
        agent_group = Group.objects.get(name="agent")
        users = User.objects.bulk_create(
            [User(username=f"bench-agent-{i}", is_active=True) for i in range(AGENTS)],
            ignore_conflicts=True,
        )
        users = list(User.objects.filter(username__startswith="bench-agent-"))
        agent_group.user_set.add(*users)
        queue.members.add(*users)
    return {
        "segment": segment,
        "rule": _journey(JOURNEY_SLUG, "Bench campaign journey"),
        # The per-event baseline's own copy of the journey (measure_baseline).
        "baseline_rule": _journey(f"{JOURNEY_SLUG}-per-event", "Bench per-event journey"),
        "now": timezone.now(),
    }


def _journey(slug: str, name: str) -> Any:
    """The campaign's journey (an SMS now, a call task a day later), created once."""
    from care.choices import EventType
    from care.models import CareRule
    from care.services.rules import care_rule_create
    from care.services.templates import template_create

    rule = CareRule.objects.filter(slug=slug).first()
    if rule is not None:
        return rule
    sms = template_create(name=name, channel="sms", variants={"en": {"body": "We miss you"}})
    return care_rule_create(
        name=name,
        slug=slug,
        trigger_type=EventType.CAMPAIGN,
        steps=[
            {"channel": "sms", "template_id": sms.pk, "sla_minutes": 60},
            {
                "channel": "call",
                "name": "Call",
                "delay_value": 1,
                "delay_unit": "days",
                "assignee_rule": "least_loaded",
                "assignee_target": QUEUE_SLUG,
                "sla_minutes": 480,
            },
        ],
    )


def _new_campaign(objects: dict[str, Any], name: str) -> Any:
    from django.utils import timezone

    from care.services.campaigns import campaign_create

    return campaign_create(
        created_by=None,
        name=name,
        rule=objects["rule"].pk,
        segment=objects["segment"].pk,
        starts_at=timezone.now(),
        holdout_share=HOLDOUT,
        max_per_hour={"sms": SMS_PER_HOUR},
    )


def _timed(module: Any, name: str, phases: dict[str, float]) -> Any:
    original = getattr(module, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            phases[name.strip("_")] = round(time.perf_counter() - started, 3)

    return mock.patch.object(module, name, wrapper)


def measure_campaign(objects: dict[str, Any]) -> dict[str, Any]:
    from django.contrib.auth.models import User
    from django.db.models import Count, Max, Min
    from django.db.models.functions import TruncDate, TruncHour

    from care.models import CampaignRun
    from care.services.campaigns import (
        campaign_launch,
        campaign_pause,
        campaign_preview,
        campaign_resume,
        campaign_run_start,
        campaign_work_settle,
        runs,
    )
    from outreach.models import OutreachTask

    campaign = _new_campaign(objects, "Bench campaign")
    started = time.perf_counter()
    preview = campaign_preview(campaign=campaign)
    preview_seconds = time.perf_counter() - started

    supervisor = User.objects.filter(username__startswith="bench-agent-").first()
    phases: dict[str, float] = {}
    with (
        mock.patch("care.services.campaigns.lifecycle.enqueue_on_commit"),
        _timed(runs, "_freeze", phases),
        _timed(runs, "_enroll", phases),
        _timed(runs, "_plan", phases),
    ):
        started = time.perf_counter()
        campaign_launch(campaign=campaign, launched_by=supervisor)
        launch_seconds = time.perf_counter() - started
        run = CampaignRun.objects.get(campaign=campaign)
        started = time.perf_counter()
        run = campaign_run_start(run_id=run.pk)
        run_seconds = time.perf_counter() - started
    tasks_before = OutreachTask.objects.count()
    CampaignRun.objects.filter(pk=run.pk).update(status="pending")
    started = time.perf_counter()
    campaign_run_start(run_id=run.pk)
    second_seconds = time.perf_counter() - started
    new_tasks = OutreachTask.objects.count() - tasks_before

    sms = OutreachTask.objects.filter(enrollment__rule=objects["rule"], channel="sms")
    per_hour = sms.annotate(h=TruncHour("due_at")).values("h").annotate(n=Count("id"))
    calls = OutreachTask.objects.filter(enrollment__rule=objects["rule"], channel="call")
    per_day = calls.annotate(d=TruncDate("due_at")).values("d").annotate(n=Count("id"))
    per_agent_day = (
        calls.filter(assignee__isnull=False)
        .annotate(d=TruncDate("due_at"))
        .values("d", "assignee_id")
        .annotate(n=Count("id"))
    )
    span = calls.aggregate(first=Min("due_at"), last=Max("due_at"))

    with mock.patch("care.services.campaigns.lifecycle.enqueue_on_commit"):
        started = time.perf_counter()
        campaign_pause(campaign=campaign)
        pause_seconds = time.perf_counter() - started
        started = time.perf_counter()
        campaign_work_settle(campaign_id=campaign.pk)
        pause_job_seconds = time.perf_counter() - started
        held = OutreachTask.objects.filter(status="held").count()
        started = time.perf_counter()
        campaign_resume(campaign=campaign)
        resume_seconds = time.perf_counter() - started
        started = time.perf_counter()
        campaign_work_settle(campaign_id=campaign.pk)
        resume_job_seconds = time.perf_counter() - started
    members = run.members or 1
    return {
        "preview": {
            "seconds": round(preview_seconds, 3),
            "members": preview.members,
            "treated": preview.treated,
            "reachable_sms": next(
                (row.reachable for row in preview.channels if row.channel == "sms"), None
            ),
            "error": preview.error,
        },
        "campaign": {
            "launch_seconds": round(launch_seconds, 3),
            "run_seconds": round(run_seconds, 3),
            "phases": phases,
            "members": run.members,
            "control": run.control,
            "tasks": run.tasks,
            "ms_per_member": round(run_seconds * 1000 / members, 4),
            "max_sms_per_hour": max((row["n"] for row in per_hour), default=0),
            "max_calls_per_day": max((row["n"] for row in per_day), default=0),
            "assigned_calls": calls.filter(assignee__isnull=False).count(),
            "max_calls_per_agent_day": max((row["n"] for row in per_agent_day), default=0),
            "call_days": len(per_day),
            "calls_from": span["first"],
            "calls_until": span["last"],
        },
        "second_start": {"seconds": round(second_seconds, 3), "new_tasks": new_tasks},
        "pause": {
            "seconds": round(pause_seconds, 3),
            "job_seconds": round(pause_job_seconds, 3),
            "held": held,
        },
        "resume": {
            "seconds": round(resume_seconds, 3),
            "job_seconds": round(resume_job_seconds, 3),
        },
    }


def measure_baseline(objects: dict[str, Any]) -> dict[str, Any]:
    """The per-event path for BASELINE_MEMBERS members of the segment, once the campaign is
    cancelled: its plans are then stopped, so the per-event plans compete with none (one plan
    per category and customer) and create their tasks, as the campaign's did."""
    from django.utils import timezone

    from care.choices import CampaignStatus, EventSource, EventType
    from care.models import Campaign, Event
    from care.services.campaigns import campaign_cancel, campaign_work_settle
    from care.services.events import events_process
    from care.services.rules import care_rule_activate, care_rule_deactivate
    from outreach.models import OutreachTask

    over = (CampaignStatus.CANCELLED, CampaignStatus.FINISHED)
    with mock.patch("care.services.campaigns.lifecycle.enqueue_on_commit"):
        for campaign in Campaign.objects.exclude(status__in=over):
            campaign_cancel(campaign=campaign)
            campaign_work_settle(campaign_id=campaign.pk)
    rule = care_rule_activate(rule=objects["baseline_rule"])
    customer_ids = list(
        objects["segment"]
        .memberships.order_by("customer_id")
        .values_list("customer_id", flat=True)[:BASELINE_MEMBERS]
    )
    now = timezone.now()
    events = Event.objects.bulk_create(
        [
            Event(
                type=EventType.CAMPAIGN,
                customer_id=customer_id,
                payload={"rule": rule.pk},
                source=EventSource.CAMPAIGN,
                occurred_at=now,
                idempotency_key=f"bench-baseline:{customer_id}",
            )
            for customer_id in customer_ids
        ]
    )
    tasks_before = OutreachTask.objects.count()
    started = time.perf_counter()
    for index in range(0, len(events), 100):
        events_process(event_ids=[event.pk for event in events[index : index + 100]])
    seconds = time.perf_counter() - started
    care_rule_deactivate(rule=rule)
    return {
        "members": len(customer_ids),
        "seconds": round(seconds, 3),
        "tasks": OutreachTask.objects.count() - tasks_before,
        "ms_per_member": round(seconds * 1000 / max(len(customer_ids), 1), 4),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--reuse", action="store_true", help="keep the database built before")
    parser.add_argument("--output", type=Path, help="also write the JSON report to this file")
    args = parser.parse_args()
    scale = reused() if args.reuse else build(args.customers)
    _setup_django(BENCH_DB)
    objects = setup()
    figures = measure_campaign(objects)
    baseline = measure_baseline(objects)
    campaign = figures["campaign"]
    report = {
        "benchmark": "campaign",
        "scale": scale,
        "journey": {
            "steps": ["sms now", "call task a day later, least-loaded agent"],
            "sms_per_hour": SMS_PER_HOUR,
            "agents": AGENTS,
            "holdout": HOLDOUT,
        },
        **figures,
        "baseline_per_event": baseline,
        "per_event_over_campaign_per_member": round(
            baseline["ms_per_member"] / campaign["ms_per_member"], 1
        )
        if campaign["ms_per_member"]
        else None,
        "machine": synthetic.machine(BENCH_DB),
    }
    text = json.dumps(report, indent=2, default=str)
    print(text)
    if args.output:
        args.output.write_text(text + "\n", encoding="utf-8")
    # Both paths did the work (two tasks per treated member; the baseline treats every one).
    did_the_work = campaign["tasks"] > 0 and baseline["tasks"] == 2 * baseline["members"]
    return 0 if did_the_work and figures["second_start"]["new_tasks"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

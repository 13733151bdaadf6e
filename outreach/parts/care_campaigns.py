"""How outreach carries out campaigns (the contract is in care.services.campaigns.executors):
the call room of queues per day, set-based task creation for a paced step (with its assignee
rule applied set-based, as outreach.services.tasks applies it to rules' tasks), holding, releasing
and cancelling a campaign's tasks, the guardrail counts of an audience and the work's
progress. Each is one statement (or a few) whatever the campaign's size."""

import datetime as dt
from collections import defaultdict
from typing import Any

from django.db import connection
from django.db.models import Count
from django.db.models.functions import TruncDate
from django.utils import timezone

from care.choices import AssigneeRule, StepChannel, TouchKind
from care.models import CareSettings
from care.services.campaigns import CampaignExecutor, campaign_executors
from outreach.choices import OPEN_TASK_STATUSES, TaskStatus
from outreach.models import OutreachTask, Queue
from outreach.services.capacity import (
    DEFAULT_QUEUE_SLUG,
    capacity_load,
    center_zone,
    pool_members,
    queue_slug,
    queues_by_slug,
    skill_groups,
)
from outreach.services.guardrails import CHANNEL_OPT_OUT, REACHED_OUTCOMES
from outreach.services.routing_rules import call_skills_for_facts
from outreach.services.tasks import PUSH_RULES, assignment_lock


def step_queue_slug(step: dict[str, Any]) -> str:
    """The queue a call step's tasks wait in (as outreach_tasks_create decides it)."""
    if step.get("assignee_rule") == AssigneeRule.ADVISOR and not step.get("assignee_target"):
        return DEFAULT_QUEUE_SLUG
    return queue_slug(step.get("assignee_target") or "")


def call_capacity(
    *, steps: list[dict[str, Any]], days: list[dt.date], now: dt.datetime
) -> dict[int, list[int]]:
    """Per call step, each day's room in its queue: the available members' daily limits minus
    their load that day, minus the queue's unassigned open call tasks due that day; call
    steps sharing a queue share its room equally."""
    slugs = {step["position"]: step_queue_slug(step) for step in steps}
    members: dict[str, set[int]] = defaultdict(set)
    for slug, user_id in Queue.members.through.objects.filter(
        queue__slug__in=set(slugs.values())
    ).values_list("queue__slug", "user_id"):
        members[slug].add(user_id)
    capacity = capacity_load(agent_ids=set().union(*members.values()), days=days, now=now)
    zone = center_zone()
    waiting: dict[tuple[str, dt.date], int] = defaultdict(int)
    rows = (
        OutreachTask.objects.filter(
            channel=StepChannel.CALL,
            assignee__isnull=True,
            status__in=OPEN_TASK_STATUSES,
            queue__slug__in=set(slugs.values()),
            due_at__lt=dt.datetime.combine(days[-1] + dt.timedelta(days=1), dt.time.min, zone),
        )
        .annotate(day=TruncDate("due_at", tzinfo=zone))
        .values("queue__slug", "day")
        .annotate(n=Count("id"))
        .order_by()
    )
    for row in rows:
        waiting[(row["queue__slug"], max(row["day"], capacity.today))] += row["n"]
    sharing: dict[str, int] = defaultdict(int)
    for slug in slugs.values():
        sharing[slug] += 1
    room: dict[int, list[int]] = {}
    for position, slug in slugs.items():
        per_day = []
        for day in days:
            free = sum(
                max(capacity.limits[agent] - capacity.loads[(agent, day)], 0)
                for agent in members[slug]
                if agent in capacity.available
            )
            per_day.append(max(free - waiting[(slug, day)], 0) // sharing[slug])
        room[position] = per_day
    return room


PLAN_SQL = """
INSERT INTO outreach_outreachtask
    (created_at, updated_at, customer_id, enrollment_id, step_id, step_position, channel,
     touch_kind, due_at, deadline_at, status, reason, priority, template_id, subject, body,
     to_address, attempts, next_attempt_at, last_error, provider_message_id, idempotency_key,
     claimed_by, outcome, notes, call_intent, call_keypress, call_result, queue_id, assignee_id)
SELECT %(out_now)s, %(out_now)s, p.customer_id, p.enrollment_id,
       (SELECT s.id FROM care_carestep s WHERE s.id = %(out_step_id)s), %(out_position)s,
       %(out_channel)s, %(out_touch)s, p.due_at, p.deadline_at, %(out_pending)s, '', p.priority,
       %(out_template)s, '', %(out_body)s, '', 0,
       CASE WHEN %(out_gated)s THEN p.due_at END, '', '',
       'enr:' || p.enrollment_id || ':step:' || %(out_position)s, '', '', '', '', '', '',
       %(out_queue)s, p.assignee_id
FROM ({assigned}) p
ON CONFLICT (idempotency_key) DO NOTHING
"""
# The planned rows of a step nobody is pushed to (messages, queue rule).
UNASSIGNED_SQL = "SELECT p.*, NULL::bigint AS assignee_id FROM ({planned}) p"
# Each planned call's work day (its due day on the center's clock, today if overdue, as
# outreach.services.capacity.work_day) and its customer's advisor.
DAY_SQL = """
SELECT p.*, GREATEST((p.due_at AT TIME ZONE %(out_zone)s)::date, %(out_today)s::date) AS day,
       c.advisor_id
FROM ({planned}) p JOIN callcenter_customer c ON c.id = p.customer_id
"""
# The free slots of the candidate agents per day (their limit minus their load), from arrays.
ROOM_SQL = """
SELECT * FROM unnest(%(out_agents)s::bigint[], %(out_days)s::date[], %(out_loads)s::bigint[],
                     %(out_limits)s::bigint[]) AS r(agent_id, day, load, lim)
"""
# Advisor rule: a day's calls of each advisor, highest value first, go to the advisor while
# they have room that day; the rest (and customers without an available advisor) wait
# unassigned in the step's queue, as for rules.
ADVISOR_SQL = """
WITH p AS ({day}), room AS ({room}),
ranked AS (
    SELECT p.*, row_number() OVER (
        PARTITION BY p.advisor_id, p.day ORDER BY p.priority DESC, p.due_at, p.enrollment_id
    ) AS n
    FROM p
)
SELECT ranked.*, CASE WHEN ranked.n <= r.lim - r.load THEN r.agent_id END AS assignee_id
FROM ranked LEFT JOIN room r ON r.agent_id = ranked.advisor_id AND r.day = ranked.day
"""
# Least-loaded rule, in the two passes of outreach.services.capacity.assign_preferring: the
# slots each pass hands out are computed in Python from counts (per skill group and day) and
# the agents' room, which is exactly the one-by-one choice; the statement only pairs the n-th
# call of a group and day (highest value first) with the n-th slot of the first pass, then the
# n-th call still without an agent on a day with the n-th slot of the second pass. A call's
# group comes from its customer's routing facts (kind, industry, language, value tier), whose
# preferred skills Python derived with the same code the one-by-one path uses. Calls beyond
# the day's slots wait unassigned in the step's queue.
LEAST_LOADED_SQL = """
WITH p AS ({day}),
facts AS (
    SELECT * FROM unnest(%(out_f_kind)s::text[], %(out_f_industry)s::text[],
                         %(out_f_language)s::text[], %(out_f_tier)s::text[],
                         %(out_f_group)s::int[]) AS f(kind, industry, language, tier, grp)
),
grouped AS (
    SELECT p.*, COALESCE(f.grp, 0) AS out_grp
    FROM p JOIN callcenter_customer fc ON fc.id = p.customer_id
    LEFT JOIN segments_customermetrics fm ON fm.customer_id = p.customer_id
    LEFT JOIN facts f ON f.kind = fc.kind AND f.industry = fc.industry
        AND f.language = fc.language AND f.tier = COALESCE(fm.value_tier, '')
),
ranked AS (
    SELECT grouped.*, row_number() OVER (
        PARTITION BY grouped.out_grp, grouped.day
        ORDER BY grouped.priority DESC, grouped.due_at, grouped.enrollment_id
    ) AS out_n
    FROM grouped
),
first_pass AS (
    SELECT ranked.*, s1.agent_id AS out_first
    FROM ranked LEFT JOIN unnest(%(out_s1_group)s::int[], %(out_s1_day)s::date[],
                                 %(out_s1_n)s::bigint[], %(out_s1_agent)s::bigint[])
        AS s1(grp, day, n, agent_id)
        ON s1.grp = ranked.out_grp AND s1.day = ranked.day AND s1.n = ranked.out_n
),
second_rank AS (
    SELECT first_pass.*, row_number() OVER (
        PARTITION BY first_pass.day, first_pass.out_first IS NULL
        ORDER BY first_pass.priority DESC, first_pass.due_at, first_pass.enrollment_id
    ) AS out_n2
    FROM first_pass
)
SELECT second_rank.*, COALESCE(second_rank.out_first, s2.agent_id) AS assignee_id
FROM second_rank LEFT JOIN unnest(%(out_s2_day)s::date[], %(out_s2_n)s::bigint[],
                                  %(out_s2_agent)s::bigint[]) AS s2(day, n, agent_id)
    ON second_rank.out_first IS NULL AND s2.day = second_rank.day AND s2.n = second_rank.out_n2
"""
# The planned calls per day and routing facts of their customers (one pass, grouped).
FACTS_SQL = """
SELECT p.day, c.kind, c.industry, c.language, COALESCE(m.value_tier, ''), count(*)
FROM ({day}) p JOIN callcenter_customer c ON c.id = p.customer_id
LEFT JOIN segments_customermetrics m ON m.customer_id = p.customer_id
GROUP BY 1, 2, 3, 4, 5
"""
# The days the planned calls fall on and the advisors of their customers (one pass).
SPAN_SQL = """
SELECT array_agg(DISTINCT p.day), array_agg(DISTINCT p.advisor_id)
    FILTER (WHERE p.advisor_id IS NOT NULL)
FROM ({day}) p
"""


def _room_params(
    *, step: dict[str, Any], planned_sql: str, params: dict[str, Any]
) -> dict[str, Any]:
    """The free slots of the agents a push rule may give the step's calls to, per day they
    fall on, as parallel arrays (agents x days: a few thousand values at most). Loads and
    limits are read as the rule path reads them (outreach.services.capacity); the caller holds
    the assignment lock, so concurrent assigners do not hand out the same slot."""
    zone = center_zone()
    now = timezone.now()
    where: dict[str, Any] = {
        "out_zone": str(zone),
        "out_today": timezone.localtime(now, zone).date(),
    }
    with connection.cursor() as cursor:
        cursor.execute(
            SPAN_SQL.format(day=DAY_SQL.format(planned=planned_sql)), {**params, **where}
        )
        days, advisors = cursor.fetchone()
    rule, target = step.get("assignee_rule"), step.get("assignee_target") or ""
    if rule == AssigneeRule.LEAST_LOADED:
        return {**where, **_least_loaded_slots(target, days or [], planned_sql, params, where)}
    candidates = set(advisors or [])
    rows = []
    if days:  # no planned row (every member held back): no slot to read
        capacity = capacity_load(agent_ids=candidates, days=days, now=now)
        rows = [
            (agent, day, capacity.loads[(agent, day)], capacity.limits[agent])
            for agent in sorted(capacity.available)
            for day in sorted(days)
            if capacity.loads[(agent, day)] < capacity.limits[agent]
        ]
    return {
        **where,
        "out_agents": [row[0] for row in rows],
        "out_days": [row[1] for row in rows],
        "out_loads": [row[2] for row in rows],
        "out_limits": [row[3] for row in rows],
    }


def _least_loaded_slots(
    target: str,
    days: list[dt.date],
    planned_sql: str,
    params: dict[str, Any],
    where: dict[str, Any],
) -> dict[str, Any]:
    """The slots of both passes (outreach.services.capacity.assign_preferring) for a
    least-loaded step: how many calls of each skill group fall on each day is read grouped;
    the slots are then handed out per group and day over the pool's room, in memory (a few
    thousand values at most: agents x days x daily limit)."""
    facts: list[tuple[dt.date, str, str, str, str, int]] = []
    if days:
        with connection.cursor() as cursor:
            cursor.execute(
                FACTS_SQL.format(day=DAY_SQL.format(planned=planned_sql)), {**params, **where}
            )
            facts = cursor.fetchall()
    prefer_by_facts = call_skills_for_facts(
        {(kind, industry, language, tier) for _day, kind, industry, language, tier, _n in facts}
    )
    groups = skill_groups(prefer_by_facts.values())
    group_of = {key: groups.index(p) + 1 if p else 0 for key, p in prefer_by_facts.items()}
    counts: dict[tuple[int, dt.date], int] = defaultdict(int)
    for day, kind, industry, language, tier, n in facts:
        counts[(group_of[(kind, industry, language, tier)], day)] += n
    pool = pool_members([target]).get(target, [])
    capacity = capacity_load(agent_ids=pool, days=days, now=timezone.now()) if days else None
    first: list[tuple[int, dt.date, int, int]] = []
    second: list[tuple[dt.date, int, int]] = []
    if capacity is not None:
        for day in sorted(days):
            placed = 0
            for index, group in enumerate(groups, start=1):
                skilled = [a for a in pool if group <= capacity.skills.get(a, frozenset())]
                for n in range(1, counts[(index, day)] + 1):
                    agent = capacity.pick(skilled, day)
                    if agent is None:
                        break
                    capacity.take(agent, day)
                    first.append((index, day, n, agent))
                    placed += 1
            waiting = sum(count for (_g, d), count in counts.items() if d == day) - placed
            for n in range(1, waiting + 1):
                agent = capacity.pick(pool, day)
                if agent is None:
                    break
                capacity.take(agent, day)
                second.append((day, n, agent))
    keys = list(prefer_by_facts)
    return {
        "out_f_kind": [key[0] for key in keys],
        "out_f_industry": [key[1] for key in keys],
        "out_f_language": [key[2] for key in keys],
        "out_f_tier": [key[3] for key in keys],
        "out_f_group": [group_of[key] for key in keys],
        "out_s1_group": [row[0] for row in first],
        "out_s1_day": [row[1] for row in first],
        "out_s1_n": [row[2] for row in first],
        "out_s1_agent": [row[3] for row in first],
        "out_s2_day": [row[0] for row in second],
        "out_s2_n": [row[1] for row in second],
        "out_s2_agent": [row[2] for row in second],
    }


def steps_plan(*, step: dict[str, Any], planned_sql: str, params: dict[str, Any]) -> int:
    """Create the tasks of one step for every planned row (keyed like care's plan listener:
    enrollment and step position). Call tasks wait, gated, in the step's queue; the step's
    assignee rule is applied set-based as the rule path applies it one by one (`advisor`: the
    customer's advisor while available with room that day; `least_loaded`: the pool's agents
    by their load, within their daily limit; beyond that, and for `queue`, the task waits
    unassigned for an agent of the queue to pull it)."""
    is_call = step["channel"] == StepChannel.CALL
    queue_id = None
    assigned, room = UNASSIGNED_SQL.format(planned=planned_sql), {}
    if is_call:
        slug = step_queue_slug(step)
        queue_id = queues_by_slug({slug})[slug].pk
        rule = step.get("assignee_rule")
        if rule in PUSH_RULES:
            assignment_lock()
            room = _room_params(step=step, planned_sql=planned_sql, params=params)
            pushed = ADVISOR_SQL if rule == AssigneeRule.ADVISOR else LEAST_LOADED_SQL
            assigned = pushed.format(day=DAY_SQL.format(planned=planned_sql), room=ROOM_SQL)
    with connection.cursor() as cursor:
        cursor.execute(
            PLAN_SQL.format(assigned=assigned),
            {
                **params,
                **room,
                "out_now": timezone.now(),
                "out_step_id": step.get("id"),
                "out_position": step["position"],
                "out_channel": step["channel"],
                "out_touch": step.get("touch_kind") or TouchKind.PROACTIVE,
                "out_pending": TaskStatus.PENDING,
                "out_template": step.get("template_id"),
                "out_body": step.get("name", "") if is_call else "",
                "out_gated": is_call,
                "out_queue": queue_id,
            },
        )
        return cursor.rowcount


HOLD_SQL = """
UPDATE outreach_outreachtask SET status = %(out_held)s, updated_at = %(out_now)s
WHERE status = %(out_pending)s AND enrollment_id IN ({enrollments})
"""
RELEASE_SQL = """
UPDATE outreach_outreachtask
SET status = %(out_pending)s, updated_at = %(out_now)s,
    due_at = due_at + %(out_shift)s, deadline_at = deadline_at + %(out_shift)s,
    next_attempt_at = next_attempt_at + %(out_shift)s
WHERE status = %(out_held)s AND enrollment_id IN ({enrollments})
"""
CANCEL_SQL = """
UPDATE outreach_outreachtask
SET status = %(out_cancelled)s, reason = %(out_reason)s, next_attempt_at = NULL,
    updated_at = %(out_now)s
WHERE status = ANY(%(out_open)s) AND enrollment_id IN ({enrollments})
"""


def _update(sql: str, enrollments_sql: str, params: dict[str, Any], **extra: Any) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            sql.format(enrollments=enrollments_sql),
            {
                **params,
                "out_now": timezone.now(),
                "out_held": TaskStatus.HELD,
                "out_pending": TaskStatus.PENDING,
                **extra,
            },
        )
        return cursor.rowcount


def work_hold(*, enrollments_sql: str, params: dict[str, Any]) -> int:
    """Hold the pending tasks (claimed ones are being worked and finish)."""
    return _update(HOLD_SQL, enrollments_sql, params)


def work_release(*, enrollments_sql: str, params: dict[str, Any], shift: dt.timedelta) -> int:
    """Pending again, due and deadline moved later by `shift`."""
    return _update(RELEASE_SQL, enrollments_sql, params, out_shift=shift)


def work_cancel(*, enrollments_sql: str, params: dict[str, Any], reason: str) -> int:
    """Cancel every open or held task with `reason`."""
    return _update(
        CANCEL_SQL,
        enrollments_sql,
        params,
        out_cancelled=TaskStatus.CANCELLED,
        out_reason=reason[:255],
        out_open=[str(status) for status in (*OPEN_TASK_STATUSES, TaskStatus.HELD)],
    )


# One row per member: consent flags, proactive touches in the frequency window, and whether
# `moment` falls in quiet hours on their clock (the center's when their zone is unknown).
BLOCKS_SQL = """
WITH zones AS MATERIALIZED (SELECT name FROM pg_timezone_names),
members AS (SELECT DISTINCT customer_id FROM ({members}) a),
touches AS (
    SELECT t.customer_id, count(*) AS n FROM outreach_outreachtask t
    JOIN members m ON m.customer_id = t.customer_id
    WHERE t.touch_kind = %(out_proactive)s AND (
        (t.status = ANY(%(out_sent)s) AND t.sent_at >= %(out_since)s)
        OR (t.channel = %(out_call)s AND t.status = %(out_done)s
            AND t.outcome = ANY(%(out_reached)s) AND t.completed_at >= %(out_since)s))
    GROUP BY t.customer_id
),
rows AS (
    SELECT c.do_not_contact AS dnc, c.sms_opt_out, c.email_opt_out, c.call_opt_out,
           COALESCE(f.n, 0) >= %(out_cap)s AS capped,
           (%(out_moment)s::timestamptz AT TIME ZONE
               CASE WHEN c.timezone IN (SELECT name FROM zones) THEN c.timezone
                    ELSE %(out_zone)s END)::time AS clock
    FROM members m
    JOIN callcenter_customer c ON c.id = m.customer_id
    LEFT JOIN touches f ON f.customer_id = m.customer_id
)
SELECT count(*) FILTER (WHERE dnc),
       count(*) FILTER (WHERE NOT dnc AND sms_opt_out),
       count(*) FILTER (WHERE NOT dnc AND email_opt_out),
       count(*) FILTER (WHERE NOT dnc AND call_opt_out),
       count(*) FILTER (WHERE NOT dnc AND NOT sms_opt_out AND capped),
       count(*) FILTER (WHERE NOT dnc AND NOT email_opt_out AND capped),
       count(*) FILTER (WHERE NOT dnc AND NOT call_opt_out AND capped),
       count(*) FILTER (WHERE NOT dnc AND NOT sms_opt_out AND NOT capped AND {quiet}),
       count(*) FILTER (WHERE NOT dnc AND NOT email_opt_out AND NOT capped AND {quiet}),
       count(*) FILTER (WHERE NOT dnc AND NOT call_opt_out AND NOT capped AND {quiet})
FROM rows
"""
QUIET_WRAPPING = "(clock >= %(out_quiet_start)s OR clock < %(out_quiet_end)s)"
QUIET_SAME_DAY = "(clock >= %(out_quiet_start)s AND clock < %(out_quiet_end)s)"
FLAGS = ("sms_opt_out", "email_opt_out", "call_opt_out")


def audience_blocks(
    *, members_sql: str, params: dict[str, Any], channels: list[str], moment: dt.datetime
) -> dict[str, dict[str, int]]:
    """Per channel: members do-not-contact, opted out of it, frequency-capped, and (automated
    channels) deferred by quiet hours at `moment`; each member counted once, in that order."""
    settings = CareSettings.load()
    if settings.quiet_start == settings.quiet_end:
        quiet = "FALSE"
    elif settings.quiet_start < settings.quiet_end:
        quiet = QUIET_SAME_DAY
    else:
        quiet = QUIET_WRAPPING
    values: dict[str, Any] = {
        **params,
        "out_proactive": TouchKind.PROACTIVE,
        "out_sent": [TaskStatus.SENT.value, TaskStatus.DELIVERED.value],
        "out_since": moment - dt.timedelta(days=settings.frequency_window_days),
        "out_call": StepChannel.CALL.value,
        "out_done": TaskStatus.DONE.value,
        "out_reached": [str(outcome) for outcome in REACHED_OUTCOMES],
        "out_cap": settings.frequency_cap,
        "out_moment": moment,
        "out_zone": str(center_zone()),
        "out_quiet_start": settings.quiet_start,
        "out_quiet_end": settings.quiet_end,
    }
    with connection.cursor() as cursor:
        cursor.execute(BLOCKS_SQL.format(members=members_sql, quiet=quiet), values)
        row = cursor.fetchone()
    dnc = row[0]
    by_flag = {flag: (row[1 + i], row[4 + i], row[7 + i]) for i, flag in enumerate(FLAGS)}
    result = {}
    for channel in channels:
        opted, capped, quiet_count = by_flag[CHANNEL_OPT_OUT[channel]]
        result[channel] = {
            "do_not_contact": dnc,
            "opted_out": opted,
            "frequency_capped": capped,
            # Agents' calls are released in business hours; quiet hours defer automated sends.
            "quiet_hours": 0 if channel == StepChannel.CALL else quiet_count,
        }
    return result


PROGRESS_SQL = """
SELECT count(*) FILTER (WHERE status = ANY(%(out_open)s)),
       count(*) FILTER (WHERE status = %(out_held)s),
       count(*) FILTER (WHERE sent_at IS NOT NULL),
       count(*) FILTER (WHERE status = %(out_delivered)s OR delivered_at IS NOT NULL),
       count(*) FILTER (WHERE status = %(out_failed)s),
       count(*) FILTER (WHERE status = %(out_skipped)s),
       count(*) FILTER (WHERE status = %(out_cancelled)s),
       count(*) FILTER (WHERE status = %(out_done)s)
FROM outreach_outreachtask WHERE enrollment_id IN ({enrollments})
"""
PROGRESS_KEYS = ("queued", "held", "sent", "delivered", "failed", "skipped", "cancelled", "done")


def progress(*, enrollments_sql: str, params: dict[str, Any]) -> dict[str, int]:
    """Counts of the campaign's tasks by stage, one statement."""
    with connection.cursor() as cursor:
        cursor.execute(
            PROGRESS_SQL.format(enrollments=enrollments_sql),
            {
                **params,
                "out_open": [str(status) for status in OPEN_TASK_STATUSES],
                "out_held": TaskStatus.HELD.value,
                "out_delivered": TaskStatus.DELIVERED.value,
                "out_failed": TaskStatus.FAILED.value,
                "out_skipped": TaskStatus.SKIPPED.value,
                "out_cancelled": TaskStatus.CANCELLED.value,
                "out_done": TaskStatus.DONE.value,
            },
        )
        row = cursor.fetchone()
    return dict(zip(PROGRESS_KEYS, row, strict=True))


def register() -> None:
    campaign_executors.register(
        "outreach",
        CampaignExecutor(
            call_capacity=call_capacity,
            steps_plan=steps_plan,
            work_hold=work_hold,
            work_release=work_release,
            work_cancel=work_cancel,
            audience_blocks=audience_blocks,
            progress=progress,
        ),
    )

"""Reachable and receptive: `segments.models.CustomerReach`, filled here, set-based in SQL.

The table is declared in segments (rules, priorities, the screen-pop card and pages read it)
and filled by outreach, the app that executes touches (docs/architecture.md, contracts).
Everything counts over the 180 days to the pass's moment:

- calls: agents' call tasks closed with an outcome (answered: reached, converted, callback
  requested, declined), automated calls with a result (answered: `answered`), and phone
  interactions logged without a task (an outbound one is answered unless its outcome says no
  answer, wrong number, busy, failed or voicemail; an inbound call is no attempt but an answered
  call for the best hour). A task's own interaction (logged when the agent closes it, at its
  `completed_at`) is not counted twice. The best hour is the hour of the customer's own time
  zone with the most answered calls, ties to the earliest;
- SMS sent and the share with a delivery receipt; emails sent and the share not bounced
  (providers report email bounces, rarely deliveries);
- a working phone: an active phone contact point with no wrong-number call since it changed;
- receptiveness: of the proactive touches (`touch_kind`), the share that got a response (a
  reached, converted or callback-requested call, an answered automated call with a keypress or
  intent, an inbound message from the customer within 3 days, a click on one of its tracked
  links) and the share followed by a paid order within 7 days, per channel (WeCom counts as
  WeChat, automated calls as calls) and overall;
- reachability: the best channel's answered or delivered share, a channel the customer opted
  out of (or do-not-contact), or without a contact point (calls: without a working phone),
  counting 0; empty when no open channel has anything counted.

Incremental: a pass recomputes the customers whose tasks, inbound messages, link clicks, phone
interactions, orders, contact points or customer row changed since the last pass (the moment
kept in `ReachRefreshState`, less a margin for transactions that committed late), and those with
something that left the 180-day window since; the first pass (or one after the table was
emptied) computes every active customer. Only rows that differ are written; rows of customers
with nothing left (and of inactive customers) are deleted.
"""

import datetime as dt
import zoneinfo

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from psycopg import sql

from segments.models import CustomerReach, ReachRefreshState
from segments.services.customer_sets import customer_rows_delete, customer_set_create
from segments.services.metrics import REFRESH_WORK_MEM

WINDOW = dt.timedelta(days=180)
RESPONSE_WITHIN = dt.timedelta(days=3)
CONVERSION_WITHIN = dt.timedelta(days=7)
# Changes committed a little after the last pass's moment, with earlier timestamps.
LATE_COMMIT_MARGIN = dt.timedelta(minutes=10)
# One pass at a time (a transaction-level advisory lock).
LOCK_KEY = 0x52454143  # "REAC"

TARGETS_TABLE = "outreach_reach_targets"
ROWS_TABLE = "outreach_reach_rows"
_REACH_TABLE = CustomerReach._meta.db_table

# What an agent's call outcome and the voice platform's result mean.
ANSWERED_OUTCOMES = ("reached", "converted", "callback_requested", "declined")
RESPONSE_OUTCOMES = ("reached", "converted", "callback_requested")
NOT_ANSWERED_INTERACTION = ("no_answer", "wrong_number", "busy", "failed", "voicemail")

COLUMNS = (
    "calls_attempted",
    "calls_answered",
    "call_answer_share",
    "best_call_hour",
    "sms_sent",
    "sms_delivered_share",
    "email_sent",
    "email_delivered_share",
    "has_working_phone",
    "call_response_share",
    "call_conversion_share",
    "sms_response_share",
    "sms_conversion_share",
    "email_response_share",
    "email_conversion_share",
    "wechat_response_share",
    "wechat_conversion_share",
    "best_channel",
    "reachability",
    "receptiveness",
)

_ROWS = """
CREATE TEMP TABLE {rows} ON COMMIT DROP AS
WITH zones AS (SELECT name FROM unnest({zones}::text[]) AS z (name)),
cust AS MATERIALIZED (
    SELECT c.id AS customer_id, COALESCE(z.name, {default_zone}) AS zone,
           c.call_opt_out OR c.do_not_contact AS no_call,
           c.sms_opt_out OR c.do_not_contact AS no_sms,
           c.email_opt_out OR c.do_not_contact AS no_email
    FROM {customers}
    LEFT JOIN zones z ON z.name = c.timezone
    WHERE c.status = 'active'
),
touches AS MATERIALIZED (
    SELECT * FROM (
        SELECT t.id, t.customer_id, cu.zone, t.channel, t.touch_kind, t.outcome, t.status,
               t.call_result, t.call_keypress <> '' OR t.call_intent <> '' AS call_said,
               t.delivered_at IS NOT NULL AS delivered,
               CASE WHEN t.channel IN ('call', 'auto_call') THEN 'call'
                    WHEN t.channel IN ('wechat', 'wecom') THEN 'wechat'
                    ELSE t.channel END AS kind,
               CASE WHEN t.channel = 'call' AND t.outcome <> '' THEN t.completed_at
                    WHEN t.channel = 'auto_call' AND t.call_result <> ''
                        THEN COALESCE(t.call_result_at, t.sent_at)
                    WHEN t.channel NOT IN ('call', 'auto_call') THEN t.sent_at END AS at
        FROM cust cu {tasks_join}
    ) t
    WHERE t.at > {w0} AND t.at <= {as_of}
),
calls AS MATERIALIZED (
    SELECT customer_id, zone, at, true AS attempt,
           CASE WHEN channel = 'call' THEN outcome IN ({answered_outcomes})
                ELSE call_result = 'answered' END AS answered
    FROM touches WHERE kind = 'call'
    UNION ALL
    SELECT cu.customer_id, cu.zone, i.occurred_at, i.direction = 'outbound',
           i.direction = 'inbound' OR i.outcome NOT IN ({not_answered})
    FROM cust cu {interactions_join}
    WHERE i.channel = 'call' AND i.occurred_at > {w0} AND i.occurred_at <= {as_of}
      AND NOT EXISTS (SELECT 1 FROM outreach_outreachtask k
                      WHERE k.customer_id = i.customer_id AND k.channel = 'call'
                        AND k.completed_at = i.occurred_at)
),
call_counts AS (
    SELECT customer_id, count(*) FILTER (WHERE attempt) AS attempted,
           count(*) FILTER (WHERE attempt AND answered) AS answered
    FROM calls GROUP BY customer_id
),
best_hour AS (
    SELECT DISTINCT ON (customer_id) customer_id, hour
    FROM (SELECT customer_id, extract(hour FROM at AT TIME ZONE zone)::int AS hour,
                 count(*) AS answered
          FROM calls WHERE answered GROUP BY 1, 2) h
    ORDER BY customer_id, answered DESC, hour
),
messages AS (
    SELECT customer_id,
           count(*) FILTER (WHERE kind = 'sms') AS sms_sent,
           count(*) FILTER (WHERE kind = 'sms' AND delivered) AS sms_delivered,
           count(*) FILTER (WHERE kind = 'email') AS email_sent,
           count(*) FILTER (WHERE kind = 'email' AND (delivered OR status <> 'failed'))
               AS email_delivered
    FROM touches WHERE kind IN ('sms', 'email') GROUP BY customer_id
),
proactive AS MATERIALIZED (
    SELECT id, customer_id, kind, channel, outcome, call_result, call_said, at
    FROM touches WHERE touch_kind = 'proactive'
),
replied AS (
    SELECT DISTINCT p.id FROM proactive p
    JOIN outreach_inboundmessage m ON m.customer_id = p.customer_id
    WHERE m.received_at > p.at AND m.received_at <= p.at + {response_within}
),
clicked AS (
    SELECT DISTINCT p.id FROM proactive p JOIN outreach_trackedlink l ON l.task_id = p.id
    WHERE l.first_clicked_at IS NOT NULL
),
ordered AS (
    SELECT DISTINCT p.id FROM proactive p
    JOIN callcenter_order o ON o.customer_id = p.customer_id
    WHERE o.status = 'paid' AND o.placed_at > p.at AND o.placed_at <= p.at + {conversion_within}
),
answers AS (
    SELECT p.customer_id, p.kind,
           (p.channel = 'call' AND p.outcome IN ({response_outcomes}))
           OR (p.channel = 'auto_call' AND p.call_result = 'answered' AND p.call_said)
           OR r.id IS NOT NULL OR k.id IS NOT NULL AS response,
           o.id IS NOT NULL AS conversion
    FROM proactive p
    LEFT JOIN replied r ON r.id = p.id
    LEFT JOIN clicked k ON k.id = p.id
    LEFT JOIN ordered o ON o.id = p.id
),
receptive AS (
    SELECT customer_id, avg(response::int) AS response,
           avg(response::int) FILTER (WHERE kind = 'call') AS call_response,
           avg(conversion::int) FILTER (WHERE kind = 'call') AS call_conversion,
           avg(response::int) FILTER (WHERE kind = 'sms') AS sms_response,
           avg(conversion::int) FILTER (WHERE kind = 'sms') AS sms_conversion,
           avg(response::int) FILTER (WHERE kind = 'email') AS email_response,
           avg(conversion::int) FILTER (WHERE kind = 'email') AS email_conversion,
           avg(response::int) FILTER (WHERE kind = 'wechat') AS wechat_response,
           avg(conversion::int) FILTER (WHERE kind = 'wechat') AS wechat_conversion
    FROM answers GROUP BY customer_id
),
wrong_numbers AS MATERIALIZED (
    SELECT i.customer_id, '' AS number, max(i.occurred_at) AS at
    FROM cust cu {interactions_join}
    WHERE i.channel = 'call' AND i.outcome = 'wrong_number'
    GROUP BY 1
    UNION ALL
    SELECT t.customer_id, t.to_address, max(t.completed_at)
    FROM cust cu {tasks_join}
    WHERE t.channel = 'call' AND t.outcome = 'wrong_number' AND t.completed_at IS NOT NULL
    GROUP BY 1, 2
),
points AS (
    -- A phone is working unless a wrong-number call (to it, or to no number in particular)
    -- came after its last change; duplicates from the join do not change bool_or.
    SELECT cu.customer_id, bool_or(p.kind = 'phone') AS has_phone,
           bool_or(p.kind = 'email') AS has_email,
           bool_or(p.kind = 'phone' AND w.customer_id IS NULL) AS working_phone
    FROM cust cu {points_join}
    LEFT JOIN wrong_numbers w ON w.customer_id = p.customer_id AND p.kind = 'phone'
         AND (w.number = '' OR w.number = p.value) AND w.at > p.updated_at
    WHERE p.is_active AND p.kind IN ('phone', 'email')
    GROUP BY cu.customer_id
),
shares AS (
    SELECT cu.customer_id,
           cc.attempted, cc.answered,
           round(cc.answered::numeric / NULLIF(cc.attempted, 0), 4) AS call_share,
           bh.hour,
           NULLIF(ms.sms_sent, 0) AS sms_sent,
           round(ms.sms_delivered::numeric / NULLIF(ms.sms_sent, 0), 4) AS sms_share,
           NULLIF(ms.email_sent, 0) AS email_sent,
           round(ms.email_delivered::numeric / NULLIF(ms.email_sent, 0), 4) AS email_share,
           COALESCE(pt.working_phone, false) AS working_phone,
           cu.no_call OR NOT COALESCE(pt.working_phone, false) AS call_closed,
           cu.no_sms OR NOT COALESCE(pt.has_phone, false) AS sms_closed,
           cu.no_email OR NOT COALESCE(pt.has_email, false) AS email_closed,
           rc.response, rc.call_response, rc.call_conversion, rc.sms_response,
           rc.sms_conversion, rc.email_response, rc.email_conversion, rc.wechat_response,
           rc.wechat_conversion
    FROM cust cu
    LEFT JOIN call_counts cc ON cc.customer_id = cu.customer_id
    LEFT JOIN best_hour bh ON bh.customer_id = cu.customer_id
    LEFT JOIN messages ms ON ms.customer_id = cu.customer_id
    LEFT JOIN receptive rc ON rc.customer_id = cu.customer_id
    LEFT JOIN points pt ON pt.customer_id = cu.customer_id
    WHERE cc.customer_id IS NOT NULL OR ms.customer_id IS NOT NULL
       OR rc.customer_id IS NOT NULL OR pt.has_phone
),
open_shares AS (
    SELECT s.*, CASE WHEN call_closed THEN NULL ELSE call_share END AS call_open,
           CASE WHEN sms_closed THEN NULL ELSE sms_share END AS sms_open,
           CASE WHEN email_closed THEN NULL ELSE email_share END AS email_open
    FROM shares s
),
best AS (
    SELECT o.*, GREATEST(call_open, sms_open, email_open) AS best_open FROM open_shares o
)
SELECT b.customer_id AS reach_customer_id,
       b.attempted::int AS calls_attempted, b.answered::int AS calls_answered,
       b.call_share::float8 AS call_answer_share, b.hour::smallint AS best_call_hour,
       b.sms_sent::int AS sms_sent, b.sms_share::float8 AS sms_delivered_share,
       b.email_sent::int AS email_sent, b.email_share::float8 AS email_delivered_share,
       b.working_phone AS has_working_phone,
       round(b.call_response, 4)::float8 AS call_response_share,
       round(b.call_conversion, 4)::float8 AS call_conversion_share,
       round(b.sms_response, 4)::float8 AS sms_response_share,
       round(b.sms_conversion, 4)::float8 AS sms_conversion_share,
       round(b.email_response, 4)::float8 AS email_response_share,
       round(b.email_conversion, 4)::float8 AS email_conversion_share,
       round(b.wechat_response, 4)::float8 AS wechat_response_share,
       round(b.wechat_conversion, 4)::float8 AS wechat_conversion_share,
       CASE WHEN b.best_open IS NULL THEN ''
            WHEN b.call_open = b.best_open THEN 'call'
            WHEN b.sms_open = b.best_open THEN 'sms' ELSE 'email' END AS best_channel,
       (CASE WHEN b.best_open IS NOT NULL THEN b.best_open
             WHEN b.call_closed AND b.sms_closed AND b.email_closed THEN 0 END)::float8
           AS reachability,
       round(b.response, 4)::float8 AS receptiveness
FROM best b
"""

_UPSERT = """
INSERT INTO {reach} AS r (customer_id, {columns}, refreshed_at)
SELECT reach_customer_id, {columns}, {now} FROM {rows}
ON CONFLICT (customer_id) DO UPDATE SET {updates}, refreshed_at = EXCLUDED.refreshed_at
WHERE ({current}) IS DISTINCT FROM ({excluded})
"""

# Customers whose row may be out of date since the last pass's moment `m` (less the margin).
_TARGETS = """
INSERT INTO {targets}
SELECT customer_id FROM outreach_outreachtask
WHERE updated_at > {m} OR sent_at > {m} OR delivered_at > {m} OR completed_at > {m}
   OR call_result_at > {m}
   OR sent_at > {e0} AND sent_at <= {e1} OR completed_at > {e0} AND completed_at <= {e1}
   OR call_result_at > {e0} AND call_result_at <= {e1}
UNION SELECT customer_id FROM outreach_inboundmessage
WHERE customer_id IS NOT NULL AND received_at > {m}
UNION SELECT customer_id FROM outreach_trackedlink WHERE last_clicked_at > {m}
UNION SELECT customer_id FROM callcenter_interaction
WHERE channel = 'call' AND (updated_at > {m} OR created_at > {m}
   OR occurred_at > {e0} AND occurred_at <= {e1})
UNION SELECT customer_id FROM callcenter_order WHERE updated_at > {m} OR created_at > {m}
UNION SELECT customer_id FROM callcenter_contactpoint WHERE updated_at > {m} OR created_at > {m}
UNION SELECT id FROM callcenter_customer WHERE updated_at > {m} OR created_at > {m}
"""


def _targets_fill(*, as_of: dt.datetime, since: dt.datetime) -> int:
    """Fill TARGETS_TABLE with the customers to recompute; returns how many."""
    with connection.cursor() as cursor:
        customer_set_create(cursor, TARGETS_TABLE)
        cursor.execute(
            sql.SQL(_TARGETS).format(
                targets=sql.Identifier(TARGETS_TABLE),
                m=sql.Literal(since),
                e0=sql.Literal(since - WINDOW),
                e1=sql.Literal(as_of - WINDOW),
            )
        )
        count = cursor.rowcount
        cursor.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(TARGETS_TABLE)))
    return count


def _rows_sql(*, as_of: dt.datetime, only_targets: bool) -> sql.Composed:
    customers: sql.Composable = sql.SQL("callcenter_customer c")
    if only_targets:
        customers = sql.SQL("{t} t JOIN callcenter_customer c ON c.id = t.customer_id").format(
            t=sql.Identifier(TARGETS_TABLE)
        )
        # A few customers: their rows through the per-customer indexes (OFFSET 0 keeps the
        # planner from flattening the lateral subqueries into hash joins over every row).
        tasks_join = sql.SQL(
            "CROSS JOIN LATERAL (SELECT * FROM outreach_outreachtask t "
            "WHERE t.customer_id = cu.customer_id OFFSET 0) t"
        )
        interactions_join = sql.SQL(
            "CROSS JOIN LATERAL (SELECT * FROM callcenter_interaction i "
            "WHERE i.customer_id = cu.customer_id OFFSET 0) i"
        )
        points_join = sql.SQL(
            "CROSS JOIN LATERAL (SELECT * FROM callcenter_contactpoint p "
            "WHERE p.customer_id = cu.customer_id OFFSET 0) p"
        )
    else:
        tasks_join = sql.SQL("JOIN outreach_outreachtask t ON t.customer_id = cu.customer_id")
        interactions_join = sql.SQL(
            "JOIN callcenter_interaction i ON i.customer_id = cu.customer_id"
        )
        points_join = sql.SQL("JOIN callcenter_contactpoint p ON p.customer_id = cu.customer_id")
    return sql.SQL(_ROWS).format(
        rows=sql.Identifier(ROWS_TABLE),
        zones=sql.Literal(sorted(zoneinfo.available_timezones())),
        default_zone=sql.Literal(settings.TIME_ZONE),
        customers=customers,
        tasks_join=tasks_join,
        interactions_join=interactions_join,
        points_join=points_join,
        w0=sql.Literal(as_of - WINDOW),
        as_of=sql.Literal(as_of),
        answered_outcomes=sql.SQL(", ").join(map(sql.Literal, ANSWERED_OUTCOMES)),
        response_outcomes=sql.SQL(", ").join(map(sql.Literal, RESPONSE_OUTCOMES)),
        not_answered=sql.SQL(", ").join(map(sql.Literal, NOT_ANSWERED_INTERACTION)),
        response_within=sql.Literal(RESPONSE_WITHIN),
        conversion_within=sql.Literal(CONVERSION_WITHIN),
    )


def _upsert_sql(now: dt.datetime) -> sql.Composed:
    names = [sql.Identifier(name) for name in COLUMNS]
    return sql.SQL(_UPSERT).format(
        reach=sql.Identifier(_REACH_TABLE),
        rows=sql.Identifier(ROWS_TABLE),
        now=sql.Literal(now),
        columns=sql.SQL(", ").join(names),
        updates=sql.SQL(", ").join(sql.SQL("{c} = EXCLUDED.{c}").format(c=c) for c in names),
        current=sql.SQL(", ").join(sql.SQL("r.{}").format(c) for c in names),
        excluded=sql.SQL(", ").join(sql.SQL("EXCLUDED.{}").format(c) for c in names),
    )


def reach_refresh(*, now: dt.datetime | None = None, full: bool = False) -> dict[str, int]:
    """Bring every active customer's reachability row up to date as of `now` (one transaction).
    `full` recomputes everybody; so does the first pass. Returns the customers recomputed, the
    rows written and deleted, whether the pass was full, and 1 in `skipped` when another pass
    holds the lock."""
    now = now or timezone.now()
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [LOCK_KEY])
            if not cursor.fetchone()[0]:
                return {"reach_skipped": 1}
        state = ReachRefreshState.objects.filter(pk=1).first()
        full = full or state is None or now < state.ran_at or not CustomerReach.objects.exists()
        targets = 0
        if not full:
            assert state is not None
            targets = _targets_fill(as_of=now, since=state.ran_at - LATE_COMMIT_MARGIN)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT set_config('work_mem', %s, true), set_config('jit', 'off', true), "
                "set_config('enable_nestloop', %s, true)",
                [REFRESH_WORK_MEM, "off" if full else "on"],
            )
            cursor.execute(
                sql.SQL("DROP TABLE IF EXISTS pg_temp.{}").format(sql.Identifier(ROWS_TABLE))
            )
            cursor.execute(_rows_sql(as_of=now, only_targets=not full))
            cursor.execute("SELECT set_config('enable_nestloop', 'on', true)")
            cursor.execute(_upsert_sql(now))
            written = cursor.rowcount
            left = sql.SQL(
                "NOT EXISTS (SELECT 1 FROM {rows} n WHERE n.reach_customer_id = r.customer_id)"
            ).format(rows=sql.Identifier(ROWS_TABLE))
            deleted = customer_rows_delete(
                cursor,
                table=_REACH_TABLE,
                alias="r",
                condition=left,
                within=None if full else TARGETS_TABLE,
            )
            if full:
                cursor.execute(
                    sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(ROWS_TABLE))
                )
                targets = cursor.fetchone()[0]
        ReachRefreshState.objects.update_or_create(pk=1, defaults={"ran_at": now})
    return {
        "reach_customers": targets,
        "reach_written": written,
        "reach_deleted": deleted,
        "reach_full": int(full),
    }

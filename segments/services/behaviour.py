"""What customers buy, how and when, and their service history: `CustomerBehaviour`, computed
set-based in SQL inside the refresh's transaction (no per-customer Python).

Purchases are paid orders placed up to the refresh's as-of moment: spend share by category
(the top few kept), the top category, how many categories, the share of orders in a category
bought before, the preferred channel, the usual hour and ISO weekday in the buyer's own time
zone, the median days between consecutive orders. Service history: tickets by kind opened in
the 90 days to as-of, open tickets, the last CSAT answer.

A business account's figures are those of its own and its active contacts' history, as its
metrics roll up (segments.services.metrics); each contact keeps its own. An order's hour is
counted in the time zone of the customer who placed it.

Incremental: none of these move with the clock except the 90-day ticket counts, so a run
recomputes only the customers whose history changed (the changed-customers log snapshot),
whose history became current or whose tickets left the 90-day window as as-of moved, the
accounts of all these, and active customers without a row. A first fill (no rows yet), a
refresh with no earlier run to build on, one whose as-of is earlier than the last run's, and
a `full` refresh recompute every active customer. Either way only rows that differ are
written.
"""

import datetime as dt

from django.conf import settings
from django.db import connection
from psycopg import sql

from callcenter.choices import SurveyKind, TicketKind, TicketStatus
from segments.models import CustomerBehaviour, CustomerMetrics
from segments.services.metrics import DIRTY_SEEN_TABLE, REFRESH_WORK_MEM

TARGETS_TABLE = "segments_behaviour_targets"
# How many categories `category_shares` keeps (the largest by spend).
TOP_CATEGORIES = 5
TICKET_WINDOW = dt.timedelta(days=90)
OPEN_TICKET_STATUSES = (TicketStatus.OPEN, TicketStatus.IN_PROGRESS, TicketStatus.WAITING)

_BEHAVIOUR_TABLE = CustomerBehaviour._meta.db_table
_METRICS_TABLE = CustomerMetrics._meta.db_table

# Every customer to compute, with the customers whose history counts for them (itself; for an
# active business account also its active contacts) and the member's time zone (an unknown
# name falls back to the default; `{targets}` narrows the customers).
_MEMBERS = """
SELECT c.id AS customer_id, c.id AS member_id, COALESCE(z.name, {default_zone}) AS zone
FROM callcenter_customer c LEFT JOIN zones z ON z.name = c.timezone
WHERE c.status = 'active' {targets_c}
UNION ALL
SELECT k.account_id, k.id, COALESCE(z.name, {default_zone})
FROM callcenter_customer k
JOIN callcenter_customer a ON a.id = k.account_id
LEFT JOIN zones z ON z.name = k.timezone
WHERE k.status = 'active' AND a.status = 'active' AND a.kind = 'business' {targets_a}
"""

# Columns written, in order; the upsert skips rows whose values are all the same.
_COLUMNS = (
    "top_category",
    "top_category_share",
    "category_shares",
    "categories_count",
    "repeat_category_share",
    "preferred_channel",
    "preferred_channel_share",
    "usual_hour",
    "usual_weekday",
    "median_gap_days",
    "tickets_inquiry_90d",
    "tickets_complaint_90d",
    "tickets_suggestion_90d",
    "open_tickets",
    "last_csat",
)

_UPSERT = """
WITH zones AS MATERIALIZED (SELECT name FROM pg_timezone_names),
members AS MATERIALIZED ({members}),
paid AS MATERIALIZED (
    SELECT m.customer_id, o.placed_at, o.amount, o.category, o.channel,
           o.placed_at AT TIME ZONE m.zone AS local_at
    FROM members m JOIN callcenter_order o ON o.customer_id = m.member_id
    WHERE o.status = 'paid' AND o.placed_at <= {as_of}
),
per_customer AS (
    SELECT customer_id, count(*) AS orders, sum(amount) AS spend,
           mode() WITHIN GROUP (ORDER BY extract(hour FROM local_at)::int) AS usual_hour,
           mode() WITHIN GROUP (ORDER BY extract(isodow FROM local_at)::int) AS usual_weekday,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY gap_days) AS median_gap_days
    FROM (
        SELECT customer_id, amount, local_at,
               extract(epoch FROM placed_at - lag(placed_at)
                   OVER (PARTITION BY customer_id ORDER BY placed_at)) / 86400 AS gap_days
        FROM paid
    ) p
    GROUP BY customer_id
),
categories AS (
    SELECT customer_id, category, sum(amount) AS spend, count(*) AS orders,
           row_number() OVER (PARTITION BY customer_id
                              ORDER BY sum(amount) DESC, count(*) DESC, category) AS rank
    FROM paid WHERE category <> ''
    GROUP BY customer_id, category
),
per_category AS (
    SELECT k.customer_id,
           count(*) AS categories_count,
           max(k.category) FILTER (WHERE k.rank = 1) AS top_category,
           round(max(k.spend) FILTER (WHERE k.rank = 1) / NULLIF(p.spend, 0), 4)
               AS top_category_share,
           jsonb_object_agg(k.category, round(k.spend / p.spend, 4))
               FILTER (WHERE k.rank <= {top} AND p.spend > 0) AS category_shares,
           round(sum(k.orders - 1)::numeric / sum(k.orders), 4) AS repeat_category_share
    FROM categories k JOIN per_customer p ON p.customer_id = k.customer_id
    GROUP BY k.customer_id, p.spend
),
channels AS (
    SELECT DISTINCT ON (customer_id) customer_id, channel, count(*) AS orders
    FROM paid WHERE channel <> ''
    GROUP BY customer_id, channel
    ORDER BY customer_id, count(*) DESC, channel
),
tickets AS (
    SELECT m.customer_id,
           count(*) FILTER (WHERE t.kind = {inquiry} AND t.opened_at > {d90}) AS inquiries,
           count(*) FILTER (WHERE t.kind = {complaint} AND t.opened_at > {d90}) AS complaints,
           count(*) FILTER (WHERE t.kind = {suggestion} AND t.opened_at > {d90}) AS suggestions,
           count(*) FILTER (WHERE t.status IN ({open_statuses})) AS open_tickets
    FROM members m JOIN callcenter_ticket t ON t.customer_id = m.member_id
    WHERE t.opened_at <= {as_of}
    GROUP BY m.customer_id
),
csat AS (
    SELECT DISTINCT ON (m.customer_id) m.customer_id, s.score
    FROM members m JOIN callcenter_surveyresponse s ON s.customer_id = m.member_id
    WHERE s.kind = {csat} AND s.responded_at <= {as_of}
    ORDER BY m.customer_id, s.responded_at DESC, s.id DESC
)
INSERT INTO {behaviour} AS b (customer_id, {columns}, refreshed_at)
SELECT m.customer_id,
       COALESCE(k.top_category, ''),
       k.top_category_share::float8,
       COALESCE(k.category_shares, '{{}}'::jsonb),
       COALESCE(k.categories_count, 0),
       k.repeat_category_share::float8,
       COALESCE(ch.channel, ''),
       round(ch.orders::numeric / p.orders, 4)::float8,
       p.usual_hour,
       p.usual_weekday,
       round(p.median_gap_days::numeric, 2)::float8,
       COALESCE(t.inquiries, 0),
       COALESCE(t.complaints, 0),
       COALESCE(t.suggestions, 0),
       COALESCE(t.open_tickets, 0),
       s.score,
       {now}
FROM members m
LEFT JOIN per_customer p ON p.customer_id = m.customer_id
LEFT JOIN per_category k ON k.customer_id = m.customer_id
LEFT JOIN channels ch ON ch.customer_id = m.customer_id
LEFT JOIN tickets t ON t.customer_id = m.customer_id
LEFT JOIN csat s ON s.customer_id = m.customer_id
WHERE m.member_id = m.customer_id
ON CONFLICT (customer_id) DO UPDATE SET {updates}, refreshed_at = EXCLUDED.refreshed_at
WHERE ({current}) IS DISTINCT FROM ({excluded})
"""

# Customers whose stored row may be out of date as of `a1` when it was computed as of `a0`:
# changed history (the log snapshot); paid orders, tickets and CSAT answers that became
# current (placed before a refresh that ran with an earlier as-of; the metrics just written
# hold every customer's last paid order); tickets that left the 90-day window; active
# customers without a row. Then the accounts of all these.
_TARGETS = """
INSERT INTO {targets}
SELECT customer_id FROM {seen}
UNION SELECT customer_id FROM {metrics} WHERE last_order_at > {a0} AND last_order_at <= {a1}
UNION SELECT customer_id FROM callcenter_ticket
WHERE kind IN ({kinds}) AND ((opened_at > {a0} AND opened_at <= {a1})
   OR (opened_at > {q0} AND opened_at <= {q1}))
UNION SELECT customer_id FROM callcenter_surveyresponse
WHERE kind = {csat} AND responded_at > {a0} AND responded_at <= {a1}
UNION SELECT c.id FROM callcenter_customer c
WHERE c.status = 'active' AND NOT EXISTS (SELECT 1 FROM {behaviour} b WHERE b.customer_id = c.id)
"""
_TARGET_ACCOUNTS = """
INSERT INTO {targets}
SELECT DISTINCT c.account_id FROM callcenter_customer c JOIN {targets} t ON t.customer_id = c.id
WHERE c.account_id IS NOT NULL
ON CONFLICT DO NOTHING
"""


def _targets_fill(*, as_of: dt.datetime, previous_as_of: dt.datetime) -> int:
    """Fill TARGETS_TABLE with the customers to recompute; returns how many."""
    params = {
        "targets": sql.Identifier(TARGETS_TABLE),
        "seen": sql.Identifier(DIRTY_SEEN_TABLE),
        "metrics": sql.Identifier(_METRICS_TABLE),
        "behaviour": sql.Identifier(_BEHAVIOUR_TABLE),
        "a0": sql.Literal(previous_as_of),
        "a1": sql.Literal(as_of),
        "q0": sql.Literal(previous_as_of - TICKET_WINDOW),
        "q1": sql.Literal(as_of - TICKET_WINDOW),
        "kinds": sql.SQL(", ").join(sql.Literal(str(kind)) for kind in TicketKind.values),
        "csat": sql.Literal(str(SurveyKind.CSAT)),
    }
    with connection.cursor() as cursor:
        cursor.execute(
            sql.SQL(
                "DROP TABLE IF EXISTS pg_temp.{targets}; "
                "CREATE TEMP TABLE {targets} (customer_id bigint PRIMARY KEY) ON COMMIT DROP"
            ).format(targets=sql.Identifier(TARGETS_TABLE))
        )
        cursor.execute(sql.SQL(_TARGETS).format(**params))
        count = cursor.rowcount
        cursor.execute(sql.SQL(_TARGET_ACCOUNTS).format(**params))
        count += cursor.rowcount
        cursor.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(TARGETS_TABLE)))
    return count


def _upsert_sql(*, as_of: dt.datetime, now: dt.datetime, only_targets: bool) -> sql.Composed:
    targets_c: sql.Composable = sql.SQL("")
    targets_a: sql.Composable = sql.SQL("")
    if only_targets:
        targets = sql.SQL("(SELECT customer_id FROM {})").format(sql.Identifier(TARGETS_TABLE))
        targets_c = sql.SQL("AND c.id IN {}").format(targets)
        targets_a = sql.SQL("AND a.id IN {}").format(targets)
    members = sql.SQL(_MEMBERS).format(
        default_zone=sql.Literal(settings.TIME_ZONE), targets_c=targets_c, targets_a=targets_a
    )
    return sql.SQL(_UPSERT).format(
        members=members,
        as_of=sql.Literal(as_of),
        d90=sql.Literal(as_of - TICKET_WINDOW),
        now=sql.Literal(now),
        top=sql.Literal(TOP_CATEGORIES),
        inquiry=sql.Literal(str(TicketKind.INQUIRY)),
        complaint=sql.Literal(str(TicketKind.COMPLAINT)),
        suggestion=sql.Literal(str(TicketKind.SUGGESTION)),
        open_statuses=sql.SQL(", ").join(sql.Literal(str(s)) for s in OPEN_TICKET_STATUSES),
        csat=sql.Literal(str(SurveyKind.CSAT)),
        behaviour=sql.Identifier(_BEHAVIOUR_TABLE),
        columns=sql.SQL(", ").join(map(sql.Identifier, _COLUMNS)),
        updates=sql.SQL(", ").join(
            sql.SQL("{c} = EXCLUDED.{c}").format(c=sql.Identifier(name)) for name in _COLUMNS
        ),
        current=sql.SQL(", ").join(
            sql.SQL("b.{}").format(sql.Identifier(name)) for name in _COLUMNS
        ),
        excluded=sql.SQL(", ").join(
            sql.SQL("EXCLUDED.{}").format(sql.Identifier(name)) for name in _COLUMNS
        ),
    )


def behaviour_refresh(
    *,
    as_of: dt.datetime,
    previous_as_of: dt.datetime | None,
    now: dt.datetime,
    full: bool = False,
) -> dict[str, int]:
    """Bring every active customer's behaviour row up to date as of `as_of` (inside the
    refresh's transaction, after its metrics are written). `previous_as_of`: the as-of of the
    last successful refresh (the stored rows describe it), None when there is none.
    Needs the changed-customers log snapshot (`dirty_log_snapshot`) unless the pass is full.
    Returns the customers recomputed, the rows written and deleted, and whether it was full.
    """
    full = (
        full
        or previous_as_of is None
        or as_of < previous_as_of
        or not CustomerBehaviour.objects.exists()
    )
    targets = 0
    if not full:
        assert previous_as_of is not None
        targets = _targets_fill(as_of=as_of, previous_as_of=previous_as_of)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('work_mem', %s, true), set_config('enable_hashagg', 'on', true)",
            [REFRESH_WORK_MEM],
        )
        cursor.execute(_upsert_sql(as_of=as_of, now=now, only_targets=not full))
        written = cursor.rowcount
        stale = sql.SQL(
            "NOT EXISTS (SELECT 1 FROM callcenter_customer c "
            "WHERE c.id = b.customer_id AND c.status = 'active')"
        )
        if full:
            delete = sql.SQL("DELETE FROM {behaviour} b WHERE {stale}")
        else:
            delete = sql.SQL(
                "DELETE FROM {behaviour} b USING {targets} t "
                "WHERE b.customer_id = t.customer_id AND {stale}"
            )
        cursor.execute(
            delete.format(
                behaviour=sql.Identifier(_BEHAVIOUR_TABLE),
                targets=sql.Identifier(TARGETS_TABLE),
                stale=stale,
            )
        )
        deleted = cursor.rowcount
    if full:
        targets = CustomerBehaviour.objects.count()
    return {
        "behaviour_customers": targets,
        "behaviour_written": written,
        "behaviour_deleted": deleted,
        "behaviour_full": int(full),
    }

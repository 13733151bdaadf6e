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
recomputes only the customers whose history changed (the changed-customers log snapshot:
new customers and status changes included), whose history became current or whose tickets
left the 90-day window as as-of moved, and the accounts of all these. A refresh with no
earlier run to build on, one whose as-of is earlier than the last run's, and the first fill
(no row yet) recompute every active customer; a full refresh does not (see
`behaviour_refresh`). Either way only rows that differ are written.
"""

import datetime as dt
import zoneinfo

from django.conf import settings
from django.db import connection
from psycopg import sql

from callcenter.choices import SurveyKind, TicketKind, TicketStatus
from segments.choices import AGE_BAND_UPPER_BOUNDS, AgeBand
from segments.models import CustomerBehaviour, CustomerMetrics
from segments.services.customer_sets import customer_rows_delete, customer_set_create
from segments.services.metrics import DIRTY_SEEN_TABLE, REFRESH_WORK_MEM

TARGETS_TABLE = "segments_behaviour_targets"
# How many categories `category_shares` keeps (the largest by spend).
TOP_CATEGORIES = 5
TICKET_WINDOW = dt.timedelta(days=90)
OPEN_TICKET_STATUSES = (TicketStatus.OPEN, TicketStatus.IN_PROGRESS, TicketStatus.WAITING)

_BEHAVIOUR_TABLE = CustomerBehaviour._meta.db_table
_METRICS_TABLE = CustomerMetrics._meta.db_table

# Every customer to compute, with the customers whose history counts for them (itself; for an
# active business account also its active contacts) and the member's time zone (`{zone}`: a
# name PostgreSQL may not know falls back to the default; `{targets}` narrows the customers).
_MEMBERS = """
SELECT c.id AS customer_id, c.id AS member_id, COALESCE(z.name, {default_zone}) AS zone
FROM {customers}
LEFT JOIN zones z ON z.name = c.timezone
WHERE c.status = 'active'
UNION ALL
SELECT k.account_id, k.id, COALESCE(z.name, {default_zone})
FROM {accounts}
JOIN callcenter_customer k ON k.account_id = a.id
LEFT JOIN zones z ON z.name = k.timezone
WHERE k.status = 'active' AND a.status = 'active' AND a.kind = 'business'
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
WITH zones AS (SELECT name FROM unnest({zones}::text[]) AS z (name)),
members AS MATERIALIZED ({members}),
paid AS MATERIALIZED (
    SELECT m.customer_id, o.placed_at, o.amount, o.category, o.channel,
           o.placed_at AT TIME ZONE m.zone AS local_at
    FROM members m {orders_join}
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
    -- Orders without a category count in the spend (the shares' denominator), ranked last.
    SELECT customer_id, category, sum(amount) AS spend, count(*) AS orders,
           sum(sum(amount)) OVER (PARTITION BY customer_id) AS total,
           row_number() OVER (PARTITION BY customer_id ORDER BY category = '',
                              sum(amount) DESC, count(*) DESC, category) AS rank
    FROM paid
    GROUP BY customer_id, category
),
per_category AS (
    SELECT customer_id,
           count(*) FILTER (WHERE category <> '') AS categories_count,
           max(category) FILTER (WHERE rank = 1 AND category <> '') AS top_category,
           round(max(spend) FILTER (WHERE rank = 1 AND category <> '') / NULLIF(max(total), 0),
                 4) AS top_category_share,
           jsonb_object_agg(category, round(spend / total, 4))
               FILTER (WHERE rank <= {top} AND category <> '' AND total > 0) AS category_shares,
           round(sum(orders - 1) FILTER (WHERE category <> '')::numeric
                 / NULLIF(sum(orders) FILTER (WHERE category <> ''), 0), 4)
               AS repeat_category_share
    FROM categories
    GROUP BY customer_id
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
# hold every customer's last paid order); tickets that left the 90-day window. Then the
# accounts of all these. Active customers without a row need no scan of their own: a new
# customer, or one active again, is in the log (the customer trigger logs inserts and status
# changes), and an emptied table is filled again in full.
_TARGETS = """
INSERT INTO {targets}
SELECT customer_id FROM {seen}
UNION SELECT customer_id FROM {metrics} WHERE last_order_at > {a0} AND last_order_at <= {a1}
UNION SELECT customer_id FROM callcenter_ticket
WHERE kind IN ({kinds}) AND ((opened_at > {a0} AND opened_at <= {a1})
   OR (opened_at > {q0} AND opened_at <= {q1}))
UNION SELECT customer_id FROM callcenter_surveyresponse
WHERE kind = {csat} AND responded_at > {a0} AND responded_at <= {a1}
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
        customer_set_create(cursor, TARGETS_TABLE)
        cursor.execute(sql.SQL(_TARGETS).format(**params))
        count = cursor.rowcount
        cursor.execute(sql.SQL(_TARGET_ACCOUNTS).format(**params))
        count += cursor.rowcount
        cursor.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(TARGETS_TABLE)))
    return count


def _upsert_sql(*, as_of: dt.datetime, now: dt.datetime, only_targets: bool) -> sql.Composed:
    customers: sql.Composable = sql.SQL("callcenter_customer c")
    accounts: sql.Composable = sql.SQL("callcenter_customer a")
    if only_targets:
        # Driven by the targets: index probes, not a scan of every customer.
        customers = sql.SQL("{t} t JOIN callcenter_customer c ON c.id = t.customer_id").format(
            t=sql.Identifier(TARGETS_TABLE)
        )
        accounts = sql.SQL("{t} t JOIN callcenter_customer a ON a.id = t.customer_id").format(
            t=sql.Identifier(TARGETS_TABLE)
        )
    members = sql.SQL(_MEMBERS).format(
        default_zone=sql.Literal(settings.TIME_ZONE), customers=customers, accounts=accounts
    )
    if only_targets:
        # A few customers: their orders through the (customer, time) index, which the planner
        # would not choose, not knowing how few members the materialized CTE holds (OFFSET 0
        # keeps it from flattening the lateral subquery into a hash join over every order). The
        # index carries every column read: an index-only scan, no heap page per order.
        orders_join = sql.SQL(
            "CROSS JOIN LATERAL (SELECT placed_at, amount, category, channel "
            "FROM callcenter_order o WHERE o.customer_id = m.member_id AND o.status = 'paid' "
            "AND o.placed_at <= {as_of} OFFSET 0) o"
        )
    else:
        orders_join = sql.SQL(
            "JOIN callcenter_order o ON o.customer_id = m.member_id "
            "AND o.status = 'paid' AND o.placed_at <= {as_of}"
        )
    return sql.SQL(_UPSERT).format(
        # The zone names Python knows, joined by hash: a name PostgreSQL does not know would
        # fail the whole refresh, and its own list (pg_timezone_names) opens every zone file.
        zones=sql.Literal(sorted(zoneinfo.available_timezones())),
        orders_join=orders_join.format(as_of=sql.Literal(as_of)),
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
) -> dict[str, int]:
    """Bring every active customer's behaviour row up to date as of `as_of` (inside the
    refresh's transaction, after its metrics are written). `previous_as_of`: the as-of of the
    last successful refresh (the stored rows describe it), None to recompute everybody.
    Everybody is recomputed too while no row exists yet (the first fill), but not on a full
    refresh otherwise: the rows depend on history and the 90-day ticket edge alone, which the
    incremental pass follows, and recomputing everybody costs seconds per million orders
    (docs/performance.md).
    Needs the changed-customers log snapshot (`dirty_log_snapshot`) unless the pass is full.
    Returns the customers recomputed, the rows written and deleted, and whether it was full.
    """
    full = (
        previous_as_of is None or as_of < previous_as_of or not CustomerBehaviour.objects.exists()
    )
    targets = 0
    if not full:
        assert previous_as_of is not None
        targets = _targets_fill(as_of=as_of, previous_as_of=previous_as_of)
    with connection.cursor() as cursor:
        # Every customer: hash and merge joins only. The planner cannot estimate the rows of
        # the materialised lists and would otherwise nest loops over a hundred thousand rows.
        # No JIT: compiling this statement's many expressions costs seconds, more than it saves.
        cursor.execute(
            "SELECT current_setting('enable_nestloop'), current_setting('jit'), "
            "set_config('work_mem', %s, true), set_config('enable_hashagg', 'on', true), "
            "set_config('enable_nestloop', %s, true), set_config('jit', 'off', true)",
            [REFRESH_WORK_MEM, "off" if full else "on"],
        )
        nestloop, jit = cursor.fetchone()[:2]
        cursor.execute(_upsert_sql(as_of=as_of, now=now, only_targets=not full))
        written = cursor.rowcount
        # The phases after this one plan as before.
        cursor.execute(
            "SELECT set_config('enable_nestloop', %s, true), set_config('jit', %s, true)",
            [nestloop, jit],
        )
        stale = sql.SQL(
            "NOT EXISTS (SELECT 1 FROM callcenter_customer c "
            "WHERE c.id = b.customer_id AND c.status = 'active')"
        )
        deleted = customer_rows_delete(
            cursor,
            table=_BEHAVIOUR_TABLE,
            alias="b",
            condition=stale,
            within=None if full else TARGETS_TABLE,
        )
    if full:
        targets = CustomerBehaviour.objects.count()
    return {
        "behaviour_customers": targets,
        "behaviour_written": written,
        "behaviour_deleted": deleted,
        "behaviour_full": int(full),
    }


def age_sql(as_of: str, birthday: str) -> sql.Composable:
    """SQL for the whole years from the date `birthday` to the timestamptz `as_of`'s day in
    TIME_ZONE (what the `age` rule field compares)."""
    return sql.SQL(
        "extract(year from age(({as_of} AT TIME ZONE {tz})::date, {birthday}))::int"
    ).format(as_of=sql.SQL(as_of), tz=sql.Literal(settings.TIME_ZONE), birthday=sql.SQL(birthday))


def age_band_sql(age: sql.Composable) -> sql.Composable:
    """SQL for the AgeBand of the whole age `age` (null stays null)."""
    bands = sql.SQL(" ").join(
        sql.SQL("WHEN {age} < {upper} THEN {band}").format(
            age=age, upper=sql.Literal(upper), band=sql.Literal(str(band))
        )
        for upper, band in AGE_BAND_UPPER_BOUNDS
    )
    return sql.SQL("CASE WHEN {age} IS NULL THEN NULL {bands} ELSE {oldest} END").format(
        age=age, bands=bands, oldest=sql.Literal(str(AgeBand.FROM_65))
    )


def overdue_ratio_sql(as_of: str, last_order_at: str, median_gap_days: str) -> sql.Composable:
    """SQL for whole days since the last paid order over the median gap (the `overdue_ratio`
    rule field), rounded to two decimals; null without both."""
    return sql.SQL(
        "round((floor(extract(epoch from ({as_of} - {last})) / 86400) "
        "/ NULLIF({gap}, 0))::numeric, 2)"
    ).format(as_of=sql.SQL(as_of), last=sql.SQL(last_order_at), gap=sql.SQL(median_gap_days))

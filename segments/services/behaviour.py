"""What customers buy, how and when, and their service history: `CustomerBehaviour`, written
inside the refresh's transaction, no per-customer Python: the habits in numpy from order rows
read on a second connection while the refresh goes on (`behaviour_ahead`), the service history
set-based in SQL.

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
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager

import pandas as pd
from django.conf import settings
from django.db import connection
from django.db.backends.utils import CursorWrapper
from psycopg import sql

from callcenter.choices import SurveyKind, TicketKind, TicketStatus
from segments.choices import AGE_BAND_UPPER_BOUNDS, AgeBand
from segments.models import CustomerBehaviour, CustomerMetrics
from segments.services.customer_sets import (
    customer_rows_delete,
    customer_set_create,
    frame_csv,
    ids_csv,
    rows_copy,
)
from segments.services.habits import HABIT_COLUMNS, ORDER_ROW_COLUMNS, habits_compute
from segments.services.metrics import (
    DIRTY_SEEN_TABLE,
    REFRESH_WORK_MEM,
    copy_frame,
    on_own_connection,
    outer_transaction_open,
)

TARGETS_TABLE = "segments_behaviour_targets"
HABITS_TABLE = "segments_behaviour_habits"
# Customers whose orders one COPY brings out at a time in a full pass (bounds the memory: about
# 30 bytes per order row in the arrays, a few times that while the CSV is parsed).
HABITS_CHUNK_CUSTOMERS = 125_000
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

# Columns written, in order: the habits (after the customer id), then the service history; the
# upsert skips rows whose values are all the same.
_COLUMNS = (
    *HABIT_COLUMNS[1:],
    "tickets_inquiry_90d",
    "tickets_complaint_90d",
    "tickets_suggestion_90d",
    "open_tickets",
    "last_csat",
)

# The paid orders counted for each customer to compute, one row each: the moment (seconds since
# the epoch, float8: exact to the microsecond for centuries), the time zone of whoever placed it,
# the amount; nothing computed per row here, the hour and weekday are found in numpy. Each
# member's orders come through the covering index `order_customer_rollup` (an index-only scan
# per member; OFFSET 0 keeps the planner from flattening the lateral subquery into a hash join
# over every order, which it would choose not knowing how few members the materialised list
# holds when only some customers are recomputed).
_ORDER_ROWS = """
WITH zones AS (SELECT name FROM unnest({zones}::text[]) AS z (name)),
members AS MATERIALIZED ({members})
SELECT m.customer_id, date_part('epoch', o.placed_at) AS epoch, m.zone, o.amount, o.category,
       o.channel
FROM members m
CROSS JOIN LATERAL (
    SELECT placed_at, amount, category, channel FROM callcenter_order o
    WHERE o.customer_id = m.member_id AND o.status = 'paid' AND o.placed_at <= {as_of}
    OFFSET 0
) o
"""

_HABITS_TABLE_CREATE = """
DROP TABLE IF EXISTS pg_temp.{habits};
CREATE TEMP TABLE {habits} (
    customer_id bigint,
    top_category text,
    top_category_share float8,
    category_shares jsonb,
    categories_count integer,
    repeat_category_share float8,
    preferred_channel text,
    preferred_channel_share float8,
    usual_hour integer,
    usual_weekday integer,
    median_gap_days float8
) ON COMMIT DROP
"""

# The habits computed from the orders (HABITS_TABLE) with the service history, for every
# customer to compute; only rows that differ from the stored ones are written.
_UPSERT = """
WITH zones AS (SELECT name FROM unnest({zones}::text[]) AS z (name)),
members AS MATERIALIZED ({members}),
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
       COALESCE(h.top_category, ''),
       h.top_category_share,
       COALESCE(h.category_shares, '{{}}'::jsonb),
       COALESCE(h.categories_count, 0),
       h.repeat_category_share,
       COALESCE(h.preferred_channel, ''),
       h.preferred_channel_share,
       h.usual_hour,
       h.usual_weekday,
       h.median_gap_days,
       COALESCE(t.inquiries, 0),
       COALESCE(t.complaints, 0),
       COALESCE(t.suggestions, 0),
       COALESCE(t.open_tickets, 0),
       s.score,
       {now}
FROM members m
LEFT JOIN {habits} h ON h.customer_id = m.customer_id
LEFT JOIN tickets t ON t.customer_id = m.customer_id
LEFT JOIN csat s ON s.customer_id = m.customer_id
WHERE m.member_id = m.customer_id
{on_conflict}"""
# Into a table that held rows: only rows that differ are written. Into an empty one (the first
# fill) a plain INSERT: each row's conflict check (a speculative insertion) costs a large share
# of inserting it (docs/performance.md, the behaviour phase).
_ON_CONFLICT = """
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


def _members_sql(*, only_targets: bool, id_range: tuple[int, int] | None = None) -> sql.Composed:
    """The members statement: every active customer (or the targets', or those with ids in the
    half-open `id_range`) with the customers whose history counts for it."""
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
    elif id_range is not None:
        in_range = sql.SQL(
            "(SELECT * FROM callcenter_customer WHERE id >= {lo} AND id < {hi}) {alias}"
        )
        bounds = {"lo": sql.Literal(id_range[0]), "hi": sql.Literal(id_range[1])}
        customers = in_range.format(alias=sql.Identifier("c"), **bounds)
        accounts = in_range.format(alias=sql.Identifier("a"), **bounds)
    return sql.SQL(_MEMBERS).format(
        default_zone=sql.Literal(settings.TIME_ZONE), customers=customers, accounts=accounts
    )


def _zones() -> sql.Composable:
    # The zone names Python knows, joined by hash: a name PostgreSQL does not know would fail
    # the whole refresh, and its own list (pg_timezone_names) opens every zone file.
    return sql.Literal(sorted(zoneinfo.available_timezones()))


def _id_ranges(cursor: CursorWrapper) -> list[tuple[int, int]]:
    """Half-open ranges of customer ids holding about HABITS_CHUNK_CUSTOMERS active customers
    each (ids spread evenly between the smallest and the largest)."""
    cursor.execute(
        "SELECT min(id), max(id), count(*) FROM callcenter_customer WHERE status = 'active'"
    )
    low, high, count = cursor.fetchone()
    if not count:
        return []
    parts = -(-count // HABITS_CHUNK_CUSTOMERS)
    step = -(-(high + 1 - low) // parts)
    return [(lo, min(lo + step, high + 1)) for lo in range(low, high + 1, step)]


def _targets_copy(cursor: CursorWrapper, ids: list[int]) -> None:
    """TARGETS_TABLE on this connection, holding `ids`."""
    customer_set_create(cursor, TARGETS_TABLE)
    rows_copy(cursor.cursor, TARGETS_TABLE, ["customer_id"], ids_csv(ids))
    cursor.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(TARGETS_TABLE)))


def _habits_csv(
    *, as_of: dt.datetime, full: bool, targets: list[int] | None
) -> tuple[list[bytes], int]:
    """The habits (HABIT_COLUMNS) of every customer to compute (all, or the targets: those in
    TARGETS_TABLE, or `targets` put there first on this connection) from their paid orders, a
    part of the customers at a time, as COPY payloads; returns them and the order rows read.

    While numpy computes one part in a thread, PostgreSQL produces the next part's rows on
    this connection (libpq and Arrow's parser wait and work without the GIL): the two run on
    two cores. The connection is only ever used by this thread.
    """
    payloads: list[bytes] = []
    read = 0
    with connection.cursor() as cursor:
        if targets is not None:
            _targets_copy(cursor, targets)
        parts: list[tuple[int, int] | None] = list(_id_ranges(cursor)) if full else [None]
        with ThreadPoolExecutor(max_workers=1) as pool:
            computing: Future[pd.DataFrame] | None = None
            for id_range in parts:
                statement = sql.SQL(_ORDER_ROWS).format(
                    zones=_zones(),
                    members=_members_sql(only_targets=not full, id_range=id_range),
                    as_of=sql.Literal(as_of),
                )
                rows = copy_frame(statement, ORDER_ROW_COLUMNS)
                read += len(rows)
                if computing is not None:
                    payloads.append(frame_csv(computing.result()))
                    computing = None
                if not rows.empty:
                    computing = pool.submit(habits_compute, rows)
                del rows
            if computing is not None:
                payloads.append(frame_csv(computing.result()))
    return payloads, read


def _on_conflict_sql() -> sql.Composed:
    return sql.SQL(_ON_CONFLICT).format(
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


def _upsert_sql(
    *, as_of: dt.datetime, now: dt.datetime, only_targets: bool, into_empty: bool
) -> sql.Composed:
    return sql.SQL(_UPSERT).format(
        zones=_zones(),
        members=_members_sql(only_targets=only_targets),
        habits=sql.Identifier(HABITS_TABLE),
        as_of=sql.Literal(as_of),
        d90=sql.Literal(as_of - TICKET_WINDOW),
        now=sql.Literal(now),
        inquiry=sql.Literal(str(TicketKind.INQUIRY)),
        complaint=sql.Literal(str(TicketKind.COMPLAINT)),
        suggestion=sql.Literal(str(TicketKind.SUGGESTION)),
        open_statuses=sql.SQL(", ").join(sql.Literal(str(s)) for s in OPEN_TICKET_STATUSES),
        csat=sql.Literal(str(SurveyKind.CSAT)),
        behaviour=sql.Identifier(_BEHAVIOUR_TABLE),
        columns=sql.SQL(", ").join(map(sql.Identifier, _COLUMNS)),
        on_conflict=sql.SQL("") if into_empty else _on_conflict_sql(),
    )


def _target_ids() -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(sql.SQL("SELECT customer_id FROM {}").format(sql.Identifier(TARGETS_TABLE)))
        return [row[0] for row in cursor.fetchall()]


@contextmanager
def behaviour_ahead(
    *,
    as_of: dt.datetime,
    previous_as_of: dt.datetime | None,
    now: dt.datetime,
    own_transaction: bool = False,
) -> Iterator[Callable[[], dict[str, int]]]:
    """Start bringing every active customer's behaviour row up to date as of `as_of` (inside
    the refresh's transaction, after its metrics are written); yields the function that
    finishes it (writes the rows) and returns its counts. `previous_as_of`: the as-of of the
    last successful refresh (the stored rows describe it), None to recompute everybody.
    Everybody is recomputed too while no row exists yet (the first fill), but not on a full
    refresh otherwise: the rows depend on history and the 90-day ticket edge alone, which the
    incremental pass follows (docs/performance.md).
    Needs the changed-customers log snapshot (`dirty_log_snapshot`) unless the pass is full.

    The habits are computed from the orders on a second connection, in a thread, while the
    caller goes on (the refresh diffs its built-in segments meanwhile, which keeps one core
    busy in PostgreSQL): only reads, of history the refresh does not write, for customers
    chosen here first. Inside somebody's open transaction (see `outer_transaction_open`,
    `own_transaction` as there) they are computed on this connection when finishing.
    The counts: the customers recomputed, the order rows read, the rows written and deleted,
    and whether it was full.
    """
    empty = not CustomerBehaviour.objects.exists()
    full = previous_as_of is None or as_of < previous_as_of or empty
    targets = 0
    if not full:
        assert previous_as_of is not None
        targets = _targets_fill(as_of=as_of, previous_as_of=previous_as_of)

    if outer_transaction_open(own_transaction):
        yield lambda: _behaviour_write(
            _habits_csv(as_of=as_of, full=full, targets=None),
            as_of=as_of,
            now=now,
            full=full,
            empty=empty,
            targets=targets,
        )
        return
    ids = None if full else _target_ids()
    with ThreadPoolExecutor(max_workers=1) as pool:
        habits = pool.submit(
            on_own_connection, lambda: _habits_csv(as_of=as_of, full=full, targets=ids)
        )
        yield lambda: _behaviour_write(
            habits.result(), as_of=as_of, now=now, full=full, empty=empty, targets=targets
        )


def _behaviour_write(
    habits: tuple[list[bytes], int],
    *,
    as_of: dt.datetime,
    now: dt.datetime,
    full: bool,
    empty: bool,
    targets: int,
) -> dict[str, int]:
    """Write the computed habits with the service history: every row that differs, then
    delete the rows of customers no longer active; returns the counts (`behaviour_ahead`)."""
    payloads, order_rows = habits
    with connection.cursor() as cursor:
        cursor.execute(sql.SQL(_HABITS_TABLE_CREATE).format(habits=sql.Identifier(HABITS_TABLE)))
        for payload in payloads:
            rows_copy(cursor.cursor, HABITS_TABLE, HABIT_COLUMNS, payload)
        # Its size and key are all the joins need (every column took several times longer).
        cursor.execute(sql.SQL("ANALYZE {} (customer_id)").format(sql.Identifier(HABITS_TABLE)))
        # Every customer: hash joins only (the planner cannot estimate the rows of the
        # materialised lists and would otherwise nest loops over a million rows). No JIT
        # either, as in the whole refresh (`transaction_jit_off`).
        cursor.execute(
            "SELECT current_setting('enable_nestloop'), "
            "set_config('work_mem', %s, true), set_config('enable_hashagg', 'on', true), "
            "set_config('enable_nestloop', %s, true)",
            [REFRESH_WORK_MEM, "off" if full else "on"],
        )
        nestloop = cursor.fetchone()[0]
        cursor.execute(_upsert_sql(as_of=as_of, now=now, only_targets=not full, into_empty=empty))
        written = cursor.rowcount
        # The phases after this one plan as before.
        cursor.execute("SELECT set_config('enable_nestloop', %s, true)", [nestloop])
        deleted = 0
        if not empty:
            # Rows of customers no longer active (a first fill inserted active customers only).
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
        targets = written if empty else CustomerBehaviour.objects.count()
    return {
        "behaviour_customers": targets,
        "behaviour_order_rows": order_rows,
        "behaviour_written": written,
        "behaviour_deleted": deleted,
        "behaviour_full": int(full),
    }


def behaviour_refresh(
    *,
    as_of: dt.datetime,
    previous_as_of: dt.datetime | None,
    now: dt.datetime,
) -> dict[str, int]:
    """`behaviour_ahead` finished at once: every active customer's behaviour row brought up to
    date as of `as_of`; returns its counts."""
    with behaviour_ahead(as_of=as_of, previous_as_of=previous_as_of, now=now) as finish:
        return finish()


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

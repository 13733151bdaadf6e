"""One set-based SQL pass computing every active customer's raw metrics, moved to pandas by COPY.

The aggregation runs inside PostgreSQL (aggregates over orders, interactions, tickets and
surveys joined to customers); its result leaves the server as one `COPY ... TO STDOUT` stream in
CSV and is parsed by pandas' pyarrow reader, never row by row in Python.

A steady refresh aggregates only the customers whose metrics can have changed since the stored
ones (`metrics_frame_incremental`): those in the changed-customers log that database triggers
fill (see segments/migrations/0004_dirty_customers.py), and those whose stored row's moment of
change by the clock has come (`orders_edge_at`, `contacts_edge_at`: the first moment a paid
order, a contact or a complaint leaves its window, or one dated later becomes current, computed
by the same aggregation). Everybody else's raw metrics are read back from the metrics table,
on a second connection and as Arrow columns (`metrics_stored_rows_ahead`).
"""

import io
import select
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import TypeVar

import adbc_driver_postgresql.dbapi as adbc_dbapi
import pandas as pd
import psycopg
import pyarrow as pa
from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper
from psycopg import pq, sql
from psycopg.conninfo import make_conninfo

from segments.models import CustomerMetrics, DirtyCustomer
from segments.services.customer_sets import customer_set_create, ids_csv, rows_copy

T = TypeVar("T")

# The type of every moment read from the database into a frame.
DATETIME_DTYPE = "datetime64[us, UTC]"

# Memory for the hashes and sorts of one refresh: at PostgreSQL's default (4 MB) a hash
# aggregate of millions of rows spills to disk; ~1 GB keeps 10M orders in memory.
REFRESH_WORK_MEM = "1GB"


def transaction_jit_off() -> None:
    """No JIT compilation for the rest of this connection's transaction.

    PostgreSQL compiles a statement whose estimated cost passes `jit_above_cost`. The
    refresh's statements are planned over tables of millions of rows, so most pass it, and on
    a steady night, when each reads a few thousand of them, compiling cost more than it saved;
    the full pass, which reads them all, ran as fast without (docs/performance.md, "JIT off").
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('jit', 'off', true)")


_ORDER_COLUMNS_NAMES = (
    "first_order_at",
    "last_order_at",
    "orders_lifetime",
    "frequency",
    "monetary",
    "orders_90d",
    "spend_90d",
    "spend_lifetime",
    "orders_edge_at",
)
METRICS_COLUMNS = {
    "customer_id": "int64",
    "kind": "string",
    "first_order_at": "datetime",
    "last_order_at": "datetime",
    "orders_lifetime": "int64",
    "frequency": "int64",
    "monetary": "float64",
    "orders_90d": "int64",
    "spend_90d": "float64",
    "spend_lifetime": "float64",
    "interactions_30d": "int64",
    "avg_sentiment_30d": "float64",
    "last_contact_at": "datetime",
    "complaints_90d": "int64",
    "last_nps": "float64",
    "orders_edge_at": "datetime",
    "contacts_edge_at": "datetime",
}

ORDER_PART_COLUMNS = {
    "customer_id": "int64",
    **{name: METRICS_COLUMNS[name] for name in _ORDER_COLUMNS_NAMES},
}
OTHER_PART_COLUMNS = {
    name: kind for name, kind in METRICS_COLUMNS.items() if name not in _ORDER_COLUMNS_NAMES
}

# Stored score columns read back on an incremental refresh, to write back only what changed.
STORED_SCORE_COLUMNS = {
    "avg_order_value": "float64",
    "r_score": "Int64",
    "f_score": "Int64",
    "m_score": "Int64",
    "rfm_code": "string",
    "rfm_segment": "string",
    "lifecycle_stage": "string",
    "value_tier": "string",
    "churn_probability": "float64",
    "cluster": "Int64",
    "p_alive": "float64",
    "expected_orders_90d": "float64",
    "expected_orders_365d": "float64",
    "expected_order_value": "float64",
    "predicted_value_365d": "float64",
    "value_potential": "string",
}
DIRTY_SEEN_TABLE = "segments_dirty_seen"
DIRTY_NOW_TABLE = "segments_dirty_now"
_DIRTY_LOG = DirtyCustomer._meta.db_table
_METRICS_TABLE = CustomerMetrics._meta.db_table

# Paid orders per customer: the costliest part (every order is read). `{orders}` is the paid
# orders, of every customer or of some (see `_histories`). Orders dated after as-of count for
# nothing but the moment the clock next changes the figures (`orders_edge_at`: an order leaving
# the window or the 90 days, or one becoming current).
_ORDERS = """
SELECT customer_id,
       min(placed_at) FILTER (WHERE placed_at <= {as_of}) AS first_order_at,
       max(placed_at) FILTER (WHERE placed_at <= {as_of}) AS last_order_at,
       count(*) FILTER (WHERE placed_at <= {as_of}) AS orders_lifetime,
       count(*) FILTER (WHERE placed_at > {window_start} AND placed_at <= {as_of}) AS frequency,
       sum(amount) FILTER (WHERE placed_at > {window_start} AND placed_at <= {as_of})
           AS monetary,
       count(*) FILTER (WHERE placed_at > {d90} AND placed_at <= {as_of}) AS orders_90d,
       sum(amount) FILTER (WHERE placed_at > {d90} AND placed_at <= {as_of}) AS spend_90d,
       sum(amount) FILTER (WHERE placed_at <= {as_of}) AS spend_lifetime,
       least(min(placed_at) FILTER (WHERE placed_at > {window_start} AND placed_at <= {as_of})
                 + {window},
             min(placed_at) FILTER (WHERE placed_at > {d90} AND placed_at <= {as_of})
                 + {days90},
             min(placed_at) FILTER (WHERE placed_at > {as_of})) AS orders_edge_at
FROM {orders}
GROUP BY customer_id
"""
# Order columns that are zero, not null, for a customer without paid orders.
_ORDER_COUNTS = _ORDER_COLUMNS_NAMES[2:-1]

# Every active customer with the other metrics; `{order_columns}` and `{orders_join}` bring
# the orders part in (one statement) or leave it to a query of its own (see metrics_frame).
_AGGREGATION = """
SELECT c.id AS customer_id,
       c.kind,
       {order_columns}
       COALESCE(i.interactions_30d, 0) AS interactions_30d,
       i.avg_sentiment_30d,
       i.last_contact_at,
       COALESCE(t.complaints_90d, 0) AS complaints_90d,
       s.last_nps,
       {orders_edge}
       least(i.edge_at, t.edge_at, f.edge_at) AS contacts_edge_at
FROM callcenter_customer c
{orders_join}
LEFT JOIN (
    SELECT customer_id,
           count(*) FILTER (WHERE occurred_at > {d30} AND occurred_at <= {as_of})
               AS interactions_30d,
           avg(sentiment) FILTER (WHERE occurred_at > {d30} AND occurred_at <= {as_of})
               AS avg_sentiment_30d,
           max(occurred_at) FILTER (WHERE occurred_at <= {as_of}) AS last_contact_at,
           least(min(occurred_at) FILTER (WHERE occurred_at > {d30} AND occurred_at <= {as_of})
                     + {days30},
                 min(occurred_at) FILTER (WHERE occurred_at > {as_of})) AS edge_at
    FROM {interactions}
    GROUP BY customer_id
) i ON i.customer_id = c.id
LEFT JOIN (
    SELECT customer_id, count(*) FILTER (WHERE opened_at <= {as_of}) AS complaints_90d,
           least(min(opened_at) FILTER (WHERE opened_at <= {as_of}) + {days90},
                 min(opened_at) FILTER (WHERE opened_at > {as_of})) AS edge_at
    FROM callcenter_ticket
    WHERE kind = 'complaint' AND opened_at > {d90} {only}
    GROUP BY customer_id
) t ON t.customer_id = c.id
LEFT JOIN (
    SELECT DISTINCT ON (customer_id) customer_id, score AS last_nps
    FROM callcenter_surveyresponse
    WHERE kind = 'nps' AND responded_at <= {as_of} {only}
    ORDER BY customer_id, responded_at DESC, id DESC
) s ON s.customer_id = c.id
LEFT JOIN (
    SELECT customer_id, min(responded_at) AS edge_at
    FROM callcenter_surveyresponse
    WHERE kind = 'nps' AND responded_at > {as_of} {only}
    GROUP BY customer_id
) f ON f.customer_id = c.id
WHERE c.status = 'active' {customer_filter}
"""


# A business account's roll-up: its own and its active contacts' paid orders and complaints,
# for the accounts with at least one contact (`{only}` narrows the accounts), read from the
# history. Used for a part of the customers (a range of ids, see segments.services.distributed),
# where the contacts' own figures may be in another part; a frame of every customer rolls up
# in pandas from the figures it holds (`_rolled_up`), without reading the orders twice. It
# replaces those accounts' own figures; the contacts keep their own. A contact is always a
# person (the link service refuses anything else), so nothing rolls up twice.
_ACCOUNT_ROLLUP = """
WITH members AS (
    SELECT a.id AS account_id, a.id AS member_id
    FROM callcenter_customer a
    WHERE a.kind = 'business' AND a.status = 'active' {only}
      AND EXISTS (SELECT 1 FROM callcenter_customer k
                  WHERE k.account_id = a.id AND k.status = 'active')
    UNION ALL
    SELECT k.account_id, k.id
    FROM callcenter_customer k JOIN callcenter_customer a ON a.id = k.account_id
    WHERE k.status = 'active' AND a.kind = 'business' AND a.status = 'active' {only}
)
SELECT m.account_id AS customer_id,
       o.first_order_at, o.last_order_at,
       COALESCE(o.orders_lifetime, 0) AS orders_lifetime,
       COALESCE(o.frequency, 0) AS frequency,
       o.monetary,
       COALESCE(o.orders_90d, 0) AS orders_90d,
       o.spend_90d,
       COALESCE(o.spend_lifetime, 0) AS spend_lifetime,
       COALESCE(t.complaints_90d, 0) AS complaints_90d
FROM (SELECT DISTINCT account_id FROM members) m
LEFT JOIN (
    SELECT mm.account_id,
           min(placed_at) AS first_order_at,
           max(placed_at) AS last_order_at,
           count(*) AS orders_lifetime,
           count(*) FILTER (WHERE placed_at > {window_start}) AS frequency,
           sum(amount) FILTER (WHERE placed_at > {window_start}) AS monetary,
           count(*) FILTER (WHERE placed_at > {d90}) AS orders_90d,
           sum(amount) FILTER (WHERE placed_at > {d90}) AS spend_90d,
           sum(amount) AS spend_lifetime
    FROM members mm JOIN callcenter_order o ON o.customer_id = mm.member_id
    WHERE o.status = 'paid' AND o.placed_at <= {as_of}
    GROUP BY mm.account_id
) o ON o.account_id = m.account_id
LEFT JOIN (
    SELECT mm.account_id, count(*) AS complaints_90d
    FROM members mm JOIN callcenter_ticket t ON t.customer_id = mm.member_id
    WHERE t.kind = 'complaint' AND t.opened_at > {d90} AND t.opened_at <= {as_of}
    GROUP BY mm.account_id
) t ON t.account_id = m.account_id
"""
# An account's own moment of change stays its own: a contact whose moment comes is re-aggregated
# and takes its account along (see `_dirty_customers`).
ACCOUNT_ROLLUP_COLUMNS = {
    **{name: kind for name, kind in ORDER_PART_COLUMNS.items() if name != "orders_edge_at"},
    "complaints_90d": "int64",
}


def _account_rollup_sql(
    as_of: datetime, window_days: int, id_range: tuple[int, int]
) -> sql.Composed:
    """The roll-up statement of the accounts with ids in the half-open `id_range`."""
    only = sql.SQL("AND a.id >= {lo} AND a.id < {hi}").format(
        lo=sql.Literal(id_range[0]), hi=sql.Literal(id_range[1])
    )
    return sql.SQL(_ACCOUNT_ROLLUP).format(
        only=only,
        as_of=sql.Literal(as_of),
        window_start=sql.Literal(as_of - timedelta(days=window_days)),
        d90=sql.Literal(as_of - timedelta(days=90)),
    )


def _with_account_rollup(frame: pd.DataFrame, rollup: pd.DataFrame) -> pd.DataFrame:
    """`frame` with the accounts' own order and complaint figures replaced by their roll-up
    (vectorised: one indexed assignment for all accounts)."""
    if rollup.empty:
        return frame
    rollup = rollup.set_index("customer_id")
    rollup = rollup[rollup.index.isin(frame["customer_id"])]
    positions = frame.index[frame["customer_id"].isin(rollup.index)]
    ids = frame.loc[positions, "customer_id"]
    for column in rollup.columns:
        # `.array`, not `.to_numpy()`: that would make time-zone-aware moments Python objects.
        frame.loc[positions, column] = rollup.loc[ids, column].array
    return frame


# Every active contact of an active business account, with the account.
_ACCOUNT_LINKS = """
SELECT k.id AS customer_id, k.account_id
FROM callcenter_customer k JOIN callcenter_customer a ON a.id = k.account_id
WHERE k.status = 'active' AND a.status = 'active' AND a.kind = 'business'
"""
_ROLLUP_AGGREGATES = {
    "first_order_at": "min",
    "last_order_at": "max",
    "orders_lifetime": "sum",
    "frequency": "sum",
    "monetary": "sum",
    "orders_90d": "sum",
    "spend_90d": "sum",
    "spend_lifetime": "sum",
    "complaints_90d": "sum",
}
# Sums that stay null (not 0) when no member has any (no order in the window).
_NULLABLE_SUMS = ("monetary", "spend_90d")
# Sums of amounts (in cents at most).
_MONEY_SUMS = ("monetary", "spend_90d", "spend_lifetime")


def _rolled_up(frame: pd.DataFrame, *, accounts: pd.Index | None = None) -> pd.DataFrame:
    """`frame` (every customer's own figures, default index) with the accounts' order and
    complaint figures replaced by the aggregate of their own and their contacts' rows, for the
    accounts in `accounts` (default: all). Aggregates of per-customer aggregates (min of
    minima, sums of sums) equal the aggregates over the members' history: one small COPY of
    the links, then vectorised pandas."""
    links = _read_csv(
        _copy_out(sql.SQL(_ACCOUNT_LINKS)), {"customer_id": "int64", "account_id": "int64"}
    )
    if accounts is not None:
        links = links[links["account_id"].isin(accounts)]
    links = links[links["account_id"].isin(frame["customer_id"])]
    if links.empty:
        return frame
    columns = list(_ROLLUP_AGGREGATES)
    by_id = frame.set_index("customer_id")[columns]
    account_ids = links["account_id"].unique()
    members = pd.concat(
        [
            by_id.loc[account_ids].assign(account_id=account_ids),
            by_id.loc[links["customer_id"]].assign(account_id=links["account_id"].to_numpy()),
        ],
        ignore_index=True,
    )
    grouped = members.groupby("account_id", sort=False)
    rollup = grouped.agg(_ROLLUP_AGGREGATES)
    for name in _NULLABLE_SUMS:
        rollup[name] = grouped[name].sum(min_count=1)
    # Sums of amounts back to whole cents: floats added in another order (an incremental
    # refresh adds stored rows to fresh ones) differ in the last bit, which would tip a
    # derived figure such as the average order value across a rounding boundary.
    for name in _MONEY_SUMS:
        rollup[name] = rollup[name].round(2)
    return _with_account_rollup(frame, rollup.reset_index(names="customer_id"))


# The history of the customers in DIRTY_NOW_TABLE: each one's own rows through the covering
# index on (customer_id, moment), one probe per customer. Left to itself the planner hashes the
# dirty customers and scans every order and interaction once they are a tenth of the base,
# several times slower than the probes (docs/performance.md, the refresh); OFFSET 0 keeps it
# from flattening the probes back into that join.
_DIRTY_HISTORY = """{dirty} d CROSS JOIN LATERAL (
    SELECT {columns} FROM {table} h WHERE h.customer_id = d.customer_id {condition} OFFSET 0
) h"""


def _histories(only: sql.Composable, *, only_dirty: bool) -> dict[str, sql.Composable]:
    """The `{orders}` (paid) and `{interactions}` the aggregation reads: every customer's
    narrowed by `only`, or the dirty customers' by index probes."""
    if not only_dirty:
        return {
            "orders": sql.SQL("callcenter_order WHERE status = 'paid' {}").format(only),
            "interactions": sql.SQL("callcenter_interaction WHERE true {}").format(only),
        }
    dirty = sql.Identifier(DIRTY_NOW_TABLE)
    return {
        "orders": sql.SQL(_DIRTY_HISTORY).format(
            dirty=dirty,
            columns=sql.SQL("placed_at, amount"),
            table=sql.Identifier("callcenter_order"),
            condition=sql.SQL("AND h.status = 'paid'"),
        ),
        "interactions": sql.SQL(_DIRTY_HISTORY).format(
            dirty=dirty,
            columns=sql.SQL("occurred_at, sentiment"),
            table=sql.Identifier("callcenter_interaction"),
            condition=sql.SQL(""),
        ),
    }


def _aggregation_sql(
    as_of: datetime,
    window_days: int,
    *,
    id_range: tuple[int, int] | None = None,
    only_dirty: bool = False,
    orders_apart: bool = False,
) -> tuple[sql.Composed, sql.Composed | None]:
    """The aggregation statement and, with `orders_apart`, the orders part as a statement of
    its own (else it is joined in and the second value is None)."""
    customer_filter: sql.Composable = sql.SQL("")
    only: sql.Composable = sql.SQL("")
    if id_range is not None:
        customer_filter = sql.SQL("AND c.id >= {lo} AND c.id < {hi}").format(
            lo=sql.Literal(id_range[0]), hi=sql.Literal(id_range[1])
        )
        only = sql.SQL("AND customer_id >= {lo} AND customer_id < {hi}").format(
            lo=sql.Literal(id_range[0]), hi=sql.Literal(id_range[1])
        )
    if only_dirty:
        dirty = sql.SQL("(SELECT customer_id FROM {})").format(sql.Identifier(DIRTY_NOW_TABLE))
        customer_filter = sql.SQL("AND c.id IN {}").format(dirty)
        only = sql.SQL("AND customer_id IN {}").format(dirty)
    bounds = {
        "as_of": sql.Literal(as_of),
        "window_start": sql.Literal(as_of - timedelta(days=window_days)),
        "d90": sql.Literal(as_of - timedelta(days=90)),
        "d30": sql.Literal(as_of - timedelta(days=30)),
        "window": sql.Literal(timedelta(days=window_days)),
        "days90": sql.Literal(timedelta(days=90)),
        "days30": sql.Literal(timedelta(days=30)),
        "only": only,
        **_histories(only, only_dirty=only_dirty),
    }
    orders = sql.SQL(_ORDERS).format(**bounds)
    order_columns: sql.Composable = sql.SQL("")
    orders_join: sql.Composable = sql.SQL("")
    orders_edge: sql.Composable = sql.SQL("")
    if not orders_apart:
        order_columns = sql.SQL(
            "o.first_order_at, o.last_order_at, {counts},".format(
                counts=", ".join(f"COALESCE(o.{name}, 0) AS {name}" for name in _ORDER_COUNTS)
            )
        )
        orders_join = sql.SQL("LEFT JOIN ({}) o ON o.customer_id = c.id").format(orders)
        orders_edge = sql.SQL("o.orders_edge_at,")
    statement = sql.SQL(_AGGREGATION).format(
        order_columns=order_columns,
        orders_join=orders_join,
        orders_edge=orders_edge,
        customer_filter=customer_filter,
        **bounds,
    )
    return statement, orders if orders_apart else None


def _copy_out(query: sql.Composable, *, every_customer: bool = False) -> io.BytesIO:
    """The rows of `query` as CSV with a header, in one COPY stream.

    `every_customer`: the query aggregates the whole history (a full pass, or a range of
    customers). PostgreSQL then prefers hashing the rows of every customer; instead it is told
    to aggregate them group by group as they come, in customer order, from the covering
    indexes on orders and interactions (order_customer_rollup, interaction_customer_rollup):
    no table read, no hash table of a million groups, so much faster than hashing over table
    scans (docs/performance.md). Left to the planner for a few customers (incremental).
    No JIT, on any connection (see `transaction_jit_off`).
    """
    buffer = io.BytesIO()
    with connection.cursor() as cursor:
        raw = cursor.cursor
        raw.execute(
            "SELECT set_config('work_mem', %s, true), set_config('TimeZone', 'UTC', true), "
            "set_config('enable_hashagg', %s, true), set_config('jit', 'off', true)",
            [REFRESH_WORK_MEM, "off" if every_customer else "on"],
        )
        copy_sql = sql.SQL("COPY ({}) TO STDOUT WITH (FORMAT csv, HEADER true)").format(query)
        _read_copy(raw.connection, copy_sql.as_bytes(raw), buffer)
    buffer.seek(0)
    return buffer


def copy_frame(query: sql.Composable, columns: dict[str, str]) -> pd.DataFrame:
    """The rows of `query` (on the default connection, in its transaction) as a frame typed by
    `columns` (name to "int64", "float64", "string" or "datetime"), through one COPY stream."""
    return _read_csv(_copy_out(query), columns)


def _read_copy(conn: psycopg.Connection, statement: bytes, buffer: io.BytesIO) -> None:
    """Run a `COPY ... TO STDOUT` statement and write its data into `buffer`, through libpq.

    PostgreSQL sends one message per row. psycopg's `Copy` hands each over through its
    generator and wait machinery, in Python and holding the GIL, so a million-row stream costs
    seconds of CPU and two streams read at once in threads queue for the GIL. libpq's blocking
    PQgetCopyData loop costs a fraction of that and waits for the server without the GIL.
    The connection's lock is held as psycopg would hold it. A signal (Celery's soft time
    limit) is handled when the server sends its next message.
    """
    pgconn = conn.pgconn
    encoding = conn.info.encoding
    with conn.lock:
        pgconn.send_query(statement)
        # psycopg runs libpq in non-blocking mode: the statement may not be sent in one go.
        while pgconn.flush():
            select.select([], [pgconn.socket], [])
        result = pgconn.get_result()
        if result is None or result.status != pq.ExecStatus.COPY_OUT:
            _drain_results(pgconn)
            raise _result_error(result, encoding)
        while True:
            size, data = pgconn.get_copy_data(0)
            if size > 0:
                buffer.write(data)
            elif size == -1:
                break
            else:
                raise psycopg.OperationalError(pgconn.get_error_message(encoding))
        result = pgconn.get_result()
        _drain_results(pgconn)
        if result is None or result.status != pq.ExecStatus.COMMAND_OK:
            raise _result_error(result, encoding)


def _drain_results(pgconn: pq.abc.PGconn) -> None:
    while pgconn.get_result() is not None:
        pass


def _result_error(result: pq.abc.PGresult | None, encoding: str) -> psycopg.Error:
    if result is None:
        return psycopg.OperationalError("the COPY statement returned no result")
    return psycopg.errors.error_from_result(result, encoding=encoding)


def outer_transaction_open(own_transaction: bool) -> bool:
    """Whether this connection is inside somebody's open transaction, which may hold
    uncommitted history that only this connection sees (a second connection must not read
    for it). `own_transaction`: the caller opened the innermost one itself and wrote nothing
    in it yet."""
    return len(connection.atomic_blocks) - (1 if own_transaction else 0) > 0


def metrics_frame(
    *,
    as_of: datetime,
    window_days: int,
    id_range: tuple[int, int] | None = None,
    own_transaction: bool = False,
) -> pd.DataFrame:
    """Raw metrics of every active customer (optionally of ids in [lo, hi)) as of `as_of`.

    Returns one row per customer with the columns of METRICS_COLUMNS plus the derived
    `recency_days`, `days_since_contact` and `tenure_days` (whole days from the last order, the
    last contact and the first order to `as_of`; NaN when never).

    Outside any transaction the orders are aggregated on a second connection at the same time
    as the rest (`_metrics_frame_two_streams`); so too inside a transaction the caller opened
    (`own_transaction`), see `outer_transaction_open`.
    """
    if outer_transaction_open(own_transaction):
        statement, _orders = _aggregation_sql(as_of, window_days, id_range=id_range)
        frame = _read_csv(_copy_out(statement, every_customer=True), METRICS_COLUMNS)
    else:
        frame = _metrics_frame_two_streams(as_of, window_days, id_range)
    frame = frame.reset_index(drop=True)
    if id_range is None:
        frame = _rolled_up(frame)
    else:
        rollup = _read_csv(
            _copy_out(_account_rollup_sql(as_of, window_days, id_range)),
            ACCOUNT_ROLLUP_COLUMNS,
        )
        frame = _with_account_rollup(frame, rollup)
    # In id order, as the incremental frame: samples drawn by position (clusters, churn) are
    # then the same for the same data.
    frame = frame.sort_values("customer_id", kind="stable", ignore_index=True)
    return _with_days(frame, as_of)


def on_own_connection(read: Callable[[], T]) -> T:
    """`read()` on a connection of this thread (closed after), in a transaction of its own so
    that the session settings `_copy_out` makes last until the COPY."""
    try:
        with transaction.atomic():
            return read()
    finally:
        connection.close()


def _metrics_frame_two_streams(
    as_of: datetime, window_days: int, id_range: tuple[int, int] | None
) -> pd.DataFrame:
    """The aggregation as two statements run at once on two connections, joined in pandas.

    The orders aggregate takes about as long as everything else together (interactions,
    tickets, surveys and the joins); on a second connection, in a thread, it runs on another
    core while this connection does the rest, and pyarrow parses each stream without the GIL.
    PostgreSQL's own parallel aggregation does worse here: a million groups per worker make
    its finalize step cost more than it saves. The second connection takes its own snapshot
    after the caller's dirty-log snapshot, so every logged change is still in the result.
    """
    statement, orders_statement = _aggregation_sql(
        as_of, window_days, id_range=id_range, orders_apart=True
    )
    assert orders_statement is not None
    with ThreadPoolExecutor(max_workers=1) as pool:
        orders_future = pool.submit(
            on_own_connection,
            lambda: _read_csv(_copy_out(orders_statement, every_customer=True), ORDER_PART_COLUMNS),
        )
        others = _read_csv(_copy_out(statement, every_customer=True), OTHER_PART_COLUMNS)
        orders = orders_future.result()
    frame = others.merge(orders, on="customer_id", how="left", sort=False)
    for name in _ORDER_COUNTS:
        frame[name] = frame[name].fillna(0).astype(METRICS_COLUMNS[name])
    return frame[list(METRICS_COLUMNS)]


def dirty_log_snapshot() -> int:
    """Copy the changed-customers log as it is now into a temporary table (for this
    transaction); returns how many entries it holds. Call before aggregating, so every change
    logged here is visible to the aggregation."""
    with connection.cursor() as cursor:
        cursor.execute(
            sql.SQL(
                "DROP TABLE IF EXISTS pg_temp.{seen}; "
                "CREATE TEMP TABLE {seen} ON COMMIT DROP AS SELECT id, customer_id FROM {log}"
            ).format(seen=sql.Identifier(DIRTY_SEEN_TABLE), log=sql.Identifier(_DIRTY_LOG))
        )
        return cursor.rowcount


def dirty_log_consume() -> int:
    """Delete exactly the log entries the snapshot saw (entries written since stay)."""
    with connection.cursor() as cursor:
        cursor.execute(
            sql.SQL("DELETE FROM {log} d USING {seen} s WHERE d.id = s.id").format(
                seen=sql.Identifier(DIRTY_SEEN_TABLE), log=sql.Identifier(_DIRTY_LOG)
            )
        )
        return cursor.rowcount


def _dirty_customers(*, as_of: datetime) -> int:
    """Fill DIRTY_NOW_TABLE with every customer whose raw metrics may differ from the stored
    ones as of `as_of`: changed history or customer (the log: new customers are logged too),
    rows whose moment of change by the clock has come (a paid order, contact or complaint left
    its window, or one became current: `orders_edge_at`, `contacts_edge_at`, computed with the
    stored figures), and the accounts of all these. Returns how many there are.

    An active customer with neither a stored row nor a logged change (a row lost outside the
    refresh) is found later, among the rows read back (`metrics_frame_incremental`): looking
    for one here joined every customer with every stored row each night."""
    with connection.cursor() as cursor:
        customer_set_create(cursor, DIRTY_NOW_TABLE)
        cursor.execute(
            sql.SQL(
                "INSERT INTO {now} SELECT customer_id FROM {seen} "
                "UNION SELECT customer_id FROM {metrics} "
                "WHERE orders_edge_at <= %(as_of)s OR contacts_edge_at <= %(as_of)s"
            ).format(
                now=sql.Identifier(DIRTY_NOW_TABLE),
                seen=sql.Identifier(DIRTY_SEEN_TABLE),
                metrics=sql.Identifier(_METRICS_TABLE),
            ),
            {"as_of": as_of},
        )
        return cursor.rowcount + _dirty_accounts_add(cursor)


def _dirty_accounts_add(cursor: CursorWrapper) -> int:
    """Add the accounts of the customers in DIRTY_NOW_TABLE to it (a contact's changed history
    changes its account's roll-up) and analyse it; returns how many were added."""
    cursor.execute(
        sql.SQL(
            "INSERT INTO {now} SELECT DISTINCT c.account_id FROM callcenter_customer c "
            "JOIN {now} d ON d.customer_id = c.id WHERE c.account_id IS NOT NULL "
            "ON CONFLICT DO NOTHING"
        ).format(now=sql.Identifier(DIRTY_NOW_TABLE))
    )
    added = cursor.rowcount
    cursor.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(DIRTY_NOW_TABLE)))
    return added


def _dirty_unstored_add(ids: pd.Series) -> None:
    """Add customers without a stored row (and their accounts) to DIRTY_NOW_TABLE."""
    with connection.cursor() as cursor:
        rows_copy(cursor.cursor, DIRTY_NOW_TABLE, ["customer_id"], ids_csv(ids))
        _dirty_accounts_add(cursor)


def _dirty_aggregated(as_of: datetime, window_days: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The raw metrics of the customers in DIRTY_NOW_TABLE, and every other active customer
    with their kind (not a stored column)."""
    statement, _orders = _aggregation_sql(as_of, window_days, only_dirty=True)
    fresh = _read_csv(_copy_out(statement), METRICS_COLUMNS)
    others_query = sql.SQL(
        "SELECT c.id AS customer_id, c.kind FROM callcenter_customer c "
        "WHERE c.status = 'active' AND NOT EXISTS "
        "(SELECT 1 FROM {now} d WHERE d.customer_id = c.id)"
    ).format(now=sql.Identifier(DIRTY_NOW_TABLE))
    others = _read_csv(_copy_out(others_query), {"customer_id": "int64", "kind": "string"})
    return fresh, others


def metrics_frame_incremental(
    *,
    as_of: datetime,
    window_days: int,
    max_share: float,
    stored_rows: Callable[[], pd.DataFrame],
) -> tuple[pd.DataFrame, pd.DataFrame, int] | None:
    """The same frame as `metrics_frame`, aggregating only the customers whose metrics may
    have changed since the stored ones were computed (same window, an earlier as-of), and
    taking everybody else's from `stored_rows()` (every stored row, `metrics_stored_rows`;
    usually being read on another connection meanwhile, see `metrics_stored_rows_ahead`).

    Returns the frame, every stored row (the write-back compares the frame with them) and how
    many customers were re-aggregated, or None when more than `max_share` of the customers
    would need re-aggregating (a full pass is then cheaper). Needs `dirty_log_snapshot()` first.
    """
    dirty = _dirty_customers(as_of=as_of)
    if dirty > max_share * max(CustomerMetrics.objects.count(), 1):
        return None
    fresh, others = _dirty_aggregated(as_of, window_days)
    previous = stored_rows()
    unstored = others["customer_id"][~others["customer_id"].isin(previous.index)]
    if not unstored.empty:
        # Rare (a row lost outside the refresh): those customers are aggregated too.
        _dirty_unstored_add(unstored)
        fresh, others = _dirty_aggregated(as_of, window_days)
    # The raw metrics only, before joining: the joined copy is the size of what it joins.
    raw = [name for name in METRICS_COLUMNS if name not in others.columns]
    stored = others.join(previous[raw], on="customer_id", how="inner")[list(METRICS_COLUMNS)]
    del others
    frame = pd.concat([fresh, stored], ignore_index=True)
    del stored
    # The re-aggregated accounts roll up again (their contacts' rows fresh or stored); the
    # stored rows of the others are rolled up already.
    frame = _rolled_up(frame, accounts=pd.Index(fresh["customer_id"]))
    frame = frame.sort_values("customer_id", kind="stable", ignore_index=True)
    return _with_days(frame, as_of), previous, len(fresh)


# Every column of a stored metrics row the refresh writes (the raw metrics and the scores).
STORED_ROW_COLUMNS = {
    **{name: kind for name, kind in METRICS_COLUMNS.items() if name != "kind"},
    **STORED_SCORE_COLUMNS,
}


# The stored rows' numbers as the frame holds them (numeric and integer columns as float8 and
# int8: their text in CSV, their binary form in Arrow).
_STORED_CASTS = {"float64": "float8", "int64": "int8", "Int64": "int8"}


def _stored_rows_query() -> sql.Composed:
    """Every stored row, each column sent as the frame holds it (numbers as float8 or int8)
    and an empty text as missing, as CSV reads it: both reads below give equal frames."""

    def column(name: str, kind: str) -> sql.Composable:
        value: sql.Composable = sql.Identifier(name)
        if kind == "string":
            value = sql.SQL("NULLIF({}, '')").format(value)
        elif kind in _STORED_CASTS:
            value = sql.SQL("{}::{}").format(value, sql.SQL(_STORED_CASTS[kind]))
        return sql.SQL("{} AS {}").format(value, sql.Identifier(name))

    return sql.SQL("SELECT {columns} FROM {metrics}").format(
        columns=sql.SQL(", ").join(column(n, k) for n, k in STORED_ROW_COLUMNS.items()),
        metrics=sql.Identifier(_METRICS_TABLE),
    )


def metrics_stored_rows() -> pd.DataFrame:
    """Every stored metrics row as it is now (STORED_ROW_COLUMNS), indexed by customer id, read
    on this connection: one COPY stream. A full pass compares its fresh rows with these in
    pandas and writes back only those that differ; an incremental one takes the unchanged
    customers' metrics from them."""
    return _read_csv(_copy_out(_stored_rows_query()), STORED_ROW_COLUMNS).set_index("customer_id")


def _own_conninfo() -> str:
    """The libpq connection string of this thread's connection (password included), for a
    client that opens a connection of its own to the same database."""
    connection.ensure_connection()
    info = connection.connection.info
    parameters = info.get_parameters()
    if info.password:
        parameters["password"] = info.password
    return make_conninfo("", **parameters)


def _stored_rows_arrow(conninfo: str) -> pa.Table:
    """Every stored row (`_stored_rows_query`) as an Arrow table, through ADBC's PostgreSQL
    driver on a connection of its own: a binary COPY that the driver decodes into Arrow
    columns in C++ as it arrives. As CSV the rows cost the server more to write and the
    refresh a parse it waited for after its aggregation (docs/performance.md, "The stored
    rows as Arrow")."""
    # In a transaction (the driver's default), so that a pooler in transaction mode keeps the
    # driver's statements on one server connection and the setting ends with it.
    with adbc_dbapi.connect(conninfo) as conn, conn.cursor() as cursor:
        # A plain scan, but planned over a million rows: past `jit_above_cost`.
        cursor.execute("SET LOCAL jit = off")
        cursor.execute(_stored_rows_query().as_string())
        return cursor.fetch_arrow_table()


def _stored_rows_frame(table: pa.Table) -> pd.DataFrame:
    """The frame `metrics_stored_rows` reads, from the same rows as Arrow columns."""
    frame = table.to_pandas()
    for name, kind in STORED_ROW_COLUMNS.items():
        if kind == "datetime":
            frame[name] = frame[name].astype(DATETIME_DTYPE)
        elif kind in ("Int64", "string"):
            frame[name] = frame[name].astype(kind)
    return frame.set_index("customer_id")


@contextmanager
def metrics_stored_rows_ahead(
    *, own_transaction: bool = False
) -> Iterator[Callable[[], pd.DataFrame]]:
    """Start reading every stored metrics row (`metrics_stored_rows`) on a second connection,
    in a thread, while the caller aggregates on this one; yields a function that waits for
    the rows and returns them.

    A million stored rows take seconds to leave PostgreSQL, about as long as an incremental
    aggregation, which runs meanwhile on the other core. They arrive decoded, as Arrow columns
    (`_stored_rows_arrow`), and the thread makes the pandas frame of them at once, so the
    caller waits for nothing it could have done meanwhile. No CSV is parsed on either side of
    the aggregation's own frames any more; the frame's memory is the reading thread's, which
    moves the refresh's peak memory (docs/performance.md, "The stored rows as Arrow").
    Only the refresh writes this table, under its lock, so another snapshot reads the same rows.
    Inside somebody's open transaction (see `outer_transaction_open`) the rows are read on this
    connection when asked for.
    """
    if outer_transaction_open(own_transaction):
        yield metrics_stored_rows
        return
    conninfo = _own_conninfo()
    with ThreadPoolExecutor(max_workers=1) as pool:
        future = pool.submit(lambda: _stored_rows_frame(_stored_rows_arrow(conninfo)))
        yield future.result


def _read_csv(buffer: io.BytesIO, columns: dict[str, str]) -> pd.DataFrame:
    # Every column typed (pandas' pyarrow reader otherwise casts inferred columns with nulls).
    dtypes = {name: kind for name, kind in columns.items() if kind != "datetime"}
    frame = pd.read_csv(buffer, engine="pyarrow", dtype=dtypes)
    for name, kind in columns.items():
        if kind == "datetime":
            # In microseconds, as PostgreSQL keeps them: the reader infers seconds for a column
            # without a fraction, and frames read apart must hold the same types.
            frame[name] = pd.to_datetime(frame[name], utc=True, format="ISO8601").astype(
                DATETIME_DTYPE
            )
    return frame


def _with_days(frame: pd.DataFrame, as_of: datetime) -> pd.DataFrame:
    as_of_ts = pd.Timestamp(as_of).tz_convert("UTC")
    seconds_per_day = 86400
    for column, moment in (
        ("recency_days", "last_order_at"),
        ("days_since_contact", "last_contact_at"),
        ("tenure_days", "first_order_at"),
    ):
        frame[column] = (as_of_ts - frame[moment]).dt.total_seconds() // seconds_per_day
    return frame.set_index("customer_id", drop=False)

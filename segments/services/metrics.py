"""One set-based SQL pass computing every active customer's raw metrics, moved to pandas by COPY.

The aggregation runs inside PostgreSQL (hash aggregates over orders, interactions, tickets and
surveys joined to customers); its result leaves the server as one `COPY ... TO STDOUT` stream in
CSV and is parsed by pandas' pyarrow reader, never row by row in Python.
"""

import io
from datetime import datetime, timedelta

import pandas as pd
from django.db import connection
from psycopg import sql

# Memory for the hash aggregation of one refresh: PostgreSQL's default (4 MB) makes the orders
# aggregate spill to disk at millions of rows; ~1 GB keeps it in memory for 10M orders.
REFRESH_WORK_MEM = "1GB"

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
    "interactions_30d": "int64",
    "avg_sentiment_30d": "float64",
    "last_contact_at": "datetime",
    "complaints_90d": "int64",
    "last_nps": "float64",
}

_AGGREGATION = """
SELECT c.id AS customer_id,
       c.kind,
       o.first_order_at,
       o.last_order_at,
       COALESCE(o.orders_lifetime, 0) AS orders_lifetime,
       COALESCE(o.frequency, 0) AS frequency,
       COALESCE(o.monetary, 0) AS monetary,
       COALESCE(o.orders_90d, 0) AS orders_90d,
       COALESCE(o.spend_90d, 0) AS spend_90d,
       COALESCE(i.interactions_30d, 0) AS interactions_30d,
       i.avg_sentiment_30d,
       i.last_contact_at,
       COALESCE(t.complaints_90d, 0) AS complaints_90d,
       s.last_nps
FROM callcenter_customer c
LEFT JOIN (
    SELECT customer_id,
           min(placed_at) AS first_order_at,
           max(placed_at) AS last_order_at,
           count(*) AS orders_lifetime,
           count(*) FILTER (WHERE placed_at > {window_start}) AS frequency,
           sum(amount) FILTER (WHERE placed_at > {window_start}) AS monetary,
           count(*) FILTER (WHERE placed_at > {d90}) AS orders_90d,
           sum(amount) FILTER (WHERE placed_at > {d90}) AS spend_90d
    FROM callcenter_order
    WHERE status = 'paid' AND placed_at <= {as_of}
    GROUP BY customer_id
) o ON o.customer_id = c.id
LEFT JOIN (
    SELECT customer_id,
           count(*) FILTER (WHERE occurred_at > {d30}) AS interactions_30d,
           avg(sentiment) FILTER (WHERE occurred_at > {d30}) AS avg_sentiment_30d,
           max(occurred_at) AS last_contact_at
    FROM callcenter_interaction
    WHERE occurred_at <= {as_of}
    GROUP BY customer_id
) i ON i.customer_id = c.id
LEFT JOIN (
    SELECT customer_id, count(*) AS complaints_90d
    FROM callcenter_ticket
    WHERE kind = 'complaint' AND opened_at > {d90} AND opened_at <= {as_of}
    GROUP BY customer_id
) t ON t.customer_id = c.id
LEFT JOIN (
    SELECT DISTINCT ON (customer_id) customer_id, score AS last_nps
    FROM callcenter_surveyresponse
    WHERE kind = 'nps' AND responded_at <= {as_of}
    ORDER BY customer_id, responded_at DESC, id DESC
) s ON s.customer_id = c.id
WHERE c.status = 'active'
{range_filter}
"""


def _aggregation_sql(
    as_of: datetime, window_days: int, id_range: tuple[int, int] | None
) -> sql.Composed:
    range_filter = sql.SQL("")
    if id_range is not None:
        range_filter = sql.SQL("AND c.id >= {lo} AND c.id < {hi}").format(
            lo=sql.Literal(id_range[0]), hi=sql.Literal(id_range[1])
        )
    return sql.SQL(_AGGREGATION).format(
        as_of=sql.Literal(as_of),
        window_start=sql.Literal(as_of - timedelta(days=window_days)),
        d90=sql.Literal(as_of - timedelta(days=90)),
        d30=sql.Literal(as_of - timedelta(days=30)),
        range_filter=range_filter,
    )


def metrics_frame(
    *, as_of: datetime, window_days: int, id_range: tuple[int, int] | None = None
) -> pd.DataFrame:
    """Raw metrics of every active customer (optionally of ids in [lo, hi)) as of `as_of`.

    Returns one row per customer with the columns of METRICS_COLUMNS plus the derived
    `recency_days`, `days_since_contact` and `tenure_days` (whole days from the last order, the
    last contact and the first order to `as_of`; NaN when never).
    """
    query = _aggregation_sql(as_of, window_days, id_range)
    buffer = io.BytesIO()
    with connection.cursor() as cursor:
        raw = cursor.cursor
        raw.execute(
            "SELECT set_config('work_mem', %s, true), set_config('TimeZone', 'UTC', true)",
            [REFRESH_WORK_MEM],
        )
        copy_sql = sql.SQL("COPY ({}) TO STDOUT WITH (FORMAT csv, HEADER true)").format(query)
        with raw.copy(copy_sql) as copy:
            for chunk in copy:
                buffer.write(chunk)
    buffer.seek(0)
    return _frame_from_csv(buffer, as_of)


def _frame_from_csv(buffer: io.BytesIO, as_of: datetime) -> pd.DataFrame:
    dtypes = {
        name: kind for name, kind in METRICS_COLUMNS.items() if kind not in ("datetime", "string")
    }
    frame = pd.read_csv(buffer, engine="pyarrow", dtype=dtypes)
    for name, kind in METRICS_COLUMNS.items():
        if kind == "datetime":
            frame[name] = pd.to_datetime(frame[name], utc=True, format="ISO8601")
        elif kind == "string":
            frame[name] = frame[name].astype("string")
    as_of_ts = pd.Timestamp(as_of).tz_convert("UTC")
    seconds_per_day = 86400
    frame["recency_days"] = (
        as_of_ts - frame["last_order_at"]
    ).dt.total_seconds() // seconds_per_day
    frame["days_since_contact"] = (
        as_of_ts - frame["last_contact_at"]
    ).dt.total_seconds() // seconds_per_day
    frame["tenure_days"] = (
        as_of_ts - frame["first_order_at"]
    ).dt.total_seconds() // seconds_per_day
    return frame.set_index("customer_id", drop=False)

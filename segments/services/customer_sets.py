"""Sets of customers in temporary tables, and the per-customer tables that are rewritten for
them: the refresh's dirty set, and the behaviour and reachability passes' targets; and how
frames computed in Python reach such tables (CSV written by Arrow, then COPY)."""

import io
from collections.abc import Iterable
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pa_compute
import pyarrow.csv as pa_csv
from psycopg import Cursor, sql
from psycopg.rows import TupleRow


def customer_set_create(cursor: Any, name: str) -> None:
    """A fresh temporary table `name` of customer ids, dropped at the end of the transaction."""
    cursor.execute(
        sql.SQL(
            "DROP TABLE IF EXISTS pg_temp.{table}; "
            "CREATE TEMP TABLE {table} (customer_id bigint PRIMARY KEY) ON COMMIT DROP"
        ).format(table=sql.Identifier(name))
    )


def customer_rows_delete(
    cursor: Any, *, table: str, alias: str, condition: sql.Composable, within: str | None
) -> int:
    """Delete the rows of the per-customer `table` whose customer meets `condition` (which
    names the customer's id `{alias}.customer_id`, and nothing else of the row): all of them,
    or (`within`: a customer set) only those of that set's customers. Returns how many went.

    Within a set, the condition is tested on the set's ids first and the few that meet it
    are deleted by key: joining the set with every row of the table first, as the planner
    would, read the whole table each night for a set of a few percent."""
    names = {"table": sql.Identifier(table), "alias": sql.Identifier(alias), "condition": condition}
    if within is None:
        delete = sql.SQL("DELETE FROM {table} {alias} WHERE {condition}").format(**names)
    else:
        delete = sql.SQL(
            "WITH gone AS MATERIALIZED "
            "(SELECT {alias}.customer_id FROM {within} {alias} WHERE {condition}) "
            "DELETE FROM {table} t USING gone WHERE t.customer_id = gone.customer_id"
        ).format(within=sql.Identifier(within), **names)
    cursor.execute(delete)
    return int(cursor.rowcount)


def frame_csv(frame: pd.DataFrame) -> bytes:
    """The frame as CSV bytes written by Arrow's C++ writer (nulls as empty fields)."""
    table = _utc_text_timestamps(pa.Table.from_pandas(frame, preserve_index=False))
    sink = io.BytesIO()
    pa_csv.write_csv(table, sink, write_options=pa_csv.WriteOptions(include_header=False))
    return sink.getvalue()


def _utc_text_timestamps(table: pa.Table) -> pa.Table:
    """Time-zone-aware timestamp columns as text in UTC with an explicit offset
    ("2026-12-01 00:27:26.303841+00"), microseconds as PostgreSQL keeps them.

    Arrow's CSV writer formats an aware timestamp through the time-zone database, value by
    value: the three timestamp columns took most of the write-back's CSV time, far longer than
    the same values cast to text (docs/performance.md, the write-back)."""
    for index, field in enumerate(table.schema):
        if not pa.types.is_timestamp(field.type) or field.type.tz is None:
            continue
        # The stored instant is UTC whatever the zone: dropping the zone keeps UTC wall time.
        wall = table.column(index).cast(pa.timestamp("us", tz="UTC"), safe=False)
        text = pa_compute.binary_join_element_wise(
            wall.cast(pa.timestamp("us")).cast(pa.string()), "+00", ""
        )
        table = table.set_column(index, field.name, text)
    return table


def ids_csv(ids: Iterable[int]) -> bytes:
    """Customer ids as a one-column COPY payload (`rows_copy`)."""
    return "\n".join(map(str, ids)).encode()


def rows_copy(cursor: Cursor[TupleRow], table: str, columns: Iterable[str], payload: bytes) -> None:
    """COPY CSV rows (`frame_csv`) into `columns` of `table`."""
    statement = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv)").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    with cursor.copy(statement) as copy:
        copy.write(payload)

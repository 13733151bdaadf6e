"""Bulk write-back of scored metrics and set-based membership changes.

Every stored row is read back first (`metrics_stored_rows`, on another connection while the
refresh aggregates) and the scored frame is compared with it in pandas; only what differs
leaves pandas, as Arrow-written CSV streams: rows of customers without a stored row are COPYed
straight into the metrics table, rows that differ into a temporary staging table (only the
columns that differ in some row, each row's value only where it differs unless most rows do:
`_staged_values`) and from there into the table by one set-based UPDATE, and the rows of
customers no longer scored are DELETEd.
The ids of the customers whose built-in segments may have changed (row added or deleted, or one
of MEMBERSHIP_COLUMNS changed) are kept in a temporary table (CHANGED_TABLE) for the membership
diff of the same transaction, each with the bits (`membership_bit`) of the columns that
changed: after the weekly refit every customer's potential value moves and nothing else, and
the diff then compares those customers' potential-value memberships only.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
from django.db import connection
from psycopg import Cursor, sql
from psycopg.rows import TupleRow

from segments.models import CustomerMetrics
from segments.services.customer_sets import frame_csv, ids_csv, rows_copy
from segments.services.planner import index_probes

# Columns of segments_customermetrics written from the frame (besides refreshed_at).
METRIC_COLUMNS: dict[str, str] = {
    "customer_id": "bigint",
    "frequency": "integer",
    "monetary": "numeric(14,2)",
    "avg_order_value": "numeric(14,2)",
    "first_order_at": "timestamptz",
    "last_order_at": "timestamptz",
    "orders_lifetime": "integer",
    "orders_90d": "integer",
    "spend_90d": "numeric(14,2)",
    "interactions_30d": "integer",
    "complaints_90d": "integer",
    "last_nps": "smallint",
    "avg_sentiment_30d": "double precision",
    "last_contact_at": "timestamptz",
    "orders_edge_at": "timestamptz",
    "contacts_edge_at": "timestamptz",
    "r_score": "smallint",
    "f_score": "smallint",
    "m_score": "smallint",
    "rfm_code": "varchar(3)",
    "rfm_segment": "varchar(32)",
    "lifecycle_stage": "varchar(16)",
    "value_tier": "varchar(8)",
    "churn_probability": "double precision",
    "cluster": "smallint",
    "spend_lifetime": "numeric(14,2)",
    "p_alive": "double precision",
    "expected_orders_90d": "double precision",
    "expected_orders_365d": "double precision",
    "expected_order_value": "numeric(14,2)",
    "predicted_value_365d": "numeric(14,2)",
    "value_potential": "varchar(8)",
}
# The columns an UPDATE compares and sets (all but the key).
VALUE_COLUMNS = [c for c in METRIC_COLUMNS if c != "customer_id"]
NULLABLE_INT_COLUMNS = (
    "last_nps",
    "r_score",
    "f_score",
    "m_score",
    "cluster",
)
STAGING_TABLE = "segments_metrics_staging"
CHANGED_TABLE = "segments_changed_customers"
# The columns built-in segment membership follows (segments.services.memberships
# BUILTIN_COLUMNS). A day of clock movement changes many rows only in their churn probability
# or RFM code; their memberships need no diff.
MEMBERSHIP_COLUMNS = ("rfm_segment", "lifecycle_stage", "value_tier", "cluster", "value_potential")
# CHANGED_TABLE's `kinds` of a customer whose row was added or deleted: every column.
ALL_MEMBERSHIP_BITS = (1 << len(MEMBERSHIP_COLUMNS)) - 1
# Stored customers a full pass no longer scores (merged, deactivated).
GONE_TABLE = "segments_metrics_gone"
# Stored churn probabilities are rounded: finer differences mean nothing to anyone reading them
# and would make every row differ from one day to the next.
CHURN_DECIMALS = 4
# Decimal places written. The value model's figures are scored at the start of the week
# (segments.services.value_model.value_clock), so a day of clock movement changes them only
# for customers with new orders; on the weekly refit they all change anyway. Finer figures
# would mean nothing to anyone reading them (docs/performance.md, the value model).
ROUNDED_COLUMNS = {
    "monetary": 2,
    "spend_90d": 2,
    "avg_order_value": 2,
    "spend_lifetime": 2,
    "churn_probability": CHURN_DECIMALS,
    "p_alive": 3,
    "expected_orders_90d": 2,
    "expected_orders_365d": 2,
    "expected_order_value": 2,
    "predicted_value_365d": 2,
}


def metrics_frame_for_write(frame: pd.DataFrame) -> pd.DataFrame:
    """Select and type the columns the metrics table stores."""
    out = pd.DataFrame(index=frame.index)
    for column in METRIC_COLUMNS:
        if column in NULLABLE_INT_COLUMNS:
            out[column] = frame[column].astype("Int64")
        elif column == "value_potential":
            # Not null: blank without a prediction (a stored row read back has it as missing).
            out[column] = frame[column].astype("string").fillna("")
        elif column in ROUNDED_COLUMNS:
            out[column] = frame[column].round(ROUNDED_COLUMNS[column])
        else:
            out[column] = frame[column]
    return out


def membership_bit(column: str) -> int:
    """The bit of CHANGED_TABLE's `kinds` that says the membership column `column` changed."""
    return 1 << MEMBERSHIP_COLUMNS.index(column)


def _value_bit(column: str) -> int:
    """The bit of the staging table's `changed` that says the row's `column` is staged."""
    return 1 << VALUE_COLUMNS.index(column)


def _staged_differ(dense: list[str], sparse: list[str]) -> sql.Composable:
    """The staged row s differs from the stored row m: in a `dense` column (staged whole) or
    in a `sparse` one staged for it (its bit in s.changed)."""
    tests = []
    if dense:
        tests.append(
            sql.SQL("({}) IS DISTINCT FROM ({})").format(
                sql.SQL(", ").join(sql.SQL("m.{}").format(sql.Identifier(c)) for c in dense),
                sql.SQL(", ").join(sql.SQL("s.{}").format(sql.Identifier(c)) for c in dense),
            )
        )
    tests.extend(
        sql.SQL("(s.changed & {bit} <> 0 AND m.{column} IS DISTINCT FROM s.{column})").format(
            bit=sql.Literal(_value_bit(column)), column=sql.Identifier(column)
        )
        for column in sparse
    )
    return sql.SQL(" OR ").join(tests)


def _staged_assignments(dense: list[str], sparse: list[str]) -> sql.Composable:
    """SET a `dense` column from the staged row, a `sparse` one where it is staged for it."""
    return sql.SQL(", ").join(
        [
            *(sql.SQL("{0} = s.{0}").format(sql.Identifier(c)) for c in dense),
            *(
                sql.SQL(
                    "{column} = CASE WHEN s.changed & {bit} <> 0 "
                    "THEN s.{column} ELSE m.{column} END"
                ).format(column=sql.Identifier(c), bit=sql.Literal(_value_bit(c)))
                for c in sparse
            ),
        ]
    )


def _column_equal(new: pd.Series, old: pd.Series) -> np.ndarray:
    """Element-wise equality of two aligned columns, missing equal to missing."""
    if isinstance(new.dtype, pd.StringDtype) or isinstance(old.dtype, pd.StringDtype):
        # CSV does not tell an empty text from a missing one.
        new, old = new.astype("string").fillna(""), old.astype("string").fillna("")
    return (new.eq(old).fillna(False) | (new.isna() & old.isna())).to_numpy(dtype=bool)


def _differences(rows: pd.DataFrame, stored: pd.DataFrame) -> np.ndarray:
    """For every row, the bits (`_value_bit`) of the value columns it differs in from the
    stored row of the same customer (none for a customer without one). A pre-filter only: the
    UPDATE still compares what is staged."""
    known = rows.index.isin(stored.index)
    changed = np.zeros(int(known.sum()), dtype=np.int64)
    # A column at a time: a million stored rows reindexed whole cost 250 MB of the refresh's
    # peak memory.
    positions = stored.index.get_indexer(rows.index[known])
    for column in VALUE_COLUMNS:
        equal = _column_equal(rows.loc[known, column], stored[column].iloc[positions])
        changed[~equal] |= _value_bit(column)
    bits = np.zeros(len(rows), dtype=np.int64)
    bits[known] = changed
    return bits


def _membership_kinds(rows: pd.DataFrame, stored: pd.DataFrame) -> pd.Series:
    """For the rows of customers with a stored row whose MEMBERSHIP_COLUMNS differ from it,
    the bits of the columns that differ. Only those columns are taken from either frame: after
    the weekly refit the rows are a million wide ones, and copying them whole cost 250 MB of
    the refresh's peak memory."""
    columns = list(MEMBERSHIP_COLUMNS)
    new = rows.loc[rows.index.isin(stored.index), columns]
    old = stored.reindex(index=new.index, columns=columns)
    kinds = np.zeros(len(new), dtype=np.int16)
    for column in columns:
        kinds |= np.where(_column_equal(new[column], old[column]), 0, membership_bit(column))
    changed = kinds != 0
    return pd.Series(kinds[changed], index=new.index[changed])


def _rows_to_stage(
    frame: pd.DataFrame, previous: pd.DataFrame
) -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame, pd.Index]:
    """The typed rows that differ from their stored one in any column (staged and compared
    again in SQL), each with the bits of the columns it differs in; the rows of customers
    without a stored row (copied straight into the table) and the stored customers the frame
    no longer has. Rows equal to their stored one are dropped here, in pandas."""
    rows = metrics_frame_for_write(frame)
    gone = previous.index.difference(rows.index)
    known = rows.index.isin(previous.index)
    bits = _differences(rows, previous)
    # One copy of the rows that differ (after the weekly refit, a million of them), not one
    # of the known rows and another of those that differ.
    staged = bits != 0
    return rows[staged], bits[staged], rows[~known], gone


def _temp_tables_create(cursor: Cursor[TupleRow]) -> None:
    """The staging, changed-customers and gone-customers tables, empty, dropped on commit."""
    for table, definition in (
        (
            STAGING_TABLE,
            sql.SQL(", ").join(
                [
                    *(
                        sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(kind))
                        for name, kind in METRIC_COLUMNS.items()
                    ),
                    sql.SQL("changed bigint NOT NULL"),
                ]
            ),
        ),
        (CHANGED_TABLE, sql.SQL("customer_id bigint NOT NULL, kinds smallint NOT NULL")),
        (GONE_TABLE, sql.SQL("customer_id bigint NOT NULL")),
    ):
        cursor.execute(sql.SQL("DROP TABLE IF EXISTS pg_temp.{}").format(sql.Identifier(table)))
        cursor.execute(
            sql.SQL("CREATE TEMP TABLE {} ({}) ON COMMIT DROP").format(
                sql.Identifier(table), definition
            )
        )


def _new_rows_copy(cursor: Cursor[TupleRow], new: pd.DataFrame, now: datetime) -> int:
    """COPY the rows of customers without a stored row straight into the table (a full pass
    knows them from the stored rows it read; only the refresh writes the table, under its
    lock) and note them as changed; returns how many."""
    if new.empty:
        return 0
    rows_copy(
        cursor,
        CustomerMetrics._meta.db_table,
        [*METRIC_COLUMNS, "refreshed_at"],
        frame_csv(new.assign(refreshed_at=pd.Timestamp(now))),
    )
    ids = new["customer_id"]
    _changed_copy(cursor, pd.Series(ALL_MEMBERSHIP_BITS, index=pd.Index(ids), dtype="int16"))
    return len(new)


def _changed_copy(cursor: Cursor[TupleRow], kinds: pd.Series) -> None:
    """COPY customers (the index) with the bits of their changed membership columns into
    CHANGED_TABLE."""
    frame = pd.DataFrame({"customer_id": kinds.index.to_numpy(), "kinds": kinds.to_numpy()})
    rows_copy(cursor, CHANGED_TABLE, ["customer_id", "kinds"], frame_csv(frame))


def _staged_rows_update(
    cursor: Cursor[TupleRow],
    names: Mapping[str, sql.Composable],
    dense: list[str],
    sparse: list[str],
    now: datetime,
) -> int:
    """Update the stored rows from the staged ones that differ (`_staged_values`): the
    `dense` columns from every staged row, the `sparse` ones only where staged for the row
    (the others keep their stored value); returns how many. An INSERT ... ON CONFLICT DO
    UPDATE would add a speculative insertion per row.

    The staged rows are in customer order (`metrics_write`) and each probes the table's
    primary key, so the key and the table are read page after page. The planner would hash
    the whole table instead: slower for a night's third of the rows, about as fast for a
    refit's million (docs/performance.md, the nightly's join plans)."""
    with index_probes(cursor):
        cursor.execute(
            sql.SQL(
                "UPDATE {table} m SET {assignments}, refreshed_at = %(now)s "
                "FROM {staging} s WHERE m.customer_id = s.customer_id AND ({differ})"
            ).format(
                assignments=_staged_assignments(dense, sparse),
                differ=_staged_differ(dense, sparse),
                **names,
            ),
            {"now": now},
        )
        return cursor.rowcount


def _gone_rows_delete(
    cursor: Cursor[TupleRow], names: Mapping[str, sql.Composable], gone: pd.Index
) -> int:
    """Delete the rows of the customers in `gone` (no longer scored: merged, deactivated),
    noting them as changed; returns how many."""
    if gone.empty:
        return 0
    rows_copy(cursor, GONE_TABLE, ["customer_id"], ids_csv(gone))
    cursor.execute(
        sql.SQL(
            "WITH gone AS (DELETE FROM {table} m "
            "WHERE m.customer_id IN (SELECT customer_id FROM {gone}) RETURNING m.customer_id) "
            "INSERT INTO {changed} SELECT customer_id, %(all)s FROM gone"
        ).format(gone=sql.Identifier(GONE_TABLE), **names),
        {"all": ALL_MEMBERSHIP_BITS},
    )
    return cursor.rowcount


@dataclass(frozen=True)
class MetricsChanges:
    """What a write-back writes (`metrics_changes`): the rows that differ from their stored one
    (`rows`), each with the bits of the value columns it differs in (`changed`, `_value_bit`);
    the rows of customers without one (`new`), the stored customers no longer scored (`gone`)
    and, of the customers in `rows`, the bits of their segment columns that changed
    (`moved`)."""

    rows: pd.DataFrame
    changed: np.ndarray
    new: pd.DataFrame
    gone: pd.Index
    moved: pd.Series


def metrics_changes(*, frame: pd.DataFrame, previous: pd.DataFrame) -> MetricsChanges:
    """Compare the scored frame with every stored row (`previous`, `metrics_stored_rows()`,
    which a full pass and an incremental one both read) in pandas.

    Comparing unchanged rows here is far cheaper than staging them and comparing them in SQL:
    a day's incremental run re-aggregates a tenth of the customers, and most of their rows
    come out as stored (docs/performance.md, the write-back). The caller lets go of `previous`
    before `metrics_write`: a million stored rows are a good part of the refresh's peak
    memory, which the write's CSV then reaches.
    """
    rows, changed, new, gone = _rows_to_stage(frame, previous)
    # The customers whose segment columns change are found in pandas, on the staged rows
    # only, instead of by a join with the whole table.
    return MetricsChanges(
        rows=rows,
        changed=changed,
        new=new,
        gone=gone,
        moved=_membership_kinds(rows, previous),
    )


def _staged_values(rows: pd.DataFrame, changes: MetricsChanges) -> tuple[pd.DataFrame, list[str]]:
    """The staged rows (the key, the value columns that differ in some row, `changed`) and
    which of their columns are dense. A column that differs in at least half of the rows is
    staged whole (dense); any other only where the row differs in it, nothing (an empty CSV
    field) elsewhere, with the bits saying which (`changed`).

    After the weekly refit a million rows differ in the model's figures alone (dense), a few
    hundred re-aggregated ones in their metrics too (sparse); a night's clock moves most
    changed rows' scores only. Staging every column of them cost more than updating them, and
    choosing each sparse value in SQL costs more than staging a dense column whole
    (docs/performance.md, the write-back)."""
    out = pd.DataFrame({"customer_id": rows["customer_id"]})
    dense = []
    for column in VALUE_COLUMNS:
        staged = (changes.changed & _value_bit(column)) != 0
        count = int(staged.sum())
        if count == 0:
            continue
        if 2 * count >= len(rows):
            dense.append(column)
            out[column] = rows[column]
        else:
            out[column] = rows[column].where(staged)
    out["changed"] = changes.changed
    return out, dense


def metrics_write(*, changes: MetricsChanges, now: datetime) -> dict[str, int]:
    """Update the rows that differ, insert new ones, delete those of customers no longer
    scored (`metrics_changes`). Rows of customers without a stored one are copied straight
    into the table (a first refresh writes all of them so).

    Must run inside the refresh transaction. The ids of every customer whose row was added or
    deleted, or whose MEMBERSHIP_COLUMNS changed, are left in the temporary table CHANGED_TABLE
    (dropped on commit), with the bits of the columns that changed. Returns counts of staged
    (compared in SQL), written and deleted rows, and of the customers left in CHANGED_TABLE
    (`membership_candidates`).
    """
    rows, new, gone, moved = changes.rows, changes.new, changes.gone, changes.moved
    values, dense = _staged_values(rows, changes)
    if not values["customer_id"].is_monotonic_increasing:
        # Staged in customer order for the UPDATE's probes (a frame aggregated elsewhere
        # may come in parts).
        values = values.iloc[np.argsort(values["customer_id"].to_numpy(), kind="stable")]
    staged = list(values.columns)
    sparse = [column for column in VALUE_COLUMNS if column in staged and column not in dense]
    payload = frame_csv(values)
    del values
    names = {
        "table": sql.Identifier(CustomerMetrics._meta.db_table),
        "staging": sql.Identifier(STAGING_TABLE),
        "changed": sql.Identifier(CHANGED_TABLE),
    }
    with connection.cursor() as wrapper:
        cursor = wrapper.cursor
        _temp_tables_create(cursor)
        inserted = _new_rows_copy(cursor, new, now)
        _changed_copy(cursor, moved)
        updated = 0
        if not rows.empty:
            rows_copy(cursor, STAGING_TABLE, staged, payload)
            # Statistics on the fresh staging table (its size and key: no plan reads the other
            # columns', which took most of the ANALYZE): the UPDATE's probes are then driven
            # from it, not the table's rows each scanning it.
            cursor.execute(sql.SQL("ANALYZE {staging} (customer_id)").format(**names))
            updated = _staged_rows_update(cursor, names, dense, sparse, now)
        deleted = _gone_rows_delete(cursor, names, gone)
        cursor.execute(sql.SQL("ANALYZE {changed}").format(**names))
    written = updated + inserted
    return {
        "metrics_staged": len(rows) + len(new),
        "metrics_written": written,
        "metrics_deleted": deleted,
        "metrics_changed": written + deleted,
        "membership_candidates": len(moved) + inserted + deleted,
    }

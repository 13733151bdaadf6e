"""Membership changes of one refresh, computed and applied in SQL.

The desired members of a set of segments are put in a temporary table; one statement closes the
open memberships no longer desired (exit), one inserts the desired ones not yet open (entry).
Built-in segments read the freshly written metrics table; since their membership is a function
of the stored row's segment columns alone, a steady refresh diffs them only for the customers
whose row was added or deleted or whose segment columns changed (the write-back's
CHANGED_TABLE), and for each of them only the kinds whose column changed. Rule segments are
compiled to ORM querysets (never SQL text) in dependency order, each reading the stored
memberships of the segments it references, and are always diffed whole (their conditions may
depend on the clock or on other tables).
"""

from collections import Counter
from datetime import datetime
from typing import Any

import pandas as pd
from django.db import connection
from django.db.models import F, QuerySet
from psycopg import Cursor, sql
from psycopg.rows import TupleRow

from callcenter.models import Customer
from segments.choices import PriorityField, SegmentKind
from segments.models import CustomerMetrics, Segment, SegmentMembership
from segments.rules import rule_describe, rule_queryset, segment_dependency_order
from segments.selectors import touch_value
from segments.services.planner import hashed, index_probes
from segments.services.writeback import CHANGED_TABLE, membership_bit

DESIRED_TABLE = "segments_desired_members"
# Under this share of customers changed, the built-in diff of a steady refresh reads their
# metrics rows by key and their open memberships through the index by customer, in customer
# order. Left to itself the planner hashes every open membership: slower than those probes at
# a quarter and at a third of the customers changed (measured at a million,
# docs/performance.md), now that the open stays have a partition of their own.
PROBE_MAX_SHARE = 0.25
REANALYZE_AFTER_MOVES = 50_000
# ... and more than this share of the rows the statistics count (autovacuum's own analyze
# threshold): a nightly run's moves, a few percent of the table, leave its statistics right.
REANALYZE_MIN_SHARE = 0.1
ENTRIES_TABLE = "segments_new_members"
# A steady refresh's diff: the changed customers' open memberships, and those to close.
HELD_TABLE = "segments_held_members"
EXITS_TABLE = "segments_member_exits"

# Metrics column holding the value a built-in segment's `key` is matched against, and the SQL
# expression (over metrics row `m`) of the reason recorded on entry.
BUILTIN_COLUMNS: dict[str, tuple[str, str]] = {
    SegmentKind.RFM: (
        "rfm_segment",
        "'RFM ' || m.rfm_code || ' (R' || m.r_score || ' F' || m.f_score"
        " || ' M' || m.m_score || ')'",
    ),
    SegmentKind.LIFECYCLE: ("lifecycle_stage", "'lifecycle stage ' || m.lifecycle_stage"),
    SegmentKind.TIER: ("value_tier", "'value tier ' || m.value_tier"),
    SegmentKind.CLUSTER: ("cluster", "'behaviour cluster ' || m.cluster"),
    SegmentKind.POTENTIAL: ("value_potential", "'potential value ' || m.value_potential"),
}


def _create_desired_table(cursor: Cursor[TupleRow]) -> None:
    cursor.execute(
        sql.SQL(
            "CREATE TEMP TABLE IF NOT EXISTS {} (segment_id bigint NOT NULL, "
            "customer_id bigint NOT NULL, reason varchar(255) NOT NULL) ON COMMIT DROP"
        ).format(sql.Identifier(DESIRED_TABLE))
    )
    cursor.execute(sql.SQL("TRUNCATE {}").format(sql.Identifier(DESIRED_TABLE)))


def _kind_bit(kind: str) -> int:
    """CHANGED_TABLE's bit for the built-in `kind`'s column."""
    return membership_bit(BUILTIN_COLUMNS[kind][0])


def _changed_customers(*, probe: bool) -> sql.Composable:
    """CHANGED_TABLE as a relation (customer_id, kinds); with `probe`, in customer order, the
    order of the indexes it probes and about that of the tables' rows, so the probes read them
    page after page rather than jumping about as the order the customers were written in
    would (docs/performance.md)."""
    changed = sql.Identifier(CHANGED_TABLE)
    if not probe:
        return changed
    return sql.SQL("(SELECT customer_id, kinds FROM {} ORDER BY customer_id)").format(changed)


def _builtin_desired(*, changed_only: bool, probe: bool = False) -> sql.Composed:
    """The SELECT of every built-in segment's desired members (segment_id, customer_id,
    reason) in one pass over the metrics rows: each row unpivots into one (kind, key) per
    built-in kind, joined with the active segments. With `changed_only`, only the customers in
    CHANGED_TABLE and, of each, only the kinds whose column changed (with `probe`, few of
    them, their metrics rows read through the primary key in customer order rather than by
    hashing every row). The reason is built only for the rows the kinds and the segments
    leave, not for every kind of every row."""
    values = sql.SQL(", ").join(
        sql.SQL("({kind}, {bit}, m.{column}::text)").format(
            kind=sql.Literal(str(kind)),
            bit=sql.Literal(_kind_bit(kind)),
            column=sql.Identifier(column),
        )
        for kind, (column, _reason) in BUILTIN_COLUMNS.items()
    )
    reasons = sql.SQL(" ").join(
        sql.SQL("WHEN {kind} THEN {reason}").format(
            kind=sql.Literal(str(kind)), reason=sql.SQL(reason)
        )
        for kind, (_column, reason) in BUILTIN_COLUMNS.items()
    )
    metrics = sql.Identifier(CustomerMetrics._meta.db_table)
    rows: sql.Composable = sql.SQL("{} m").format(metrics)
    if changed_only and probe:
        # A lateral subquery that cannot be flattened (OFFSET 0): each changed customer probes
        # the key, while the join with the segments below still hashes.
        rows = sql.SQL(
            "{changed} c CROSS JOIN LATERAL "
            "(SELECT * FROM {metrics} m WHERE m.customer_id = c.customer_id OFFSET 0) m"
        ).format(changed=_changed_customers(probe=True), metrics=metrics)
    elif changed_only:
        rows = sql.SQL("{} m JOIN {} c ON c.customer_id = m.customer_id").format(
            metrics, _changed_customers(probe=False)
        )
    return sql.SQL(
        "SELECT s.id AS segment_id, m.customer_id, CASE v.kind {reasons} END AS reason "
        "FROM {rows} "
        "CROSS JOIN LATERAL (VALUES {values}) AS v(kind, bit, key) "
        "JOIN {segments} s ON s.kind = v.kind AND s.key = v.key AND s.is_active"
        "{scope}"
    ).format(
        rows=rows,
        values=values,
        reasons=reasons,
        segments=sql.Identifier(Segment._meta.db_table),
        scope=sql.SQL(" WHERE c.kinds & v.bit <> 0" if changed_only else ""),
    )


def _fill_builtin_desired(
    cursor: Cursor[TupleRow], *, changed_only: bool, probe: bool = False
) -> None:
    """Put the built-in segments' desired members (`_builtin_desired`) in DESIRED_TABLE."""
    cursor.execute(
        sql.SQL("INSERT INTO {desired} (segment_id, customer_id, reason) {select}").format(
            desired=sql.Identifier(DESIRED_TABLE),
            select=_builtin_desired(changed_only=changed_only, probe=probe),
        )
    )


def _capped(segment: Segment, queryset: QuerySet[Customer]) -> QuerySet[Customer]:
    if segment.capacity is None:
        return queryset
    descending = segment.priority_descending
    field = segment.priority_field
    priority: Any
    if field == PriorityField.TOUCH_VALUE:
        priority = touch_value()
    else:
        if field == PriorityField.RECENCY:
            # Days since the last order are not stored: more days is an earlier last order.
            field, descending = "last_order_at", not descending
        priority = F(f"metrics__{field}")
    ordering = priority.desc(nulls_last=True) if descending else priority.asc(nulls_last=True)
    return queryset.order_by(ordering, "pk")[: segment.capacity]


def _fill_rule_desired(cursor: Cursor[TupleRow], segment: Segment, as_of: datetime) -> int:
    """The rule segment's desired members; returns how many (its size after the diff)."""
    queryset = _capped(segment, rule_queryset(tree=segment.rule, as_of=as_of)).values("pk")
    select_sql, params = queryset.query.sql_with_params()
    reason = ("rule: " + rule_describe(tree=segment.rule))[:255]
    cursor.execute(
        sql.SQL(
            "INSERT INTO {desired} (segment_id, customer_id, reason) SELECT %s, q.id, %s FROM ("
        ).format(desired=sql.Identifier(DESIRED_TABLE))
        + sql.SQL(select_sql)
        + sql.SQL(") AS q(id)"),
        [segment.pk, reason, *params],
    )
    return cursor.rowcount


def builtin_sizes(frame: pd.DataFrame) -> dict[int, int]:
    """Open members of each active built-in segment once the run's metrics are written: the
    customers whose row holds the segment's key, which is what the diff makes true. Counted
    from the frame rather than over the membership table and its growing history."""
    segments = {
        (kind, key): pk
        for pk, kind, key in Segment.objects.filter(is_active=True)
        .exclude(kind=SegmentKind.RULE)
        .values_list("pk", "kind", "key")
    }
    sizes: dict[int, int] = {}
    for kind, (column, _reason) in BUILTIN_COLUMNS.items():
        values = frame[column].astype("Int64") if column == "cluster" else frame[column]
        for key, count in values.dropna().astype(str).value_counts().items():
            segment_id = segments.get((str(kind), key))
            if segment_id is not None:
                sizes[segment_id] = int(count)
    return sizes


def _few_changed(cursor: Cursor[TupleRow]) -> bool:
    """True when the customers in CHANGED_TABLE are few next to the stored metrics rows (the
    planner's estimate of their count, refreshed by ANALYZE)."""
    cursor.execute(
        sql.SQL(
            "SELECT (SELECT count(*) FROM {changed}), "
            "(SELECT reltuples FROM pg_class WHERE oid = %(metrics)s::regclass)"
        ).format(changed=sql.Identifier(CHANGED_TABLE)),
        {"metrics": CustomerMetrics._meta.db_table},
    )
    row = cursor.fetchone()
    assert row is not None
    changed, rows = row
    return changed < PROBE_MAX_SHARE * max(rows, 1)


def _anyone_in(cursor: Cursor[TupleRow], segment_ids: list[int]) -> bool:
    """Whether any of these segments has an open membership."""
    cursor.execute(
        sql.SQL(
            "SELECT EXISTS (SELECT 1 FROM {table} WHERE segment_id = ANY(%s) AND exited_at IS NULL)"
        ).format(table=sql.Identifier(SegmentMembership._meta.db_table)),
        [segment_ids],
    )
    row = cursor.fetchone()
    return row is None or bool(row[0])


def _apply(
    cursor: Cursor[TupleRow],
    segment_ids: list[int],
    now: datetime,
    run_id: int,
    *,
    hash_exits: bool = False,
) -> Counter:
    """Close memberships of these segments no longer desired and open new ones (every member
    compared); count per segment and kind.

    New entries are selected into their own temporary table before they are inserted: an
    INSERT that anti-joins the table it writes to can be planned as a nested loop re-scanning
    that growing table for every row (quadratic on a first refresh, when statistics say the
    membership table is empty). With `hash_exits` the exits anti-join by hashing: the planner,
    whose statistics do not know a segment created since the last ANALYZE, otherwise expects
    one open membership and loops over the whole desired table for each of them (a few
    thousand members took seconds instead of milliseconds).
    """
    table = sql.Identifier(SegmentMembership._meta.db_table)
    desired = sql.Identifier(DESIRED_TABLE)
    entries = sql.Identifier(ENTRIES_TABLE)
    params = {"now": now, "run": run_id, "ids": segment_ids}
    moves: Counter = Counter()
    cursor.execute(sql.SQL("DROP TABLE IF EXISTS pg_temp.{}").format(entries))
    if not _anyone_in(cursor, segment_ids):
        # Nobody is in these segments yet (a first refresh): every desired row is an entry.
        every = sql.SQL(
            "(SELECT segment_id, customer_id, reason FROM {desired} "
            "WHERE segment_id = ANY(%(ids)s)) AS d"
        ).format(desired=desired)
        moves.update(_entries_open(cursor, params, every))
        return moves
    cursor.execute(sql.SQL("ANALYZE {}").format(desired))
    with hashed(cursor, hash_exits):
        cursor.execute(
            sql.SQL(
                "WITH closed AS (UPDATE {table} m SET exited_at = %(now)s, "
                "exited_run_id = %(run)s WHERE m.segment_id = ANY(%(ids)s) "
                "AND m.exited_at IS NULL AND NOT EXISTS ("
                "SELECT 1 FROM {desired} d WHERE d.segment_id = m.segment_id "
                "AND d.customer_id = m.customer_id) RETURNING m.segment_id) "
                "SELECT segment_id, count(*) FROM closed GROUP BY segment_id"
            ).format(table=table, desired=desired),
            params,
        )
        closed = cursor.fetchall()
    for segment_id, count in closed:
        moves[(segment_id, "exited")] = count
    _entries_select(
        cursor, params, open_rows=sql.SQL("{} m WHERE m.exited_at IS NULL").format(table)
    )
    moves.update(_entries_open(cursor, params))
    return moves


def _apply_changed(
    cursor: Cursor[TupleRow],
    segment_bits: dict[int, int],
    now: datetime,
    run_id: int,
    *,
    probe: bool,
) -> Counter:
    """The diff of a steady refresh, for the customers in CHANGED_TABLE only (the desired
    table holds theirs): their open memberships of these segments (id: the CHANGED_TABLE bit
    of its kind), of the kinds whose column changed, are read once (with `probe`, few
    customers, through the index by customer), then compared with the desired rows by hashing
    both ways, and the exits are closed by primary key. Far cheaper than anti-joining every
    open membership of the segments, which a day's changes would otherwise scan."""
    table = sql.Identifier(SegmentMembership._meta.db_table)
    desired = sql.Identifier(DESIRED_TABLE)
    held = sql.Identifier(HELD_TABLE)
    exits = sql.Identifier(EXITS_TABLE)
    entries = sql.Identifier(ENTRIES_TABLE)
    params = {
        "now": now,
        "run": run_id,
        "ids": list(segment_bits),
        "bits": list(segment_bits.values()),
    }
    cursor.execute(sql.SQL("ANALYZE {}").format(desired))
    for name in (held, exits, entries):
        cursor.execute(sql.SQL("DROP TABLE IF EXISTS pg_temp.{}").format(name))
    # Each open membership's kind bit is looked up in the arrays (null for a segment not
    # among them), not joined: with hash joins off, a join with the segments made the
    # planner pair every segment with every changed customer first, then probe the index for
    # each pair, several times slower (docs/performance.md).
    with index_probes(cursor, probe):
        cursor.execute(
            sql.SQL(
                "CREATE TEMP TABLE {held} ON COMMIT DROP AS "
                "SELECT m.id, m.segment_id, m.customer_id FROM {changed} c "
                "JOIN {table} m ON m.customer_id = c.customer_id AND m.exited_at IS NULL "
                "WHERE c.kinds & (%(bits)s::integer[])"
                "[array_position(%(ids)s::bigint[], m.segment_id)] <> 0"
            ).format(held=held, changed=_changed_customers(probe=probe), table=table),
            params,
        )
    cursor.execute(sql.SQL("ANALYZE {}").format(held))
    # In id order, which is about the order of the rows on disk: the exits' UPDATE then
    # visits the table and its primary key page after page, instead of at random (measured at
    # a million customers: 156,000 exits in 3.5 s instead of 7.1-7.7 s).
    cursor.execute(
        sql.SQL(
            "CREATE TEMP TABLE {exits} ON COMMIT DROP AS SELECT h.id FROM {held} h "
            "WHERE NOT EXISTS (SELECT 1 FROM {desired} d WHERE d.segment_id = h.segment_id "
            "AND d.customer_id = h.customer_id) ORDER BY h.id"
        ).format(exits=exits, held=held, desired=desired)
    )
    cursor.execute(sql.SQL("ANALYZE {}").format(exits))
    moves: Counter = Counter()
    # `exited_at IS NULL` changes no result (every exit was read open) but prunes the closed
    # partition from the plan: while it is empty, as on the night after a first refresh, a
    # scan of it looks free, and it was scanned once per exit as the exits filled it.
    with index_probes(cursor):
        cursor.execute(
            sql.SQL(
                "WITH closed AS (UPDATE {table} m SET exited_at = %(now)s, "
                "exited_run_id = %(run)s FROM {exits} e "
                "WHERE m.id = e.id AND m.exited_at IS NULL RETURNING m.segment_id) "
                "SELECT segment_id, count(*) FROM closed GROUP BY segment_id"
            ).format(table=table, exits=exits),
            params,
        )
        for segment_id, count in cursor.fetchall():
            moves[(segment_id, "exited")] = count
    _entries_select(cursor, params, open_rows=sql.SQL("{} m WHERE true").format(held))
    moves.update(_entries_open(cursor, params))
    return moves


def _entries_select(
    cursor: Cursor[TupleRow], params: dict[str, Any], *, open_rows: sql.Composable
) -> None:
    """Select into ENTRIES_TABLE the desired rows of the segments in `params` without an open
    membership among `open_rows` (a relation aliased m, then its condition)."""
    cursor.execute(
        sql.SQL(
            "CREATE TEMP TABLE {entries} ON COMMIT DROP AS "
            "SELECT d.segment_id, d.customer_id, d.reason FROM {desired} d "
            "WHERE d.segment_id = ANY(%(ids)s) AND NOT EXISTS (SELECT 1 FROM {open_rows} "
            "AND m.segment_id = d.segment_id AND m.customer_id = d.customer_id)"
        ).format(
            entries=sql.Identifier(ENTRIES_TABLE),
            desired=sql.Identifier(DESIRED_TABLE),
            open_rows=open_rows,
        ),
        params,
    )


def _entries_open(
    cursor: Cursor[TupleRow], params: dict[str, Any], source: sql.Composable | None = None
) -> Counter:
    """Insert the memberships selected into ENTRIES_TABLE (or `source`, rows of segment_id,
    customer_id and reason); count per segment.

    In customer order: the index by customer then grows at its right edge, page after page,
    and the ones by segment at one edge per segment, instead of taking entries all over the
    index in the order the metrics rows happen to lie: faster, and the indexes come out
    smaller (docs/performance.md, "Entries in customer order").
    """
    cursor.execute(
        sql.SQL(
            "WITH opened AS (INSERT INTO {table} "
            "(segment_id, customer_id, entered_at, reason, entered_run_id) "
            "SELECT segment_id, customer_id, %(now)s, reason, %(run)s FROM {entries} "
            "ORDER BY customer_id, segment_id RETURNING segment_id) "
            "SELECT segment_id, count(*) FROM opened GROUP BY segment_id"
        ).format(
            table=sql.Identifier(SegmentMembership._meta.db_table),
            entries=source if source is not None else sql.Identifier(ENTRIES_TABLE),
        ),
        params,
    )
    return Counter({(segment_id, "entered"): count for segment_id, count in cursor.fetchall()})


def _segments_hold(cursor: Cursor[TupleRow], segment_ids: list[int] | None = None) -> None:
    """Hold these segments (all when None) until the transaction ends, as a foreign key's
    check would hold each referenced row: a segment deleted meanwhile (segment_delete locks
    it first) is gone before the memberships are read, or waits until they are committed and
    then deletes them with it. See "References of the refresh's tables" in segments.models."""
    table = sql.Identifier(Segment._meta.db_table)
    if segment_ids is None:
        cursor.execute(sql.SQL("SELECT id FROM {} FOR KEY SHARE").format(table))
    else:
        cursor.execute(
            sql.SQL("SELECT id FROM {} WHERE id = ANY(%s) FOR KEY SHARE").format(table),
            [segment_ids],
        )


def _statistics_stale(cursor: Cursor[TupleRow], moves: int) -> bool:
    """True when `moves` entries and exits are many, in number and next to the membership
    rows the planner's statistics count (none on a first refresh). Analysing the whole table
    every night would buy statistics that a day's moves, a few percent of the rows, leave as
    they were; autovacuum analyses it after the commit past the same share."""
    if moves <= REANALYZE_AFTER_MOVES:
        return False
    cursor.execute(
        "SELECT reltuples FROM pg_class WHERE oid = %s::regclass",
        [SegmentMembership._meta.db_table],
    )
    row = cursor.fetchone()
    assert row is not None
    return moves > REANALYZE_MIN_SHARE * max(row[0], 0)


def builtin_memberships_refresh(*, run_id: int, now: datetime, changed_only: bool) -> Counter:
    """Recompute the built-in segments' members from the metrics table (with `changed_only`,
    only for the customers in CHANGED_TABLE); returns (segment_id, entered|exited) counts.
    Holds every segment until the transaction ends (see `_segments_hold`)."""
    with connection.cursor() as wrapper:
        _segments_hold(wrapper.cursor)
    builtin_bits = {
        pk: _kind_bit(kind)
        for pk, kind in Segment.objects.filter(is_active=True)
        .exclude(kind=SegmentKind.RULE)
        .values_list("pk", "kind")
    }
    moves: Counter = Counter()
    with connection.cursor() as wrapper:
        cursor: Cursor[TupleRow] = wrapper.cursor
        _create_desired_table(cursor)
        if not changed_only and not _anyone_in(cursor, list(builtin_bits)):
            # Nobody is in the built-in segments yet (a first refresh): every desired row is
            # an entry, inserted as the metrics rows unpivot, without a desired table between.
            params = {"now": now, "run": run_id}
            source = sql.SQL("({}) AS d").format(_builtin_desired(changed_only=False))
            moves.update(_entries_open(cursor, params, source))
        elif changed_only:
            probe = _few_changed(cursor)
            _fill_builtin_desired(cursor, changed_only=True, probe=probe)
            moves.update(_apply_changed(cursor, builtin_bits, now, run_id, probe=probe))
        else:
            _fill_builtin_desired(cursor, changed_only=False)
            moves.update(_apply(cursor, list(builtin_bits), now, run_id))
    return moves


def rule_memberships_refresh(
    *, run_id: int, as_of: datetime, now: datetime, builtin_moves: Counter
) -> tuple[Counter, dict[int, int]]:
    """After `builtin_memberships_refresh` (whose moves are `builtin_moves`), recompute the
    rule segments in dependency order, so a rule that references another segment reads its
    already updated membership, and close the memberships of inactive segments; returns their
    moves and the size of each active rule segment."""
    rules = {
        segment.slug: segment
        for segment in Segment.objects.filter(is_active=True, kind=SegmentKind.RULE)
    }
    order = segment_dependency_order(
        segments={slug: segment.rule for slug, segment in rules.items()}
    )
    moves: Counter = Counter()
    rule_sizes: dict[int, int] = {}
    with connection.cursor() as wrapper:
        cursor: Cursor[TupleRow] = wrapper.cursor
        _create_desired_table(cursor)
        for slug in order:
            segment = rules[slug]
            cursor.execute(sql.SQL("TRUNCATE {}").format(sql.Identifier(DESIRED_TABLE)))
            rule_sizes[segment.pk] = _fill_rule_desired(cursor, segment, as_of)
            moves.update(_apply(cursor, [segment.pk], now, run_id, hash_exits=True))
        inactive_ids = list(Segment.objects.filter(is_active=False).values_list("pk", flat=True))
        if inactive_ids:
            cursor.execute(sql.SQL("TRUNCATE {}").format(sql.Identifier(DESIRED_TABLE)))
            moves.update(_apply(cursor, inactive_ids, now, run_id))
        if _statistics_stale(cursor, sum(builtin_moves.values()) + sum(moves.values())):
            # Fresh statistics for what follows in this transaction (segment sizes, rule
            # segments of the next run): planned on a table believed empty, the count of open
            # memberships after a first refresh would take minutes instead of a second.
            cursor.execute(
                sql.SQL("ANALYZE {}").format(sql.Identifier(SegmentMembership._meta.db_table))
            )
    return moves, rule_sizes


def segment_memberships_compute(
    *, segment: Segment, run_id: int, as_of: datetime, now: datetime
) -> tuple[Counter, int]:
    """Recompute one rule segment's members as a refresh does (the same desired table and
    diff, entries and exits recorded with `run_id`); returns the moves and its size. An
    inactive segment has no members: its open memberships are closed."""
    with connection.cursor() as wrapper:
        cursor: Cursor[TupleRow] = wrapper.cursor
        _segments_hold(cursor, [segment.pk])
        _create_desired_table(cursor)
        size = _fill_rule_desired(cursor, segment, as_of) if segment.is_active else 0
        moves = _apply(cursor, [segment.pk], now, run_id, hash_exits=True)
    return moves, size

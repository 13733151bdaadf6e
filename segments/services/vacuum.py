"""Vacuuming the refresh's tables once a run has left many dead row versions in them.

A refresh rewrites rows by the hundred thousand (the weekly refit a million metrics rows, a
night's entries and exits a few hundred thousand memberships), and each rewritten row leaves
its old version behind until VACUUM frees its space. Until then the next run's updates find no
room on their page (no HOT update: every index is written again) and every scan reads the dead
versions too. Autovacuum frees them in its own time where it runs; where it is off or behind,
the tables only grow. So after each run the worker vacuums the tables past autovacuum's own
default threshold, off the run's own path (`segments.tasks`, `refresh_segments`).
"""

import logging
import time

from django.db import connection
from psycopg import errors, sql

from segments.models import CustomerBehaviour, CustomerMetrics, SegmentMembership

REFRESH_TABLES = tuple(
    model._meta.db_table for model in (CustomerMetrics, SegmentMembership, CustomerBehaviour)
)
logger = logging.getLogger(__name__)
# autovacuum_vacuum_threshold and autovacuum_vacuum_scale_factor's defaults: a table is
# vacuumed once its dead row versions exceed THRESHOLD + SCALE_FACTOR x its rows.
THRESHOLD = 50
SCALE_FACTOR = 0.2
LOCK_TIMEOUT = "5s"


def refresh_tables_due() -> list[str]:
    """The refresh's tables whose dead row versions exceed the threshold (the server's
    statistics, which each transaction reports as it ends). A partitioned table (the
    memberships) holds no rows of its own: each of its partitions is counted, and named, by
    itself, so that only the one a run left dead versions in is vacuumed."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT s.relname FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid "
            "LEFT JOIN pg_inherits i ON i.inhrelid = s.relid "
            "WHERE coalesce(i.inhparent, s.relid) = ANY(%s::regclass[]) AND c.relkind = 'r' "
            "AND s.n_dead_tup > %s + %s * greatest(c.reltuples, 0) "
            "ORDER BY s.relname",
            [list(REFRESH_TABLES), THRESHOLD, SCALE_FACTOR],
        )
        return [name for (name,) in cursor.fetchall()]


def refresh_tables_vacuum() -> dict[str, float]:
    """VACUUM each of the refresh's tables that is due (`refresh_tables_due`) on a connection
    of its own (VACUUM cannot run inside a transaction); returns the seconds each took.

    Nothing inside a caller's open transaction: its rows are not dead to it yet, and a vacuum
    would wait for the locks it holds. A table another session holds (a refresh analysing it)
    is left for the next time rather than waited for."""
    if connection.in_atomic_block:
        return {}
    due = refresh_tables_due()
    if not due:
        return {}
    seconds: dict[str, float] = {}
    own = connection.get_new_connection(connection.get_connection_params())
    try:
        own.autocommit = True
        own.execute(f"SET lock_timeout = '{LOCK_TIMEOUT}'")
        for table in due:
            started = time.perf_counter()
            try:
                own.execute(sql.SQL("VACUUM {}").format(sql.Identifier(table)))
            except errors.LockNotAvailable:
                logger.info("%s is in use; left for autovacuum or the next refresh", table)
                continue
            seconds[table] = round(time.perf_counter() - started, 3)
    finally:
        own.close()
    return seconds

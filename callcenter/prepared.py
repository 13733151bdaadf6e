"""Hot-path reads as prepared statements, several of them in one round trip.

Django's psycopg cursor binds parameters on the client and sends simple queries, which
PostgreSQL parses and plans again on every call. For the screen-pop, which runs on every
ringing call, the planning cost more server CPU than running the statements: on a 1M-customer
base, the card's seven section statements took 0.73-0.98 ms of PostgreSQL CPU per card as one
multi-statement simple query, and 0.24-0.30 ms as prepared statements sent in one pipeline
(same connection, same customers, measured from the backend's /proc counters).

`fetch_prepared` sends its statements with server-side binding through psycopg's pipeline
mode: one round trip, one Sync, so they run in one transaction as a multi-statement query
does. psycopg prepares each statement on the connection the first time it sees it and keeps
it (`prepared_max` per connection); persistent connections (CONN_MAX_AGE) make that once per
connection and statement. Behind PgBouncer in transaction mode before 1.21 (or without
`max_prepared_statements`), set DB_PREPARED_STATEMENTS=false: the same single round trip
with unnamed statements, planned each time.

The connection is taken through Django (connect, error wrapping, a broken transaction
refused), and the round trip is recorded in `connection.queries` like any query, so
query-count tests see it. Django's per-request health check (`SELECT 1` before the first
query) is replaced, outside transactions, by the statements themselves: on a connection found
dead they run once more on a new one.
"""

import time
from collections.abc import Mapping, Sequence
from typing import Any

import psycopg
from django.conf import settings
from django.db import InterfaceError, OperationalError, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from psycopg.rows import RowFactory, dict_row

Statement = tuple[str, Mapping[str, Any]]


def fetch_prepared(
    alias: str, statements: Sequence[Statement], *, row_factory: RowFactory[Any] = dict_row
) -> list[list[Any]]:
    """The rows (dicts, unless `row_factory` says otherwise) of each `(sql, params)`
    statement, all sent in one round trip.

    Statements use psycopg's `%(name)s` placeholders; a statement ignores parameters it does
    not name. Only one statement per string (server-side binding). They must only read:
    outside a transaction, a connection found dead on use is replaced and they run again.
    """
    connection = connections[alias]
    started = time.monotonic()
    retry = _health_check_by_use(connection)
    try:
        results = _run(connection, statements, row_factory)
    except (OperationalError, InterfaceError):
        raw = connection.connection
        if not retry or (raw is not None and not raw.closed and not raw.broken):
            raise
        connection.close()
        results = _run(connection, statements, row_factory)
    connection.health_check_done = True
    if connection.queries_logged:
        connection.queries_log.append(
            {
                "sql": ";\n".join(statement for statement, _params in statements),
                "time": f"{time.monotonic() - started:.3f}",
            }
        )
    return results


def _health_check_by_use(connection: BaseDatabaseWrapper) -> bool:
    """Whether the connection's health check (CONN_HEALTH_CHECKS) is left to the statements
    themselves: due now, and outside any transaction, where running read-only statements
    again on a new connection is safe. Django's check costs a `SELECT 1` round trip on the
    first query of every request; a screen-pop needs only two or three. Else Django's check
    runs as before any query."""
    due = (
        connection.connection is not None
        and connection.health_check_enabled
        and not connection.health_check_done
    )
    if due and connection.get_autocommit() and not connection.in_atomic_block:
        return True
    connection.close_if_health_check_failed()
    return False


def _run(
    connection: BaseDatabaseWrapper, statements: Sequence[Statement], row_factory: RowFactory[Any]
) -> list[list[Any]]:
    # What Django's cursor() does first, without building a cursor that would go unused.
    connection.ensure_connection()
    connection.validate_no_broken_transaction()
    with connection.wrap_database_errors:
        raw = connection.connection
        prepare = bool(settings.DB_PREPARED_STATEMENTS)
        cursors = [psycopg.Cursor(raw, row_factory=row_factory) for _statement in statements]
        try:
            if len(statements) == 1:
                # One statement is one round trip anyway; the pipeline would only add its
                # own Python work (about 45 us a call).
                cursors[0].execute(*statements[0], prepare=prepare)
            else:
                with raw.pipeline():
                    for cursor, (statement, params) in zip(cursors, statements, strict=True):
                        cursor.execute(statement, params, prepare=prepare)
            return [cursor.fetchall() for cursor in cursors]
        finally:
            for cursor in cursors:
                cursor.close()

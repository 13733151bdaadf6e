"""Hot-path reads as prepared statements.

Django's psycopg cursor binds parameters on the client and sends simple queries, which
PostgreSQL parses and plans again on every call. On the hot paths (the screen-pop card and
API-token authentication, on every ringing call) planning costs more server CPU than running
the statements, so they are prepared once per connection (docs/performance.md).

`fetch_prepared` runs one statement with server-side binding, written with psycopg's
`%(name)s` placeholders. It turns them into PostgreSQL's `$n` once per statement text and
executes through a RawCursor: psycopg's own conversion runs on every execute, and caches its
result only for statements up to 4 KB, which the screen-pop card's statement is not, so that
parsing would be a noticeable share of every screen-pop request. psycopg prepares it on the
connection the first time it sees it and keeps it (`prepared_max` per connection); persistent
connections (CONN_MAX_AGE) make that once per connection and statement. Behind PgBouncer in
transaction mode before 1.21 (or without `max_prepared_statements`), set
DB_PREPARED_STATEMENTS=false: the same server-side binding with an unnamed statement, planned
each time.

The connection is taken through Django (connect, error wrapping, a broken transaction
refused), and the statement is recorded in `connection.queries` like any query, so
query-count tests see it. Django's per-request health check (`SELECT 1` before the first
query) is replaced, outside transactions, by the statement itself: on a connection found dead
it runs once more on a new one.
"""

import re
import time
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import psycopg
from django.conf import settings
from django.db import InterfaceError, OperationalError, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from psycopg.rows import RowFactory, dict_row


def fetch_prepared(
    alias: str,
    sql: str,
    params: Mapping[str, Any],
    *,
    row_factory: RowFactory[Any] = dict_row,
) -> list[Any]:
    """The rows (dicts, unless `row_factory` says otherwise) of one statement.

    The statement uses psycopg's `%(name)s` placeholders and ignores parameters it does not
    name. It must only read: outside a transaction, a connection found dead on use is
    replaced and the statement runs again.
    """
    connection = connections[alias]
    started = time.monotonic()
    retry = _health_check_by_use(connection)
    try:
        rows = _run(connection, sql, params, row_factory)
    except (OperationalError, InterfaceError):
        raw = connection.connection
        if not retry or (raw is not None and not raw.closed and not raw.broken):
            raise
        connection.close()
        rows = _run(connection, sql, params, row_factory)
    # The health-check flags (Django 4.1+) are missing from django-stubs' BaseDatabaseWrapper.
    connection.health_check_done = True  # type: ignore[attr-defined]
    if connection.queries_logged:
        connection.queries_log.append({"sql": sql, "time": f"{time.monotonic() - started:.3f}"})
    return rows


def _health_check_by_use(connection: BaseDatabaseWrapper) -> bool:
    """Whether the connection's health check (CONN_HEALTH_CHECKS) is left to the statement
    itself: due now, and outside any transaction, where running a read-only statement again
    on a new connection is safe. Django's check costs a `SELECT 1` round trip on the first
    query of every request; a screen-pop needs only two statements. Else Django's check runs
    as before any query."""
    # The health-check flags (Django 4.1+) are missing from django-stubs' BaseDatabaseWrapper.
    due = (
        connection.connection is not None
        and connection.health_check_enabled  # type: ignore[attr-defined]
        and not connection.health_check_done  # type: ignore[attr-defined]
    )
    if due and connection.get_autocommit() and not connection.in_atomic_block:
        return True
    connection.close_if_health_check_failed()
    return False


# psycopg's placeholder syntax: %(name)s, and %% for a literal %.
_PLACEHOLDER = re.compile(r"%\((\w+)\)s|%%|%")


@lru_cache(maxsize=64)
def _native_statement(sql: str) -> tuple[bytes, tuple[str, ...]]:
    """`sql` with its `%(name)s` placeholders as `$1`, `$2`... (a name used twice is one
    parameter), and the parameter names in that order. Raises ValueError on a `%` that is
    neither a placeholder nor `%%`."""
    names: list[str] = []

    def native(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            if match.group(0) == "%":
                raise ValueError(f"incomplete placeholder at {match.start()} in {sql[:60]!r}")
            return "%"
        if name not in names:
            names.append(name)
        return f"${names.index(name) + 1}"

    return _PLACEHOLDER.sub(native, sql).encode(), tuple(names)


def _run(
    connection: BaseDatabaseWrapper,
    sql: str,
    params: Mapping[str, Any],
    row_factory: RowFactory[Any],
) -> list[Any]:
    # What Django's cursor() does first, without building a cursor that would go unused.
    connection.ensure_connection()
    connection.validate_no_broken_transaction()
    statement, names = _native_statement(sql)
    with connection.wrap_database_errors:
        missing = [name for name in names if name not in params]
        if missing:
            raise psycopg.ProgrammingError(f"no value for the parameters {missing}")
        cursor = psycopg.RawCursor(connection.connection, row_factory=row_factory)
        try:
            cursor.execute(
                statement,
                [params[name] for name in names],
                prepare=bool(settings.DB_PREPARED_STATEMENTS),
            )
            return cursor.fetchall()
        finally:
            cursor.close()

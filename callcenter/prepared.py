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

The connection is taken through Django (connect, health check, error wrapping, a broken
transaction refused), and the round trip is recorded in `connection.queries` like any query,
so query-count tests see it.
"""

import time
from collections.abc import Mapping, Sequence
from typing import Any

import psycopg
from django.conf import settings
from django.db import connections
from psycopg.rows import RowFactory, dict_row

Statement = tuple[str, Mapping[str, Any]]


def fetch_prepared(
    alias: str, statements: Sequence[Statement], *, row_factory: RowFactory[Any] = dict_row
) -> list[list[Any]]:
    """The rows (dicts, unless `row_factory` says otherwise) of each `(sql, params)`
    statement, all sent in one round trip.

    Statements use psycopg's `%(name)s` placeholders; a statement ignores parameters it does
    not name. Only one statement per string (server-side binding).
    """
    connection = connections[alias]
    started = time.monotonic()
    # What Django's cursor() does first, without building a cursor that would go unused.
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    connection.validate_no_broken_transaction()
    with connection.wrap_database_errors:
        raw = connection.connection
        prepare = bool(settings.DB_PREPARED_STATEMENTS)
        cursors = [psycopg.Cursor(raw, row_factory=row_factory) for _statement in statements]
        try:
            with raw.pipeline():
                for cursor, (statement, params) in zip(cursors, statements, strict=True):
                    cursor.execute(statement, params, prepare=prepare)
            results = [cursor.fetchall() for cursor in cursors]
        finally:
            for cursor in cursors:
                cursor.close()
    if connection.queries_logged:
        connection.queries_log.append(
            {
                "sql": ";\n".join(statement for statement, _params in statements),
                "time": f"{time.monotonic() - started:.3f}",
            }
        )
    return results

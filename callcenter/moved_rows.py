"""Statements run again when a concurrent transaction moved their row to another partition.

Segment memberships are partitioned by whether the stay is open: a refresh that closes a stay
moves its row from one partition to the other. A statement of another transaction that waited
for that row (a merge moving the customer's rows, a deletion cascading to them) cannot follow
it there the way it follows an ordinary update: PostgreSQL ends the statement with a
serialization failure (SQLSTATE 40001). Run again in a fresh savepoint, the statement takes a
new snapshot, under READ COMMITTED, and finds the row where it now is.
"""

from collections.abc import Callable
from typing import TypeVar

from django.db import OperationalError, transaction
from psycopg import errors

T = TypeVar("T")
ATTEMPTS = 3


def moved_rows_retried(statement: Callable[[], T]) -> T:
    """`statement()` in a savepoint, run again (up to ATTEMPTS in all) while it fails because
    a row it waited for was moved to another partition; any other error is raised at once."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            with transaction.atomic():
                return statement()
        except OperationalError as exc:
            if attempt == ATTEMPTS or not isinstance(exc.__cause__, errors.SerializationFailure):
                raise
    raise AssertionError("unreachable: the last attempt returns or raises")

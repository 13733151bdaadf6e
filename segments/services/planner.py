"""Planner methods turned off for one statement of the refresh, where PostgreSQL's cost model
(which prices a cached index probe as a disk read) picks a plan measured to be slower
(docs/performance.md)."""

from collections.abc import Iterator
from contextlib import contextmanager

from psycopg import Cursor
from psycopg.rows import TupleRow


@contextmanager
def planner_methods_off(cursor: Cursor[TupleRow], names: tuple[str, ...]) -> Iterator[None]:
    """Within the block, these planner methods (e.g. "enable_hashjoin") are off; the
    transaction's own settings come back after it."""
    reads = ", ".join(f"current_setting('{name}')" for name in names)
    cursor.execute(f"SELECT {reads}")  # noqa: S608 - names are module constants
    saved = cursor.fetchone()
    offs = ", ".join(f"set_config('{name}', 'off', true)" for name in names)
    cursor.execute(f"SELECT {offs}")  # noqa: S608 - names are module constants
    try:
        yield
    finally:
        backs = ", ".join(f"set_config('{name}', %s, true)" for name in names)
        cursor.execute(f"SELECT {backs}", saved)  # noqa: S608 - names are module constants


@contextmanager
def index_probes(cursor: Cursor[TupleRow], enabled: bool = True) -> Iterator[None]:
    """Within the block, no hash or merge joins: each row of the driving side probes an
    index."""
    if not enabled:
        yield
        return
    with planner_methods_off(cursor, ("enable_hashjoin", "enable_mergejoin")):
        yield


@contextmanager
def hashed(cursor: Cursor[TupleRow], enabled: bool = True) -> Iterator[None]:
    """Within the block, no nested loops: joins hash (or merge) both sides."""
    if not enabled:
        yield
        return
    with planner_methods_off(cursor, ("enable_nestloop",)):
        yield

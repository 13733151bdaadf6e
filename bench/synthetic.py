"""A benchmark's own database of synthetic customers, filled server-side: built fresh (dropped,
created, migrated, filled by the benchmark's statements, analysed) or reused as built before.
Shared by the date-trigger and campaign benchmarks."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.refresh import _admin_url, _url_for

ROOT = Path(__file__).resolve().parent.parent


def database_url(database: str) -> str:
    """The database's URL as psycopg takes it."""
    return _url_for(database).replace("postgres://", "postgresql://", 1)


def migrate(database: str) -> None:
    env = {**os.environ, "DATABASE_URL": _url_for(database)}
    manage = [sys.executable, str(ROOT / "manage.py"), "migrate", "--noinput", "-v", "0"]
    subprocess.run(manage, env=env, check=True, cwd=ROOT)


def build(
    database: str, *, customers: int, statements: Sequence[str], params: dict[str, Any]
) -> dict[str, object]:
    """A fresh, migrated database filled by `statements` (with `params`), then analysed."""
    import psycopg

    with psycopg.connect(_admin_url(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{database}"')
    migrate(database)
    started = time.perf_counter()
    with psycopg.connect(database_url(database), autocommit=True) as conn:
        conn.execute("SET work_mem = '256MB'")
        for statement in statements:
            conn.execute(statement, params)
        conn.execute("VACUUM ANALYZE")
    return {"customers": customers, "generate_seconds": round(time.perf_counter() - started, 1)}


def reused(database: str) -> dict[str, object]:
    """The database built before, migrated."""
    import psycopg

    migrate(database)
    with psycopg.connect(database_url(database)) as conn:
        customers = conn.execute("SELECT count(*) FROM callcenter_customer").fetchone()[0]
    return {"customers": customers, "reused": True}


def machine(database: str) -> dict[str, object]:
    """The cores, Python and PostgreSQL versions and load a run reports beside its figures."""
    import psycopg

    with psycopg.connect(database_url(database)) as conn:
        server = conn.execute("SHOW server_version").fetchone()[0]
    return {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "postgres": server,
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }

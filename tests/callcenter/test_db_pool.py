"""DB_POOL_SIZE: one pool of connections per process (the desk's stream server), which threads
that come and go share, where each thread would otherwise connect anew."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Six threads one after the other, each running a query and closing its connection as the
# stream server's session checks do (callcenter.views.desk); prints the backends they reached.
SCRIPT = """
import json, threading
import django
django.setup()
from django.conf import settings
from django.db import connection

pids = []

def check():
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pids.append(cursor.fetchone()[0])
    connection.close()

for _ in range(6):
    thread = threading.Thread(target=check)
    thread.start()
    thread.join()
print(json.dumps({"pids": pids, "max_age": settings.DATABASES["default"]["CONN_MAX_AGE"]}))
connection.close_pool()
"""


def _run(pool_size: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        env={**os.environ, "DB_POOL_SIZE": pool_size},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _backends(pool_size: str) -> dict:
    done = _run(pool_size)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_without_a_pool_each_thread_connects_anew() -> None:
    seen = _backends("0")

    assert len(set(seen["pids"])) == 6
    assert seen["max_age"] > 0


def test_with_a_pool_threads_share_its_connections() -> None:
    seen = _backends("2")

    assert len(set(seen["pids"])) <= 2
    # Django refuses persistent connections beside a pool.
    assert seen["max_age"] == 0


def test_a_negative_pool_size_stops_the_process_at_startup() -> None:
    done = _run("-1")

    assert done.returncode != 0
    assert "ImproperlyConfigured: DB_POOL_SIZE must be 0 (no pool) or more, not -1." in done.stderr

"""Real Celery worker processes for integration tests, pointed at the test database."""

import datetime as dt
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.db import connection

from callcenter import celery_app

WORKER_START_TIMEOUT = 90
# How long a test waits for a worker to get somewhere: generous, as the machine may be busy
# (a passing test returns as soon as its check holds).
WORKER_TIMEOUT = 60


def database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def purge(queues: str) -> None:
    with celery_app.connection_for_write() as conn:
        for queue in queues.split(","):
            conn.default_channel.queue_purge(queue)


def worker_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a process of the app under test: the test database and Redis."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "callcenter.settings.test",
        "DATABASE_URL": database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CELERY_RESULT_BACKEND": settings.CELERY_RESULT_BACKEND,
        "DB_CONN_MAX_AGE": "0",
        **(extra or {}),
    }


@contextmanager
def celery_worker(
    hostname: str,
    *,
    queues: str,
    log_path: Path,
    pool: str = "solo",
    concurrency: int = 1,
    env: dict[str, str] | None = None,
) -> Iterator[subprocess.Popen]:
    """A `celery worker` process on `queues`; yields once it answers a ping, stops it after."""
    environment = worker_env(env)
    command = [sys.executable, "-m", "celery", "-A", "callcenter", "worker", "-Q", queues]
    command += ["--pool", pool, "--concurrency", str(concurrency), "--loglevel", "info"]
    command += ["--without-gossip", "--without-mingle", "--hostname", hostname]
    with log_path.open("w") as log:
        process = subprocess.Popen(
            command, env=environment, cwd=settings.BASE_DIR, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            deadline = time.monotonic() + WORKER_START_TIMEOUT
            while not celery_app.control.ping(destination=[hostname], timeout=1):
                assert process.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, "worker did not start:\n" + log_path.read_text()
            yield process
        finally:
            process.terminate()
            process.wait(timeout=60)
            # Tasks it left queued (e.g. a churn training a refresh asked for) must not run in
            # a later test's worker.
            purge(queues)


def wait_for(check: Callable[[], object], what: str, timeout: float = WORKER_TIMEOUT) -> None:
    """Poll `check` until it is true; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"the worker did not get there in {timeout} s: {what}")


def noon_zone() -> str:
    """A fixed-offset zone where it is about noon now (the worker's clock is real), so quiet
    hours never hold a send back."""
    offset = (12 - dt.datetime.now(dt.UTC).hour) % 24
    offset = offset - 24 if offset > 12 else offset
    # Etc/GMT zones have inverted signs: Etc/GMT-8 is UTC+8.
    return f"Etc/GMT{-offset:+d}"

"""Real Celery worker processes for integration tests, pointed at the test database."""

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.db import connection

from callcenter import celery_app

WORKER_START_TIMEOUT = 90


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

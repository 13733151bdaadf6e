"""Outreach under process faults, with real processes against the loopback SMS gateway:

- a Celery worker killed with SIGKILL in the middle of a batch of sends: after the sweep that
  returns a dead worker's claims, every due message has been delivered exactly once (the
  gateway deduplicates the one send that was in flight by its idempotency key, as real
  gateways do; the dispatcher never sends a recorded task again);
- two dispatcher processes (two beats) at once: every task is sent once.

Rows are committed (other processes must see them) and deleted afterwards by `committed`.
"""

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from callcenter import celery_app
from outreach.choices import TaskStatus
from outreach.models import OutreachTask
from outreach.services.dispatch import CLAIM_LEASE, dispatch_due
from outreach.tasks import dispatch_due_task
from tests.callcenter.factories import CustomerFactory, PhoneFactory
from tests.outreach.factories import TaskFactory
from tests.outreach.gateway import Gateway, GatewayServer, _handler
from tests.outreach.test_worker import _noon_zone
from tests.workers import celery_worker, purge, worker_env

START_TIMEOUT = 120
SEND_DELAY = 0.3  # each send takes this long at the gateway, so a kill lands mid-batch


class SlowGatewayServer(GatewayServer):
    """The loopback gateway, answering every request after SEND_DELAY."""

    def __enter__(self) -> Gateway:
        self.gateway = Gateway()
        base = _handler(self.gateway)

        class Slow(base):  # type: ignore[valid-type,misc]
            def do_POST(self) -> None:  # noqa: N802 - stdlib hook name
                time.sleep(SEND_DELAY)
                super().do_POST()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
        self.server.daemon_threads = True
        host, port = self.server.server_address[:2]
        self.gateway.url = f"http://{host}:{port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self.gateway


@pytest.fixture
def slow_gateway(settings: Any) -> Iterator[Gateway]:
    with SlowGatewayServer() as gateway:
        settings.SMS_BACKEND = "http"
        settings.SMS_GATEWAY_URL = f"{gateway.url}/send"
        settings.SMS_GATEWAY_TOKEN = gateway.token
        settings.SMS_TIMEOUT_SECONDS = 5
        yield gateway


def _gateway_env(gateway: Gateway) -> dict[str, str]:
    return {
        "SMS_BACKEND": "http",
        "SMS_GATEWAY_URL": f"{gateway.url}/send",
        "SMS_GATEWAY_TOKEN": gateway.token,
        "SMS_TIMEOUT_SECONDS": "5",
    }


def _due_tasks(committed: list, count: int) -> list[OutreachTask]:
    zone = _noon_zone()
    tasks = []
    for _ in range(count):
        customer = CustomerFactory(timezone=zone)
        committed.append(customer)
        PhoneFactory(customer=customer)
        tasks.append(
            TaskFactory(customer=customer, due_at=timezone.now() - dt.timedelta(seconds=5))
        )
    return tasks


def _wait(check: Any, timeout: float, what: str, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        detail = log.read_text() if log is not None and log.exists() else ""
        assert time.monotonic() < deadline, f"timed out waiting for {what}\n{detail}"
        time.sleep(0.02)


def _assert_each_sent_once(tasks: list[OutreachTask], gateway: Gateway) -> None:
    statuses = {task.pk: OutreachTask.objects.get(pk=task.pk).status for task in tasks}
    assert set(statuses.values()) == {TaskStatus.SENT}, statuses
    keys = [task.idempotency_key for task in tasks]
    assert sorted(gateway.delivered) == sorted(keys), "each message delivered exactly once"
    sent_keys = [request.headers["Idempotency-Key"] for request in gateway.requests]
    assert set(sent_keys) == set(keys)


def test_a_worker_killed_mid_batch_loses_and_duplicates_nothing(
    committed: list, slow_gateway: Gateway, tmp_path: Path
) -> None:
    tasks = _due_tasks(committed, 12)
    purge("outreach")
    log = tmp_path / "worker.log"
    hostname = f"fault-kill-{os.getpid()}@localhost"
    with celery_worker(
        hostname, queues="outreach", log_path=log, env=_gateway_env(slow_gateway)
    ) as process:
        celery_app.conf.task_always_eager = False
        try:
            dispatch_due_task.apply_async(queue="outreach")
        finally:
            celery_app.conf.task_always_eager = True
        # when three messages are through, the worker dies without any chance to clean up
        _wait(lambda: slow_gateway.delivery_count >= 3, START_TIMEOUT, "sends", log)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)

    stranded = OutreachTask.objects.filter(
        pk__in=[t.pk for t in tasks], status=TaskStatus.CLAIMED
    ).count()
    assert 0 < stranded < len(tasks), "the kill landed in the middle of the batch"
    # A pass within the lease leaves the dead worker's claims alone ...
    assert dispatch_due()["sent"] == 0
    # ... the first pass after it returns them and sends them (same idempotency keys).
    later = timezone.now() + CLAIM_LEASE + dt.timedelta(seconds=60)
    counts = dispatch_due(now=later)
    assert counts["recovered"] == stranded
    assert dispatch_due(now=later)["claimed"] == 0

    _assert_each_sent_once(tasks, slow_gateway)
    assert len(slow_gateway.requests) <= len(tasks) + 1  # at most the one in flight again


DISPATCHER = """
import django, json, sys
django.setup()
from outreach.services.dispatch import dispatch_due
total = {"claimed": 0, "sent": 0}
while True:
    counts = dispatch_due(limit=2, worker_id=sys.argv[1])
    for key in total:
        total[key] += counts[key]
    if counts["claimed"] == 0 and counts["busy"] == 0:
        break
print(json.dumps(total))
"""


def test_two_dispatcher_processes_at_once_send_each_task_once(
    committed: list, slow_gateway: Gateway
) -> None:
    tasks = _due_tasks(committed, 16)
    env = worker_env(_gateway_env(slow_gateway))

    processes = [
        subprocess.Popen(
            [sys.executable, "-c", DISPATCHER, f"beat-{index}"],
            env=env,
            cwd=django_settings.BASE_DIR,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for index in range(2)
    ]
    outputs = [process.communicate(timeout=START_TIMEOUT) for process in processes]

    assert [process.returncode for process in processes] == [0, 0], outputs
    totals = [json.loads(out.strip().splitlines()[-1]) for out, _err in outputs]
    assert sum(total["sent"] for total in totals) == len(tasks)
    _assert_each_sent_once(tasks, slow_gateway)
    assert len(slow_gateway.requests) == len(tasks), "no message was even attempted twice"

"""Integration: a real Celery worker process, fed through Redis, runs the beat's dispatch task
and sends a due SMS to the loopback gateway.

Rows are committed (the worker has its own database connection) and removed afterwards by the
`committed` fixture; the module carries no django_db mark on purpose (see conftest).
"""

import datetime as dt
import os
from collections.abc import Iterator
from typing import Any

import pytest
from django.utils import timezone

from callcenter import celery_app
from outreach.choices import TaskStatus
from outreach.tasks import dispatch_due_task
from tests.callcenter.factories import CustomerFactory, PhoneFactory
from tests.outreach.factories import TaskFactory
from tests.outreach.gateway import Gateway
from tests.workers import celery_worker, purge

WORKER_TIMEOUT = 90


def _noon_zone() -> str:
    """A fixed-offset zone where it is about noon right now, so quiet hours never interfere."""
    offset = (12 - timezone.now().hour) % 24
    offset = offset - 24 if offset > 12 else offset
    # Etc/GMT zones have inverted signs: Etc/GMT-8 is UTC+8.
    return f"Etc/GMT{-offset:+d}"


@pytest.fixture
def worker(committed: list, http_sms: Gateway, tmp_path: Any) -> Iterator[str]:
    """A worker on the outreach queue sending through the loopback gateway."""
    purge("outreach")
    gateway = {
        "SMS_BACKEND": "http",
        "SMS_GATEWAY_URL": f"{http_sms.url}/send",
        "SMS_GATEWAY_TOKEN": http_sms.token,
    }
    hostname = f"outreach-test-{os.getpid()}@localhost"
    with celery_worker(hostname, queues="outreach", log_path=tmp_path / "w.log", env=gateway):
        yield hostname


def test_worker_sends_a_due_sms(worker: str, http_sms: Gateway, committed: list) -> None:
    # given a due SMS, committed
    customer = CustomerFactory(timezone=_noon_zone())
    committed.append(customer)
    PhoneFactory(customer=customer)
    task = TaskFactory(customer=customer, due_at=timezone.now() - dt.timedelta(seconds=5))

    # when the beat's task goes through Redis to the worker (not run eagerly in this process)
    celery_app.conf.task_always_eager = False
    try:
        result = dispatch_due_task.apply_async(queue="outreach")
        counts = result.get(timeout=WORKER_TIMEOUT)
    finally:
        celery_app.conf.task_always_eager = True

    # then the worker sent it with its idempotency key and recorded it
    assert counts["sent"] == 1
    (request,) = http_sms.requests
    assert request.headers["Idempotency-Key"] == task.idempotency_key
    task.refresh_from_db()
    assert (task.status, task.provider_message_id) == (TaskStatus.SENT, "msg-1")

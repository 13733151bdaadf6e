"""Integration: a complaint opened through the API reaches a real Celery worker through Redis,
which enrolls the customer and creates the outreach tasks.

Rows are committed (the worker has its own database connection) and deleted afterwards by the
`committed_db` fixture, which, unlike `transactional_db`, leaves the data migrations' rows
alone.
"""

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.db import connection
from rest_framework.test import APIClient

from callcenter import celery_app
from callcenter.choices import Role
from care.choices import StepChannel
from care.models import Enrollment, Event
from care.playbook import playbook_install
from outreach.models import OutreachTask
from tests.callcenter.factories import CustomerFactory, UserFactory

# The worker may take a while to start on a loaded machine; the event itself must then be
# handled within ENROLL_TIMEOUT.
WORKER_START_TIMEOUT = 90
ENROLL_TIMEOUT = 20


def _database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def worker(committed_db: None, tmp_path: Any) -> Iterator[str]:
    """A `celery worker` process on the default queue, pointed at the test database; yields
    its node name once it answers a ping."""
    hostname = f"care-test-{os.getpid()}@localhost"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "callcenter.settings.test",
        "DATABASE_URL": _database_url(),
        "REDIS_URL": django_settings.REDIS_URL,
        "CELERY_BROKER_URL": django_settings.CELERY_BROKER_URL,
        "CELERY_RESULT_BACKEND": django_settings.CELERY_RESULT_BACKEND,
        "DB_CONN_MAX_AGE": "0",
    }
    with celery_app.connection_for_write() as conn:
        conn.default_channel.queue_purge("default")
    log_path = tmp_path / "worker.log"
    log = log_path.open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "callcenter",
            "worker",
            "-Q",
            "default",
            "--pool",
            "solo",
            "--loglevel",
            "info",
            "--without-gossip",
            "--without-mingle",
            "--hostname",
            hostname,
        ],
        env=env,
        cwd=django_settings.BASE_DIR,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + WORKER_START_TIMEOUT
        while not celery_app.control.ping(destination=[hostname], timeout=1):
            assert process.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, "the worker did not start:\n" + log_path.read_text()
        yield hostname
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def _wait_for(check: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return False


def test_a_complaint_opened_through_the_api_is_enrolled_by_a_real_worker(
    worker: str, settings: Any
) -> None:
    # given: the complaint rule switched on, a customer, an agent
    settings.CARE_PLAYBOOK_ACTIVE = ["complaint-opened"]
    playbook_install()
    customer = CustomerFactory()
    agent = UserFactory(role=Role.AGENT, username=f"worker-agent-{os.getpid()}")
    client = APIClient()
    client.force_authenticate(agent)

    # when: the agent opens a complaint; the event goes to Redis after commit, not run here
    celery_app.conf.task_always_eager = False
    try:
        started = time.monotonic()
        response = client.post(
            "/api/tickets/",
            {"customer": customer.pk, "kind": "complaint", "subject": "Broken on arrival"},
            format="json",
        )
        assert response.status_code == 201, response.content
        event = Event.objects.get(customer=customer)

        def handled() -> bool:
            return OutreachTask.objects.filter(customer=customer).count() == 2

        assert _wait_for(handled, ENROLL_TIMEOUT), "the worker did not process the event"
        elapsed = [time.monotonic() - started]
        # a few more, with the worker warm, for the latency printed below
        for _ in range(5):
            other = CustomerFactory()
            started = time.monotonic()
            client.post(
                "/api/tickets/",
                {"customer": other.pk, "kind": "complaint", "subject": "Late"},
                format="json",
            )
            assert _wait_for(
                lambda other=other: OutreachTask.objects.filter(customer=other).count() == 2,
                ENROLL_TIMEOUT,
            )
            elapsed.append(time.monotonic() - started)
    finally:
        celery_app.conf.task_always_eager = True

    # then: the worker processed the event once: one enrollment, the apology SMS and the call
    event.refresh_from_db()
    assert event.processed_at is not None
    assert event.attempts == 1
    enrollment = Enrollment.objects.get(customer=customer)
    assert enrollment.rule.playbook_key == "complaint-opened"
    assert sorted(
        OutreachTask.objects.filter(enrollment=enrollment).values_list("channel", flat=True)
    ) == sorted([StepChannel.SMS, StepChannel.CALL])
    print("API request to tasks created by the worker (s):", [round(t, 3) for t in elapsed])

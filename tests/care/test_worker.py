"""Integration: a complaint opened through the API reaches a real Celery worker through Redis,
which enrolls the customer and creates the outreach tasks.

Rows are committed (the worker has its own database connection) and deleted afterwards by the
`committed_rows` fixture, which, unlike `transactional_db`, leaves the data migrations' rows
alone.
"""

import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
from rest_framework.test import APIClient

from callcenter import celery_app
from callcenter.choices import Role
from care.choices import StepChannel
from care.models import Enrollment, Event
from care.playbook import playbook_install
from outreach.models import OutreachTask
from tests.callcenter.factories import CustomerFactory, UserFactory
from tests.workers import celery_worker, purge

# Once the worker answers a ping, the event must be handled within ENROLL_TIMEOUT.
ENROLL_TIMEOUT = 20


@pytest.fixture
def worker(committed_rows: None, tmp_path: Any) -> Iterator[str]:
    """A `celery worker` process on the default queue, pointed at the test database; yields
    its node name once it answers a ping."""
    purge("default")
    hostname = f"care-test-{os.getpid()}@localhost"
    with celery_worker(hostname, queues="default", log_path=tmp_path / "worker.log"):
        yield hostname


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

"""Fixtures of the care tests: the installed playbook, frozen clocks, task lookups, and a real
Celery worker sending to a loopback gateway for the journeys' integration tests."""

import datetime as dt
import os
import zoneinfo
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import time_machine
from django.test import Client

from callcenter import celery_app
from callcenter.choices import Role
from care.playbook import PLAYBOOK_KEYS, playbook_install
from outreach.models import OutreachTask
from tests.callcenter.factories import UserFactory
from tests.outreach.gateway import Gateway, GatewayServer
from tests.workers import celery_worker, purge

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
# A Wednesday morning in Shanghai: business hours, far from midnight and month ends.
WEDNESDAY_10AM = dt.datetime(2025, 3, 5, 10, 0, tzinfo=SHANGHAI)


@pytest.fixture
def frozen() -> Iterator[Any]:
    """The clock stopped at WEDNESDAY_10AM; move it with `.move_to()` / `.shift()`."""
    with time_machine.travel(WEDNESDAY_10AM, tick=False) as traveller:
        yield traveller


@pytest.fixture
def playbook(db: None, settings: Any) -> dict[str, Any]:
    """The playbook installed with every rule switched on."""
    settings.CARE_PLAYBOOK_ACTIVE = PLAYBOOK_KEYS
    return playbook_install()


@pytest.fixture
def no_holdout(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nobody lands in a control group (the playbook holds 10% out of the wake-up rule)."""
    monkeypatch.setattr("care.services.enrollment.random.random", lambda: 0.999)


@pytest.fixture
def tasks_of() -> Callable[[int], list[OutreachTask]]:
    def _tasks(customer_id: int) -> list[OutreachTask]:
        return list(
            OutreachTask.objects.filter(customer_id=customer_id)
            .select_related("queue", "enrollment__rule", "template")
            .order_by("due_at", "step_position", "id")
        )

    return _tasks


@pytest.fixture
def admin_client(client: Client) -> Client:
    """A test client logged in as a call-center admin (not Django's superuser)."""
    client.force_login(UserFactory(role=Role.ADMIN))
    return client


@pytest.fixture
def supervisor_client(client: Client) -> Client:
    client.force_login(UserFactory(role=Role.SUPERVISOR))
    return client


@pytest.fixture(scope="module")
def journey_gateway() -> Iterator[Gateway]:
    """A loopback gateway taking the SMS and the automated calls (its requests pile up over
    the module: find yours by the task's Idempotency-Key)."""
    with GatewayServer() as running:
        yield running


@pytest.fixture(scope="module")
def journey_worker(
    committed_database: None, journey_gateway: Gateway, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """One worker for the module on the care and outreach queues, sending calls and SMS to
    the gateway; tasks go to it (not run eagerly) while it runs. Tests add `committed_rows`."""
    purge("default,outreach")
    env = {
        "SMS_BACKEND": "http",
        "SMS_GATEWAY_URL": f"{journey_gateway.url}/send",
        "SMS_GATEWAY_TOKEN": journey_gateway.token,
        "AUTO_CALL_BACKEND": "http",
        "AUTO_CALL_GATEWAY_URL": f"{journey_gateway.url}/call",
        "AUTO_CALL_GATEWAY_TOKEN": journey_gateway.token,
    }
    hostname = f"journey-test-{os.getpid()}@localhost"
    log_path = tmp_path_factory.mktemp("journey-worker") / "worker.log"
    with celery_worker(hostname, queues="default,outreach", log_path=log_path, env=env):
        celery_app.conf.task_always_eager = False
        try:
            yield hostname
        finally:
            celery_app.conf.task_always_eager = True

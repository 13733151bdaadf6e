"""Fixtures of the care tests: the installed playbook, frozen clocks, task lookups."""

import datetime as dt
import zoneinfo
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import time_machine
from django.test import Client

from callcenter.choices import Role
from care.playbook import PLAYBOOK_KEYS, playbook_install
from outreach.models import OutreachTask
from tests.callcenter.factories import UserFactory

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

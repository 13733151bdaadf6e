"""Fixtures of the care tests: the installed playbook, frozen clocks, task lookups."""

import datetime as dt
import zoneinfo
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import time_machine

from care.playbook import PLAYBOOK_KEYS, playbook_install
from outreach.models import OutreachTask

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


# Models a committed test may write, in an order that deletes dependants first.
_COMMITTED_MODELS = (
    "outreach.OutreachTask",
    "outreach.InboundMessage",
    "care.Enrollment",
    "care.Event",
    "care.CareRuleVersion",
    "care.CareStep",
    "care.CareRule",
    "care.TemplateVariant",
    "care.MessageTemplate",
    "care.CareSettings",
    "outreach.Queue",
    "callcenter.SurveyResponse",
    "callcenter.Ticket",
    "callcenter.Order",
    "callcenter.Interaction",
    "callcenter.ConsentChange",
    "callcenter.ContactPoint",
    "callcenter.Customer",
    "callcenter.AuditLog",
    "authtoken.Token",
    "auth.User",
)


@pytest.fixture
def committed_db(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """Database access with real commits, visible to other connections and processes (a
    second worker, a Celery worker). Unlike `transactional_db` it does not flush the database
    afterwards (which would also wipe the rows data migrations installed, such as the role
    groups and built-in segments, for every later test and --reuse-db run): it deletes the
    rows this test added instead."""
    from django.apps import apps
    from django.db import connection
    from django.db.models import Max
    from django.test.utils import setup_databases

    with django_db_blocker.unblock():
        if not connection.settings_dict["NAME"].startswith("test_"):
            # pytest-django sets up the test database only when a collected test is marked
            # for the database; when only committed tests run, do it here (kept, as with
            # --reuse-db). Never clean up in a database that is not a test database.
            setup_databases(verbosity=0, interactive=False, keepdb=True, aliases={"default"})
        assert connection.settings_dict["NAME"].startswith("test_")
        models = [apps.get_model(label) for label in _COMMITTED_MODELS]
        marks = {model: model.objects.aggregate(top=Max("pk"))["top"] or 0 for model in models}
        try:
            yield
        finally:
            for model in models:
                model.objects.filter(pk__gt=marks[model]).delete()
            connection.close()

"""Integration: the beat's ticket SLA sweep runs in a real Celery worker process (through
Redis, on its own database connection) and a second run changes nothing.

Rows are committed (`committed_rows` deletes them afterwards); no django_db mark on purpose."""

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.utils import timezone

from callcenter import celery_app
from callcenter.choices import Role
from callcenter.models import AgentProfile, AuditLog, Ticket
from callcenter.services.activity import ticket_open
from service.models import TicketSla
from service.tasks import ticket_sla_sweep_task
from tests.callcenter.factories import CustomerFactory, TicketFactory, UserFactory
from tests.service.factories import SlaPolicyFactory
from tests.workers import WORKER_TIMEOUT, celery_worker, purge


@pytest.fixture
def worker(committed_rows: None, tmp_path: Path) -> Iterator[str]:
    purge("default")
    hostname = f"sla-test-{os.getpid()}@localhost"
    with celery_worker(hostname, queues="default", log_path=tmp_path / "worker.log"):
        yield hostname


@pytest.fixture
def send_to_worker() -> Iterator[None]:
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    try:
        yield
    finally:
        celery_app.conf.task_always_eager = eager


def test_the_worker_attaches_breaches_and_escalates_once(worker: str, send_to_worker: None) -> None:
    # given a ticket opened 30 minutes ago under a 10-minute promise, and an imported one (no
    # announcement) opened a minute ago
    pid = os.getpid()
    owner = UserFactory(username=f"sla-owner-{pid}", role=Role.AGENT)
    colleague = UserFactory(username=f"sla-mate-{pid}", role=Role.AGENT)
    AgentProfile.objects.create(user=owner, team=f"sla-{pid}")
    AgentProfile.objects.create(user=colleague, team=f"sla-{pid}")
    policy = SlaPolicyFactory(
        position=0, first_response_minutes=10, escalate_notify=False, name=f"Worker {pid}"
    )
    ticket = ticket_open(
        customer=CustomerFactory(),
        kind="inquiry",
        subject="Worker",
        opened_at=timezone.now() - dt.timedelta(minutes=30),
        assignee=owner,
    )
    imported = TicketFactory(opened_at=timezone.now() - dt.timedelta(minutes=1), assignee=owner)

    # when the beat's task runs in the worker, twice
    first = ticket_sla_sweep_task.apply_async().get(timeout=WORKER_TIMEOUT)
    second = ticket_sla_sweep_task.apply_async().get(timeout=WORKER_TIMEOUT)

    # then the imported ticket got its policy; the late one breached and went to the
    # colleague, once
    assert first["attached"] >= 1
    assert first["breached"] >= 1
    assert first["reassigned"] >= 1
    assert second["attached"] == second["breached"] == second["escalated"] == 0
    sla = TicketSla.objects.get(pk=ticket.pk)
    assert sla.policy_id == policy.pk
    assert TicketSla.objects.get(pk=imported.pk).policy_id == policy.pk
    assert sla.first_response_breached_at is not None
    assert sla.escalated_at is not None
    assert Ticket.objects.get(pk=ticket.pk).assignee == colleague
    assert (
        AuditLog.objects.filter(action="ticket.sla_breach", object_id=str(ticket.pk)).count() == 1
    )

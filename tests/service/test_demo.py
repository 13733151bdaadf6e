"""The living demo of `make run` (service.services.demo), on real PostgreSQL and Redis: the
start makes a seeded demo database alive once, refuses production settings and databases with
real data; the traffic generator rings a desk through the CTI service and opens complaints that
care's rules turn into work."""

import datetime as dt
import os
import random
import subprocess
import sys
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db.models import Model
from django.utils import timezone

from callcenter.choices import TicketKind
from callcenter.models import AuditLog, Customer, MergeProposal, Ticket
from callcenter.redis_client import redis_client
from callcenter.services.demo import demo_seed
from callcenter.services.desk_streams import agent_channel
from care.models import CareRule, Enrollment
from outreach.choices import TaskStatus
from outreach.models import OutreachTask, Queue
from segments.choices import RunStatus
from segments.models import (
    ChurnModel,
    ClusterProfile,
    CustomerMetrics,
    CustomerReach,
    RefreshRun,
    ValueModel,
)
from service.services.demo import (
    DEMO_RULE_KEYS,
    DemoRefused,
    demo_refusal,
    demo_start,
    demo_traffic_tick,
)
from tests.callcenter.factories import CustomerFactory

ROOT = Path(__file__).resolve().parent.parent.parent
DEMO_CUSTOMERS = 150
HISTORY_DAYS = 3
# What the start writes: a second start must leave every one of them as it was.
WRITTEN: tuple[type[Model], ...] = (
    AuditLog,
    CareRule,
    ChurnModel,
    ClusterProfile,
    Customer,
    CustomerMetrics,
    CustomerReach,
    Enrollment,
    MergeProposal,
    OutreachTask,
    RefreshRun,
    Ticket,
    ValueModel,
)

pytestmark = pytest.mark.django_db


def _seed() -> Customer:
    """A small demo database, plus one demo customer who duplicates another (same name,
    city and birthday), so the duplicate finder has a pair whatever the draw."""
    demo_seed(customers=DEMO_CUSTOMERS, password="demo-test-pass", if_empty=False)
    twin = Customer.objects.exclude(birthday=None).order_by("pk").first()
    assert twin is not None
    return CustomerFactory(
        external_id="DEMO9999999", name=twin.name, city=twin.city, birthday=twin.birthday
    )


def _counts() -> dict[str, int]:
    return {model.__name__: model._default_manager.count() for model in WRITTEN} | {
        "queue members": Queue.members.through.objects.count()
    }


@pytest.fixture
def started_demo() -> list[str]:
    _seed()
    steps: list[str] = []
    result = demo_start(
        on_step=lambda name, seconds, summary: steps.append(name), history_days=HISTORY_DAYS
    )
    assert result.started
    return steps


def test_the_start_makes_the_demo_alive(started_demo: list[str]) -> None:
    # then every step ran and said so
    assert started_demo == [
        "playbook",
        "queues",
        "tickets routed",
        "churn model",
        "value model",
        "first refresh",
        "rules switched on",
        "care history",
        "reachability",
        "duplicates",
    ]
    # the playbook's demo rules are on, the others (external systems' events) stay off
    active = set(CareRule.objects.filter(is_active=True).values_list("playbook_key", flat=True))
    assert active == set(DEMO_RULE_KEYS)
    # the demo staff work the playbook's queues
    members = {
        (slug, username)
        for slug, username in Queue.members.through.objects.values_list(
            "queue__slug", "user__username"
        )
    }
    assert {("general", "agent1"), ("general", "agent2"), ("supervisors", "supervisor")} <= (
        members
    )
    # the dashboard is scored: one succeeded refresh, every active customer has metrics
    run = RefreshRun.objects.get()
    assert run.status == RunStatus.SUCCEEDED
    assert CustomerMetrics.objects.count() == Customer.objects.filter(status="active").count()
    assert ChurnModel.objects.exists()
    assert ValueModel.objects.exists()
    # every seeded customer has a phone, so a reachability row (the twin has no contact)
    assert CustomerReach.objects.filter(customer__external_id__startswith="DEMO0").count() == (
        DEMO_CUSTOMERS
    )
    # the duplicate finder proposed the twins
    assert MergeProposal.objects.filter(customer_b__external_id="DEMO9999999").exists() or (
        MergeProposal.objects.filter(customer_a__external_id="DEMO9999999").exists()
    )
    # the care reports have history: plans started and calls done on the days before today
    today = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    earliest = today - dt.timedelta(days=HISTORY_DAYS)
    assert Enrollment.objects.filter(enrolled_at__gte=earliest, enrolled_at__lt=today).exists()
    done = OutreachTask.objects.filter(status=TaskStatus.DONE, completed_at__lt=today)
    assert done.filter(completed_at__gte=earliest).exists()
    assert done.exclude(assignee=None).count() == done.count()
    assert Ticket.objects.filter(
        kind=TicketKind.COMPLAINT, opened_at__gte=earliest, opened_at__lt=today
    ).exists()
    # the last minutes' complaints wait in the agents' queues
    assert OutreachTask.objects.filter(
        channel="call",
        status=TaskStatus.PENDING,
        queue__slug="general",
        created_at__gte=timezone.now() - dt.timedelta(hours=1),
    ).exists()


def test_a_second_start_changes_nothing(started_demo: list[str]) -> None:
    before = _counts()

    again = demo_start(history_days=HISTORY_DAYS)

    assert not again.started
    assert "nothing to do" in again.note
    assert _counts() == before


def test_the_start_refuses_a_database_with_real_customers() -> None:
    # given demo data and one customer who is not demo data
    _seed()
    CustomerFactory(external_id="CRM-000123")
    before = _counts()

    with pytest.raises(DemoRefused, match="not demo data"):
        demo_start(history_days=HISTORY_DAYS)
    # as `make run` calls it: says why and goes on
    out = StringIO()
    call_command("demo_start", "--if-allowed", stdout=out)

    assert "Demo not started" in out.getvalue()
    assert "not demo data" in out.getvalue()
    assert _counts() == before
    assert not CareRule.objects.exists()


def test_the_start_refuses_without_customers_or_when_the_settings_forbid_it(
    settings: Any,
) -> None:
    assert demo_refusal() is not None
    assert "seed_demo" in (demo_refusal() or "")
    _seed()
    assert demo_refusal() is None
    settings.DEMO_ALLOWED = False

    with pytest.raises(DemoRefused, match="DEMO_ALLOWED"):
        demo_start(history_days=HISTORY_DAYS)
    with pytest.raises(DemoRefused, match="DEMO_ALLOWED"):
        demo_traffic_tick(rng=random.Random(1))
    assert not CareRule.objects.exists()


def _production_env() -> dict[str, str]:
    inherited = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DJANGO_ALLOW_ASYNC_UNSAFE", "OUTREACH_WEBHOOK_SECRET")
    }
    return {
        **inherited,
        "DJANGO_SETTINGS_MODULE": "callcenter.settings.production",
        "SECRET_KEY": "a-long-random-production-secret-key-for-the-check-0123456789abcdef",
        "ALLOWED_HOSTS": "crm.example.com",
        "DEMO_TRAFFIC": "1",
    }


@pytest.mark.parametrize(
    ("command", "message"),
    [
        (["demo_start"], "never runs with these settings"),
        (["demo_traffic", "--once"], "Demo traffic refused"),
    ],
)
def test_production_settings_refuse_the_demo(command: list[str], message: str) -> None:
    # even with DEMO_TRAFFIC=1 in the environment
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *command],
        env=_production_env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )

    assert result.returncode != 0
    assert message in result.stderr


def test_the_traffic_rings_a_desk_and_opens_a_complaint_care_acts_on(
    started_demo: list[str], settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.DEMO_TRAFFIC = True
    agents = {
        user.username: user for user in User.objects.filter(username__in=("agent1", "agent2"))
    }
    pubsub = redis_client().pubsub(ignore_subscribe_messages=True)
    for agent in agents.values():
        pubsub.subscribe(agent_channel(agent.pk))
    for _agent in agents:
        pubsub.get_message(timeout=1)  # the subscribe confirmations
    tasks_before = set(OutreachTask.objects.values_list("pk", flat=True))

    try:
        with django_capture_on_commit_callbacks(execute=True):
            beat = demo_traffic_tick(rng=random.Random(7), complaint_share=1.0)
        message = None
        for _attempt in range(5):
            message = pubsub.get_message(timeout=2)
            if message is not None:
                break
    finally:
        pubsub.close()

    # the agent's desk heard the ring, with the caller's card reference
    assert message is not None
    assert message["channel"].decode() == agent_channel(agents[beat["agent"]].pk)
    assert f'"customer_id": {beat["customer_id"]}' in message["data"].decode()
    # the call ended in a complaint, which the complaint rule turned into an SMS and a call
    ticket = Ticket.objects.get(pk=beat["ticket_id"])
    assert ticket.kind == TicketKind.COMPLAINT
    assert ticket.customer_id == beat["customer_id"]
    enrollment = Enrollment.objects.get(
        rule__playbook_key="complaint-opened", event__payload__ticket_id=ticket.pk
    )
    new_tasks = OutreachTask.objects.filter(enrollment=enrollment).exclude(pk__in=tasks_before)
    assert set(new_tasks.values_list("channel", flat=True)) == {"sms", "call"}
    assert new_tasks.get(channel="call").queue.slug == "general"


def test_the_traffic_refuses_while_off_or_before_the_start(settings: Any) -> None:
    _seed()
    settings.DEMO_TRAFFIC = True
    with pytest.raises(DemoRefused, match="not set up"):
        demo_traffic_tick(rng=random.Random(1))
    settings.DEMO_TRAFFIC = False
    with pytest.raises(DemoRefused, match="DEMO_TRAFFIC is off"):
        demo_traffic_tick(rng=random.Random(1))
    assert not Ticket.objects.filter(opened_at__gte=timezone.now() - dt.timedelta(minutes=5))

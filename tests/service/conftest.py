"""Fixtures of the service reports: agents in teams, clients logged in as each role."""

import datetime as dt
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from callcenter.choices import Role
from callcenter.models import AgentProfile, Ticket
from service.models import SlaPolicy, TicketSla
from tests.callcenter.factories import TicketFactory, UserFactory


def agent_in(team: str, username: str, role: str = Role.AGENT) -> User:
    user = UserFactory(role=role, username=username)
    AgentProfile.objects.create(user=user, team=team)
    return user


def sla_ticket(
    *,
    assignee: User | None,
    policy: SlaPolicy | None,
    first_due: dt.datetime | None = None,
    first_at: dt.datetime | None = None,
    first_minutes: int | None = None,
    resolution_due: dt.datetime | None = None,
    resolved_at: dt.datetime | None = None,
    resolution_minutes: int | None = None,
) -> Ticket:
    ticket = TicketFactory(assignee=assignee, opened_at=timezone.now() - dt.timedelta(days=20))
    TicketSla.objects.create(
        ticket=ticket,
        policy=policy,
        first_response_due_at=first_due,
        first_response_at=first_at,
        first_response_minutes=first_minutes,
        resolution_due_at=resolution_due,
        resolved_at=resolved_at,
        resolution_minutes=resolution_minutes,
    )
    return ticket


@pytest.fixture
def supervisor_client(client: Client) -> Client:
    client.force_login(UserFactory(role=Role.SUPERVISOR, username="boss"))
    return client


@pytest.fixture
def teams(db: Any) -> dict[str, User]:
    return {
        "ann": agent_in("North", "ann"),
        "bob": agent_in("North", "bob"),
        "cy": agent_in("South", "cy"),
    }

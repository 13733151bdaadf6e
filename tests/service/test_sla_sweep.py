"""The ticket SLA sweep: attaches policies to tickets written without announcing, warns once,
marks breaches, escalates each breached ticket once (reassign and/or notify), and a second
run changes nothing."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail

from callcenter.choices import CustomerKind, Role, TicketStatus
from callcenter.models import AgentProfile, AuditLog, Ticket
from callcenter.services.activity import ticket_open
from callcenter.services.calendar import calendar_days_sync
from callcenter.services.ticket_changes import (
    TicketChange,
    TicketChangeKind,
    ticket_change_announce,
)
from care.services.tick import tick_passes
from service.models import TicketSla
from service.services.sla_sweep import ticket_sla_sweep
from tests.callcenter.factories import (
    BusinessCustomerFactory,
    CustomerFactory,
    TicketFactory,
    UserFactory,
)
from tests.service.factories import BusinessCalendarFactory, SlaPolicyFactory

SH = ZoneInfo("Asia/Shanghai")
NOTHING = {
    "attached": 0,
    "closed": 0,
    "warned": 0,
    "breached": 0,
    "escalated": 0,
    "reassigned": 0,
    "notified": 0,
}


def sh(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SH)


def agent(name: str, *, team: str = "", capacity: int | None = None, available: bool = True):
    user = UserFactory(username=name, role=Role.AGENT)
    AgentProfile.objects.create(
        user=user, team=team, ticket_capacity=capacity, is_available=available
    )
    return user


@pytest.fixture
def to_b(db: None):
    calendar_days_sync(years=[2026])
    UserFactory(username="boss", role=Role.SUPERVISOR)
    return SlaPolicyFactory(
        name="To B",
        customer_kinds=[CustomerKind.BUSINESS],
        calendar=BusinessCalendarFactory(),
        first_response_minutes=60,
        resolution_minutes=24 * 60,
    )


def test_a_breach_warns_then_escalates_once_to_a_teammate_with_room(to_b) -> None:
    # given the ticket's agent and colleagues: a teammate with two open tickets, an idle agent
    # of another team, one off duty and one at capacity
    owner = agent("owner", team="b2b")
    mate = agent("mate", team="b2b")
    agent("idle")
    agent("away", team="b2b", available=False)
    full = agent("full", team="b2b", capacity=1)
    TicketFactory.create_batch(2, assignee=mate)
    TicketFactory(assignee=full)
    ticket = ticket_open(
        customer=BusinessCustomerFactory(),
        kind="complaint",
        subject="Broken",
        opened_at=sh(2026, 9, 30, 20),
        assignee=owner,
    )
    # the holiday runs: nothing to do (the three unannounced tickets get their rows)
    assert ticket_sla_sweep(now=sh(2026, 10, 5, 12))["attached"] == 3
    assert ticket_sla_sweep(now=sh(2026, 10, 8, 9, 40)) == NOTHING
    # 75% of the first response's hour used: one warning
    assert ticket_sla_sweep(now=sh(2026, 10, 8, 9, 46)) == {**NOTHING, "warned": 1}
    assert ticket_sla_sweep(now=sh(2026, 10, 8, 9, 50)) == NOTHING
    # the hour is up: breached, reassigned to the teammate, supervisors told
    assert ticket_sla_sweep(now=sh(2026, 10, 8, 10, 1)) == {
        **NOTHING,
        "breached": 1,
        "escalated": 1,
        "reassigned": 1,
        "notified": 1,
    }
    sla = TicketSla.objects.get(pk=ticket.pk)
    assert sla.first_response_breached_at == sh(2026, 10, 8, 10, 1)
    assert sla.escalated_at == sh(2026, 10, 8, 10, 1)
    assert Ticket.objects.get(pk=ticket.pk).assignee == mate
    entry = AuditLog.objects.get(action="ticket.sla_breach")
    assert entry.object_id == str(ticket.pk)
    assert entry.data["to_assignee"] == mate.pk
    assert entry.data["breached"] == ["first_response"]
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["boss@example.com"]
    assert f"#{ticket.pk} Broken" in mail.outbox[0].body
    # a second run changes nothing
    assert ticket_sla_sweep(now=sh(2026, 10, 8, 10, 2)) == NOTHING
    assert len(mail.outbox) == 1
    assert AuditLog.objects.filter(action="ticket.sla_breach").count() == 1


def test_nobody_with_room_notifies_supervisors(to_b) -> None:
    to_b.escalate_notify = False
    to_b.save()
    owner = agent("owner")
    full = agent("full", capacity=1)
    TicketFactory(assignee=full, status=TicketStatus.IN_PROGRESS)
    ticket = ticket_open(
        customer=BusinessCustomerFactory(),
        kind="complaint",
        subject="x",
        opened_at=sh(2026, 3, 3, 9),
        assignee=owner,
    )
    result = ticket_sla_sweep(now=sh(2026, 3, 3, 10, 30))
    assert (result["reassigned"], result["notified"]) == (0, 1)
    assert Ticket.objects.get(pk=ticket.pk).assignee == owner
    assert len(mail.outbox) == 1


def test_waiting_on_the_customer_pauses_the_clock(to_b) -> None:
    ticket = ticket_open(
        customer=BusinessCustomerFactory(),
        kind="complaint",
        subject="x",
        opened_at=sh(2026, 3, 3, 9),
    )
    ticket_change_announce(
        TicketChange(ticket=ticket, kind=TicketChangeKind.WAITING, at=sh(2026, 3, 3, 9, 30))
    )
    assert ticket_sla_sweep(now=sh(2026, 3, 3, 11)) == NOTHING
    ticket_change_announce(
        TicketChange(ticket=ticket, kind=TicketChangeKind.RESUMED, at=sh(2026, 3, 3, 14))
    )
    # 4.5 business hours paused: due at 14:30, warned at 14:15
    assert TicketSla.objects.get(pk=ticket.pk).first_response_due_at == sh(2026, 3, 3, 14, 30)
    assert ticket_sla_sweep(now=sh(2026, 3, 3, 14, 20))["warned"] == 1
    assert ticket_sla_sweep(now=sh(2026, 3, 3, 14, 31))["breached"] == 1


def test_unannounced_open_tickets_get_their_policy(to_b) -> None:
    business = BusinessCustomerFactory()
    open_one = TicketFactory(customer=business, opened_at=sh(2026, 3, 3, 9))
    waiting = TicketFactory(
        customer=business, status=TicketStatus.WAITING, opened_at=sh(2026, 3, 3, 9)
    )
    person = TicketFactory(customer=CustomerFactory(), opened_at=sh(2026, 3, 3, 9))
    TicketFactory(
        customer=business,
        status=TicketStatus.RESOLVED,
        opened_at=sh(2026, 3, 3, 9),
        resolved_at=sh(2026, 3, 3, 10),
    )
    assert ticket_sla_sweep(now=sh(2026, 3, 3, 9, 30))["attached"] == 3
    rows = {row.ticket_id: row for row in TicketSla.objects.all()}
    assert set(rows) == {open_one.pk, waiting.pk, person.pk}
    assert rows[open_one.pk].policy == to_b
    assert rows[open_one.pk].first_response_due_at == sh(2026, 3, 3, 10)
    assert rows[waiting.pk].paused_at == sh(2026, 3, 3, 9, 30)
    assert rows[person.pk].policy is None
    assert ticket_sla_sweep(now=sh(2026, 3, 3, 9, 31))["attached"] == 0


def test_the_sweep_is_a_pass_of_the_care_tick() -> None:
    assert tick_passes.get("ticket_sla") is ticket_sla_sweep


def test_with_a_frozen_clock_across_national_day(to_b) -> None:
    """The Done-when case on the real clock: opened at 20:00 on 30 Sept 2026, the first
    response is due at 10:00 on 8 Oct (after the holiday), the resolution at 15:00 on the
    make-up working Saturday 10 Oct; the sweep warns once, then breaches and escalates once."""
    owner = agent("owner", team="b2b")
    mate = agent("mate", team="b2b")
    with time_machine.travel(sh(2026, 9, 30, 20), tick=False):
        ticket = ticket_open(
            customer=BusinessCustomerFactory(), kind="complaint", subject="Broken", assignee=owner
        )
    sla = TicketSla.objects.get(pk=ticket.pk)
    assert (sla.first_response_due_at, sla.resolution_due_at) == (
        sh(2026, 10, 8, 10),
        sh(2026, 10, 10, 15),
    )
    with time_machine.travel(sh(2026, 10, 7, 23, 59), tick=False):
        assert ticket_sla_sweep() == NOTHING
    with time_machine.travel(sh(2026, 10, 8, 9, 50), tick=False):
        assert ticket_sla_sweep()["warned"] == 1
        assert ticket_sla_sweep() == NOTHING
    with time_machine.travel(sh(2026, 10, 8, 10, 0, 30), tick=False):
        assert ticket_sla_sweep()["escalated"] == 1
        assert ticket_sla_sweep() == NOTHING
    assert Ticket.objects.get(pk=ticket.pk).assignee == mate
    with time_machine.travel(sh(2026, 10, 10, 15, 1), tick=False):
        # the resolution breach on the make-up Saturday: marked, not escalated again
        assert ticket_sla_sweep() == {**NOTHING, "breached": 1}


def test_a_ticket_closed_without_announcing_stops_its_clock(to_b) -> None:
    ticket = ticket_open(
        customer=BusinessCustomerFactory(),
        kind="complaint",
        subject="x",
        opened_at=sh(2026, 3, 3, 9),
    )
    Ticket.objects.filter(pk=ticket.pk).update(
        status=TicketStatus.CLOSED, resolved_at=sh(2026, 3, 3, 9, 30)
    )
    assert ticket_sla_sweep(now=sh(2026, 3, 9, 9))["closed"] == 1
    sla = TicketSla.objects.get(pk=ticket.pk)
    assert sla.resolved_at == sh(2026, 3, 3, 9, 30)
    assert sla.first_response_breached_at is None
    assert ticket_sla_sweep(now=sh(2026, 3, 9, 9, 1)) == NOTHING


def test_a_routed_breach_goes_to_a_queue_member_with_the_skills_or_to_supervisors(to_b) -> None:
    # given a To B queue whose rule needs the retail industry skill: the owner, a skilled
    # colleague, and an unskilled agent with less load outside the queue
    from outreach.models import Queue, RoutingRule, TicketRoute

    owner = agent("owner")
    skilled = agent("skilled")
    AgentProfile.objects.filter(user=skilled).update(skills=["industry:retail", "zh-hans"])
    agent("idle")
    queue = Queue.objects.create(name="To B", slug="to-b-test")
    queue.members.add(owner, skilled)
    RoutingRule.objects.create(
        name="Retail", queue=queue, customer_kinds=[CustomerKind.BUSINESS], derive_skills=True
    )
    tickets = [
        ticket_open(
            customer=BusinessCustomerFactory(industry="Retail"),
            kind="complaint",
            subject=f"Broken {n}",
            opened_at=sh(2026, 10, 8, 9),
            assignee=owner,
        )
        for n in range(2)
    ]
    assert set(TicketRoute.objects.get(ticket=tickets[0]).required_skills) == {
        "industry:retail",
        "zh-hans",
    }
    AgentProfile.objects.filter(user=skilled).update(ticket_capacity=1)

    # when both breach
    result = ticket_sla_sweep(now=sh(2026, 10, 8, 10, 5))

    # then one goes to the skilled member (who then has no room), the other stays and
    # supervisors are told; the unskilled idle agent gets nothing
    assert (result["reassigned"], result["notified"]) == (1, 2)
    assignees = sorted(
        Ticket.objects.filter(pk__in=[t.pk for t in tickets]).values_list(
            "assignee__username", flat=True
        )
    )
    assert assignees == ["owner", "skilled"]
    moved = next(t for t in tickets if Ticket.objects.get(pk=t.pk).assignee == skilled)
    update = moved.updates.order_by("-pk").first()
    assert (update.kind, update.assignee_id, update.by_id) == ("assigned", skilled.pk, None)
    assert TicketRoute.objects.get(ticket=moved).assigned_at == sh(2026, 10, 8, 10, 5)


def test_a_backlog_already_late_when_its_policy_arrives_is_breached_but_not_escalated(
    db: None,
) -> None:
    # given tickets written without announcing (an import), opened days ago, and a 24x7 policy
    UserFactory(username="boss", role=Role.SUPERVISOR)
    owner = agent("owner")
    agent("idle")
    SlaPolicyFactory(name="B2C", first_response_minutes=10, resolution_minutes=120)
    opened = sh(2026, 12, 1, 9)
    late = TicketFactory.create_batch(3, opened_at=opened, assignee=owner)
    fresh = TicketFactory(opened_at=sh(2026, 12, 5, 9, 55), assignee=owner)

    result = ticket_sla_sweep(now=sh(2026, 12, 5, 10))

    # then the late ones count as breached, nobody is reassigned or emailed about them; the
    # fresh one's clock runs and escalates when it is missed under it
    assert (result["attached"], result["breached"], result["reassigned"]) == (4, 3, 0)
    assert result["notified"] == 0
    assert mail.outbox == []
    assert all(TicketSla.objects.get(pk=t.pk).resolution_breached_at for t in late)
    assert set(Ticket.objects.values_list("assignee", flat=True)) == {owner.pk}
    later = ticket_sla_sweep(now=sh(2026, 12, 5, 10, 6))
    assert (later["breached"], later["escalated"], later["reassigned"]) == (1, 1, 1)
    assert Ticket.objects.get(pk=fresh.pk).assignee != owner

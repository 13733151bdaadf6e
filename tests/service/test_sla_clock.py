"""The ticket SLA clock: policy matching when a ticket opens, and every change moving it."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from callcenter.choices import CustomerKind, TicketPriority
from callcenter.services.activity import ticket_open, ticket_resolve
from callcenter.services.calendar import calendar_days_sync
from callcenter.services.ticket_changes import (
    TicketChange,
    TicketChangeKind,
    ticket_change_announce,
)
from segments.choices import LifecycleStage, ValueTier
from segments.models import CustomerMetrics, Segment, SegmentMembership
from service.models import TicketSla
from tests.callcenter.factories import BusinessCustomerFactory, CustomerFactory, TicketFactory
from tests.service.factories import BusinessCalendarFactory, SlaPolicyFactory

SH = ZoneInfo("Asia/Shanghai")


def sh(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SH)


def announce(ticket, kind: TicketChangeKind, at: dt.datetime) -> TicketSla:
    ticket_change_announce(TicketChange(ticket=ticket, kind=kind, at=at))
    return TicketSla.objects.get(pk=ticket.pk)


@pytest.fixture
def to_b(db: None):
    calendar_days_sync(years=[2026])
    return SlaPolicyFactory(
        name="To B",
        customer_kinds=[CustomerKind.BUSINESS],
        calendar=BusinessCalendarFactory(),
        first_response_minutes=60,
        next_response_minutes=120,
        resolution_minutes=24 * 60,
    )


def test_a_complaint_opened_the_evening_before_national_day(to_b) -> None:
    # given a To B policy in business hours (09:00-18:00, Mon-Fri, public holidays off)
    customer = BusinessCustomerFactory()
    # when a complaint opens on 30 Sept 2026 at 20:00, before the 1-7 Oct holiday
    ticket = ticket_open(
        customer=customer, kind="complaint", subject="Broken", opened_at=sh(2026, 9, 30, 20)
    )
    # then the first response is due on the first working hour after it, and the resolution
    # runs into the make-up working Saturday 10 Oct
    sla = TicketSla.objects.get(pk=ticket.pk)
    assert sla.policy == to_b
    assert sla.policy_version == to_b.version
    assert sla.first_response_due_at == sh(2026, 10, 8, 10, 0)
    assert sla.first_response_warn_at == sh(2026, 10, 8, 9, 45)
    assert sla.resolution_due_at == sh(2026, 10, 10, 15, 0)
    assert sla.resolution_warn_at == sh(2026, 10, 9, 18, 0)


def test_the_first_matching_policy_in_order_applies(db: None) -> None:
    vip = Segment.objects.create(name="VIP", slug="sla-vip", kind="cluster", key="sla-vip")
    customer = CustomerFactory()
    SegmentMembership.objects.create(segment=vip, customer=customer, entered_at=sh(2026, 1, 1))
    CustomerMetrics.objects.create(
        customer=customer,
        lifecycle_stage=LifecycleStage.ACTIVE,
        value_tier=ValueTier.HIGH,
        refreshed_at=sh(2026, 1, 1),
    )
    SlaPolicyFactory(name="Urgent complaints", position=1, priorities=[TicketPriority.URGENT])
    SlaPolicyFactory(name="Off", position=2, is_active=False)
    low = SlaPolicyFactory(name="Low value", position=3, value_tiers=[ValueTier.LOW])
    vip_policy = SlaPolicyFactory(name="VIP", position=4, resolution_minutes=120)
    vip_policy.segments.add(vip)
    SlaPolicyFactory(name="Everyone", position=5)
    ticket = ticket_open(customer=customer, kind="complaint", subject="x")
    assert TicketSla.objects.get(pk=ticket.pk).policy == vip_policy
    # leaving the segment does not move an open ticket; a new one falls through
    SegmentMembership.objects.update(exited_at=sh(2026, 2, 1))
    CustomerMetrics.objects.update(value_tier=ValueTier.LOW)
    other = ticket_open(customer=customer, kind="complaint", subject="y")
    assert TicketSla.objects.get(pk=other.pk).policy == low


def test_no_policy_leaves_a_row_with_nothing_due(db: None) -> None:
    ticket = ticket_open(customer=CustomerFactory(), kind="inquiry", subject="x")
    sla = TicketSla.objects.get(pk=ticket.pk)
    assert sla.policy is None
    assert sla.first_response_due_at is None
    assert sla.resolution_due_at is None


def test_updated_matches_again_until_the_first_response(db: None) -> None:
    SlaPolicyFactory(
        name="Urgent", position=1, priorities=[TicketPriority.URGENT], first_response_minutes=10
    )
    normal = SlaPolicyFactory(name="Normal", position=2, first_response_minutes=60)
    opened = dt.datetime(2026, 3, 3, 10, tzinfo=dt.UTC)
    ticket = ticket_open(
        customer=CustomerFactory(), kind="complaint", subject="x", opened_at=opened
    )
    assert TicketSla.objects.get(pk=ticket.pk).policy == normal
    ticket.priority = TicketPriority.URGENT
    ticket.save()
    sla = announce(ticket, TicketChangeKind.UPDATED, opened + dt.timedelta(minutes=2))
    assert sla.policy.name == "Urgent"
    assert sla.first_response_due_at == opened + dt.timedelta(minutes=10)
    announce(ticket, TicketChangeKind.RESPONDED, opened + dt.timedelta(minutes=5))
    ticket.priority = TicketPriority.LOW
    ticket.save()
    assert (
        announce(ticket, TicketChangeKind.UPDATED, opened + dt.timedelta(minutes=6)).policy.name
        == "Urgent"
    )


def test_the_clock_through_a_ticket_life(db: None) -> None:
    # a 24x7 policy keeps the arithmetic plain
    SlaPolicyFactory(
        first_response_minutes=60,
        next_response_minutes=30,
        resolution_minutes=600,
        warn_at_percent=50,
    )
    opened = dt.datetime(2026, 3, 3, 8, tzinfo=dt.UTC)
    minutes = lambda n: opened + dt.timedelta(minutes=n)  # noqa: E731
    ticket = ticket_open(
        customer=CustomerFactory(), kind="complaint", subject="x", opened_at=opened
    )
    sla = TicketSla.objects.get(pk=ticket.pk)
    assert (sla.first_response_due_at, sla.resolution_due_at) == (minutes(60), minutes(600))

    # the customer writing before any response sets no next response
    sla = announce(ticket, TicketChangeKind.CUSTOMER_REPLIED, minutes(10))
    assert sla.next_response_due_at is None

    sla = announce(ticket, TicketChangeKind.RESPONDED, minutes(20))
    assert (sla.first_response_at, sla.first_response_minutes) == (minutes(20), 20)
    # a repeat changes nothing
    assert announce(ticket, TicketChangeKind.RESPONDED, minutes(25)).first_response_at == minutes(
        20
    )

    sla = announce(ticket, TicketChangeKind.CUSTOMER_REPLIED, minutes(30))
    assert (sla.next_response_due_at, sla.next_response_warn_at) == (minutes(60), minutes(45))
    assert announce(
        ticket, TicketChangeKind.CUSTOMER_REPLIED, minutes(40)
    ).next_response_due_at == minutes(60)

    # waiting on the customer for 100 minutes moves the open dues by 100 minutes
    assert announce(ticket, TicketChangeKind.WAITING, minutes(50)).paused_at == minutes(50)
    assert announce(ticket, TicketChangeKind.WAITING, minutes(70)).paused_at == minutes(50)
    sla = announce(ticket, TicketChangeKind.RESUMED, minutes(150))
    assert sla.paused_at is None
    assert sla.paused_minutes == 100
    assert sla.next_response_due_at == minutes(160)
    assert sla.resolution_due_at == minutes(700)
    assert announce(ticket, TicketChangeKind.RESUMED, minutes(160)).resolution_due_at == minutes(
        700
    )

    sla = announce(ticket, TicketChangeKind.RESPONDED, minutes(155))
    assert sla.next_response_due_at is None
    assert sla.next_response_breached_at is None

    # resolved at 400: 300 minutes of work, met
    ticket = ticket_resolve(ticket=ticket, resolved_at=minutes(400))
    sla = TicketSla.objects.get(pk=ticket.pk)
    assert (sla.resolved_at, sla.resolution_minutes) == (minutes(400), 300)
    assert sla.resolution_breached_at is None
    assert ticket_resolve(ticket=ticket, resolved_at=minutes(500)).resolved_at == minutes(400)

    # reopened at 1000: the 300 minutes it had left run from then
    sla = announce(ticket, TicketChangeKind.REOPENED, minutes(1000))
    assert sla.resolved_at is None
    assert sla.resolution_minutes is None
    assert sla.resolution_due_at == minutes(1300)
    sla = announce(ticket, TicketChangeKind.RESOLVED, minutes(1400))
    assert sla.resolution_breached_at == minutes(1400)
    assert sla.resolution_minutes == 700


def test_assigned_does_not_move_the_clock(db: None) -> None:
    SlaPolicyFactory()
    ticket = ticket_open(customer=CustomerFactory(), kind="complaint", subject="x")
    before = TicketSla.objects.get(pk=ticket.pk)
    after = announce(ticket, TicketChangeKind.ASSIGNED, ticket.opened_at)
    assert after.first_response_due_at == before.first_response_due_at


def test_a_late_first_response_is_a_breach(db: None) -> None:
    SlaPolicyFactory(first_response_minutes=10)
    opened = dt.datetime(2026, 3, 3, 8, tzinfo=dt.UTC)
    ticket = ticket_open(
        customer=CustomerFactory(), kind="complaint", subject="x", opened_at=opened
    )
    sla = announce(ticket, TicketChangeKind.RESPONDED, opened + dt.timedelta(minutes=30))
    assert sla.first_response_breached_at == opened + dt.timedelta(minutes=30)


def test_a_ticket_written_without_announcing_gets_its_row_on_first_change(db: None) -> None:
    SlaPolicyFactory(first_response_minutes=10)
    ticket = TicketFactory()
    sla = announce(ticket, TicketChangeKind.RESPONDED, ticket.opened_at + dt.timedelta(minutes=5))
    assert sla.first_response_minutes == 5

"""Reachability and receptiveness (outreach.services.reach) on real PostgreSQL: hand-checked
shares, the best hour in the customer's own time zone, the working phone, opt-outs, incremental
passes that equal a full one and write nothing when nothing changed, the Celery task."""

import datetime as dt
import io
import json
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.utils import timezone

from callcenter.choices import Direction, InteractionChannel
from callcenter.jobs import task_by_name
from callcenter.models import ContactPoint
from care.choices import StepChannel, TouchKind
from outreach.choices import CallResult, InboundAction, TaskOutcome, TaskStatus
from outreach.models import InboundMessage, TrackedLink
from outreach.services.reach import COLUMNS, reach_refresh
from outreach.tasks import reach_refresh_task
from segments.models import CustomerReach, ReachRefreshState
from tests.callcenter.factories import (
    CustomerFactory,
    EmailFactory,
    InteractionFactory,
    OrderFactory,
    PhoneFactory,
)
from tests.outreach.factories import TaskFactory

pytestmark = pytest.mark.django_db

NEW_YORK = ZoneInfo("America/New_York")


def _local(now: dt.datetime, days: int, hour: int, minute: int = 0) -> dt.datetime:
    """`days` before `now`, at hour:minute in New York."""
    day = (now - dt.timedelta(days=days)).astimezone(NEW_YORK)
    return day.replace(hour=hour, minute=minute, second=0, microsecond=0)


def _call(customer, at: dt.datetime, outcome: str, **kw):
    return TaskFactory(
        customer=customer,
        channel=StepChannel.CALL,
        status=TaskStatus.DONE,
        outcome=outcome,
        completed_at=at,
        due_at=at - dt.timedelta(hours=1),
        **kw,
    )


def _message(customer, channel: str, at: dt.datetime, **kw):
    return TaskFactory(
        customer=customer,
        channel=channel,
        status=kw.pop("status", TaskStatus.SENT),
        sent_at=at,
        due_at=at - dt.timedelta(minutes=5),
        **kw,
    )


@pytest.fixture
def now() -> dt.datetime:
    return timezone.now()


@pytest.fixture
def reachable(now):
    """A New York customer, emails opted out, with calls, messages, answers and an order."""
    customer = CustomerFactory(timezone="America/New_York", email_opt_out=True)
    PhoneFactory(customer=customer)
    EmailFactory(customer=customer)
    reached = _call(customer, _local(now, 2, 14, 30), TaskOutcome.REACHED)
    _call(customer, _local(now, 3, 9), TaskOutcome.NO_ANSWER)
    _call(customer, _local(now, 5, 14, 10), TaskOutcome.CALLBACK_REQUESTED)
    auto = _local(now, 4, 10)
    TaskFactory(
        customer=customer,
        channel=StepChannel.AUTO_CALL,
        status=TaskStatus.DELIVERED,
        sent_at=auto,
        call_result=CallResult.ANSWERED,
        call_result_at=auto,
        call_keypress="1",
        due_at=auto - dt.timedelta(minutes=5),
    )
    # The agent's close of the first call logs this interaction: not a second call.
    InteractionFactory(
        customer=customer,
        direction=Direction.OUTBOUND,
        occurred_at=reached.completed_at,
        outcome=TaskOutcome.REACHED,
    )
    # A call logged without a task, at 10 in New York: ties with 14, the earlier hour wins.
    InteractionFactory(
        customer=customer,
        direction=Direction.OUTBOUND,
        occurred_at=_local(now, 6, 10, 20),
        outcome="reached",
    )
    # Another channel's interaction is no call.
    InteractionFactory(customer=customer, channel=InteractionChannel.SMS, occurred_at=now)
    clicked = _message(
        customer,
        StepChannel.SMS,
        now - dt.timedelta(days=1),
        status=TaskStatus.DELIVERED,
        delivered_at=now - dt.timedelta(days=1),
    )
    TrackedLink.objects.create(
        token="tok-reach-1",
        task=clicked,
        customer=customer,
        target_url="https://example.com/offer",
        click_count=1,
        first_clicked_at=now - dt.timedelta(hours=20),
        last_clicked_at=now - dt.timedelta(hours=20),
    )
    _message(customer, StepChannel.SMS, now - dt.timedelta(days=10))
    InboundMessage.objects.create(
        channel=StepChannel.SMS,
        from_number="+8613900000000",
        body="好的",
        received_at=now - dt.timedelta(days=9),
        customer=customer,
        action=InboundAction.REPLY,
    )
    _message(customer, StepChannel.EMAIL, now - dt.timedelta(days=20), touch_kind=TouchKind.SERVICE)
    # Older than the window: not counted anywhere.
    _call(customer, now - dt.timedelta(days=200), TaskOutcome.NO_ANSWER)
    OrderFactory(customer=customer, placed_at=now - dt.timedelta(hours=12), amount=Decimal("50"))
    return customer


def _rows() -> dict[int, tuple]:
    return {
        row[0]: row[1:]
        for row in CustomerReach.objects.order_by("pk").values_list("customer_id", *COLUMNS)
    }


def test_shares_best_hour_and_receptiveness_hand_checked(reachable, now):
    result = reach_refresh(now=now)

    assert result["reach_full"] == 1
    row = CustomerReach.objects.get(customer=reachable)
    # Calls: 3 tasks, the automated call and the task-less interaction; 4 of 5 answered.
    assert (row.calls_attempted, row.calls_answered, row.call_answer_share) == (5, 4, 0.8)
    # Answered at 14:30, 14:10, 10:00 and 10:20 New York time: a tie, the earlier hour.
    assert row.best_call_hour == 10
    assert (row.sms_sent, row.sms_delivered_share) == (2, 0.5)
    assert (row.email_sent, row.email_delivered_share) == (1, 1.0)
    assert row.has_working_phone is True
    # Proactive calls: reached, no answer, callback, answered with a keypress; all followed by
    # the order within 7 days.
    assert (row.call_response_share, row.call_conversion_share) == (0.75, 1.0)
    # SMS: one clicked (and followed by the order), one answered by a message the next day.
    assert (row.sms_response_share, row.sms_conversion_share) == (1.0, 0.5)
    # The email was a service touch: no receptiveness for it.
    assert row.email_response_share is None
    assert row.wechat_response_share is None
    assert row.receptiveness == round(5 / 6, 4)
    # Email delivered best, but opted out: calls are the best open channel.
    assert (row.reachability, row.best_channel) == (0.8, "call")


def test_a_wrong_number_stops_the_phone_working_until_it_changes(now):
    customer = CustomerFactory()
    phone = PhoneFactory(customer=customer)
    ContactPoint.objects.filter(pk=phone.pk).update(updated_at=now - dt.timedelta(hours=2))
    _call(customer, now - dt.timedelta(hours=1), TaskOutcome.WRONG_NUMBER, to_address=phone.value)
    reach_refresh(now=now)

    row = CustomerReach.objects.get(customer=customer)
    assert row.has_working_phone is False
    # No working phone and SMS never sent: calls count 0, SMS and email have nothing counted.
    assert (row.call_answer_share, row.reachability, row.best_channel) == (0.0, None, "")

    phone.value = "+8613912345678"
    phone.save()
    later = now + dt.timedelta(hours=1)
    assert reach_refresh(now=later)["reach_full"] == 0
    assert CustomerReach.objects.get(customer=customer).has_working_phone is True


def test_do_not_contact_reaches_nobody(now):
    customer = CustomerFactory(do_not_contact=True)
    PhoneFactory(customer=customer)
    _call(customer, now - dt.timedelta(days=1), TaskOutcome.REACHED)
    reach_refresh(now=now)

    row = CustomerReach.objects.get(customer=customer)
    assert (row.call_answer_share, row.reachability) == (1.0, 0.0)


def test_customers_without_data_get_no_row_and_lose_it_when_data_leaves(now):
    silent = CustomerFactory()
    caller = CustomerFactory()
    _call(caller, now - dt.timedelta(days=170), TaskOutcome.REACHED)
    reach_refresh(now=now)
    assert set(_rows()) == {caller.pk}
    assert not CustomerReach.objects.filter(customer=silent).exists()

    # Twenty days later the call left the window: the incremental pass deletes the row.
    result = reach_refresh(now=now + dt.timedelta(days=20))
    assert result["reach_full"] == 0
    assert result["reach_deleted"] == 1
    assert _rows() == {}


def test_nothing_changed_writes_nothing_and_incremental_equals_full(reachable, now):
    other = CustomerFactory()
    PhoneFactory(customer=other)
    reach_refresh(now=now)
    first = _rows()
    assert set(first) == {reachable.pk, other.pk}

    again = reach_refresh(now=now + dt.timedelta(minutes=30))
    assert again["reach_full"] == 0
    assert again["reach_written"] == 0

    # A new answered call and a delivery: the incremental pass changes exactly that row.
    _call(other, now + dt.timedelta(minutes=40), TaskOutcome.REACHED)
    later = now + dt.timedelta(hours=1)
    incremental = reach_refresh(now=later)
    assert incremental["reach_full"] == 0
    assert incremental["reach_written"] == 1
    after = _rows()
    assert after[reachable.pk] == first[reachable.pk]
    assert after[other.pk] != first[other.pk]

    full = reach_refresh(now=later, full=True)
    assert full["reach_full"] == 1
    assert full["reach_written"] == 0
    assert _rows() == after


def test_the_task_runs_by_its_registered_name(reachable, now):
    task = task_by_name("outreach.tasks.reach_refresh_task")
    assert task.name == reach_refresh_task.name
    result = task.apply().get()
    assert result["reach_full"] == 1
    assert result["reach_written"] == 1
    # Straight through the function: nothing changed since.
    assert reach_refresh_task()["reach_written"] == 0
    assert ReachRefreshState.objects.get(pk=1).ran_at >= now


def test_the_management_command_runs_a_pass(reachable) -> None:
    out = io.StringIO()
    call_command("reach_refresh", "--full", stdout=out)
    assert json.loads(out.getvalue())["reach_written"] == 1
    assert CustomerReach.objects.filter(customer=reachable).exists()

"""The agent desk: the caller's card (sections, masking, script, advice), its forms (log the
call, open a ticket, schedule a callback, create an unknown caller) and the card's cost."""

import datetime as dt
import secrets
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from callcenter.choices import Role
from callcenter.models import Customer, Interaction, Ticket
from callcenter.services.cti import cti_publish
from care.choices import StepChannel, TemplateChannel
from care.models import MessageTemplate, TemplateVariant
from outreach.models import OutreachTask
from segments.choices import LifecycleStage, ValueTier
from tests.callcenter.factories import (
    CustomerFactory,
    InteractionFactory,
    OrderFactory,
    PhoneFactory,
    TicketFactory,
    UserFactory,
)
from tests.outreach.factories import CallTaskFactory, enrollment_with_step
from tests.segments.factories import CustomerMetricsFactory

PHONE = "+8613800138000"
# The request's savepoint and its release (2); session, user and roles (3); the screen-pop card
# (1 statement); open tasks, enrollments and their steps (3); the script's template texts and
# its context (customer, ticket, order: 4); the open tickets' SLA (service app: 1); the call
# reasons with after-call follow-ups (outreach: 1); the next best actions, every active rule's
# condition and the placeholders' figures in one statement (segments: 1; the rules themselves
# come from the cache).
CARD_QUERIES = 16


@pytest.fixture
def agent(db: None) -> Any:
    return UserFactory(role=Role.AGENT, username="desk_agent")


@pytest.fixture
def desk(client: Client, agent: Any) -> Client:
    client.force_login(agent)
    return client


@pytest.fixture
def caller(db: None) -> Customer:
    advisor = UserFactory(role=Role.AGENT, username="li.na", first_name="Na", last_name="Li")
    customer = CustomerFactory(name="王芳", advisor=advisor, sms_opt_out=True)
    PhoneFactory(customer=customer, value=PHONE)
    CustomerMetricsFactory(
        customer=customer,
        rfm_segment="champions",
        rfm_code="555",
        lifecycle_stage=LifecycleStage.CHURN_RISK,
        value_tier=ValueTier.HIGH,
        churn_probability=0.72,
    )
    OrderFactory(customer=customer, amount="5388.00")
    InteractionFactory(
        customer=customer, notes="太差了，非常生气", sentiment=-0.8, reason="delivery"
    )
    TicketFactory(customer=customer, subject="Parcel lost")
    return customer


def _with_plan(customer: Customer) -> None:
    template = MessageTemplate.objects.create(
        name="Win back", slug="win-back", channel=TemplateChannel.CALL_SCRIPT
    )
    TemplateVariant.objects.create(
        template=template, language="zh-hans", body="您好{{ customer.name }}，我们想念您。"
    )
    enrollment_with_step(customer=customer, channel=StepChannel.CALL, template=template)


def _ringing(agent_id: int, phone: str) -> str:
    """A call from `phone` put through to the agent: the reference its desk's stream carried."""
    ref = secrets.token_urlsafe(16)
    message = {"event": "ringing", "call_id": "c1", "call_ref": ref}
    cti_publish(user_id=agent_id, message=message, phone=phone)
    return ref


def _card(desk: Client, phone: str = "138 0013 8000", **params: str) -> Any:
    return desk.get(reverse("desk-card"), {"phone": phone, **params}, HTTP_HX_REQUEST="true")


def test_desk_page_wires_the_live_stream_and_the_card(desk: Client) -> None:
    response = desk.get(reverse("desk"))

    html = response.content.decode()
    assert response.status_code == 200
    assert f'data-events-url="{reverse("desk-events")}"' in html
    assert f'data-card-url="{reverse("desk-card")}"' in html
    assert "js/desk/desk.js" in html
    assert 'id="desk-card"' in html


def test_card_shows_who_calls_their_segments_consent_history_and_advice(
    desk: Client, caller: Customer
) -> None:
    _with_plan(caller)

    response = _card(desk, call_id="call-7")

    html = response.content.decode()
    assert response.status_code == 200
    assert "王芳" in html
    assert "Champions" in html
    assert "Churn risk" in html
    assert "High value" in html
    assert "No SMS" in html
    assert "Na Li" in html
    assert "Parcel lost" in html
    assert "delivery" in html
    assert "Negative" in html
    assert "5,388.00" in html or "5388.00" in html
    # The plan's call script, rendered for this customer.
    assert "您好王芳，我们想念您。" in html
    assert "Acknowledge the open complaint" in html
    assert "retention" in html
    # Forms prefilled with the call id; the agent sees the number masked.
    assert 'value="call-7"' in html
    assert "+8613800138000" not in html
    assert "138 0013 8000" not in html


def test_card_script_prefers_the_open_call_task(desk: Client, caller: Customer) -> None:
    CallTaskFactory(customer=caller, body="Ask about the lost parcel first.")

    html = _card(desk).content.decode()

    assert "Ask about the lost parcel first." in html


def test_card_query_count_is_bounded_and_does_not_grow_with_history(
    desk: Client, caller: Customer
) -> None:
    _with_plan(caller)
    _card(desk)  # warm up: the first request after login touches the session more
    with CaptureQueriesContext(connection) as first:
        _card(desk)
    for _ in range(4):
        InteractionFactory(customer=caller)
        TicketFactory(customer=caller)
        OrderFactory(customer=caller)
        CallTaskFactory(customer=caller, body="")
        enrollment_with_step(customer=caller, channel=StepChannel.SMS)
    with CaptureQueriesContext(connection) as second:
        _card(desk)

    assert len(second) == len(first)
    assert len(first) <= CARD_QUERIES


def test_unknown_caller_gets_the_create_form_with_the_number(desk: Client, db: None) -> None:
    html = _card(desk, phone="139-0000-0000", call_id="c1").content.decode()

    assert "Unknown caller" in html
    assert 'name="phone"' in html
    assert 'value="+8613900000000"' in html
    assert reverse("desk-customer-create") in html


def test_creating_the_unknown_caller_shows_their_card(desk: Client, agent: Any) -> None:
    response = desk.post(
        reverse("desk-customer-create"),
        {"name": "赵磊", "kind": "person", "phone": "13900000000", "call_id": "c1"},
        HTTP_HX_REQUEST="true",
    )

    customer = Customer.objects.get(name="赵磊")
    assert customer.contact_points.get().value == "+8613900000000"
    html = response.content.decode()
    assert response.status_code == 200
    assert "Customer created." in html
    assert f'data-customer-id="{customer.pk}"' in html


def test_create_form_errors_sit_next_to_the_field_and_create_nothing(desk: Client) -> None:
    response = desk.post(
        reverse("desk-customer-create"), {"name": "", "kind": "person", "phone": "12"}
    )

    html = response.content.decode()
    assert response.status_code == 422
    assert "Not a valid phone number." in html
    assert "This field is required." in html
    assert not Customer.objects.exists()


def test_a_live_call_pops_the_card_by_its_reference_without_the_full_number(
    desk: Client, agent: Any, caller: Customer
) -> None:
    # given a ringing call put through to this agent (the reference the stream carried)
    ref = _ringing(agent.pk, PHONE)

    response = desk.get(
        reverse("desk-card"), {"call": ref, "call_id": "c9"}, HTTP_HX_REQUEST="true"
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert f'data-customer-id="{caller.pk}"' in html
    assert "+8613*****8000" in html
    assert "13800138000" not in html


def test_a_call_reference_opens_nothing_for_another_agent(
    desk: Client, caller: Customer, db: None
) -> None:
    colleague = UserFactory(role=Role.AGENT, username="colleague")
    ref = _ringing(colleague.pk, PHONE)

    theirs = desk.get(reverse("desk-card"), {"call": ref}, HTTP_HX_REQUEST="true")
    made_up = desk.get(reverse("desk-card"), {"call": "made-up"}, HTTP_HX_REQUEST="true")

    assert (theirs.status_code, made_up.status_code) == (404, 404)
    assert "no longer available" in theirs.content.decode()
    assert caller.name not in theirs.content.decode()


def test_an_unknown_live_caller_is_created_from_the_call_without_showing_the_number(
    desk: Client, agent: Any
) -> None:
    ref = _ringing(agent.pk, "+8613900000000")

    card = desk.get(reverse("desk-card"), {"call": ref, "call_id": "c1"}, HTTP_HX_REQUEST="true")
    created = desk.post(
        reverse("desk-customer-create"),
        {"name": "赵磊", "kind": "person", "call_ref": ref, "call_id": "c1"},
        HTTP_HX_REQUEST="true",
    )

    html = card.content.decode()
    assert "Unknown caller" in html
    assert "13900000000" not in html
    assert "+8613*****0000" in html
    assert created.status_code == 200, created.content.decode()
    customer = Customer.objects.get(name="赵磊")
    assert customer.contact_points.get().value == "+8613900000000"


def test_a_reference_of_another_agent_cannot_create_a_customer(desk: Client, db: None) -> None:
    colleague = UserFactory(role=Role.AGENT, username="colleague")
    ref = _ringing(colleague.pk, "+8613900000000")

    response = desk.post(
        reverse("desk-customer-create"), {"name": "赵磊", "kind": "person", "call_ref": ref}
    )

    assert response.status_code == 422
    assert "This field is required." in response.content.decode()
    assert not Customer.objects.exists()


def test_manual_search_without_telephony_renders_the_card_in_the_page(
    desk: Client, caller: Customer
) -> None:
    response = desk.get(reverse("desk"), {"phone": "13800138000"})

    assert response.status_code == 200
    assert "王芳" in response.content.decode()


def test_logging_the_call_records_an_interaction_by_the_agent(
    desk: Client, agent: Any, caller: Customer
) -> None:
    response = desk.post(
        reverse("desk-log-call", args=[caller.pk]),
        {
            "phone": PHONE,
            "call_id": "call-7",
            "direction": "inbound",
            "reason": "Parcel",
            "outcome": "resolved",
            "duration_minutes": "4",
            "notes": "很满意",
        },
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 200
    assert "Call logged." in response.content.decode()
    logged = Interaction.objects.get(customer=caller, reason="Parcel")
    assert logged.agent == agent
    assert logged.channel == "call"
    assert logged.duration_seconds == 240
    assert "call-7" in logged.notes


def test_logging_without_a_reason_changes_nothing(desk: Client, caller: Customer) -> None:
    before = Interaction.objects.count()

    response = desk.post(
        reverse("desk-log-call", args=[caller.pk]), {"phone": PHONE, "direction": "inbound"}
    )

    assert response.status_code == 422
    assert "This field is required." in response.content.decode()
    assert Interaction.objects.count() == before


def test_opening_a_ticket_from_the_card(desk: Client, agent: Any, caller: Customer) -> None:
    response = desk.post(
        reverse("desk-ticket", args=[caller.pk]),
        {"phone": PHONE, "kind": "complaint", "priority": "high", "subject": "Broken screen"},
    )

    assert response.status_code == 200
    ticket = Ticket.objects.get(subject="Broken screen")
    assert (ticket.customer, ticket.assignee, ticket.priority) == (caller, agent, "high")


def test_scheduling_a_callback_creates_the_agents_call_task(
    desk: Client, agent: Any, caller: Customer
) -> None:
    when = timezone.localtime() + dt.timedelta(days=1)

    response = desk.post(
        reverse("desk-callback", args=[caller.pk]),
        {"phone": PHONE, "callback_at": when.strftime("%Y-%m-%dT%H:%M"), "notes": "Refund"},
    )

    assert response.status_code == 200
    task = OutreachTask.objects.get(customer=caller)
    assert (task.assignee, task.channel, task.body) == (agent, "call", "Refund")
    assert abs(task.due_at - when) < dt.timedelta(minutes=1)


def test_a_callback_in_the_past_is_refused(desk: Client, caller: Customer) -> None:
    response = desk.post(
        reverse("desk-callback", args=[caller.pk]),
        {"phone": PHONE, "callback_at": "2020-01-01T10:00"},
    )

    assert response.status_code == 422
    assert "Choose a time in the future." in response.content.decode()
    assert not OutreachTask.objects.exists()


def test_supervisors_see_full_numbers_on_the_card(client: Client, caller: Customer) -> None:
    client.force_login(UserFactory(role=Role.SUPERVISOR, username="sup"))

    html = _card(client).content.decode()

    assert "+86 138 0013 8000" in html


def test_card_without_a_number_is_a_400(desk: Client) -> None:
    assert desk.get(reverse("desk-card")).status_code == 400


def test_card_shows_a_wechat_opt_out_and_does_not_call_every_channel_allowed(
    desk: Client, caller: Customer
) -> None:
    Customer.objects.filter(pk=caller.pk).update(sms_opt_out=False, wechat_opt_out=True)

    html = _card(desk).content.decode()

    assert "No WeChat" in html
    assert "All channels allowed" not in html

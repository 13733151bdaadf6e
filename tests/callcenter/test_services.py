"""Profile services: validation, contact points, consent history and announced events."""

from decimal import Decimal

import pytest
from django.utils import timezone

from callcenter.choices import ConsentChannel, ConsentSource, ContactKind
from callcenter.errors import ApplicationError
from callcenter.events import domain_events
from callcenter.models import AuditLog, ConsentChange, ContactPoint, Customer
from callcenter.services.activity import interaction_log, order_record, survey_record, ticket_open
from callcenter.services.customers import (
    contact_point_add,
    customer_consent_set,
    customer_create,
)
from tests.callcenter.factories import CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def captured_events():
    seen: list = []

    def receiver(sender, events, **kwargs):
        seen.extend(events)

    domain_events.connect(receiver, dispatch_uid="test-capture")
    yield seen
    domain_events.disconnect(dispatch_uid="test-capture")


def test_customer_create_normalizes_contact_points() -> None:
    customer = customer_create(
        name="王芳", phones=["138 0013 8000", "+86 139 0013 9000"], emails=[" Wang@Example.COM "]
    )
    values = set(customer.contact_points.values_list("kind", "value", "is_primary"))
    assert values == {
        (ContactKind.PHONE, "+8613800138000", True),
        (ContactKind.PHONE, "+8613900139000", False),
        (ContactKind.EMAIL, "wang@example.com", True),
    }


def test_customer_create_refuses_a_phone_of_another_customer_and_writes_nothing() -> None:
    customer_create(name="A", phones=["13800138000"])
    with pytest.raises(ApplicationError, match="already belongs"):
        customer_create(name="B", phones=["+86 138-0013-8000"])
    assert Customer.objects.count() == 1
    assert ContactPoint.objects.count() == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"phones": ["12345"]}, "Invalid phone"),
        ({"emails": ["not-an-email"]}, "Invalid email"),
        ({"timezone": "Mars/Base"}, "Unknown time zone"),
        # zoneinfo reads names as files: too long a name was an OSError, not a refusal.
        ({"timezone": "Asia/" + "x" * 300}, "Unknown time zone"),
        ({"kind": "business"}, "company name"),
        ({"colour": "red"}, "Unknown fields"),
    ],
)
def test_customer_create_rejects_bad_input(kwargs: dict, message: str) -> None:
    with pytest.raises(ApplicationError, match=message):
        customer_create(name="X", **kwargs)
    assert not Customer.objects.exists()


def test_consent_change_is_recorded_once(supervisor_user, captured_events) -> None:
    customer = CustomerFactory()
    assert customer_consent_set(
        customer=customer,
        channel=ConsentChannel.SMS,
        opted_out=True,
        source=ConsentSource.AGENT,
        changed_by=supervisor_user,
    )
    assert not customer_consent_set(
        customer=customer, channel=ConsentChannel.SMS, opted_out=True, source=ConsentSource.AGENT
    )
    customer.refresh_from_db()
    assert customer.sms_opt_out
    assert customer.consent_source == ConsentSource.AGENT
    assert ConsentChange.objects.filter(customer=customer).count() == 1
    assert AuditLog.objects.filter(action="consent.change").count() == 1
    assert [e.type for e in captured_events] == ["consent_changed"]


def test_first_order_is_announced_only_once(captured_events) -> None:
    customer = CustomerFactory()
    now = timezone.now()
    order_record(customer=customer, external_id="O1", placed_at=now, amount=Decimal("10"))
    order_record(customer=customer, external_id="O2", placed_at=now, amount=Decimal("20"))
    order_record(customer=customer, external_id="O2", placed_at=now, amount=Decimal("20"))
    assert [e.type for e in captured_events] == ["order_placed", "first_order", "order_placed"]


def test_negative_call_notes_get_negative_sentiment(captured_events) -> None:
    customer = CustomerFactory()
    interaction = interaction_log(
        customer=customer, channel="call", notes="服务太差了，我要投诉，非常生气"
    )
    assert interaction.sentiment is not None
    assert interaction.sentiment < -0.5
    assert captured_events[-1].payload["sentiment"] == interaction.sentiment


def test_ticket_and_survey_events(captured_events) -> None:
    customer = CustomerFactory()
    ticket = ticket_open(customer=customer, kind="complaint", subject="Broken screen")
    survey_record(customer=customer, kind="nps", score=3, ticket=ticket)
    with pytest.raises(ApplicationError, match="between 1 and 5"):
        survey_record(customer=customer, kind="csat", score=7)
    assert [e.type for e in captured_events] == ["ticket_opened", "survey_submitted"]


def test_merged_customers_take_no_new_contact_points_or_consent() -> None:
    survivor = CustomerFactory()
    merged = CustomerFactory(status="merged", merged_into=survivor)
    with pytest.raises(ApplicationError, match="merged"):
        contact_point_add(customer=merged, kind=ContactKind.PHONE, value="13800138000")
    with pytest.raises(ApplicationError, match="merged"):
        customer_consent_set(
            customer=merged, channel="sms", opted_out=True, source=ConsentSource.API
        )


def test_a_survey_cannot_point_at_another_customers_ticket() -> None:
    ticket = ticket_open(customer=CustomerFactory(), kind="complaint", subject="x")
    with pytest.raises(ApplicationError, match="another customer"):
        survey_record(customer=CustomerFactory(), kind="nps", score=5, ticket=ticket)

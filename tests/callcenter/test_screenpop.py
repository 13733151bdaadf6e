"""Screen-pop: the caller's card, found by a number in any format, in a fixed number of queries."""

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework.utils.encoders import JSONEncoder

from callcenter.choices import CustomerStatus, OrderStatus, Role, TicketKind, TicketStatus
from callcenter.prepared import _native_statement
from callcenter.selectors import screenpop
from callcenter.serializers import ContactPointSerializer
from callcenter.services.customers import contact_point_deactivate, customer_create
from tests.callcenter.factories import (
    InteractionFactory,
    OrderFactory,
    PhoneFactory,
    TicketFactory,
)

pytestmark = pytest.mark.django_db

FORMATS = ("13800138000", "+86 138 0013 8000", "0086-138-0013-8000")


@pytest.fixture
def client_for(make_user: Callable[..., Any]) -> Callable[[str | None], APIClient]:
    """A client forced-authenticated as a fresh user of `role` (None: a user with no role)."""

    def _for(role: str | None) -> APIClient:
        client = APIClient()
        client.force_authenticate(make_user(role, username=f"pop_{role}"))
        return client

    return _for


@pytest.fixture
def agent_client(client_for: Callable[[str | None], APIClient]) -> APIClient:
    return client_for(Role.AGENT)


@pytest.fixture
def supervisor_client(client_for: Callable[[str | None], APIClient]) -> APIClient:
    return client_for(Role.SUPERVISOR)


def _pop(client: APIClient, phone: str | None) -> Any:
    params = {} if phone is None else {"phone": phone}
    return client.get(reverse("api-screenpop"), params)


@pytest.fixture
def caller(make_user: Callable[..., Any]) -> Any:
    """A customer with a history: two numbers, an email, calls, tickets and orders."""
    advisor = make_user(Role.SUPERVISOR, username="li.na", first_name="Na", last_name="Li")
    agent = make_user(Role.AGENT, username="zhang")
    customer = customer_create(
        name="王芳",
        external_id="C-42",
        city="杭州",
        birthday=dt.date(1988, 5, 4),
        phones=["13800138000", "+86 139 0013 9000"],
        emails=["wang@example.com"],
        advisor=advisor,
    )
    now = timezone.now()
    for days in range(1, 8):
        InteractionFactory(
            customer=customer,
            agent=agent,
            occurred_at=now - dt.timedelta(days=days),
            reason=f"call {days}",
            sentiment=-0.5,
        )
    TicketFactory(customer=customer, subject="open one", opened_at=now - dt.timedelta(hours=1))
    TicketFactory(
        customer=customer,
        kind=TicketKind.INQUIRY,
        status=TicketStatus.IN_PROGRESS,
        subject="working",
        opened_at=now - dt.timedelta(hours=2),
    )
    TicketFactory(customer=customer, status=TicketStatus.RESOLVED, subject="done")
    for days, amount, status in [
        (30, "100.00", OrderStatus.PAID),
        (20, "250.50", OrderStatus.PAID),
        (10, "80.00", OrderStatus.REFUNDED),
        (5, "49.50", OrderStatus.PAID),
    ]:
        OrderFactory(
            customer=customer,
            placed_at=now - dt.timedelta(days=days),
            amount=Decimal(amount),
            status=status,
        )
    return customer


@pytest.mark.parametrize("phone", FORMATS)
def test_every_format_finds_the_same_customer(supervisor_client, caller, phone) -> None:
    response = _pop(supervisor_client, phone)

    assert response.status_code == 200
    body = response.json()
    assert body["known"] is True
    assert body["phone"] == "+8613800138000"
    assert body["customer"]["id"] == caller.pk


def test_the_card_carries_identity_history_tickets_and_orders(supervisor_client, caller) -> None:
    body = _pop(supervisor_client, "13800138000").json()

    assert set(body) >= {
        "known",
        "phone",
        "customer",
        "contact_points",
        "recent_interactions",
        "open_tickets",
        "orders",
    }
    assert body["customer"] == {
        "id": caller.pk,
        "external_id": "C-42",
        "name": "王芳",
        "kind": "person",
        "company_name": "",
        "city": "杭州",
        "language": "zh-hans",
        "timezone": "Asia/Shanghai",
        "birthday": "1988-05-04",
        "consent": {
            "sms_opt_out": False,
            "call_opt_out": False,
            "email_opt_out": False,
            "do_not_contact": False,
            "wechat_opt_out": False,
            "wecom_opt_out": False,
        },
        "advisor": {"id": caller.advisor_id, "username": "li.na", "name": "Na Li"},
    }
    assert [(p["kind"], p["value"], p["is_primary"]) for p in body["contact_points"]] == [
        ("email", "wang@example.com", True),
        ("phone", "+8613800138000", True),
        ("phone", "+8613900139000", False),
    ]
    interactions = body["recent_interactions"]
    assert [i["reason"] for i in interactions] == [f"call {d}" for d in range(1, 6)]
    assert interactions[0]["agent"]["username"] == "zhang"
    assert interactions[0]["sentiment"] == -0.5
    assert {"channel", "occurred_at"} <= set(interactions[0])
    assert [(t["subject"], t["status"]) for t in body["open_tickets"]] == [
        ("open one", "open"),
        ("working", "in_progress"),
    ]
    assert set(body["open_tickets"][0]) == {
        "id",
        "kind",
        "status",
        "priority",
        "subject",
        "opened_at",
    }
    orders = body["orders"]
    assert orders["paid_count"] == 3
    assert orders["total_spend"] == "400.00"
    assert [o["amount"] for o in orders["recent"]] == ["49.50", "80.00", "250.50"]
    assert orders["recent"][1]["status"] == "refunded"
    assert orders["last_order_at"] == orders["recent"][0]["placed_at"]


def test_a_customer_without_history_gets_empty_sections(agent_client) -> None:
    customer_create(name="New", phones=["13700137000"])

    body = _pop(agent_client, "137 0013 7000").json()

    assert body["known"] is True
    assert body["customer"]["advisor"] is None
    assert body["recent_interactions"] == body["open_tickets"] == []
    assert body["orders"] == {
        "paid_count": 0,
        "total_spend": "0.00",
        "last_order_at": None,
        "recent": [],
    }


def test_the_card_costs_a_fixed_number_of_queries(
    agent_client, caller, django_assert_num_queries
) -> None:
    # Counted, with force_authenticate (no session or token lookup); the view is outside
    # ATOMIC_REQUESTS (read-only). 1 role lookup, 1 statement for the whole card (owner by
    # active phone, its advisor, and every SQL section: contact points, recent interactions,
    # open tickets, orders, segments).
    with django_assert_num_queries(1 + 1):
        response = _pop(agent_client, "+86 138 0013 8000")

    assert response.json()["known"] is True


def test_an_unknown_number_is_not_an_error(agent_client, caller) -> None:
    response = _pop(agent_client, "139 1234 5678")

    assert response.status_code == 200
    assert response.json() == {
        "known": False,
        "phone": "+8613912345678",
        "message": "unknown caller",
    }


@pytest.mark.parametrize("phone", ["12345", "not a number", "+86 000"])
def test_an_invalid_number_is_unknown_and_costs_no_lookup(
    agent_client, caller, django_assert_num_queries, phone
) -> None:
    # the role lookup only: the number is never looked up
    with django_assert_num_queries(1):
        response = _pop(agent_client, phone)

    assert response.status_code == 200
    assert response.json() == {"known": False, "phone": phone, "message": "unknown caller"}


@pytest.mark.parametrize("phone", [None, "", "   "])
def test_a_missing_number_is_a_400_with_a_clear_message(agent_client, phone) -> None:
    response = _pop(agent_client, phone)

    assert response.status_code == 400
    assert "phone parameter is required" in response.json()["detail"]


def test_a_deactivated_number_is_not_matched(agent_client, caller) -> None:
    point = caller.contact_points.get(value="+8613800138000")
    contact_point_deactivate(point=point)

    assert _pop(agent_client, "13800138000").json()["known"] is False
    assert _pop(agent_client, "13900139000").json()["customer"]["id"] == caller.pk


def test_a_number_moved_to_the_survivor_of_a_merge_pops_the_survivor(agent_client) -> None:
    survivor = customer_create(name="Survivor")
    merged = customer_create(name="Merged", phones=["13800138000"])
    point = merged.contact_points.get()
    contact_point_deactivate(point=point)
    PhoneFactory(customer=survivor, value="+8613800138000")
    type(merged).objects.filter(pk=merged.pk).update(
        status=CustomerStatus.MERGED, merged_into=survivor
    )

    body = _pop(agent_client, "13800138000").json()

    assert body["customer"]["id"] == survivor.pk
    assert body["customer"]["name"] == "Survivor"


def test_a_number_left_on_a_merged_customer_pops_the_survivor(supervisor_client) -> None:
    survivor = customer_create(name="Survivor")
    middle = customer_create(name="Middle")
    merged = customer_create(name="Merged", phones=["13800138000"])
    model = type(merged).objects
    model.filter(pk=middle.pk).update(status=CustomerStatus.MERGED, merged_into=survivor)
    model.filter(pk=merged.pk).update(status=CustomerStatus.MERGED, merged_into=middle)

    body = _pop(supervisor_client, "13800138000").json()

    assert body["customer"]["id"] == survivor.pk
    assert all(p["value"] != "+8613800138000" for p in body["contact_points"])


@pytest.mark.parametrize("role", [Role.AGENT, Role.SUPERVISOR, Role.ADMIN])
def test_every_role_may_pop(client_for, caller, role) -> None:
    assert _pop(client_for(role), "13800138000").status_code == 200


def test_anonymous_and_roleless_callers_are_refused(api_client, client_for, caller) -> None:
    anonymous = _pop(api_client, "13800138000")
    roleless = _pop(client_for(None), "13800138000")

    assert anonymous.status_code in (401, 403)
    assert roleless.status_code == 403
    assert "customer" not in anonymous.json()
    assert "customer" not in roleless.json()


def test_timestamps_and_decimals_read_as_the_api_writes_them(agent_client, caller) -> None:
    # given the newest interaction at a whole second, the newest order with microseconds
    whole = timezone.now().replace(microsecond=0) - dt.timedelta(minutes=5)
    InteractionFactory(customer=caller, occurred_at=whole)
    fraction = timezone.now().replace(microsecond=5) - dt.timedelta(minutes=5)
    OrderFactory(customer=caller, placed_at=fraction, amount=Decimal("7.10"))

    # when
    body = _pop(agent_client, "13800138000").json()

    # then: as DRF's encoder writes them everywhere else in the API
    drf = JSONEncoder()
    assert body["recent_interactions"][0]["occurred_at"] == drf.default(whole)
    assert "." not in drf.default(whole)
    newest = body["orders"]["recent"][0]
    assert newest["placed_at"] == drf.default(fraction)
    assert newest["placed_at"].endswith(".000005Z")
    assert newest["amount"] == "7.10"
    assert body["orders"]["last_order_at"] == newest["placed_at"]
    assert body["orders"]["total_spend"] == "407.10"
    assert body["customer"]["birthday"] == "1988-05-04"


def test_the_card_is_json_whatever_the_client_accepts(agent_client, caller) -> None:
    response = agent_client.get(
        reverse("api-screenpop"), {"phone": "13800138000"}, HTTP_ACCEPT="text/html"
    )

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json()["known"] is True


def test_the_api_sends_the_selectors_card(agent_client, caller) -> None:
    response = _pop(agent_client, "13800138000")

    assert response["Content-Type"] == "application/json"
    assert response.json() == screenpop.screenpop_for_phone(
        phone="13800138000", full_contacts=False
    )


def test_an_sql_section_of_another_app_joins_the_single_statement(
    monkeypatch, agent_client, caller, django_assert_num_queries
) -> None:
    # given a section registered the way another app's AppConfig.ready() would
    monkeypatch.setattr(screenpop, "_SECTIONS", dict(screenpop._SECTIONS))
    section = screenpop.SqlSection(
        sql="(SELECT json_build_object('city', c.city, 'limit', %(shown_limit)s::int))",
        params={"shown_limit": 3},
    )
    screenpop.screenpop_section_register("hints", section)

    # when
    with django_assert_num_queries(1 + 1):
        body = _pop(agent_client, "13800138000").json()

    # then
    assert body["hints"] == {"city": "杭州", "limit": 3}


@pytest.mark.parametrize("name", ["Segments", "two words", "x'); DROP TABLE y; --", ""])
def test_a_section_name_must_be_a_plain_identifier(monkeypatch, name) -> None:
    monkeypatch.setattr(screenpop, "_SECTIONS", dict(screenpop._SECTIONS))

    with pytest.raises(ValueError, match="section name"):
        screenpop.screenpop_section_register(name, lambda customer: None)


def test_other_apps_add_sections_to_the_card(monkeypatch, agent_client, caller) -> None:
    # given a section registered the way another app's AppConfig.ready() would
    monkeypatch.setattr(screenpop, "_SECTIONS", dict(screenpop._SECTIONS))
    screenpop.screenpop_section_register("segments", lambda customer: [f"vip-{customer['city']}"])

    # when
    body = _pop(agent_client, "13800138000").json()

    # then
    assert body["segments"] == ["vip-杭州"]
    assert screenpop.screenpop_sections()[-1] == "segments"
    with pytest.raises(ValueError, match="reserved"):
        screenpop.screenpop_section_register("customer", lambda customer: None)


def test_agents_get_the_callers_number_and_contact_points_masked(agent_client, caller) -> None:
    response = _pop(agent_client, "13800138000")

    body = response.json()
    assert body["phone"] == "+8613*****8000"
    assert [(p["kind"], p["value"], p["is_primary"]) for p in body["contact_points"]] == [
        ("email", "w***@example.com", True),
        ("phone", "+8613*****8000", True),
        ("phone", "+8613*****9000", False),
    ]
    text = response.content.decode()
    assert "13800138000" not in text
    assert "13900139000" not in text
    assert "wang@" not in text
    assert "raw_value" not in text


@pytest.mark.parametrize("role", [Role.AGENT, Role.SUPERVISOR])
def test_the_cards_contact_points_read_as_the_serializer_writes_them(
    client_for, make_user, caller, role
) -> None:
    # given the serializer's view of the customer's active contact points for the same role
    context = {"request": SimpleNamespace(user=make_user(role, username=f"ser_{role}"))}
    points = caller.contact_points.filter(is_active=True).order_by("kind", "-is_primary", "id")
    expected = [ContactPointSerializer(point, context=context).data for point in points]

    # when
    card = _pop(client_for(role), "13800138000").json()["contact_points"]

    # then: the card carries a subset of the serializer's fields, with the same values
    assert len(card) == len(expected)
    for shown, serialized in zip(card, expected, strict=True):
        assert set(shown) <= set(serialized)
        assert shown == {key: serialized[key] for key in shown}


def test_one_prepared_statement_serves_every_role(client_for, caller, settings) -> None:
    # given
    settings.DB_PREPARED_STATEMENTS = True
    agent, supervisor = client_for(Role.AGENT), client_for(Role.SUPERVISOR)

    # when both roles pop the same caller
    with CaptureQueriesContext(connection) as queries:
        masked = _pop(agent, "13800138000").json()
        full = _pop(supervisor, "13800138000").json()

    # then one statement text, bound differently, and one prepared statement for both
    cards = [q["sql"] for q in queries.captured_queries if "'contact_points'" in q["sql"]]
    assert len(cards) == 2
    assert cards[0] == cards[1]
    assert (masked["phone"], full["phone"]) == ("+8613*****8000", "+8613800138000")
    native, _names = _native_statement(cards[0])
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement = %s", [native.decode()]
        )
        assert cursor.fetchone()[0] == 1

"""The customer-profile REST API: who may do what, writes through services, filters, pages, queries.

Query counts pinned below are per request, with the client authenticated through
`force_authenticate` (no session or token lookup). They count, in order: the SAVEPOINT that
ATOMIC_REQUESTS opens inside the test transaction, the one role lookup (the user's groups,
cached on the user afterwards), the data queries of the endpoint, and the RELEASE SAVEPOINT.
"""

import datetime as dt
import re
from collections.abc import Callable
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from callcenter.choices import (
    ConsentChannel,
    ConsentSource,
    CustomerStatus,
    OrderStatus,
    Role,
    TicketKind,
    TicketStatus,
)
from callcenter.models import (
    AuditLog,
    ConsentChange,
    ContactPoint,
    Customer,
    Interaction,
    Order,
    SurveyResponse,
    Ticket,
)
from tests.callcenter.factories import (
    BusinessCustomerFactory,
    CustomerFactory,
    EmailFactory,
    InteractionFactory,
    OrderFactory,
    PhoneFactory,
    SurveyFactory,
    TicketFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

NO_ROLE = "no-role"
ALL_CALLERS = (None, NO_ROLE, Role.AGENT, Role.SUPERVISOR, Role.ADMIN)
STAFF = frozenset({Role.AGENT, Role.SUPERVISOR, Role.ADMIN})
MANAGERS = frozenset({Role.SUPERVISOR, Role.ADMIN})
ADMINS = frozenset({Role.ADMIN})


@pytest.fixture
def client_as(make_user: Callable[..., Any]) -> Callable[[str | None], APIClient]:
    """An API client for a caller: None is anonymous, NO_ROLE a user in no role group."""

    def _as(role: str | None) -> APIClient:
        client = APIClient()
        if role is not None:
            user = make_user(None if role == NO_ROLE else role, username=f"caller_{role}")
            client.force_authenticate(user)
            client.user = user
        return client

    return _as


@pytest.fixture
def agent_client(client_as: Callable[[str | None], APIClient]) -> APIClient:
    return client_as(Role.AGENT)


@pytest.fixture
def world(make_user: Callable[..., Any]) -> SimpleNamespace:
    advisor = make_user(Role.SUPERVISOR, username="advisor", first_name="Li", last_name="Na")
    customer = CustomerFactory(advisor=advisor, city="上海")
    PhoneFactory(customer=customer, value="+8613800138000")
    return SimpleNamespace(
        advisor=advisor,
        customer=customer,
        order=OrderFactory(customer=customer),
        interaction=InteractionFactory(customer=customer),
        ticket=TicketFactory(customer=customer),
        survey=SurveyFactory(customer=customer),
    )


def _state() -> tuple:
    """Everything a write endpoint can change, to prove a refused request changed nothing."""
    return (
        list(Customer.objects.order_by("pk").values_list("name", "city", "advisor_id")),
        list(Customer.objects.order_by("pk").values_list("sms_opt_out", "consent_source")),
        ContactPoint.objects.count(),
        ConsentChange.objects.count(),
        Order.objects.count(),
        Interaction.objects.count(),
        list(Ticket.objects.order_by("pk").values_list("status", "resolved_at")),
        SurveyResponse.objects.count(),
        AuditLog.objects.count(),
    )


def _detail(name: str) -> Callable[[SimpleNamespace], str]:
    attr = name.split("-")[1]  # "api-customer-detail" -> customer
    return lambda w: reverse(name, args=[getattr(w, attr).pk])


def _list(name: str) -> Callable[[SimpleNamespace], str]:
    return lambda w: reverse(name)


# (case, method, url, payload, roles allowed, status on success)
MATRIX = [
    ("customers list", "get", _list("api-customer-list"), None, STAFF, 200),
    ("customers retrieve", "get", _detail("api-customer-detail"), None, STAFF, 200),
    (
        "customers create",
        "post",
        _list("api-customer-list"),
        lambda w: {"name": "新客户", "phones": ["13900139000"]},
        STAFF,
        201,
    ),
    (
        "customers patch",
        "patch",
        _detail("api-customer-detail"),
        lambda w: {"city": "北京"},
        STAFF,
        200,
    ),
    (
        "customers put",
        "put",
        _detail("api-customer-detail"),
        lambda w: {"name": "Renamed"},
        STAFF,
        200,
    ),
    (
        "customers assign advisor",
        "patch",
        _detail("api-customer-detail"),
        lambda w: {"advisor": None},
        MANAGERS,
        200,
    ),
    (
        "customers add contact point",
        "post",
        _detail("api-customer-contact-points"),
        lambda w: {"kind": "email", "value": "new@example.com"},
        STAFF,
        201,
    ),
    (
        "customers consent",
        "post",
        _detail("api-customer-consent"),
        lambda w: {"channel": "sms", "opted_out": True},
        STAFF,
        200,
    ),
    ("orders list", "get", _list("api-order-list"), None, STAFF, 200),
    ("orders retrieve", "get", _detail("api-order-detail"), None, STAFF, 200),
    (
        "orders create",
        "post",
        _list("api-order-list"),
        lambda w: {
            "external_id": "O-NEW",
            "customer": w.customer.pk,
            "placed_at": "2025-01-02T10:00:00+08:00",
            "amount": "88.00",
        },
        ADMINS,
        201,
    ),
    ("interactions list", "get", _list("api-interaction-list"), None, STAFF, 200),
    ("interactions retrieve", "get", _detail("api-interaction-detail"), None, STAFF, 200),
    (
        "interactions create",
        "post",
        _list("api-interaction-list"),
        lambda w: {"customer": w.customer.pk, "channel": "call", "notes": "asked about a bill"},
        STAFF,
        201,
    ),
    ("tickets list", "get", _list("api-ticket-list"), None, STAFF, 200),
    ("tickets retrieve", "get", _detail("api-ticket-detail"), None, STAFF, 200),
    (
        "tickets create",
        "post",
        _list("api-ticket-list"),
        lambda w: {"customer": w.customer.pk, "kind": "complaint", "subject": "Broken screen"},
        STAFF,
        201,
    ),
    ("tickets resolve", "post", _detail("api-ticket-resolve"), lambda w: {}, STAFF, 200),
    ("surveys list", "get", _list("api-survey-list"), None, STAFF, 200),
    ("surveys retrieve", "get", _detail("api-survey-detail"), None, STAFF, 200),
    (
        "surveys create",
        "post",
        _list("api-survey-list"),
        lambda w: {"customer": w.customer.pk, "kind": "nps", "score": 3},
        ADMINS,
        201,
    ),
    (
        "screenpop",
        "get",
        lambda w: reverse("api-screenpop") + "?phone=13800138000",
        None,
        STAFF,
        200,
    ),
]


@pytest.mark.parametrize("caller", ALL_CALLERS, ids=lambda r: str(r))
@pytest.mark.parametrize(
    ("method", "url", "payload", "allowed", "success"),
    [case[1:] for case in MATRIX],
    ids=[case[0] for case in MATRIX],
)
def test_permission_matrix(
    client_as, world, caller, method, url, payload, allowed, success
) -> None:
    # given
    client = client_as(caller)
    before = _state()
    # when
    response = getattr(client, method)(
        url(world), payload(world) if payload else None, format="json"
    )
    # then
    if caller in allowed:
        assert response.status_code == success, response.content
        if method != "get":
            assert _state() != before
    else:
        expected = (401, 403) if caller is None else (403,)
        assert response.status_code in expected, response.content
        assert _state() == before


def test_a_bad_token_is_refused_and_a_good_one_works(world, make_user) -> None:
    user = make_user(Role.AGENT, username="cti")
    token = Token.objects.create(user=user)
    client = APIClient()

    client.credentials(HTTP_AUTHORIZATION="Token not-a-token")
    assert client.get(reverse("api-customer-list")).status_code in (401, 403)

    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    response = client.get(reverse("api-customer-list"))
    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [world.customer.pk]


# --- customers -------------------------------------------------------------------------------


def test_create_customer_normalizes_contact_points_and_audits(client_as) -> None:
    # a supervisor, who sees the stored values in full
    supervisor_client = client_as(Role.SUPERVISOR)
    response = supervisor_client.post(
        reverse("api-customer-list"),
        {
            "name": " 王芳 ",
            "external_id": "CRM-1",
            "city": "杭州",
            "birthday": "1990-04-01",
            "phones": ["0086-138-0013-8000", "+86 139 0013 9000"],
            "emails": ["Wang@Example.COM"],
            "attributes": {"vip": True},
        },
        format="json",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    customer = Customer.objects.get(pk=body["id"])
    assert (customer.name, customer.external_id, customer.city) == ("王芳", "CRM-1", "杭州")
    assert customer.attributes == {"vip": True}
    assert {(p["kind"], p["value"], p["is_primary"]) for p in body["contact_points"]} == {
        ("phone", "+8613800138000", True),
        ("phone", "+8613900139000", False),
        ("email", "wang@example.com", True),
    }
    assert AuditLog.objects.filter(
        action="customer.create", object_id=str(customer.pk), actor=supervisor_client.user
    ).exists()


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"name": "A", "phones": ["12345"]}, "Invalid phone number"),
        ({"name": "A", "phones": ["13800138000", "not a phone"]}, "Invalid phone number"),
        ({"name": "A", "emails": ["nope"]}, "Invalid email"),
        ({"name": "A", "timezone": "Mars/Base"}, "Unknown time zone"),
        ({"name": "A", "kind": "business"}, "company name"),
        ({"name": "A", "birthday": "2999-01-01"}, "future"),
    ],
)
def test_create_customer_refuses_bad_input_and_writes_nothing(
    agent_client, payload, message
) -> None:
    response = agent_client.post(reverse("api-customer-list"), payload, format="json")

    assert response.status_code == 400
    assert message in response.json()["detail"]
    assert not Customer.objects.exists()
    assert not ContactPoint.objects.exists()
    assert not AuditLog.objects.exists()


def test_create_customer_refuses_a_number_of_another_customer(agent_client) -> None:
    owner = PhoneFactory(value="+8613800138000").customer

    response = agent_client.post(
        reverse("api-customer-list"), {"name": "B", "phones": ["138 0013 8000"]}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["conflict_customer_id"] == owner.pk
    assert list(Customer.objects.values_list("pk", flat=True)) == [owner.pk]


def test_create_customer_shape_errors_name_the_field(agent_client) -> None:
    response = agent_client.post(
        reverse("api-customer-list"), {"kind": "alien", "phones": "13800138000"}, format="json"
    )

    assert response.status_code == 400
    assert set(response.json()) == {"name", "kind", "phones"}
    assert not Customer.objects.exists()


def test_update_customer_changes_profile_and_audits(agent_client) -> None:
    customer = CustomerFactory(city="上海")

    response = agent_client.patch(
        reverse("api-customer-detail", args=[customer.pk]),
        {"city": "北京", "language": "en"},
        format="json",
    )

    assert response.status_code == 200
    assert (response.json()["city"], response.json()["language"]) == ("北京", "en")
    customer.refresh_from_db()
    assert (customer.city, customer.language) == ("北京", "en")
    log = AuditLog.objects.get(action="customer.update")
    assert log.data == {"fields": ["city", "language"]}


def test_put_requires_a_name(agent_client) -> None:
    customer = CustomerFactory(name="Old")

    response = agent_client.put(
        reverse("api-customer-detail", args=[customer.pk]), {"city": "北京"}, format="json"
    )

    assert response.status_code == 400
    assert "name" in response.json()
    customer.refresh_from_db()
    assert customer.name == "Old"


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"timezone": "Nowhere/City"}, "Unknown time zone"),
        ({"kind": "business", "company_name": ""}, "company name"),
        ({"name": "  "}, "name"),
    ],
)
def test_update_customer_refuses_bad_input(agent_client, payload, message) -> None:
    customer = CustomerFactory(name="Old", city="上海")

    response = agent_client.patch(
        reverse("api-customer-detail", args=[customer.pk]), payload, format="json"
    )

    assert response.status_code == 400
    assert message in str(response.json())
    customer.refresh_from_db()
    assert (customer.name, customer.kind, customer.timezone) == ("Old", "person", "Asia/Shanghai")


def test_a_merged_customer_cannot_be_edited(agent_client) -> None:
    survivor = CustomerFactory()
    merged = CustomerFactory(status=CustomerStatus.MERGED, merged_into=survivor, city="上海")

    response = agent_client.patch(
        reverse("api-customer-detail", args=[merged.pk]), {"city": "北京"}, format="json"
    )

    assert response.status_code == 400
    assert "merged" in response.json()["detail"]
    merged.refresh_from_db()
    assert merged.city == "上海"


def test_supervisor_assigns_an_advisor_agent_may_not(client_as, make_user) -> None:
    advisor = make_user(Role.AGENT, username="li.na")
    customer = CustomerFactory()
    url = reverse("api-customer-detail", args=[customer.pk])

    assert (
        client_as(Role.AGENT).patch(url, {"advisor": advisor.pk}, format="json").status_code == 403
    )
    response = client_as(Role.SUPERVISOR).patch(url, {"advisor": advisor.pk}, format="json")

    assert response.status_code == 200
    assert (response.json()["advisor"], response.json()["advisor_username"]) == (
        advisor.pk,
        "li.na",
    )
    # re-sending the advisor the customer already has assigns nothing, so agents may
    unchanged = client_as(Role.AGENT).put(
        url, {"name": "Kept", "advisor": advisor.pk}, format="json"
    )
    assert unchanged.status_code == 200
    assert (
        client_as(Role.AGENT)
        .post(reverse("api-customer-list"), {"name": "N", "advisor": advisor.pk}, format="json")
        .status_code
        == 403
    )


def test_add_contact_point(agent_client, client_as) -> None:
    customer = CustomerFactory()
    url = reverse("api-customer-contact-points", args=[customer.pk])

    response = agent_client.post(
        url, {"kind": "phone", "value": "+86 139-0013-9000", "label": "office"}, format="json"
    )

    # the agent who added it sees it masked, like every contact detail
    assert response.status_code == 201
    assert response.json()["value"] == "+8613*****9000"
    assert response.json()["is_primary"] is True
    detail = client_as(Role.SUPERVISOR).get(reverse("api-customer-detail", args=[customer.pk]))
    assert [p["value"] for p in detail.json()["contact_points"]] == ["+8613900139000"]


@pytest.mark.parametrize(
    ("payload", "status_code"),
    [
        ({"kind": "phone", "value": "12345"}, 400),
        ({"kind": "email", "value": "nope"}, 400),
        ({"kind": "fax", "value": "123"}, 400),
        ({"kind": "phone", "value": "13800138000"}, 400),  # belongs to another customer
    ],
)
def test_add_contact_point_refuses_bad_values(agent_client, payload, status_code) -> None:
    PhoneFactory(value="+8613800138000")
    customer = CustomerFactory()

    response = agent_client.post(
        reverse("api-customer-contact-points", args=[customer.pk]), payload, format="json"
    )

    assert response.status_code == status_code
    assert not customer.contact_points.exists()


def test_consent_change_is_recorded_with_the_caller(agent_client) -> None:
    customer = CustomerFactory()
    url = reverse("api-customer-consent", args=[customer.pk])
    payload = {"channel": ConsentChannel.CALL, "opted_out": True, "note": "asked on the phone"}

    first = agent_client.post(url, payload, format="json")
    second = agent_client.post(url, payload, format="json")

    assert first.status_code == 200
    assert first.json()["changed"] is True
    assert first.json()["customer"]["call_opt_out"] is True
    assert second.json()["changed"] is False
    change = ConsentChange.objects.get()
    assert (change.changed_by, change.source, change.note) == (
        agent_client.user,
        ConsentSource.API,
        "asked on the phone",
    )


@pytest.mark.parametrize(
    "payload",
    [
        {"channel": "fax", "opted_out": True},
        {"channel": "sms"},
        {"channel": "sms", "opted_out": True, "source": ConsentSource.IMPORT},
    ],
)
def test_consent_refuses_bad_input(agent_client, payload) -> None:
    customer = CustomerFactory()

    response = agent_client.post(
        reverse("api-customer-consent", args=[customer.pk]), payload, format="json"
    )

    assert response.status_code == 400
    assert not ConsentChange.objects.exists()
    customer.refresh_from_db()
    assert not customer.sms_opt_out


def test_unknown_customer_is_404(agent_client) -> None:
    assert agent_client.get(reverse("api-customer-detail", args=[999999])).status_code == 404


# --- orders, interactions, tickets, surveys ------------------------------------------------------


@pytest.fixture
def admin_client(client_as: Callable[[str | None], APIClient]) -> APIClient:
    return client_as(Role.ADMIN)


def test_order_create_and_upsert_by_external_id(admin_client) -> None:
    customer = CustomerFactory()
    payload = {
        "external_id": "SHOP-1",
        "customer": customer.pk,
        "placed_at": "2025-01-02T10:00:00+08:00",
        "amount": "120.50",
        "category": "books",
    }

    created = admin_client.post(reverse("api-order-list"), payload, format="json")
    refunded = admin_client.post(
        reverse("api-order-list"), {**payload, "status": OrderStatus.REFUNDED}, format="json"
    )

    assert created.status_code == 201
    assert created.json()["amount"] == "120.50"
    assert refunded.status_code == 201
    order = Order.objects.get()
    assert (order.status, order.amount) == (OrderStatus.REFUNDED, Decimal("120.50"))


def test_an_order_carries_its_product(admin_client) -> None:
    customer = CustomerFactory()
    payload = {
        "external_id": "SHOP-2",
        "customer": customer.pk,
        "placed_at": "2025-01-02T10:00:00+08:00",
        "amount": "88.00",
        "product": "乌龙茶 250 g",
    }

    created = admin_client.post(reverse("api-order-list"), payload, format="json")
    too_long = admin_client.post(
        reverse("api-order-list"), {**payload, "product": "x" * 201}, format="json"
    )

    assert created.status_code == 201
    assert created.json()["product"] == "乌龙茶 250 g"
    assert too_long.status_code == 400
    assert "product" in too_long.json()
    assert Order.objects.get().product == "乌龙茶 250 g"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"amount": "-1.00"}, "negative"),
        ({"external_id": ""}, "external_id"),
        ({"status": "stolen"}, "status"),
        ({"placed_at": "yesterday"}, "placed_at"),
        ({"customer": 999999}, "customer"),
    ],
)
def test_order_create_refuses_bad_input(admin_client, change, message) -> None:
    customer = CustomerFactory()
    payload = {
        "external_id": "SHOP-1",
        "customer": customer.pk,
        "placed_at": "2025-01-02T10:00:00+08:00",
        "amount": "10.00",
        **change,
    }

    response = admin_client.post(reverse("api-order-list"), payload, format="json")

    assert response.status_code == 400
    assert message in str(response.json())
    assert not Order.objects.exists()


def test_writes_for_a_merged_customer_are_refused(admin_client) -> None:
    merged = CustomerFactory(status=CustomerStatus.MERGED, merged_into=CustomerFactory())

    order = admin_client.post(
        reverse("api-order-list"),
        {
            "external_id": "X",
            "customer": merged.pk,
            "placed_at": "2025-01-02T10:00:00+08:00",
            "amount": "1.00",
        },
        format="json",
    )
    ticket = admin_client.post(
        reverse("api-ticket-list"),
        {"customer": merged.pk, "kind": "inquiry", "subject": "Hi"},
        format="json",
    )

    assert order.status_code == ticket.status_code == 400
    assert "merged" in order.json()["detail"]
    assert not Order.objects.exists()
    assert not Ticket.objects.exists()


def test_interaction_logs_the_caller_as_agent_with_sentiment(agent_client) -> None:
    customer = CustomerFactory()

    response = agent_client.post(
        reverse("api-interaction-list"),
        {
            "customer": customer.pk,
            "channel": "call",
            "duration_seconds": 95,
            "notes": "The service was terrible and I am very angry.",
        },
        format="json",
    )

    assert response.status_code == 201
    body = response.json()
    assert (body["agent"], body["agent_username"]) == (agent_client.user.pk, "caller_agent")
    assert body["sentiment"] < -0.5
    assert Interaction.objects.get().agent == agent_client.user


def test_only_managers_log_interactions_for_another_agent(client_as, make_user) -> None:
    other = make_user(Role.AGENT, username="other")
    customer = CustomerFactory()
    payload = {"customer": customer.pk, "channel": "sms", "agent": other.pk}

    denied = client_as(Role.AGENT).post(reverse("api-interaction-list"), payload, format="json")
    allowed = client_as(Role.SUPERVISOR).post(
        reverse("api-interaction-list"), payload, format="json"
    )

    assert denied.status_code == 403
    assert allowed.status_code == 201
    assert list(Interaction.objects.values_list("agent", flat=True)) == [other.pk]


@pytest.mark.parametrize(
    "change",
    [{"channel": "pigeon"}, {"duration_seconds": -5}, {"direction": "sideways"}],
)
def test_interaction_refuses_bad_input(agent_client, change) -> None:
    customer = CustomerFactory()

    response = agent_client.post(
        reverse("api-interaction-list"),
        {"customer": customer.pk, "channel": "call", **change},
        format="json",
    )

    assert response.status_code == 400
    assert not Interaction.objects.exists()


def test_ticket_open_and_resolve_once(agent_client) -> None:
    customer = CustomerFactory()

    opened = agent_client.post(
        reverse("api-ticket-list"),
        {"customer": customer.pk, "kind": "complaint", "subject": " Late ", "priority": "high"},
        format="json",
    )
    url = reverse("api-ticket-resolve", args=[opened.json()["id"]])
    first = agent_client.post(url, {}, format="json")
    second = agent_client.post(url, {"resolved_at": "2999-01-01T00:00:00Z"}, format="json")

    assert opened.status_code == 201
    assert (opened.json()["subject"], opened.json()["status"]) == ("Late", "open")
    assert first.status_code == second.status_code == 200
    assert first.json()["status"] == TicketStatus.RESOLVED
    assert second.json()["resolved_at"] == first.json()["resolved_at"]


@pytest.mark.parametrize(
    "change", [{"subject": "   "}, {"kind": "praise"}, {"priority": "whenever"}]
)
def test_ticket_refuses_bad_input(agent_client, change) -> None:
    customer = CustomerFactory()

    response = agent_client.post(
        reverse("api-ticket-list"),
        {"customer": customer.pk, "kind": "inquiry", "subject": "Hello", **change},
        format="json",
    )

    assert response.status_code == 400
    assert not Ticket.objects.exists()


@pytest.mark.parametrize(
    ("kind", "score", "status_code"),
    [("nps", 0, 201), ("nps", 10, 201), ("nps", 11, 400), ("csat", 0, 400), ("csat", 5, 201)],
)
def test_survey_score_ranges(admin_client, kind, score, status_code) -> None:
    customer = CustomerFactory()

    response = admin_client.post(
        reverse("api-survey-list"),
        {"customer": customer.pk, "kind": kind, "score": score},
        format="json",
    )

    assert response.status_code == status_code
    assert SurveyResponse.objects.exists() is (status_code == 201)
    if status_code == 400:
        assert "between" in response.json()["detail"]


# --- filters -----------------------------------------------------------------------------------


def _ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def test_customer_filters(agent_client, make_user) -> None:
    advisor = make_user(Role.AGENT, username="adv")
    wang = CustomerFactory(name="王芳", city="北京", advisor=advisor, external_id="EXT-9")
    PhoneFactory(customer=wang, value="+8613800138000")
    EmailFactory(customer=wang, value="wang@example.com")
    acme = BusinessCustomerFactory(name="Acme", company_name="Acme Ltd", sms_opt_out=True)
    merged = CustomerFactory(name="王芳 old", status=CustomerStatus.MERGED, merged_into=wang)
    Customer.objects.filter(pk=acme.pk).update(created_at=timezone.now() - dt.timedelta(days=40))
    url = reverse("api-customer-list")

    def ids(**params: str) -> list[int]:
        return _ids(agent_client.get(url, params))

    assert ids(q="0086-138-0013-8000") == [wang.pk]
    assert ids(q="+86 138 0013 8000") == [wang.pk]
    assert ids(q="WANG@example.com") == [wang.pk]
    assert ids(q="王芳") == [wang.pk]  # merged customers are not found by search
    assert ids(q="acme ltd") == [acme.pk]
    assert ids(q="nobody") == []
    assert ids(kind="business") == [acme.pk]
    assert ids(city="北京") == [wang.pk]
    assert ids(advisor=str(advisor.pk)) == [wang.pk]
    assert ids(sms_opt_out="true") == [acme.pk]
    assert ids(external_id="EXT-9") == [wang.pk]
    assert ids(status="merged") == [merged.pk]
    since = (timezone.localdate() - dt.timedelta(days=10)).isoformat()
    assert ids(created_before=since) == [acme.pk]
    assert set(ids(created_after=since)) == {wang.pk, merged.pk}
    assert ids(q="王芳", city="上海") == []


def test_a_bad_filter_value_is_400(agent_client) -> None:
    response = agent_client.get(reverse("api-customer-list"), {"kind": "alien"})

    assert response.status_code == 400
    assert "kind" in response.json()


def test_order_filters(agent_client) -> None:
    alice, bob = CustomerFactory(), CustomerFactory()
    now = timezone.now()
    old = OrderFactory(customer=alice, placed_at=now - dt.timedelta(days=100), category="Books")
    recent = OrderFactory(customer=alice, placed_at=now - dt.timedelta(days=5))
    refund = OrderFactory(customer=bob, status=OrderStatus.REFUNDED, placed_at=now)
    url = reverse("api-order-list")

    def ids(**params: str) -> list[int]:
        return _ids(agent_client.get(url, params))

    assert ids(customer=str(alice.pk)) == [recent.pk, old.pk]
    assert ids(status="refunded") == [refund.pk]
    assert ids(category="books") == [old.pk]
    window = {
        "placed_at_after": (now - dt.timedelta(days=30)).isoformat(),
        "placed_at_before": (now - dt.timedelta(days=1)).isoformat(),
    }
    assert ids(**window) == [recent.pk]


def test_ticket_interaction_and_survey_filters(agent_client) -> None:
    alice, bob = CustomerFactory(), CustomerFactory()
    complaint = TicketFactory(customer=alice, kind=TicketKind.COMPLAINT)
    working = TicketFactory(customer=bob, kind=TicketKind.INQUIRY, status=TicketStatus.IN_PROGRESS)
    closed = TicketFactory(customer=bob, kind=TicketKind.INQUIRY, status=TicketStatus.CLOSED)
    call = InteractionFactory(customer=alice, channel="call")
    sms = InteractionFactory(customer=bob, channel="sms")
    nps = SurveyFactory(customer=alice, kind="nps")
    csat = SurveyFactory(customer=bob, kind="csat", score=4)

    tickets = reverse("api-ticket-list")
    assert _ids(agent_client.get(tickets, {"kind": "complaint"})) == [complaint.pk]
    assert _ids(agent_client.get(tickets, {"customer": bob.pk})) == [closed.pk, working.pk]
    assert _ids(agent_client.get(f"{tickets}?status=open&status=in_progress")) == [
        working.pk,
        complaint.pk,
    ]
    assert _ids(agent_client.get(reverse("api-interaction-list"), {"channel": "sms"})) == [sms.pk]
    assert _ids(agent_client.get(reverse("api-interaction-list"), {"customer": alice.pk})) == [
        call.pk
    ]
    assert _ids(agent_client.get(reverse("api-survey-list"), {"kind": "csat"})) == [csat.pk]
    assert _ids(agent_client.get(reverse("api-survey-list"), {"customer": alice.pk})) == [nps.pk]


# --- pagination and query counts ---------------------------------------------------------------


def test_cursor_pagination_walks_every_row_once(agent_client) -> None:
    customers = CustomerFactory.create_batch(5)
    expected = sorted((c.pk for c in customers), reverse=True)

    seen: list[int] = []
    pages = 0
    url: str | None = reverse("api-customer-list") + "?page_size=2"
    while url:
        body = agent_client.get(url).json()
        assert set(body) == {"next", "previous", "results"}
        assert body["next"] is None or "cursor=" in body["next"]
        seen.extend(row["id"] for row in body["results"])
        pages += 1
        url = body["next"]

    assert seen == expected
    assert pages == 3


def _customers_with_contacts(advisor: Any) -> None:
    for customer in CustomerFactory.create_batch(12, advisor=advisor):
        PhoneFactory(customer=customer)
        EmailFactory(customer=customer)


def _orders(advisor: Any) -> None:
    OrderFactory.create_batch(12)


def _interactions(advisor: Any) -> None:
    InteractionFactory.create_batch(12, agent=advisor)


def _tickets(advisor: Any) -> None:
    TicketFactory.create_batch(12, assignee=advisor)


def _surveys(advisor: Any) -> None:
    SurveyFactory.create_batch(12, ticket=TicketFactory())


@pytest.mark.parametrize(
    ("url_name", "make_rows", "data_queries"),
    [
        # customers+advisor, contact points, and the agent's list read audited
        ("api-customer-list", _customers_with_contacts, 3),
        ("api-order-list", _orders, 1),
        ("api-interaction-list", _interactions, 1),  # interactions+agent
        ("api-ticket-list", _tickets, 1),  # tickets+assignee
        ("api-survey-list", _surveys, 1),
    ],
)
def test_lists_cost_a_fixed_number_of_queries(
    client_as, django_assert_num_queries, url_name, make_rows, data_queries
) -> None:
    make_rows(UserFactory(username="related"))
    client = client_as(Role.AGENT)

    # savepoint + role lookup + data queries + release savepoint
    with django_assert_num_queries(2 + 1 + data_queries):
        response = client.get(reverse(url_name))

    assert response.status_code == 200
    assert len(response.json()["results"]) == 12


def test_customer_detail_and_write_responses_cost_few_queries(
    agent_client, django_assert_num_queries
) -> None:
    customer = CustomerFactory(advisor=UserFactory())
    PhoneFactory.create_batch(3, customer=customer)

    # savepoint + role + customer(+advisor) + contact points + release
    with django_assert_num_queries(5):
        agent_client.get(reverse("api-customer-detail", args=[customer.pk]))


# --- schema and docs ---------------------------------------------------------------------------


def test_schema_is_served(agent_client) -> None:
    response = agent_client.get("/api/schema/", {"format": "json"})

    assert response.status_code == 200
    paths = response.json()["paths"]
    assert {
        "/api/customers/",
        "/api/customers/{id}/",
        "/api/customers/{id}/contact-points/",
        "/api/customers/{id}/consent/",
        "/api/orders/",
        "/api/interactions/",
        "/api/tickets/",
        "/api/tickets/{id}/resolve/",
        "/api/surveys/",
        "/api/screenpop/",
    } <= set(paths)


def test_docs_load_only_local_assets(api_client, agent_client) -> None:
    api_client.force_login(agent_client.user)
    response = api_client.get("/api/docs/")

    assert response.status_code == 200
    html = response.content.decode()
    assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)
    assert assets, "the docs page references its assets"
    assert all(asset.startswith("/static/") for asset in assets), assets
    assert not re.search(r"https?://", html)

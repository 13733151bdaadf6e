"""The screen-pop and desk card of a business account's contact: the account, its industry and
advisor, the open tickets of the account and all its contacts, the other stakeholders (masked
for agents), in the card's single statement."""

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from callcenter.choices import AccountRole, Role, TicketStatus
from callcenter.selectors.desk import desk_card
from callcenter.services.customers import customer_account_set, customer_create
from tests.callcenter.factories import TicketFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def account(make_user: Callable[..., Any]) -> "SimpleAccount":
    advisor = make_user(Role.SUPERVISOR, username="zhao", first_name="Lei", last_name="Zhao")
    company = customer_create(
        name="Acme Ltd",
        kind="business",
        company_name="Acme Ltd",
        industry="Logistics",
        advisor=advisor,
        phones=["02155550000"],
    )
    caller = customer_create(name="Wang Fang", phones=["13800138000"])
    cfo = customer_create(name="Li Qiang", phones=["13900139000"])
    hr = customer_create(name="Chen Jing")
    customer_account_set(customer=caller, account=company, role=AccountRole.USER)
    customer_account_set(customer=cfo, account=company, role=AccountRole.FINANCE)
    customer_account_set(customer=hr, account=company, role=AccountRole.HR)
    now = timezone.now()
    TicketFactory(customer=company, subject="Invoice wrong", opened_at=now - dt.timedelta(hours=3))
    TicketFactory(customer=cfo, subject="Contract renewal", opened_at=now - dt.timedelta(hours=1))
    TicketFactory(customer=caller, subject="Own issue", opened_at=now - dt.timedelta(hours=2))
    TicketFactory(customer=hr, subject="Closed", status=TicketStatus.RESOLVED)
    return SimpleAccount(company=company, caller=caller, cfo=cfo, hr=hr)


class SimpleAccount:
    def __init__(self, **rows: Any) -> None:
        self.__dict__.update(rows)


def _client(make_user: Callable[..., Any], role: str) -> APIClient:
    client = APIClient()
    client.force_authenticate(make_user(role, username=f"acct_{role}"))
    return client


def test_a_contacts_card_carries_the_account(make_user, account) -> None:
    body = (
        _client(make_user, Role.SUPERVISOR)
        .get(reverse("api-screenpop"), {"phone": "13800138000"})
        .json()
    )

    section = body["account"]
    assert section["id"] == account.company.pk
    assert (section["name"], section["industry"]) == ("Acme Ltd", "Logistics")
    assert section["advisor"]["name"] == "Lei Zhao"
    assert section["caller_role"] == AccountRole.USER
    assert [(t["subject"], t["customer"]["name"]) for t in section["open_tickets"]] == [
        ("Contract renewal", "Li Qiang"),
        ("Own issue", "Wang Fang"),
        ("Invoice wrong", "Acme Ltd"),
    ]
    assert [(s["name"], s["role"], s["phone"]) for s in section["stakeholders"]] == [
        ("Li Qiang", AccountRole.FINANCE, "+8613900139000"),
        ("Chen Jing", AccountRole.HR, None),
    ]


def test_agents_see_the_stakeholders_phones_masked(make_user, account) -> None:
    response = _client(make_user, Role.AGENT).get(
        reverse("api-screenpop"), {"phone": "13800138000"}
    )

    stakeholders = response.json()["account"]["stakeholders"]
    assert stakeholders[0]["phone"] == "+8613*****9000"
    assert "13900139000" not in response.content.decode()


def test_the_account_calling_sees_its_contacts_and_a_loner_gets_none(make_user, account) -> None:
    client = _client(make_user, Role.SUPERVISOR)
    customer_create(name="Loner", phones=["13700137000"])

    own = client.get(reverse("api-screenpop"), {"phone": "021 5555 0000"}).json()["account"]
    loner = client.get(reverse("api-screenpop"), {"phone": "13700137000"}).json()

    assert own["caller_role"] == ""
    assert {s["name"] for s in own["stakeholders"]} == {"Wang Fang", "Li Qiang", "Chen Jing"}
    assert loner["account"] is None


def test_a_contacts_card_costs_the_same_queries(
    make_user, account, django_assert_num_queries
) -> None:
    client = _client(make_user, Role.AGENT)
    # 1 role lookup, 1 statement for the whole card, the account section included.
    with django_assert_num_queries(1 + 1):
        response = client.get(reverse("api-screenpop"), {"phone": "13800138000"})

    assert response.json()["account"]["id"] == account.company.pk


def test_the_desk_card_labels_the_account(account) -> None:
    card = desk_card(phone="13800138000", full_contacts=False)

    assert card.account is not None
    assert card.account["caller_role_label"] == "User"
    assert card.account["open_tickets"][0]["opened_at"].tzinfo is not None
    assert card.account["stakeholders"][0]["role_label"] == "Finance"
    assert any("Acme Ltd" in action for action in card.actions)


def test_the_desk_page_of_a_contact_costs_the_same_queries_for_a_larger_account(
    client, make_user, account
) -> None:
    agent = make_user(Role.AGENT, username="acct_desk_agent")
    client.force_login(agent)
    url = reverse("desk-card")
    client.get(url, {"phone": "13800138000"})  # warm up the session
    with CaptureQueriesContext(connection) as small:
        first = client.get(url, {"phone": "13800138000"})
    for index in range(4):
        contact = customer_create(name=f"More {index}", phones=[f"1370013700{index}"])
        customer_account_set(customer=contact, account=account.company, role=AccountRole.USER)
        TicketFactory(customer=contact, subject=f"More ticket {index}")

    with CaptureQueriesContext(connection) as large:
        second = client.get(url, {"phone": "13800138000"})

    assert len(large) == len(small)
    html = second.content.decode()
    assert first.status_code == second.status_code == 200
    assert "More ticket 3" in html
    assert "+8613*****7003" in html
    assert "13700137003" not in html


def test_the_card_names_the_account_by_its_company_not_its_contact_person(account) -> None:
    # A business is often recorded with the person we deal with as its name.
    type(account.company).objects.filter(pk=account.company.pk).update(name="Zhao Min")

    card = desk_card(phone="13800138000", full_contacts=False)

    assert card.account is not None
    assert card.account["display_name"] == "Acme Ltd"
    assert any("Acme Ltd" in action for action in card.actions)
    assert not any("Zhao Min" in action for action in card.actions)

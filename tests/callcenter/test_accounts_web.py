"""Business accounts through the API and the customer page: reading and writing the link,
listing an account's contacts, refusals shown and changing nothing."""

from collections.abc import Callable

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from callcenter.choices import AccountRole
from callcenter.models import AuditLog, Customer
from callcenter.services.customers import customer_account_set
from tests.callcenter.factories import BusinessCustomerFactory, CustomerFactory, PhoneFactory

pytestmark = pytest.mark.django_db


def _linked(customer: Customer) -> tuple[int | None, str]:
    customer.refresh_from_db()
    return customer.account_id, customer.account_role


def test_api_links_reads_lists_and_unlinks(api_as, agent_user) -> None:
    client = api_as(agent_user)
    company, person = BusinessCustomerFactory(), CustomerFactory()
    url = reverse("api-customer-account", args=[person.pk])

    linked = client.post(url, {"account": company.pk, "account_role": "finance"}, format="json")
    listed = client.get(reverse("api-customer-list"), {"account": company.pk})
    unlinked = client.post(url, {"account": None}, format="json")

    assert linked.status_code == 200, linked.content
    assert (linked.json()["account"], linked.json()["account_role"]) == (company.pk, "finance")
    assert [row["id"] for row in listed.json()["results"]] == [person.pk]
    assert unlinked.json()["account"] is None
    assert _linked(person) == (None, "")
    assert AuditLog.objects.filter(action="customer.account").count() == 2


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"account": "x"}, "valid integer"),
        ({"account": 999999}, "does not exist"),
        ({"account": "SELF"}, "contact of itself"),
        ({"account": "PERSON"}, "not a business account"),
        ({"account": "COMPANY", "account_role": "ceo"}, "not a valid choice"),
    ],
)
def test_api_refusals_are_400_and_change_nothing(api_as, agent_user, body, message) -> None:
    company, person, other = BusinessCustomerFactory(), CustomerFactory(), CustomerFactory()
    ids = {"SELF": person.pk, "PERSON": other.pk, "COMPANY": company.pk}
    body = {key: ids.get(value, value) for key, value in body.items()}

    response = api_as(agent_user).post(
        reverse("api-customer-account", args=[person.pk]), body, format="json"
    )

    assert response.status_code == 400
    assert message in response.content.decode()
    assert _linked(person) == (None, "")


@pytest.fixture
def client_as(client: Client) -> Callable[[object], Client]:
    def _as(user: object) -> Client:
        client.force_login(user)
        return client

    return _as


def test_the_account_page_lists_contacts_and_adds_and_removes_one(client_as, agent_user) -> None:
    client = client_as(agent_user)
    company = BusinessCustomerFactory(name="Acme", industry="Retail")
    buyer = CustomerFactory(name="Buyer One")
    customer_account_set(customer=buyer, account=company, role=AccountRole.DECISION_MAKER)
    newcomer = CustomerFactory(name="New Hire", external_id="EXT-NEW")
    url = reverse("customer-account", args=[company.pk])

    page = client.get(reverse("customer-detail", args=[company.pk])).content.decode()
    added = client.post(url, {"contact": "EXT-NEW", "account_role": "hr"}, follow=True)
    removed = client.post(url, {"remove_contact": buyer.pk}, follow=True)

    assert "Buyer One" in page
    assert "Decision maker" in page
    assert "New Hire is now a contact." in added.content.decode()
    assert _linked(newcomer) == (company.pk, AccountRole.HR)
    assert "Buyer One is no longer a contact." in removed.content.decode()
    assert _linked(buyer) == (None, "")


def test_a_contacts_page_shows_its_account_and_leaves_it(client_as, agent_user) -> None:
    client = client_as(agent_user)
    company = BusinessCustomerFactory(name="Zhao Min", company_name="Acme", industry="Logistics")
    person = CustomerFactory(name="Wang")
    customer_account_set(customer=person, account=company, role=AccountRole.FINANCE)

    page = client.get(reverse("customer-detail", args=[person.pk])).content.decode()
    left = client.post(reverse("customer-account", args=[person.pk]), {"leave": "1"}, follow=True)

    assert "Acme" in page
    assert "Logistics" in page
    assert "Finance" in page
    assert left.status_code == 200
    assert _linked(person) == (None, "")


def test_a_person_joins_an_account_and_a_refusal_is_shown(client_as, agent_user) -> None:
    client = client_as(agent_user)
    company, person, other = BusinessCustomerFactory(), CustomerFactory(), CustomerFactory()
    url = reverse("customer-account", args=[person.pk])

    refused = client.post(url, {"account": str(other.pk), "account_role": "user"}, follow=True)
    joined = client.post(url, {"account": str(company.pk), "account_role": "user"}, follow=True)

    assert "is not a business account" in refused.content.decode()
    assert joined.status_code == 200
    assert _linked(person) == (company.pk, AccountRole.USER)


def test_the_account_page_costs_the_same_queries_for_many_contacts(
    client_as, agent_user, django_assert_num_queries
) -> None:
    client = client_as(agent_user)
    company = BusinessCustomerFactory()
    url = reverse("customer-detail", args=[company.pk])
    customer_account_set(customer=CustomerFactory(), account=company, role="user")
    client.get(url)

    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for _index in range(6):
        contact = CustomerFactory()
        PhoneFactory(customer=contact)
        customer_account_set(customer=contact, account=company, role="finance")

    with django_assert_num_queries(len(few.captured_queries)):
        response = client.get(url)

    assert response.content.decode().count('name="remove_contact"') == 7

"""What agents may read and reveal: one contact detail at a time with a reason (audited,
rate-limited), customer lists in small audited pages, and an hourly budget of customers.
Supervisors and admins see contact details in full and keep today's limits."""

from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from callcenter import budgets
from callcenter.choices import ContactKind, CustomerStatus, Role
from callcenter.models import AuditLog, ContactPoint, Customer
from callcenter.services.customer_access import AUDIT_LIST_READ, AUDIT_REVEAL
from tests.callcenter.factories import CustomerFactory, EmailFactory, PhoneFactory

pytestmark = pytest.mark.django_db

PHONE = "+8613912345678"


@pytest.fixture
def api_for(make_user: Callable[..., Any]) -> Callable[[str], APIClient]:
    def _for(role: str) -> APIClient:
        client = APIClient()
        client.user = make_user(role, username=f"access_{role}")
        client.force_authenticate(client.user)
        return client

    return _for


@pytest.fixture
def page_for(make_user: Callable[..., Any]) -> Callable[[str], Client]:
    def _for(role: str) -> Client:
        client = Client()
        client.user = make_user(role, username=f"page_{role}")
        client.force_login(client.user)
        return client

    return _for


@pytest.fixture
def customer() -> Customer:
    customer = CustomerFactory(name="王芳", external_id="C-42")
    PhoneFactory(customer=customer, value=PHONE, raw_value="139 1234 5678")
    return customer


def _reveal(client: APIClient, customer: Customer, point: ContactPoint, reason: Any) -> Any:
    return client.post(
        reverse("api-customer-reveal", args=[customer.pk]),
        {"contact_point": point.pk, "reason": reason},
        format="json",
    )


# --- reveal ------------------------------------------------------------------------------------


def test_an_agent_reveals_one_contact_point_for_a_reason_and_it_is_audited(
    api_for, customer
) -> None:
    # given
    agent = api_for(Role.AGENT)
    point = customer.contact_points.get()

    # when
    response = _reveal(agent, customer, point, "  Callback the customer asked for  ")

    # then the number in full, and who, whom, which and why in the audit log
    assert response.status_code == 200, response.content
    assert response.json()["value"] == PHONE
    assert "raw_value" not in response.json()
    entry = AuditLog.objects.get(action=AUDIT_REVEAL)
    assert entry.actor == agent.user
    assert (entry.object_type, entry.object_id) == ("customer", str(customer.pk))
    assert entry.data["contact_point"] == point.pk
    assert entry.data["reason"] == "Callback the customer asked for"
    assert entry.data["masked"] == "+8613*****5678"


@pytest.mark.parametrize(
    ("reason", "field"),
    [("", "reason"), ("   ", "reason"), ("x" * 201, "reason"), (None, "reason")],
)
def test_a_reveal_needs_a_short_reason_and_a_refusal_reveals_nothing(
    api_for, customer, reason, field
) -> None:
    point = customer.contact_points.get()

    response = _reveal(api_for(Role.AGENT), customer, point, reason)

    assert response.status_code == 400
    assert field in response.json()
    assert PHONE not in response.content.decode()
    assert not AuditLog.objects.filter(action=AUDIT_REVEAL).exists()


def test_only_an_active_contact_point_of_that_customer_can_be_revealed(api_for, customer) -> None:
    agent = api_for(Role.AGENT)
    other = PhoneFactory(customer=CustomerFactory())
    inactive = PhoneFactory(customer=customer, is_active=False, is_primary=False)

    answers = [_reveal(agent, customer, point, "callback") for point in (other, inactive)]

    assert [answer.status_code for answer in answers] == [400, 400]
    assert all("contact_point" in answer.json() for answer in answers)
    assert not AuditLog.objects.filter(action=AUDIT_REVEAL).exists()


def test_a_merged_customer_reveals_nothing(api_for, customer) -> None:
    survivor = CustomerFactory()
    Customer.objects.filter(pk=customer.pk).update(
        status=CustomerStatus.MERGED, merged_into=survivor
    )

    response = _reveal(api_for(Role.AGENT), customer, customer.contact_points.get(), "callback")

    assert response.status_code == 400
    assert PHONE not in response.content.decode()


def test_an_agent_reveals_a_limited_number_of_contact_points_per_hour(
    api_for, customer, settings
) -> None:
    # given a limit of two different contact points per hour
    settings.AGENT_CONTACT_REVEALS_PER_HOUR = 2
    agent = api_for(Role.AGENT)
    first = customer.contact_points.get()
    second = EmailFactory(customer=customer)
    third = ContactPoint.objects.create(customer=customer, kind=ContactKind.WECHAT, value="wx_li")

    # when
    answers = [_reveal(agent, customer, point, "callback") for point in (first, second)]
    again = _reveal(agent, customer, first, "dialled the wrong digit")
    beyond = _reveal(agent, customer, third, "callback")

    # then the same contact point again is free; a third one is refused, clearly
    assert [answer.status_code for answer in answers] == [200, 200]
    assert again.status_code == 200
    assert beyond.status_code == 429
    assert "revealed 2 contact details in the last hour" in beyond.json()["detail"]
    assert 0 < int(beyond["Retry-After"]) <= budgets.WINDOW_SECONDS
    assert "wx_li" not in beyond.content.decode()
    assert AuditLog.objects.filter(action=AUDIT_REVEAL).count() == 3
    # another agent has their own budget
    assert _reveal(api_for(Role.ADMIN), customer, third, "check").status_code == 200


def test_supervisors_reveal_without_a_limit_but_are_audited(api_for, customer, settings) -> None:
    settings.AGENT_CONTACT_REVEALS_PER_HOUR = 1
    supervisor = api_for(Role.SUPERVISOR)
    points = [customer.contact_points.get(), EmailFactory(customer=customer)]

    answers = [_reveal(supervisor, customer, point, "audit check") for point in points]

    assert [answer.status_code for answer in answers] == [200, 200]
    assert AuditLog.objects.filter(action=AUDIT_REVEAL, actor=supervisor.user).count() == 2


def test_show_number_on_the_customer_page_asks_for_a_reason_then_shows_it(
    page_for, customer
) -> None:
    # given an agent on the customer's page: the number masked, with a "Show number" control
    agent = page_for(Role.AGENT)
    point = customer.contact_points.get()
    page = agent.get(reverse("customer-detail", args=[customer.pk])).content.decode()
    assert "+8613*****5678" in page
    assert "Show number" in page
    assert reverse("customer-reveal", args=[customer.pk]) in page
    url = reverse("customer-reveal", args=[customer.pk])

    # when the agent asks without a reason, then with one
    refused = agent.post(url, {"contact_point": point.pk, "reason": " "}, HTTP_HX_REQUEST="true")
    shown = agent.post(
        url, {"contact_point": point.pk, "reason": "callback"}, HTTP_HX_REQUEST="true"
    )

    # then
    assert refused.status_code == 422
    assert "Say why you need the full contact detail." in refused.content.decode()
    assert "5678" in refused.content.decode()
    assert "139 1234" not in refused.content.decode()
    assert shown.status_code == 200
    assert "+86 139 1234 5678" in shown.content.decode()
    assert f'href="tel:{PHONE}"' in shown.content.decode()
    entry = AuditLog.objects.get(action=AUDIT_REVEAL)
    assert (entry.actor, entry.data["via"], entry.data["reason"]) == (
        agent.user,
        "page",
        "callback",
    )


def test_show_number_speaks_chinese_and_says_when_the_limit_is_reached(
    page_for, customer, settings
) -> None:
    settings.AGENT_CONTACT_REVEALS_PER_HOUR = 0
    agent = page_for(Role.AGENT)
    point = customer.contact_points.get()
    url = reverse("customer-reveal", args=[customer.pk])
    chinese = {"HTTP_ACCEPT_LANGUAGE": "zh-hans", "HTTP_HX_REQUEST": "true"}

    refused = agent.post(url, {"contact_point": point.pk, "reason": ""}, **chinese)
    limited = agent.post(url, {"contact_point": point.pk, "reason": "回电"}, **chinese)
    page = agent.get(reverse("customer-detail", args=[customer.pk]), **chinese)

    assert refused.status_code == 422
    assert "请说明" in refused.content.decode()
    assert limited.status_code == 429
    assert "一小时" in limited.content.decode()
    assert "139 1234" not in limited.content.decode()
    assert "显示号码" in page.content.decode()


def test_the_desk_card_shows_the_callers_numbers_masked_with_show_number(
    page_for, customer
) -> None:
    agent_card = page_for(Role.AGENT).get(reverse("desk-card"), {"phone": PHONE})
    supervisor_card = page_for(Role.SUPERVISOR).get(reverse("desk-card"), {"phone": PHONE})

    assert agent_card.status_code == 200
    text = agent_card.content.decode()
    assert "+8613*****5678" in text
    assert "Show number" in text
    assert reverse("customer-reveal", args=[customer.pk]) in text
    assert "139 1234" not in text
    assert "+86 139 1234 5678" in supervisor_card.content.decode()
    assert "Show number" not in supervisor_card.content.decode()


def test_a_reveal_page_request_for_another_customers_contact_point_is_refused(
    page_for, customer
) -> None:
    other = PhoneFactory(customer=CustomerFactory())

    response = page_for(Role.AGENT).post(
        reverse("customer-reveal", args=[customer.pk]),
        {"contact_point": other.pk, "reason": "callback"},
    )

    assert response.status_code == 400
    assert other.value not in response.content.decode()
    assert not AuditLog.objects.filter(action=AUDIT_REVEAL).exists()


# --- bulk reads --------------------------------------------------------------------------------


@pytest.fixture
def forty_customers() -> list[Customer]:
    customers = [CustomerFactory(name=f"Suzhou {index:02d}", city="苏州") for index in range(40)]
    for index, customer in enumerate(customers):
        PhoneFactory(customer=customer, value=f"+86137{index:08d}")
    return customers


def test_agents_get_small_pages_of_customers_and_supervisors_keep_theirs(
    api_for, forty_customers
) -> None:
    url = reverse("api-customer-list")

    agent = api_for(Role.AGENT).get(url, {"page_size": 500}).json()
    supervisor = api_for(Role.SUPERVISOR).get(url, {"page_size": 500}).json()

    assert len(agent["results"]) == django_settings.AGENT_CUSTOMER_PAGE_SIZE_MAX == 25
    assert agent["next"]
    assert len(supervisor["results"]) == 40


def test_each_agent_list_read_is_audited_with_its_filters_and_rows(
    api_for, forty_customers
) -> None:
    # given
    agent = api_for(Role.AGENT)

    # when an agent and a supervisor read a list
    first = agent.get(reverse("api-customer-list"), {"city": "苏州", "page_size": 500}).json()
    agent.get(first["next"])
    api_for(Role.SUPERVISOR).get(reverse("api-customer-list"))

    # then the agent's two reads are in the audit log: who, what filters, how many rows
    entries = list(AuditLog.objects.filter(action=AUDIT_LIST_READ).order_by("id"))
    assert [entry.actor for entry in entries] == [agent.user, agent.user]
    assert entries[0].data["filters"] == {"city": "苏州", "page_size": "500"}
    assert entries[0].data["via"] == "api"
    assert [entry.data["rows"] for entry in entries] == [25, 15]
    assert sorted(entries[0].data["customer_ids"] + entries[1].data["customer_ids"]) == sorted(
        customer.pk for customer in forty_customers
    )


def test_an_agent_cannot_read_more_customers_per_hour_than_the_budget(
    api_for, forty_customers, settings
) -> None:
    # given a budget of 30 different customers per hour
    settings.AGENT_CUSTOMER_READS_PER_HOUR = 30
    agent = api_for(Role.AGENT)
    url = reverse("api-customer-list")

    # when
    first = agent.get(url, {"page_size": 25})
    second = agent.get(first.json()["next"])
    first_again = agent.get(url, {"page_size": 25})
    details = [
        agent.get(reverse("api-customer-detail", args=[c.pk])).status_code
        for c in forty_customers[:15]
    ]

    # then the second page would pass the budget: refused with a clear 429 and not audited;
    # customers already read cost nothing again; single reads count too
    assert first.status_code == 200
    assert second.status_code == 429
    assert "read 30 different customers in the last hour" in second.json()["detail"]
    assert int(second["Retry-After"]) > 0
    assert "results" not in second.json()
    assert first_again.status_code == 200
    assert details == [200] * 5 + [429] * 10
    assert AuditLog.objects.filter(action=AUDIT_LIST_READ).count() == 2
    # supervisors keep today's limits
    supervisor = api_for(Role.SUPERVISOR)
    assert len(supervisor.get(url, {"page_size": 500}).json()["results"]) == 40


def test_the_search_page_audits_an_agents_reads_and_keeps_to_the_budget(
    page_for, forty_customers, settings
) -> None:
    # given a budget of 30 customers per hour
    settings.AGENT_CUSTOMER_READS_PER_HOUR = 30
    agent = page_for(Role.AGENT)
    url = reverse("customer-search")

    # when the agent pages through a search, live (htmx) and as a whole page
    first = agent.get(url, {"q": "Suzhou"}, HTTP_HX_REQUEST="true")
    second = agent.get(url, {"q": "Suzhou", "page": 2}, HTTP_HX_REQUEST="true")
    whole = agent.get(url, {"q": "Suzhou", "page": 2})

    # then the first page is shown and audited, the next would pass the budget
    assert first.status_code == 200
    assert first.content.decode().count("+8613*****") == 25
    entry = AuditLog.objects.get(action=AUDIT_LIST_READ)
    assert (entry.actor, entry.data["via"], entry.data["rows"]) == (agent.user, "page", 25)
    assert entry.data["filters"] == {"q": "Suzhou", "page": 1}
    for refused in (second, whole):
        assert refused.status_code == 429
        assert "read 30 different customers in the last hour" in refused.content.decode()
        assert "+8613*****" not in refused.content.decode()
    # a supervisor's searches are neither capped nor audited
    page_for(Role.SUPERVISOR).get(url, {"q": "Suzhou", "page": 2})
    assert AuditLog.objects.filter(action=AUDIT_LIST_READ).count() == 1


def test_the_customer_page_counts_against_the_budget(page_for, forty_customers, settings) -> None:
    settings.AGENT_CUSTOMER_READS_PER_HOUR = 2
    agent = page_for(Role.AGENT)

    codes = [
        agent.get(reverse("customer-detail", args=[c.pk])).status_code for c in forty_customers[:3]
    ]
    again = agent.get(reverse("customer-detail", args=[forty_customers[0].pk]))

    assert codes == [200, 200, 429]
    assert again.status_code == 200


def test_without_redis_the_limits_let_reads_through(settings) -> None:
    budgets._client.cache_clear()
    budgets._script.cache_clear()
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    try:
        spent = budgets.budget_spend(purpose="test", user_id=1, members=[1, 2], limit=1)
    finally:
        budgets._client.cache_clear()
        budgets._script.cache_clear()

    assert spent.admitted is True

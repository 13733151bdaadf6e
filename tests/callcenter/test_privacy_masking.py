"""Contact details are masked for agents on every page and every API answer they can get
(walked from the URL configuration with the permission matrix's objects, so new pages and
endpoints are covered), while supervisors, whose role allows it, see them in full; agents
cannot download exports."""

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from callcenter.choices import ContactKind
from callcenter.models import ContactPoint, Customer, MergeProposal
from outreach.models import OutreachTask
from tests.callcenter.factories import EmailFactory, PhoneFactory
from tests.matrix import AGENT, SUPERVISOR
from tests.test_permission_matrix import EXPECTATIONS, ROUTES, objects  # noqa: F401 - fixture

PHONE = "+8613912345678"
RAW = "139 1234 5678"
# The middle digits in any common spelling: 13912345678, 139 1234 5678, 139-1234-5678.
UNMASKED = re.compile(r"139[\s\-]?1234[\s\-]?5678")
EMAIL = "wang.fang@example.com"
WECHAT = "wxid_wangfang88"
# Anything that would disclose a contact detail: the number in any spelling, the email's local
# part, the WeChat id (and so the values as typed: RAW, the email in capitals).
DISCLOSED = re.compile(r"139[\s\-]?1234[\s\-]?5678|wang\.fang@|wxid_wangfang", re.IGNORECASE)
# Query strings some reads need to answer with their data.
API_QUERIES = {"api-screenpop": {"phone": PHONE}, "api-customer-list": {"page_size": "500"}}


def _api_get_urls(ids: dict[str, Any], role: str) -> list[tuple[str, dict[str, str]]]:
    return [
        (url, API_QUERIES.get(route_key, {}))
        for route_key, url in _keyed_urls(ids, role)
        if route_key.startswith("api-")
    ]


def _keyed_urls(ids: dict[str, Any], role: str) -> list[tuple[str, str]]:
    urls = []
    for route in ROUTES:
        entry = EXPECTATIONS.get(route.key)
        if entry is None or role not in entry.methods.get("get", ()):
            continue
        urls.append((route.key, reverse(route.key, kwargs=entry.url_kwargs(ids))))
    return urls


def _get_urls(ids: dict[str, Any], role: str) -> list[str]:
    urls = []
    for route in ROUTES:
        entry = EXPECTATIONS.get(route.key)
        if entry is None or role not in entry.methods.get("get", ()):
            continue
        urls.append(reverse(route.key, kwargs=entry.url_kwargs(ids)))
    return urls


def _text(response: Any) -> str:
    if response.streaming:
        return b"".join(response.streaming_content).decode("utf-8", "replace")
    return response.content.decode("utf-8", "replace")


def _give_contacts(fixture: dict[str, Any]) -> Customer:
    """The matrix customer with a phone, an email and a WeChat id (typed in other forms), the
    agent's task sent to that phone, and a duplicate proposal naming them as its reasons."""
    customer = Customer.objects.get(pk=fixture["ids"]["customer"])
    PhoneFactory(customer=customer, value=PHONE, raw_value=RAW)
    EmailFactory(customer=customer, value=EMAIL, raw_value="Wang.Fang@Example.com")
    ContactPoint.objects.create(
        customer=customer, kind=ContactKind.WECHAT, value=WECHAT, raw_value=WECHAT
    )
    OutreachTask.objects.filter(pk=fixture["ids"]["task"]).update(to_address=PHONE)
    MergeProposal.objects.filter(pk=fixture["ids"]["merge_proposal"]).update(
        reasons=[{"kind": "phone", "value": PHONE}, {"kind": "email", "value": EMAIL}]
    )
    return customer


@pytest.mark.django_db
def test_agents_see_contact_details_masked_on_every_page(request: pytest.FixtureRequest) -> None:
    fixture = request.getfixturevalue("objects")
    ids = fixture["ids"]
    customer = _give_contacts(fixture)
    client = Client()
    client.force_login(fixture["users"][AGENT])

    pages, failures = 0, []
    for url in _get_urls(ids, AGENT):
        response = client.get(url)
        content_type = response.get("Content-Type", "")
        if "csv" in content_type and response.status_code == 200:
            failures.append(f"{url}: agents may not download exports")
        if "html" not in content_type:
            continue
        pages += 1
        found = DISCLOSED.search(_text(response))
        if found:
            failures.append(f"{url}: {found.group(0)!r} shown to an agent")

    assert not failures, "\n".join(failures)
    assert pages >= 3
    # and the customer page does show the masked number
    detail = [url for url in _get_urls(ids, AGENT) if str(customer.pk) in url]
    shown = [url for url in detail if "+8613*****5678" in _text(client.get(url))]
    assert shown, "the masked number appears on the customer's pages"


@pytest.mark.django_db
def test_supervisors_see_the_full_number(request: pytest.FixtureRequest) -> None:
    fixture = request.getfixturevalue("objects")
    customer = Customer.objects.get(pk=fixture["ids"]["customer"])
    PhoneFactory(customer=customer, value=PHONE, raw_value=RAW)
    client = Client()
    client.force_login(fixture["users"]["supervisor"])

    pages = [
        url
        for url in _get_urls(fixture["ids"], "supervisor")
        if str(customer.pk) in url and UNMASKED.search(_text(client.get(url)))
    ]

    assert pages, "a supervisor's customer page shows the full number"


@pytest.mark.django_db
@pytest.mark.parametrize("accept", ["application/json", "text/html"])
def test_agents_get_contact_details_masked_from_every_api_read(
    request: pytest.FixtureRequest, accept: str
) -> None:
    # given every kind of contact detail, and an agent (text/html: the browsable API)
    fixture = request.getfixturevalue("objects")
    _give_contacts(fixture)
    client = Client()
    client.force_login(fixture["users"][AGENT])

    # when the agent reads every API endpoint they may read
    reads, failures = 0, []
    for url, query in _api_get_urls(fixture["ids"], AGENT):
        response = client.get(url, query, HTTP_ACCEPT=accept)
        if response.status_code != 200:
            continue
        reads += 1
        found = DISCLOSED.search(_text(response))
        if found:
            failures.append(f"{url}: {found.group(0)!r} disclosed to an agent")

    # then nothing is disclosed, and the masked forms do appear where contacts are shown
    assert not failures, "\n".join(failures)
    assert reads >= 15
    screenpop = client.get(reverse("api-screenpop"), {"phone": PHONE}).json()
    assert screenpop["phone"] == "+8613*****5678"
    detail = client.get(reverse("api-customer-detail", args=[fixture["ids"]["customer"]])).json()
    assert {(p["value"], p["raw_value"]) for p in detail["contact_points"]} == {
        ("+8613*****5678", ""),
        ("w***@example.com", ""),
        ("wx***********88", ""),
    }
    task = client.get(reverse("api-outreach-task", args=[fixture["ids"]["task"]])).json()
    assert task["to_address"] == "+8613*****5678"


@pytest.mark.django_db
def test_agents_get_contact_details_masked_from_api_writes(
    request: pytest.FixtureRequest,
) -> None:
    fixture = request.getfixturevalue("objects")
    customer = _give_contacts(fixture)
    client = Client()
    client.force_login(fixture["users"][AGENT])

    answers = [
        client.post(
            reverse("api-customer-consent", args=[customer.pk]),
            {"channel": "sms", "opted_out": True},
            content_type="application/json",
        ),
        client.post(
            reverse("api-customer-contact-points", args=[customer.pk]),
            {"kind": "phone", "value": "139-8765-4321"},
            content_type="application/json",
        ),
        client.patch(
            reverse("api-customer-detail", args=[customer.pk]),
            {"city": "杭州"},
            content_type="application/json",
        ),
        client.post(
            reverse("api-customer-list"),
            {"name": "New", "phones": ["13812345678"], "emails": ["new.one@example.com"]},
            content_type="application/json",
        ),
    ]

    assert [answer.status_code for answer in answers] == [200, 201, 200, 201]
    for answer in answers:
        text = _text(answer)
        assert not DISCLOSED.search(text), text
        for secret in ("98765", "8765 4321", "87654321", "13812345678", "new.one@"):
            assert secret not in text
    assert answers[1].json()["value"] == "+8613*****4321"


@pytest.mark.django_db
def test_supervisors_get_contact_details_in_full_from_the_api(
    request: pytest.FixtureRequest,
) -> None:
    fixture = request.getfixturevalue("objects")
    _give_contacts(fixture)
    client = Client()
    client.force_login(fixture["users"][SUPERVISOR])

    detail = client.get(reverse("api-customer-detail", args=[fixture["ids"]["customer"]])).json()
    screenpop = client.get(reverse("api-screenpop"), {"phone": PHONE}).json()

    assert {(p["value"], p["raw_value"]) for p in detail["contact_points"]} >= {
        (PHONE, RAW),
        (EMAIL, "Wang.Fang@Example.com"),
        (WECHAT, WECHAT),
    }
    assert screenpop["phone"] == PHONE

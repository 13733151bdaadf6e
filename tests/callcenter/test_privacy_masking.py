"""Phone numbers are masked for agents on every page they can open (walked from the URL
configuration with the permission matrix's objects, so new pages are covered), while
supervisors, whose role allows it, see them in full; agents cannot download exports."""

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from callcenter.models import Customer
from tests.callcenter.factories import PhoneFactory
from tests.matrix import AGENT
from tests.test_permission_matrix import EXPECTATIONS, ROUTES, objects  # noqa: F401 - fixture

PHONE = "+8613912345678"
RAW = "139 1234 5678"
# The middle digits in any common spelling: 13912345678, 139 1234 5678, 139-1234-5678.
UNMASKED = re.compile(r"139[\s\-]?1234[\s\-]?5678")


def _get_urls(ids: dict[str, Any], role: str) -> list[str]:
    urls = []
    for route in ROUTES:
        entry = EXPECTATIONS.get(route.key)
        if entry is None or role not in entry.methods.get("get", ()):
            continue
        urls.append(reverse(route.key, kwargs={"pk": ids[entry.pk]} if entry.pk else {}))
    return urls


def _text(response: Any) -> str:
    if response.streaming:
        return b"".join(response.streaming_content).decode("utf-8", "replace")
    return response.content.decode("utf-8", "replace")


@pytest.mark.django_db
def test_agents_see_phone_numbers_masked_on_every_page(request: pytest.FixtureRequest) -> None:
    fixture = request.getfixturevalue("objects")
    ids = fixture["ids"]
    customer = Customer.objects.get(pk=ids["customer"])
    PhoneFactory(customer=customer, value=PHONE, raw_value=RAW)
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
        if UNMASKED.search(_text(response)):
            failures.append(f"{url}: full phone number shown to an agent")

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

"""Reachability on every surface: the desk card's line from the one screen-pop statement, the
customer page's block, the API's metrics payload, the CSV export, and erasure's decision."""

import csv
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from callcenter.services.privacy import erasure_decisions
from segments.models import CustomerBehaviour, CustomerReach
from segments.parts.desk import reach_line
from segments.services.export import EXPORT_COLUMNS, REACH_EXPORT_COLUMNS, metrics_export_chunks
from tests.callcenter.factories import CustomerFactory, PhoneFactory
from tests.segments.desk_card import desk_card_html
from tests.segments.factories import CustomerMetricsFactory

pytestmark = pytest.mark.django_db

PHONE = "+8613800138000"


@pytest.fixture
def reachable() -> Any:
    customer = CustomerFactory(name="Reachable")
    PhoneFactory(customer=customer, value=PHONE)
    CustomerMetricsFactory(customer=customer, monetary=Decimal("300"), churn_probability=0.4)
    CustomerBehaviour.objects.create(
        customer=customer, preferred_channel="app", refreshed_at=timezone.now()
    )
    CustomerReach.objects.create(
        customer=customer,
        calls_attempted=4,
        calls_answered=3,
        call_answer_share=0.75,
        best_call_hour=19,
        sms_sent=2,
        sms_delivered_share=0.5,
        has_working_phone=True,
        call_response_share=0.5,
        best_channel="call",
        reachability=0.75,
        receptiveness=0.4,
        refreshed_at=timezone.now(),
    )
    return customer


def test_desk_card_line_comes_from_the_one_screenpop_statement(
    reachable: Any, agent_user: Any, api_as: Any
) -> None:
    card = api_as(agent_user).get("/api/screenpop/", {"phone": "13800138000"}).json()

    section = card["segments"]
    assert section["reach"]["best_call_hour"] == 19
    assert section["reach"]["best_channel"] == "call"
    assert (
        reach_line(section["reach"], section["habits"])
        == "Best time to call 19:00-20:00 (their time) · best reached by Call (75%) · buys via app"
    )
    assert reach_line(None, None) == ""


def test_desk_card_shows_the_reach_line_in_both_languages(
    reachable: Any, client: Client, agent_user: Any
) -> None:
    client.force_login(agent_user)

    assert "Best time to call 19:00-20:00 (their time)" in desk_card_html(client, "en")
    assert "最佳致电时间 19:00-20:00（客户当地时间）" in desk_card_html(client, "zh-hans")


def test_customer_page_shows_the_reachability_block_in_both_languages(
    reachable: Any, client: Client, agent_user: Any
) -> None:
    client.force_login(agent_user)
    url = reverse("customer-segments-fragment", args=[reachable.pk])

    html = client.get(url).content.decode()
    assert 'data-testid="customer-reach"' in html
    assert "around 19:00 (customer's time)" in html
    assert "3 of 4" in html
    assert "40% of touches got a response" in html
    html = client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "可达性" in html
    assert "最佳致电时间" in html


def test_customer_page_without_reach_has_no_block(client: Client, agent_user: Any) -> None:
    customer = CustomerFactory()
    CustomerBehaviour.objects.create(customer=customer, refreshed_at=timezone.now())
    client.force_login(agent_user)
    html = client.get(reverse("customer-segments-fragment", args=[customer.pk])).content.decode()
    assert 'data-testid="customer-habits"' in html
    assert 'data-testid="customer-reach"' not in html


def test_api_metrics_carry_the_reach(reachable: Any, agent_user: Any, api_as: Any) -> None:
    body = api_as(agent_user).get(reverse("api-customer-metrics", args=[reachable.pk])).json()

    reach = body["reach"]
    assert reach["call_answer_share"] == 0.75
    assert reach["best_call_hour"] == 19
    assert reach["has_working_phone"] is True
    assert reach["email_delivered_share"] is None
    assert "customer" not in reach


def test_export_has_the_reach_columns(reachable: Any) -> None:
    other = CustomerFactory(name="Nothing counted")
    CustomerMetricsFactory(customer=other)

    rows = b"".join(metrics_export_chunks()).decode().splitlines()
    header = rows[0].split(",")
    assert header == EXPORT_COLUMNS
    assert set(REACH_EXPORT_COLUMNS) <= set(header)
    by_name = {
        row[header.index("name")]: dict(zip(header, row, strict=True))
        for row in csv.reader(rows[1:])
    }
    row = by_name["Reachable"]
    assert (row["call_answer_share"], row["best_call_hour"]) == ("0.75", "19")
    assert (row["has_working_phone"], row["best_reach_channel"]) == ("t", "call")
    assert row["reachability"] == "0.75"
    assert by_name["Nothing counted"]["reachability"] == ""


def test_erasure_decides_on_the_reach_table() -> None:
    assert erasure_decisions()["segments.customerreach.customer"] == "keep"

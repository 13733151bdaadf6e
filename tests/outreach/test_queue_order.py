"""The agents' call list ordered by the expected value of the call (predicted value x churn
probability x reachability), server-side, at a fixed query count."""

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from callcenter.choices import Role
from segments.models import CustomerReach
from tests.callcenter.factories import CustomerFactory, UserFactory
from tests.outreach.factories import CallTaskFactory
from tests.outreach.test_pages_queue import MY_QUEUE_QUERIES
from tests.segments.factories import CustomerMetricsFactory

pytestmark = pytest.mark.django_db


def _customer(name: str, value: str | None = None, churn: float = 0.5, reach: float | None = None):
    customer = CustomerFactory(name=name)
    if value is not None:
        CustomerMetricsFactory(
            customer=customer, predicted_value_365d=Decimal(value), churn_probability=churn
        )
    if reach is not None:
        CustomerReach.objects.create(
            customer=customer, reachability=reach, refreshed_at=timezone.now()
        )
    return customer


def _call(agent: Any, customer: Any, hours_left: float) -> Any:
    due = timezone.now() - dt.timedelta(hours=1)
    return CallTaskFactory(
        assignee=agent,
        customer=customer,
        due_at=due,
        deadline_at=timezone.now() + dt.timedelta(hours=hours_left),
    )


def test_the_queue_orders_by_expected_value_on_request(client: Client) -> None:
    agent = UserFactory(role=Role.AGENT, username="value_agent")
    # Values: 1000 x 0.9 x 0.1 = 90; 400 x 0.5 x 0.9 = 180; 300 x 0.8 x unknown 0.5 = 120.
    hard_to_reach = _call(agent, _customer("Hard", "1000", 0.9, 0.1), hours_left=1)
    answers = _call(agent, _customer("Answers", "400", 0.5, 0.9), hours_left=3)
    unknown_reach = _call(agent, _customer("Unknown", "300", 0.8), hours_left=2)
    no_metrics = _call(agent, _customer("New"), hours_left=0.5)
    client.force_login(agent)

    by_deadline = client.get(reverse("my-queue"))
    by_value = client.get(reverse("my-queue"), {"order": "value"})
    bogus = client.get(reverse("my-queue"), {"order": "bogus"})

    def order(response: Any) -> list[Any]:
        return [row["task"] for row in response.context["rows"]]

    assert order(by_deadline) == [no_metrics, hard_to_reach, unknown_reach, answers]
    assert order(by_value) == [answers, unknown_reach, hard_to_reach, no_metrics]
    assert order(bogus) == order(by_deadline)
    assert by_value.context["order"] == "value"
    assert 'href="?order=deadline"' in by_value.content.decode()
    assert "by the expected value of the call" in by_value.content.decode()
    chinese = client.get(reverse("my-queue"), {"order": "value"}, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert "按通话的期望价值排序" in chinese.content.decode()


def test_the_value_order_costs_the_same_queries(client: Client) -> None:
    agent = UserFactory(role=Role.AGENT, username="value_agent2")
    client.force_login(agent)
    _call(agent, _customer("One", "100", 0.5, 0.5), hours_left=1)
    url = reverse("my-queue") + "?order=value"
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for n in range(5):
        _call(agent, _customer(f"More {n}", "200", 0.4, 0.7), hours_left=2)
        _call(agent, _customer(f"Bare {n}"), hours_left=2)
    with CaptureQueriesContext(connection) as many:
        client.get(url)

    assert len(few) == len(many) == MY_QUEUE_QUERIES


def test_the_api_queue_orders_by_expected_value_too(api_as: Any) -> None:
    agent = UserFactory(role=Role.AGENT, username="value_agent3")
    low = _call(agent, _customer("Low", "100", 0.5, 0.5), hours_left=1)
    high = _call(agent, _customer("High", "1000", 0.5, 0.5), hours_left=2)
    api = api_as(agent)
    url = reverse("api-outreach-my-queue")

    assert [row["id"] for row in api.get(url).json()] == [low.pk, high.pk]
    assert [row["id"] for row in api.get(url, {"order": "value"}).json()] == [high.pk, low.pk]
    refused = api.get(url, {"order": "spend"})
    assert refused.status_code == 400
    assert "order" in refused.json()

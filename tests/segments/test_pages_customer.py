"""The segments section of the customer page: scores, current segments with their why, past
stays; for every role that may open the customer page, at a fixed query count."""

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from callcenter.choices import Role
from segments.choices import LifecycleStage, RunStatus, SegmentKind
from segments.models import RefreshRun, Segment
from segments.next_best_actions import next_best_actions_active
from tests.callcenter.factories import CustomerFactory, UserFactory
from tests.segments.factories import (
    CustomerMetricsFactory,
    SegmentFactory,
    SegmentMembershipFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def agent_client() -> Client:
    client = Client()
    client.force_login(UserFactory(role=Role.AGENT))
    return client


def test_current_segments_show_why_and_past_stays(agent_client: Client) -> None:
    customer = CustomerFactory()
    as_of = timezone.now() - dt.timedelta(days=2)
    RefreshRun.objects.create(
        status=RunStatus.SUCCEEDED, as_of=as_of, window_days=365, finished_at=as_of
    )
    CustomerMetricsFactory(
        customer=customer,
        lifecycle_stage=LifecycleStage.DORMANT,
        last_order_at=as_of - dt.timedelta(days=75, hours=1),
    )
    vip = SegmentFactory(name="VIP callers")
    SegmentMembershipFactory(segment=vip, customer=customer, reason="rule: spend at least 5000")
    old = SegmentFactory(name="Spring promo")
    SegmentMembershipFactory(segment=old, customer=customer, exited_at=timezone.now())

    response = agent_client.get(reverse("customer-segments-fragment", args=[customer.pk]))

    html = response.content.decode()
    assert response.status_code == 200
    assert "VIP callers" in html
    # the why in words with the customer's own value, not the text stored at entry
    assert f"City is {customer.city}" in html
    assert "Spring promo" in html
    assert "75 days since the last order" in html  # to the scores' as-of, not to now
    assert "Dormant" in html


def test_built_in_segments_are_named_in_the_users_language(agent_client: Client) -> None:
    customer = CustomerFactory()
    lost = Segment.objects.get(kind=SegmentKind.LIFECYCLE, key="lost")
    SegmentMembershipFactory(segment=lost, customer=customer, reason="lifecycle stage lost")

    response = agent_client.get(
        reverse("customer-segments-fragment", args=[customer.pk]), HTTP_ACCEPT_LANGUAGE="zh-hans"
    )

    assert "已流失" in response.content.decode()


def test_query_count_does_not_grow_with_memberships(
    agent_client: Client, django_assert_max_num_queries
) -> None:
    customer = CustomerFactory()
    for n in range(8):
        SegmentMembershipFactory(segment=SegmentFactory(name=f"S{n}"), customer=customer)
    url = reverse("customer-segments-fragment", args=[customer.pk])
    next_best_actions_active()  # the active next best actions are cached, as in service

    # one of them reads the buying habits panel; one the next best actions (every rule's
    # condition and the placeholders' figures in one statement); one the why of every rule
    # segment (each condition's value and truth for the customer, in one statement)
    with django_assert_max_num_queries(11):
        agent_client.get(url)


def test_only_the_latest_past_stays_are_loaded(agent_client: Client) -> None:
    from segments.selectors import customer_segments
    from segments.views.customer import PAST_STAYS_SHOWN

    customer = CustomerFactory()
    now = timezone.now()
    for n in range(PAST_STAYS_SHOWN + 3):
        SegmentMembershipFactory(
            segment=SegmentFactory(name=f"Past {n:02d}"),
            customer=customer,
            entered_at=now - dt.timedelta(days=100 - n),
            exited_at=now - dt.timedelta(days=50 - n),
        )
    SegmentMembershipFactory(segment=SegmentFactory(name="Now"), customer=customer)

    stays = customer_segments(customer_id=customer.pk, history_limit=PAST_STAYS_SHOWN)
    html = agent_client.get(
        reverse("customer-segments-fragment", args=[customer.pk])
    ).content.decode()

    assert [stay.segment.name for stay in stays["current"]] == ["Now"]
    assert [stay.segment.name for stay in stays["history"]] == [
        f"Past {n:02d}" for n in range(PAST_STAYS_SHOWN + 2, 2, -1)
    ]
    assert "Past 03" in html
    assert "Past 02" not in html
    assert len(customer_segments(customer_id=customer.pk)["history"]) == PAST_STAYS_SHOWN + 3

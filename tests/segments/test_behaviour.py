"""Buying habits and service history (segments.services.behaviour) through the refresh, on real
PostgreSQL: hand-checked values, time zones, the account roll-up, incremental runs that
write only what changed, and the rules that select on them."""

import csv
import datetime as dt
from decimal import Decimal
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction
from django.urls import reverse

from callcenter.choices import (
    CustomerStatus,
    Gender,
    OrderStatus,
    SurveyKind,
    TicketKind,
    TicketStatus,
)
from callcenter.models import Customer, Ticket
from segments.choices import AgeBand, IsoWeekday
from segments.models import CustomerBehaviour, CustomerMetrics
from segments.parts.desk import habits_line
from segments.rules import RuleError, rule_queryset, rule_validate
from segments.services import behaviour as behaviour_module
from segments.services.behaviour import behaviour_refresh
from segments.services.export import EXPORT_COLUMNS, metrics_export_chunks
from segments.services.refresh import as_of_from_date, segment_refresh
from tests.callcenter.factories import (
    BusinessCustomerFactory,
    CustomerFactory,
    OrderFactory,
    PhoneFactory,
    SurveyFactory,
    TicketFactory,
)
from tests.segments.desk_card import desk_card_html

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")
AS_OF = as_of_from_date(dt.date(2026, 6, 1))


def _order(customer, moment: dt.datetime, amount: str, category: str, channel: str, **kw):
    return OrderFactory(
        customer=customer,
        placed_at=moment,
        amount=Decimal(amount),
        category=category,
        channel=channel,
        **kw,
    )


@pytest.fixture
def shopper():
    """Four paid orders in Shanghai time, plus a refund and an order after as-of that do not
    count; tickets of every kind; three CSAT answers."""
    customer = CustomerFactory(name="Shopper", timezone="Asia/Shanghai")
    moments = [
        dt.datetime(2026, 5, 4, 20, 30, tzinfo=SHANGHAI),  # Monday
        dt.datetime(2026, 5, 11, 20, 10, tzinfo=SHANGHAI),  # Monday
        dt.datetime(2026, 5, 21, 9, 0, tzinfo=SHANGHAI),  # Thursday
        dt.datetime(2026, 5, 31, 20, 45, tzinfo=SHANGHAI),  # Sunday
    ]
    _order(customer, moments[0], "100.00", "shoes", "app")
    _order(customer, moments[1], "200.00", "shoes", "app")
    _order(customer, moments[2], "50.00", "books", "web")
    _order(customer, moments[3], "150.00", "toys", "app")
    _order(customer, moments[2], "900.00", "tv", "web", status=OrderStatus.REFUNDED)
    _order(customer, AS_OF + dt.timedelta(hours=3), "900.00", "tv", "web")
    TicketFactory(customer=customer, kind=TicketKind.INQUIRY, opened_at=AS_OF - dt.timedelta(10))
    TicketFactory(
        customer=customer,
        kind=TicketKind.SUGGESTION,
        status=TicketStatus.RESOLVED,
        opened_at=AS_OF - dt.timedelta(days=5),
        resolved_at=AS_OF - dt.timedelta(days=4),
    )
    TicketFactory(
        customer=customer,
        kind=TicketKind.COMPLAINT,
        status=TicketStatus.CLOSED,
        opened_at=AS_OF - dt.timedelta(days=100),
        resolved_at=AS_OF - dt.timedelta(days=99),
    )
    for days, score in ((30, 5), (3, 2), (60, 4)):
        SurveyFactory(
            customer=customer,
            kind=SurveyKind.CSAT,
            score=score,
            responded_at=AS_OF - dt.timedelta(days=days),
        )
    SurveyFactory(customer=customer, kind=SurveyKind.NPS, score=0, responded_at=AS_OF)
    return customer, moments


def test_habits_and_service_history_are_computed_as_of_the_refresh(shopper) -> None:
    customer, moments = shopper

    segment_refresh(as_of=AS_OF)

    row = CustomerBehaviour.objects.get(customer=customer)
    assert row.top_category == "shoes"
    assert row.top_category_share == pytest.approx(0.6)
    assert row.category_shares == {"shoes": 0.6, "toys": 0.3, "books": 0.1}
    assert row.categories_count == 3
    # the second shoes order is the one repeat among four
    assert row.repeat_category_share == pytest.approx(0.25)
    assert (row.preferred_channel, row.preferred_channel_share) == ("app", pytest.approx(0.75))
    assert row.usual_hour == 20
    assert row.usual_weekday == int(IsoWeekday.MONDAY)
    gaps = sorted((b - a).total_seconds() / 86400 for a, b in pairwise(moments))
    assert row.median_gap_days == pytest.approx(round(gaps[1], 2))
    assert (row.tickets_inquiry_90d, row.tickets_complaint_90d, row.tickets_suggestion_90d) == (
        1,
        0,
        1,
    )
    assert row.open_tickets == 1
    assert row.last_csat == 2


def test_hours_are_counted_in_the_buyers_time_zone(db) -> None:
    # given 02:00 UTC on Sunday 10 May: 22:00 on Saturday in New York
    customer = CustomerFactory(timezone="America/New_York")
    _order(customer, dt.datetime(2026, 5, 10, 2, 0, tzinfo=dt.UTC), "10.00", "", "")
    unknown_zone = CustomerFactory(timezone="Mars/Olympus")
    _order(unknown_zone, dt.datetime(2026, 5, 10, 2, 0, tzinfo=dt.UTC), "10.00", "", "")

    segment_refresh(as_of=AS_OF)

    row = CustomerBehaviour.objects.get(customer=customer)
    assert (row.usual_hour, row.usual_weekday) == (22, 6)
    # one order: no gap, no category, no channel
    assert row.median_gap_days is None
    assert (row.top_category, row.top_category_share, row.category_shares) == ("", None, {})
    assert (row.preferred_channel, row.repeat_category_share) == ("", None)
    # an unknown zone name is read as the default zone (Shanghai: 10:00 on Sunday)
    fallback = CustomerBehaviour.objects.get(customer=unknown_zone)
    assert (fallback.usual_hour, fallback.usual_weekday) == (10, 7)


def test_every_active_customer_has_a_row_and_merged_ones_lose_theirs(db) -> None:
    quiet = CustomerFactory()
    gone = CustomerFactory()
    _order(gone, AS_OF - dt.timedelta(days=3), "10.00", "books", "web")
    segment_refresh(as_of=AS_OF)
    assert CustomerBehaviour.objects.get(customer=quiet).open_tickets == 0

    Customer.objects.filter(pk=gone.pk).update(status=CustomerStatus.MERGED, merged_into=quiet)
    run = segment_refresh(as_of=AS_OF + dt.timedelta(hours=1))

    assert not CustomerBehaviour.objects.filter(customer=gone).exists()
    assert run.counts["behaviour_deleted"] == 1
    assert run.counts["behaviour_full"] == 0


def test_a_first_fill_inserts_the_active_customers_and_a_full_pass_then_upserts(db) -> None:
    buyer = CustomerFactory()
    _order(buyer, AS_OF - dt.timedelta(days=3), "10.00", "books", "web")
    merged = CustomerFactory()
    _order(merged, AS_OF - dt.timedelta(days=5), "20.00", "toys", "app")
    Customer.objects.filter(pk=merged.pk).update(status=CustomerStatus.MERGED, merged_into=buyer)

    # into the empty table: one plain insert of the active customers, nothing to delete
    with transaction.atomic():
        first = behaviour_refresh(as_of=AS_OF, previous_as_of=None, now=AS_OF)
    assert first["behaviour_full"] == 1
    assert (first["behaviour_customers"], first["behaviour_written"]) == (1, 1)
    assert first["behaviour_deleted"] == 0
    assert list(CustomerBehaviour.objects.values_list("customer_id", flat=True)) == [buyer.pk]

    # into a table with rows: a full pass writes only what differs and deletes the stale rows
    Customer.objects.filter(pk=buyer.pk).update(status=CustomerStatus.MERGED, merged_into=merged)
    Customer.objects.filter(pk=merged.pk).update(status=CustomerStatus.ACTIVE, merged_into=None)
    with transaction.atomic():
        again = behaviour_refresh(as_of=AS_OF, previous_as_of=None, now=AS_OF)
    assert (again["behaviour_customers"], again["behaviour_written"]) == (1, 1)
    assert again["behaviour_deleted"] == 1
    assert CustomerBehaviour.objects.get().customer_id == merged.pk


def test_an_account_buys_through_its_contacts(db) -> None:
    account = BusinessCustomerFactory()
    contact = CustomerFactory(account=account)
    _order(contact, AS_OF - dt.timedelta(days=3), "80.00", "paper", "phone")
    _order(account, AS_OF - dt.timedelta(days=13), "20.00", "ink", "web")
    TicketFactory(customer=contact, kind=TicketKind.COMPLAINT, opened_at=AS_OF - dt.timedelta(2))

    segment_refresh(as_of=AS_OF)

    rolled = CustomerBehaviour.objects.get(customer=account)
    assert (rolled.top_category, rolled.top_category_share) == ("paper", pytest.approx(0.8))
    assert rolled.median_gap_days == pytest.approx(10)
    assert (rolled.tickets_complaint_90d, rolled.open_tickets) == (1, 1)
    own = CustomerBehaviour.objects.get(customer=contact)
    assert (own.top_category, own.categories_count, own.median_gap_days) == ("paper", 1, None)


def test_a_first_fill_in_many_parts_equals_one_in_a_single_part(db, monkeypatch) -> None:
    # an account whose contacts have ids far from its own, and people in other zones
    account = BusinessCustomerFactory()
    people = [CustomerFactory(timezone=zone) for zone in ("Asia/Shanghai", "America/New_York")]
    contacts = [CustomerFactory(account=account) for _ in range(2)]
    for day, buyer in enumerate([*people, *contacts, account] * 3):
        _order(
            buyer, AS_OF - dt.timedelta(days=3 * day + 1, hours=day), f"{10 + day}.00", "tea", ""
        )
    segment_refresh(as_of=AS_OF)
    single = {row.pop("customer_id"): row for row in CustomerBehaviour.objects.values()}

    CustomerBehaviour.objects.all().delete()
    monkeypatch.setattr(behaviour_module, "HABITS_CHUNK_CUSTOMERS", 2)
    with transaction.atomic():
        counts = behaviour_refresh(as_of=AS_OF, previous_as_of=None, now=AS_OF)

    assert counts["behaviour_full"] == 1
    parts = {row.pop("customer_id"): row for row in CustomerBehaviour.objects.values()}
    for rows in (single, parts):
        for row in rows.values():
            row.pop("refreshed_at")
    assert parts == single
    assert single[account.pk]["median_gap_days"] is not None


def test_a_run_with_nothing_changed_writes_no_row(shopper) -> None:
    segment_refresh(as_of=AS_OF)

    run = segment_refresh(as_of=AS_OF)

    assert run.counts["behaviour_written"] == 0
    assert run.counts["behaviour_deleted"] == 0
    assert run.counts["behaviour_customers"] == 0
    assert "behaviour" in run.timings


def test_an_incremental_run_recomputes_only_changed_customers_and_equals_a_full_pass(
    shopper,
) -> None:
    customer, _moments = shopper
    other = CustomerFactory(timezone="Asia/Shanghai")
    _order(other, AS_OF - dt.timedelta(days=40), "10.00", "books", "web")
    segment_refresh(as_of=AS_OF)

    # when the other customer orders again, and a day passes
    _order(other, AS_OF + dt.timedelta(hours=10), "30.00", "toys", "app")
    run = segment_refresh(as_of=AS_OF + dt.timedelta(days=1))

    # then: the shopper's order placed after the first as-of becomes current too
    assert run.counts["behaviour_full"] == 0
    assert run.counts["behaviour_customers"] == 2
    assert run.counts["behaviour_written"] == 2
    row = CustomerBehaviour.objects.get(customer=other)
    assert row.top_category == "toys"
    assert row.categories_count == 2
    assert CustomerBehaviour.objects.get(customer=customer).top_category == "tv"
    # and a full pass at the same moment finds nothing to change
    with transaction.atomic():
        full = behaviour_refresh(as_of=AS_OF + dt.timedelta(days=1), previous_as_of=None, now=AS_OF)
    assert full["behaviour_full"] == 1
    assert full["behaviour_written"] == 0


def test_tickets_leaving_the_90_day_window_are_recounted_without_a_change(db) -> None:
    customer = CustomerFactory()
    TicketFactory(
        customer=customer,
        kind=TicketKind.COMPLAINT,
        status=TicketStatus.CLOSED,
        opened_at=AS_OF - dt.timedelta(days=89),
        resolved_at=AS_OF - dt.timedelta(days=88),
    )
    segment_refresh(as_of=AS_OF)
    assert CustomerBehaviour.objects.get(customer=customer).tickets_complaint_90d == 1

    run = segment_refresh(as_of=AS_OF + dt.timedelta(days=2))

    assert run.counts["behaviour_customers"] == 1
    assert CustomerBehaviour.objects.get(customer=customer).tickets_complaint_90d == 0


def test_a_ticket_resolved_since_is_no_longer_open(shopper) -> None:
    customer, _moments = shopper
    segment_refresh(as_of=AS_OF)

    Ticket.objects.filter(customer=customer, status=TicketStatus.OPEN).update(
        status=TicketStatus.RESOLVED, resolved_at=AS_OF
    )
    run = segment_refresh(as_of=AS_OF)

    assert run.counts["behaviour_written"] == 1
    assert CustomerBehaviour.objects.get(customer=customer).open_tickets == 0


def test_a_time_zone_change_moves_the_usual_hour(db) -> None:
    customer = CustomerFactory(timezone="Asia/Shanghai")
    _order(customer, dt.datetime(2026, 5, 10, 2, 0, tzinfo=dt.UTC), "10.00", "", "")
    segment_refresh(as_of=AS_OF)
    assert CustomerBehaviour.objects.get(customer=customer).usual_hour == 10

    Customer.objects.filter(pk=customer.pk).update(timezone="Europe/London")
    segment_refresh(as_of=AS_OF)

    assert CustomerBehaviour.objects.get(customer=customer).usual_hour == 3


# Rules on the derived fields, against a refreshed base.


@pytest.fixture
def refreshed(shopper):
    customer, _moments = shopper
    Customer.objects.filter(pk=customer.pk).update(
        birthday=dt.date(1990, 6, 1), gender=Gender.FEMALE
    )
    young = CustomerFactory(name="Young", birthday=dt.date(2002, 6, 2), gender=Gender.MALE)
    _order(young, AS_OF - dt.timedelta(days=100), "10.00", "games", "web")
    _order(young, AS_OF - dt.timedelta(days=90), "10.00", "games", "web")
    CustomerFactory(name="Nobody")
    segment_refresh(as_of=AS_OF)
    return customer, young


def _names(tree) -> set[str]:
    return set(rule_queryset(tree=tree, as_of=AS_OF).values_list("name", flat=True))


# Every field of these families (tests/segments/test_rules.py checks that each field is tested).
HABIT_FIELD_CASES = [
    ({"field": "age", "cmp": "eq", "value": 36}, {"Shopper"}),
    # 23: 24 from the day after as-of
    ({"field": "age", "cmp": "lt", "value": 25}, {"Young"}),
    ({"field": "age", "cmp": "is_empty"}, {"Nobody"}),
    ({"field": "age_band", "cmp": "eq", "value": AgeBand.FROM_35}, {"Shopper"}),
    ({"field": "age_band", "cmp": "ne", "value": AgeBand.FROM_35}, {"Young"}),
    ({"field": "age_band", "cmp": "in", "value": [AgeBand.UNDER_25]}, {"Young"}),
    ({"field": "gender", "cmp": "eq", "value": Gender.FEMALE}, {"Shopper"}),
    ({"field": "gender", "cmp": "is_empty"}, {"Nobody"}),
    # Young: last order 90 days ago, median gap 10 days: 9 times overdue
    ({"field": "overdue_ratio", "cmp": "gte", "value": 8.5}, {"Young"}),
    ({"field": "overdue_ratio", "cmp": "lt", "value": 1}, {"Shopper"}),
    ({"field": "overdue_ratio", "cmp": "is_empty"}, {"Nobody"}),
    ({"field": "top_category", "cmp": "eq", "value": "shoes"}, {"Shopper"}),
    ({"field": "top_category_share", "cmp": "gte", "value": 0.9}, {"Young"}),
    ({"field": "categories_count", "cmp": "gt", "value": 2}, {"Shopper"}),
    ({"field": "repeat_category_share", "cmp": "between", "value": [0.2, 0.3]}, {"Shopper"}),
    ({"field": "preferred_channel", "cmp": "eq", "value": "app"}, {"Shopper"}),
    ({"field": "preferred_channel_share", "cmp": "eq", "value": 1}, {"Young"}),
    ({"field": "usual_hour", "cmp": "between", "value": [19, 21]}, {"Shopper"}),
    ({"field": "usual_weekday", "cmp": "eq", "value": IsoWeekday.MONDAY}, {"Shopper"}),
    ({"field": "usual_weekday", "cmp": "ne", "value": IsoWeekday.MONDAY}, {"Young"}),
    ({"field": "median_gap_days", "cmp": "lte", "value": 10}, {"Shopper", "Young"}),
    ({"field": "tickets_inquiry_90d", "cmp": "gte", "value": 1}, {"Shopper"}),
    ({"field": "tickets_complaint_90d", "cmp": "eq", "value": 0}, {"Shopper", "Young", "Nobody"}),
    ({"field": "tickets_suggestion_90d", "cmp": "eq", "value": 1}, {"Shopper"}),
    ({"field": "open_tickets", "cmp": "gt", "value": 0}, {"Shopper"}),
    ({"field": "last_csat", "cmp": "lte", "value": 2}, {"Shopper"}),
]


@pytest.mark.parametrize(("condition", "expected"), HABIT_FIELD_CASES)
def test_rules_on_habits_select_the_right_customers(refreshed, condition, expected) -> None:
    assert _names({"op": "and", "children": [condition]}) == expected
    # a negated group is the exact complement
    negated = {"op": "and", "not": True, "children": [condition]}
    assert _names(negated) == {"Shopper", "Young", "Nobody"} - expected


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ({"field": "usual_hour", "cmp": "eq", "value": 24}, "usual_hour"),
        ({"field": "usual_hour", "cmp": "eq", "value": 7.5}, "usual_hour"),
        ({"field": "top_category_share", "cmp": "gt", "value": 1.5}, "top_category_share"),
        ({"field": "usual_weekday", "cmp": "eq", "value": "8"}, "usual_weekday"),
        ({"field": "usual_weekday", "cmp": "gt", "value": "1"}, "usual_weekday"),
        ({"field": "age_band", "cmp": "eq", "value": "teen"}, "age_band"),
        ({"field": "gender", "cmp": "eq", "value": "unknown"}, "gender"),
        ({"field": "last_csat", "cmp": "eq", "value": 0}, "last_csat"),
        ({"field": "age", "cmp": "gt", "value": -1}, "age"),
        ({"field": "overdue_ratio", "cmp": "gt", "value": "late"}, "overdue_ratio"),
    ],
)
def test_bad_values_on_habit_fields_are_refused_clearly(db, condition, message) -> None:
    with pytest.raises(RuleError) as caught:
        rule_validate(tree={"op": "and", "children": [condition]})
    assert message in str(caught.value)


def test_rules_read_the_metrics_and_habits_in_one_statement(refreshed, django_assert_num_queries):
    tree = {
        "op": "and",
        "children": [
            {"field": "overdue_ratio", "cmp": "gte", "value": 2},
            {"field": "age_band", "cmp": "in", "value": [AgeBand.UNDER_25, AgeBand.FROM_25]},
        ],
    }
    with django_assert_num_queries(1):
        assert _names(tree) == {"Young"}
    assert CustomerMetrics.objects.filter(customer__name="Young").exists()


# Surfaces: export, API, customer page, screen-pop and desk card.


def test_export_has_habits_and_derived_columns(refreshed) -> None:
    rows = b"".join(metrics_export_chunks()).decode().splitlines()
    header = rows[0].split(",")
    assert header[-1] == "as_of"
    by_name = {
        row[header.index("name")]: dict(zip(header, row, strict=True))
        for row in csv.reader(rows[1:])
    }
    assert header == EXPORT_COLUMNS
    shopper = by_name["Shopper"]
    assert (shopper["gender"], shopper["age"], shopper["age_band"]) == ("female", "36", "35_44")
    assert (shopper["top_category"], shopper["top_category_share"]) == ("shoes", "0.6")
    assert (shopper["usual_hour"], shopper["usual_weekday"]) == ("20", "1")
    assert (shopper["open_tickets"], shopper["last_csat"]) == ("1", "2")
    young = by_name["Young"]
    assert (young["age_band"], young["overdue_ratio"]) == ("under_25", "9.00")


def test_api_metrics_carry_the_behaviour(refreshed, agent_user, api_as) -> None:
    customer, _young = refreshed

    body = api_as(agent_user).get(reverse("api-customer-metrics", args=[customer.pk])).json()

    habits = body["behaviour"]
    assert habits["top_category"] == "shoes"
    assert habits["category_shares"] == {"shoes": 0.6, "toys": 0.3, "books": 0.1}
    assert (habits["gender"], habits["age"], habits["age_band"]) == ("female", 36, "35_44")
    assert habits["overdue_ratio"] == 0
    assert habits["open_tickets"] == 1


def test_customer_page_shows_buying_habits_in_both_languages(refreshed, client, agent_user):
    customer, young = refreshed
    client.force_login(agent_user)
    url = reverse("customer-segments-fragment", args=[young.pk])

    html = client.get(url).content.decode()

    assert "Buying habits" in html
    assert "games" in html
    assert "80 days overdue (9.0x the usual gap)" in html
    assert "Service history" in html
    html = client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "购买习惯" in html


def test_desk_card_line_comes_from_the_one_screenpop_statement(refreshed, agent_user, api_as):
    customer, _young = refreshed
    PhoneFactory(customer=customer, value="+8613800138000")

    card = api_as(agent_user).get("/api/screenpop/", {"phone": "13800138000"}).json()

    habits = card["segments"]["habits"]
    assert habits["top_category"] == "shoes"
    assert (
        habits_line(habits)
        == "Buys mostly shoes (60% of spend) · usually orders Monday around 20:00"
    )


def test_desk_card_shows_the_habits_line_in_both_languages(refreshed, client, agent_user):
    customer, _young = refreshed
    PhoneFactory(customer=customer, value="+8613800138000")
    client.force_login(agent_user)

    assert "Buys mostly shoes (60% of spend) · usually orders Monday around 20:00" in (
        desk_card_html(client, "en")
    )
    assert "主要购买shoes（占消费 60%）" in desk_card_html(client, "zh-hans")

"""The server-rendered pages: login, navigation by role, customer search and the customer card."""

import datetime as dt
import re
from collections.abc import Callable
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from callcenter.choices import (
    ConsentChannel,
    ConsentSource,
    ContactKind,
    CustomerKind,
    CustomerStatus,
    Role,
    TicketKind,
)
from callcenter.models import Customer
from callcenter.selectors.profile import TimelineCursor, customer_timeline
from callcenter.services.activity import interaction_log, survey_record, ticket_open
from callcenter.services.customers import (
    contact_point_add,
    contact_point_deactivate,
    customer_consent_set,
    customer_create,
)
from tests.callcenter.factories import (
    CustomerFactory,
    InteractionFactory,
    OrderFactory,
    SurveyFactory,
    TicketFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

SEARCH_URL = reverse("customer-search")
LOGIN_URL = reverse("login")
HTMX = {"HTTP_HX_REQUEST": "true"}

# Queries of one customer page, whatever the customer's history holds: session, user, role
# groups, the request's savepoint and its release, the customer with its advisor, contact
# points, consent history, and one bounded query per timeline kind (orders, interactions,
# tickets, surveys), and one bounded query each for the open tickets with their SLA, care
# enrollments, outreach tasks and open merge proposals, and (a business, as here) its contacts
# and its latest monthly reports.
CUSTOMER_PAGE_QUERIES = 18


def detail_url(customer: Customer) -> str:
    return reverse("customer-detail", args=[customer.pk])


@pytest.fixture
def client_as(client: Client) -> Callable[[object], Client]:
    def _as(user: object) -> Client:
        client.force_login(user)
        return client

    return _as


@pytest.fixture
def phone_customer() -> Customer:
    return customer_create(
        name="李娜",
        phones=["13800138000"],
        emails=["Li.Na@Example.com"],
        external_id="EXT-778",
        city="杭州",
    )


@pytest.fixture
def rich_customer(agent_user: object) -> Customer:
    """A business customer with every kind of contact point, consent history and activity."""
    now = timezone.now()
    advisor = UserFactory(username="advisor-li", first_name="Advisor", last_name="Li")
    customer = customer_create(
        name="王建国",
        kind=CustomerKind.BUSINESS,
        company_name="杭州云帆科技有限公司",
        industry="Logistics",
        employee_count=350,
        city="杭州",
        region="浙江",
        timezone="Asia/Shanghai",
        language="en",
        advisor=advisor,
        external_id="B-1001",
        phones=["+86 138 0013 8000", "021 6234 5678"],
        emails=["wang@yunfan.example.com"],
        wechat_ids=["wang_jianguo"],
        attributes={"contract_tier": "platinum", "seats": 40},
    )
    contact_point_add(customer=customer, kind=ContactKind.EXTERNAL, value="ERP-55", system="erp")
    old = contact_point_add(customer=customer, kind=ContactKind.PHONE, value="13900001111")
    contact_point_deactivate(point=old)
    customer_consent_set(
        customer=customer,
        channel=ConsentChannel.SMS,
        opted_out=True,
        source=ConsentSource.AGENT,
        changed_by=agent_user,
        note="Asked on the phone to stop texts",
    )
    OrderFactory(
        customer=customer,
        external_id="ORD-OLD",
        amount=Decimal("1288.50"),
        placed_at=now - dt.timedelta(days=30),
    )
    interaction_log(
        customer=customer,
        channel="call",
        occurred_at=now - dt.timedelta(days=3),
        agent=agent_user,
        reason="delivery",
        notes="The customer is very angry, terrible service, awful delay.",
        duration_seconds=305,
    )
    ticket_open(
        customer=customer,
        kind=TicketKind.COMPLAINT,
        subject="Pallets arrived damaged",
        opened_at=now - dt.timedelta(days=2),
    )
    survey_record(
        customer=customer,
        kind="nps",
        score=3,
        comment="Slow refunds",
        responded_at=now - dt.timedelta(days=1),
    )
    return customer


# ---------------------------------------------------------------- login, roles, navigation


@pytest.mark.parametrize(
    ("role", "visible", "hidden"),
    [
        (Role.AGENT, ["/customers/"], ["/import/", "/api/docs/", "/admin/"]),
        (Role.SUPERVISOR, ["/customers/", "/import/", "/api/docs/"], ["/admin/"]),
        (Role.ADMIN, ["/customers/", "/import/", "/api/docs/", "/admin/"], []),
    ],
)
def test_login_works_and_nav_shows_what_the_role_may_open(
    client: Client, role: str, visible: list[str], hidden: list[str]
) -> None:
    # given
    UserFactory(username=f"{role}-login", role=role, first_name="Mei", last_name="Chen")

    # when
    response = client.post(
        LOGIN_URL, {"username": f"{role}-login", "password": "pass-1234"}, follow=True
    )

    # then
    assert response.status_code == 200
    assert response.wsgi_request.user.is_authenticated
    html = response.content.decode()
    assert "Mei Chen" in html
    assert {"agent": "Agent", "supervisor": "Supervisor", "admin": "Admin"}[role] in html
    for href in visible:
        assert f'href="{href}"' in html
    for href in hidden:
        assert f'href="{href}"' not in html
    assert 'action="/accounts/logout/"' in html
    assert 'action="/i18n/setlang/"' in html
    assert 'hx-headers=\'{"X-CSRFToken": "' in html
    assert "/static/vendor/htmx/htmx.min.js" in html


def test_login_page_renders_and_rejects_a_wrong_password(client: Client) -> None:
    UserFactory(username="someone", role=Role.AGENT)

    page = client.get(LOGIN_URL)
    refused = client.post(LOGIN_URL, {"username": "someone", "password": "wrong"})

    assert page.status_code == 200
    assert 'name="username"' in page.content.decode()
    assert refused.status_code == 200
    assert not refused.wsgi_request.user.is_authenticated
    assert "flash-error" in refused.content.decode()


def test_logout_is_a_post_and_ends_the_session(client_as: Callable, agent_user: object) -> None:
    client = client_as(agent_user)

    response = client.post(reverse("logout"))

    assert response.status_code == 302
    assert client.get(SEARCH_URL).status_code == 302


PAGES = ["home", "customer-search", "customer-detail", "customer-timeline"]


def page_url(name: str, customer: Customer) -> str:
    if name in ("customer-detail", "customer-timeline"):
        return reverse(name, args=[customer.pk])
    return reverse(name)


@pytest.mark.parametrize("name", PAGES)
def test_anonymous_is_redirected_to_login(client: Client, name: str) -> None:
    url = page_url(name, CustomerFactory())

    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"].startswith(f"{LOGIN_URL}?next=")


@pytest.mark.parametrize("name", PAGES)
def test_user_without_a_role_gets_403(client_as: Callable, name: str) -> None:
    url = page_url(name, CustomerFactory())

    response = client_as(UserFactory(username="nobody")).get(url)

    assert response.status_code == 403


def test_home_offers_the_quick_search(client_as: Callable, agent_user: object) -> None:
    html = client_as(agent_user).get(reverse("home")).content.decode()

    assert f'action="{SEARCH_URL}"' in html
    assert 'name="q"' in html


# ---------------------------------------------------------------- search


def test_search_finds_a_customer_by_part_of_the_name(
    client_as: Callable, agent_user: object
) -> None:
    CustomerFactory(name="张伟强")
    CustomerFactory(name="刘芳")

    html = client_as(agent_user).get(SEARCH_URL, {"q": "伟强"}).content.decode()

    assert "张伟强" in html
    assert "刘芳" not in html


@pytest.mark.parametrize("query", ["13800138000", "+86 138 0013 8000", "0086-138-0013-8000"])
def test_search_by_phone_in_any_format_opens_the_only_match(
    client_as: Callable, agent_user: object, phone_customer: Customer, query: str
) -> None:
    client = client_as(agent_user)

    response = client.get(SEARCH_URL, {"q": query})
    fragment = client.get(SEARCH_URL, {"q": query}, **HTMX)

    assert response.status_code == 302
    assert response["Location"] == detail_url(phone_customer)
    # live search never jumps away while typing: it lists the match
    assert fragment.status_code == 200
    assert "李娜" in fragment.content.decode()


@pytest.mark.parametrize("query", ["EXT-778", "li.na@example.com"])
def test_search_by_external_id_or_email(
    client_as: Callable, agent_user: object, phone_customer: Customer, query: str
) -> None:
    CustomerFactory(name="王芳")

    html = client_as(agent_user).get(SEARCH_URL, {"q": query}).content.decode()

    assert "李娜" in html
    assert "王芳" not in html
    assert detail_url(phone_customer) in html


def test_agents_see_masked_phones_supervisors_full(
    client_as: Callable, agent_user: object, supervisor_user: object, phone_customer: Customer
) -> None:
    as_agent = client_as(agent_user).get(SEARCH_URL, {"q": "李娜"}).content.decode()
    agent_card = client_as(agent_user).get(detail_url(phone_customer)).content.decode()
    as_supervisor = client_as(supervisor_user).get(SEARCH_URL, {"q": "李娜"}).content.decode()
    supervisor_card = client_as(supervisor_user).get(detail_url(phone_customer)).content.decode()

    for html in (as_agent, agent_card):
        assert "+8613*****8000" in html
        assert "138 0013 8000" not in html
        assert "13800138000" not in html
    for html in (as_supervisor, supervisor_card):
        assert "+86 138 0013 8000" in html
        assert "*****" not in html


def test_search_results_are_paginated(client_as: Callable, agent_user: object) -> None:
    for index in range(30):
        CustomerFactory(name=f"Paging Person {index:02d}")
    client = client_as(agent_user)

    first = client.get(SEARCH_URL, {"q": "Paging Person"}).content.decode()
    second = client.get(SEARCH_URL, {"q": "Paging Person", "page": 2}).content.decode()

    assert "30 customers found" in first
    assert first.count("Paging Person ") == 25
    assert second.count("Paging Person ") == 5
    assert "Page 2 of 2" in second
    assert "Paging Person 29" in second


def test_search_ignores_merged_customers(client_as: Callable, agent_user: object) -> None:
    survivor = CustomerFactory(name="Merge Survivor")
    CustomerFactory(name="Merge Absorbed", status=CustomerStatus.MERGED, merged_into=survivor)

    html = client_as(agent_user).get(SEARCH_URL, {"q": "Merge"}).content.decode()

    assert "Merge Survivor" in html
    assert "Merge Absorbed" not in html


def test_htmx_search_returns_only_the_fragment(client_as: Callable, agent_user: object) -> None:
    CustomerFactory(name="Fragment Fan")
    client = client_as(agent_user)

    fragment = client.get(SEARCH_URL, {"q": "Fragment"}, **HTMX)
    page = client.get(SEARCH_URL, {"q": "Fragment"})
    restore = client.get(
        SEARCH_URL, {"q": "Fragment"}, HTTP_HX_HISTORY_RESTORE_REQUEST="true", **HTMX
    )

    html = fragment.content.decode()
    assert "Fragment Fan" in html
    assert "<html" not in html
    assert "sidebar" not in html
    assert 'name="q"' not in html
    assert "HX-Request" in fragment["Vary"]
    assert "<html" in page.content.decode()
    assert "Fragment Fan" in page.content.decode()
    assert "<html" in restore.content.decode()


def test_search_page_has_live_search_wiring(client_as: Callable, agent_user: object) -> None:
    html = client_as(agent_user).get(SEARCH_URL).content.decode()

    assert f'hx-get="{SEARCH_URL}"' in html
    assert 'hx-trigger="input changed delay:300ms, search"' in html
    assert 'hx-target="#search-results"' in html


# ---------------------------------------------------------------- customer page


def test_customer_page_shows_profile_contacts_consent_and_timeline(
    client_as: Callable, supervisor_user: object, rich_customer: Customer
) -> None:
    response = client_as(supervisor_user).get(detail_url(rich_customer))

    assert response.status_code == 200
    html = response.content.decode()
    # profile
    for text in (
        "王建国",
        "杭州云帆科技有限公司",
        "Logistics",
        "350",
        "浙江",
        "Asia/Shanghai",
        "English",
        "B-1001",
        "Advisor Li",
        "contract_tier",
        "platinum",
        "seats",
    ):
        assert text in html, text
    # contact points, with primary/active flags
    for text in (
        "+86 138 0013 8000",
        "+86 21 6234 5678",
        "+86 139 0000 1111",
        "wang@yunfan.example.com",
        "wang_jianguo",
        "ERP-55",
        "erp",
        "Primary",
        "Inactive",
    ):
        assert text in html, text
    # consent: the flag, when/how it changed, and the history entry
    assert "Opted out" in html
    assert "Last changed" in html
    assert "Asked on the phone to stop texts" in html
    assert "agent1" in html.split("Consent history")[1]
    # timeline of every kind, newest first, with a sentiment badge on the call
    timeline = html[html.index('id="timeline"') :]
    positions = [
        timeline.index(text)
        for text in ("Slow refunds", "Pallets arrived damaged", "terrible service", "ORD-OLD")
    ]
    assert positions == sorted(positions)
    assert "1,288.50 CNY" in html
    assert "badge-red" in html
    assert "Negative" in html
    assert "5:05" in html


def test_customer_page_query_count_does_not_grow_with_history(
    client_as: Callable,
    agent_user: object,
    rich_customer: Customer,
    django_assert_num_queries: Callable,
) -> None:
    client = client_as(agent_user)
    client.get(detail_url(rich_customer))  # warm up the session

    with django_assert_num_queries(CUSTOMER_PAGE_QUERIES):
        small = client.get(detail_url(rich_customer))

    advisor = UserFactory(username="advisor2")
    OrderFactory.create_batch(40, customer=rich_customer)
    InteractionFactory.create_batch(40, customer=rich_customer, agent=advisor)
    TicketFactory.create_batch(15, customer=rich_customer, assignee=advisor)
    SurveyFactory.create_batch(15, customer=rich_customer)
    for index in range(5):
        contact_point_add(
            customer=rich_customer, kind=ContactKind.EMAIL, value=f"more{index}@example.com"
        )
    for flag in (True, False, True):
        customer_consent_set(
            customer=rich_customer,
            channel=ConsentChannel.CALL,
            opted_out=flag,
            source=ConsentSource.ADMIN,
            changed_by=advisor,
        )

    with django_assert_num_queries(CUSTOMER_PAGE_QUERIES):
        large = client.get(detail_url(rich_customer))

    assert small.status_code == large.status_code == 200
    assert large.content.decode().count('class="tl-item') == 50


def test_timeline_loads_older_items_page_by_page(client_as: Callable, agent_user: object) -> None:
    # given 60 orders and 5 interactions
    customer = CustomerFactory()
    now = timezone.now()
    for index in range(60):
        OrderFactory(
            customer=customer,
            external_id=f"T-{index:03d}",
            placed_at=now - dt.timedelta(hours=index),
        )
    InteractionFactory.create_batch(5, customer=customer, occurred_at=now - dt.timedelta(days=30))
    client = client_as(agent_user)

    # when
    first = client.get(detail_url(customer)).content.decode()
    more_url = reverse("customer-timeline", args=[customer.pk])
    cursor = first.split(f'hx-get="{more_url}?before=')[1].split('"')[0]
    rest = client.get(more_url, {"before": cursor}, **HTMX).content.decode()

    # then the first page holds the 50 newest, the second the remaining 10 orders and 5 calls
    assert first.count('class="tl-item') == 50
    assert "T-000" in first
    assert "T-049" in first
    assert "T-050" not in first
    assert rest.count('class="tl-item') == 15
    assert "T-050" in rest
    assert "T-059" in rest
    assert "T-049" not in rest
    assert "<html" not in rest
    assert "Load older activity" not in rest
    # the no-JavaScript link opens the customer page at the same place
    no_js = client.get(detail_url(customer), {"before": cursor}).content.decode()
    assert no_js.count('class="tl-item') == 15


def test_timeline_pages_cover_same_moment_items_exactly_once() -> None:
    customer = CustomerFactory()
    moment = timezone.now().replace(microsecond=0)
    OrderFactory.create_batch(3, customer=customer, placed_at=moment)
    InteractionFactory.create_batch(3, customer=customer, occurred_at=moment)
    TicketFactory.create_batch(2, customer=customer, opened_at=moment)
    SurveyFactory.create_batch(2, customer=customer, responded_at=moment)

    seen: list[tuple[str, int]] = []
    cursor = None
    while True:
        page = customer_timeline(customer.pk, limit=3, before=cursor)
        seen.extend((item.kind, item.obj.pk) for item in page.items)
        if page.next_cursor is None:
            break
        cursor = TimelineCursor.decode(page.next_cursor.encode())

    assert len(seen) == 10
    assert len(set(seen)) == 10


def test_bad_timeline_cursor_is_a_400(client_as: Callable, agent_user: object) -> None:
    customer = CustomerFactory()
    client = client_as(agent_user)

    for bad in ("nonsense", "999999999999999999.order.1", "1.order.9999999999999999999"):
        assert client.get(detail_url(customer), {"before": bad}).status_code == 400
    assert (
        client.get(
            reverse("customer-timeline", args=[customer.pk]), {"before": "1.hack.2"}
        ).status_code
        == 400
    )


def test_unknown_customer_is_a_404(client_as: Callable, agent_user: object) -> None:
    client = client_as(agent_user)

    assert client.get(reverse("customer-detail", args=[987654321])).status_code == 404
    assert client.get(reverse("customer-timeline", args=[987654321])).status_code == 404


def test_merged_customer_page_redirects_to_the_survivor_with_a_message(
    client_as: Callable, agent_user: object
) -> None:
    survivor = CustomerFactory(name="Survivor Sun")
    merged = CustomerFactory(
        name="Absorbed Ang", status=CustomerStatus.MERGED, merged_into=survivor
    )

    response = client_as(agent_user).get(detail_url(merged), follow=True)

    assert response.redirect_chain == [(detail_url(survivor), 302)]
    html = response.content.decode()
    assert "Survivor Sun" in html
    assert "Absorbed Ang" in html
    assert "was merged into this customer" in html


def test_script_like_text_is_escaped(client_as: Callable, supervisor_user: object) -> None:
    evil = "<script>alert(1)</script>"
    customer = CustomerFactory(name=evil, city=evil, attributes={evil: evil})
    InteractionFactory(customer=customer, notes=evil, reason=evil)
    TicketFactory(customer=customer, subject=evil)
    client = client_as(supervisor_user)

    pages = [
        client.get(SEARCH_URL, {"q": "alert(1)"}).content.decode(),
        client.get(SEARCH_URL, {"q": "alert(1)"}, **HTMX).content.decode(),
        client.get(detail_url(customer)).content.decode(),
    ]

    for html in pages:
        assert evil not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_search_page_query_count_is_fixed(
    client_as: Callable, agent_user: object, django_assert_num_queries: Callable
) -> None:
    # given 30 matching customers, each with two phones
    for index in range(30):
        customer = CustomerFactory(name=f"Counted {index:02d}")
        contact_point_add(customer=customer, kind=ContactKind.PHONE, value=f"1390000{index:04d}")
        contact_point_add(customer=customer, kind=ContactKind.PHONE, value=f"1370000{index:04d}")
    client = client_as(agent_user)
    client.get(SEARCH_URL)

    # session, user, role groups, savepoint, count, one page of rows with phones, the agent's
    # read audited, release
    with django_assert_num_queries(8):
        response = client.get(SEARCH_URL, {"q": "Counted"})

    assert response.content.decode().count("+8613*****") == 25


@pytest.mark.parametrize("role", [Role.AGENT, Role.SUPERVISOR, Role.ADMIN])
def test_every_nav_link_is_listed_once(client: Client, role: str) -> None:
    # Each app adds its links through its own nav partial; one included twice doubles them.
    client.force_login(UserFactory(role=role))

    page = client.get(reverse("customer-search")).content.decode()

    links = re.findall(r'<a class="nav-link[^"]*" href="([^"]+)"', page)
    assert links
    assert len(links) == len(set(links)), sorted(link for link in links if links.count(link) > 1)

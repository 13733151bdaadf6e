"""The Django admin: every model's pages load in bounded queries; decisions go through services."""

import datetime as dt
import re
from collections.abc import Callable

import pytest
from django.contrib import admin
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from callcenter.admin import describe_moved
from callcenter.choices import (
    ConsentChannel,
    ConsentSource,
    CustomerStatus,
    ImportKind,
    ImportStatus,
    MergeProposalStatus,
)
from callcenter.models import (
    AuditLog,
    CalendarDay,
    ConsentChange,
    ContactPoint,
    Customer,
    CustomerMerge,
    ImportRun,
    Interaction,
    MergeProposal,
    Order,
    SurveyResponse,
    Ticket,
)
from callcenter.services.identity import customer_merge
from tests.callcenter.factories import (
    CustomerFactory,
    EmailFactory,
    InteractionFactory,
    OrderFactory,
    PhoneFactory,
    SurveyFactory,
    TicketFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

CALLCENTER_MODELS = (
    Customer,
    ContactPoint,
    ConsentChange,
    Order,
    Interaction,
    Ticket,
    SurveyResponse,
    MergeProposal,
    CustomerMerge,
    AuditLog,
    ImportRun,
    CalendarDay,
)


@pytest.fixture
def superuser() -> object:
    return UserFactory(username="root", is_staff=True, is_superuser=True)


@pytest.fixture
def admin_client_(superuser: object) -> Client:
    client = Client()
    client.force_login(superuser)
    return client


def make_rows(count: int, actor: object) -> None:
    """`count` rows of every callcenter model, each with its related rows."""
    for index in range(count):
        CalendarDay.objects.create(
            day=dt.date(2026, 3, 1) + dt.timedelta(days=CalendarDay.objects.count()),
            kind="holiday",
            name="Company day",
            source="admin",
            reason="Anniversary",
            created_by=actor,
        )
        customer = CustomerFactory(advisor=actor)
        other = CustomerFactory()
        PhoneFactory(customer=customer)
        EmailFactory(customer=customer)
        OrderFactory(customer=customer)
        InteractionFactory(customer=customer, agent=actor)
        ticket = TicketFactory(customer=customer, assignee=actor)
        SurveyFactory(customer=customer, ticket=ticket)
        ConsentChange.objects.create(
            customer=customer,
            channel=ConsentChannel.SMS,
            opted_out=True,
            source=ConsentSource.AGENT,
            changed_by=actor,
            changed_at=timezone.now(),
        )
        proposal = MergeProposal.objects.create(
            customer_a_id=min(customer.pk, other.pk),
            customer_b_id=max(customer.pk, other.pk),
            score=0.5,
            reasons=[{"kind": "email", "value": f"x{index}@example.com"}],
        )
        gone = CustomerFactory()
        customer_merge(survivor=other, merged=gone, merged_by=actor)
        MergeProposal.objects.filter(pk=proposal.pk).update(decided_by=actor)
        ImportRun.objects.create(
            kind=ImportKind.ORDERS,
            file_name=f"orders-{index}.csv",
            status=ImportStatus.SUCCEEDED,
            started_by=actor,
        )


def changelist_queries(client: Client, model: type) -> int:
    url = reverse(f"admin:callcenter_{model._meta.model_name}_changelist")
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, model
    return len(queries)


def test_every_callcenter_model_is_registered() -> None:
    for model in CALLCENTER_MODELS:
        assert admin.site.is_registered(model), model


def test_changelists_load_in_queries_that_do_not_grow_with_rows(
    admin_client_: Client, superuser: object
) -> None:
    # given (a first pass fills the cached city filter)
    make_rows(2, superuser)
    for model in CALLCENTER_MODELS:
        changelist_queries(admin_client_, model)
    few = {model: changelist_queries(admin_client_, model) for model in CALLCENTER_MODELS}
    # when
    make_rows(6, superuser)
    many = {model: changelist_queries(admin_client_, model) for model in CALLCENTER_MODELS}
    # then
    assert many == few
    assert max(many.values()) <= 12


def test_changelists_show_their_rows(admin_client_: Client, superuser: object) -> None:
    make_rows(1, superuser)
    for model in CALLCENTER_MODELS:
        url = reverse(f"admin:callcenter_{model._meta.model_name}_changelist")
        response = admin_client_.get(url)
        assert response.context["cl"].result_count >= 1, model


def test_change_pages_load(admin_client_: Client, superuser: object) -> None:
    make_rows(1, superuser)
    for model in CALLCENTER_MODELS:
        obj = model.objects.first()
        url = reverse(f"admin:callcenter_{model._meta.model_name}_change", args=[obj.pk])
        assert admin_client_.get(url).status_code == 200, model


def test_customer_page_shows_recent_orders_read_only(
    admin_client_: Client, django_assert_max_num_queries: Callable
) -> None:
    customer = CustomerFactory()
    PhoneFactory(customer=customer, value="+8613800138000")
    for day in range(15):
        OrderFactory(
            customer=customer,
            external_id=f"ORD-{day:02d}",
            placed_at=timezone.now() - dt.timedelta(days=day),
        )
    url = reverse("admin:callcenter_customer_change", args=[customer.pk])

    with django_assert_max_num_queries(30):
        response = admin_client_.get(url)

    content = response.content.decode()
    assert "ORD-00" in content
    assert "ORD-09" in content
    assert "ORD-10" not in content
    assert "+8613800138000" in content
    orders = next(f for f in response.context["inline_admin_formsets"] if f.opts.model is Order)
    assert not orders.has_add_permission
    assert not orders.has_change_permission


def test_customer_search_finds_a_phone_in_any_format(admin_client_: Client) -> None:
    wanted = CustomerFactory(name="赵敏")
    CustomerFactory(name="钱多")
    PhoneFactory(customer=wanted, value="+8613800138000")
    url = reverse("admin:callcenter_customer_changelist")

    for query in ("138 0013 8000", "+86-138-0013-8000", "赵", wanted.external_id):
        response = admin_client_.get(url, {"q": query})
        assert [c.pk for c in response.context["cl"].result_list] == [wanted.pk], query
    # LIKE wildcards in the query are matched literally
    assert admin_client_.get(url, {"q": "%"}).context["cl"].result_count == 0


@pytest.mark.parametrize(
    ("model", "factory"),
    [(Order, OrderFactory), (Ticket, TicketFactory)],
    ids=["order", "ticket"],
)
def test_history_is_searched_by_exact_external_ids_an_index_serves(
    admin_client_: Client, model: type, factory: Callable
) -> None:
    # `=field` searches were iexact: UPPER() on both sides, which no index serves, so one
    # search read every order. External ids are exact (unique as written), so the search is.
    owner = CustomerFactory(external_id="CUS-Exact-1")
    wanted = factory(customer=owner, external_id="EXT-Case-7")
    factory(customer=CustomerFactory(), external_id="EXT-Case-8")
    url = reverse(f"admin:callcenter_{model._meta.model_name}_changelist")

    with CaptureQueriesContext(connection) as queries:
        by_id = admin_client_.get(url, {"q": "EXT-Case-7"})
    # read before the next request, whose start clears the connection's query log
    searched = [q["sql"] for q in queries.captured_queries if "EXT-Case-7" in q["sql"]]
    by_owner = admin_client_.get(url, {"q": "CUS-Exact-1"})
    other_case = admin_client_.get(url, {"q": "ext-case-7"})

    assert [row.pk for row in by_id.context["cl"].result_list] == [wanted.pk]
    assert [row.pk for row in by_owner.context["cl"].result_list] == [wanted.pk]
    assert other_case.context["cl"].result_count == 0
    assert searched
    # the ids compared as they are (a ticket's subject is still searched case-insensitively)
    assert not any(re.search(r'UPPER\("\w+"\."external_id"', sql) for sql in searched)
    assert any(re.search(r'"\w+"\."external_id" = ', sql) for sql in searched)


def test_consent_flags_cannot_be_edited_in_the_change_form(admin_client_: Client) -> None:
    customer = CustomerFactory(name="孙丽", city="上海")
    url = reverse("admin:callcenter_customer_change", args=[customer.pk])
    data = {
        "name": "孙丽丽",
        "kind": "person",
        "external_id": customer.external_id,
        "city": "上海",
        "timezone": "Asia/Shanghai",
        "language": "zh-hans",
        "attributes": "{}",
        "sms_opt_out": "on",
        "do_not_contact": "on",
        "contact_points-TOTAL_FORMS": "0",
        "contact_points-INITIAL_FORMS": "0",
        "orders-TOTAL_FORMS": "0",
        "orders-INITIAL_FORMS": "0",
        "tickets-TOTAL_FORMS": "0",
        "tickets-INITIAL_FORMS": "0",
        "interactions-TOTAL_FORMS": "0",
        "interactions-INITIAL_FORMS": "0",
    }

    response = admin_client_.post(url, data)

    assert response.status_code == 302, response.content.decode()[:2000]
    customer.refresh_from_db()
    assert customer.name == "孙丽丽"
    assert customer.sms_opt_out is False
    assert customer.do_not_contact is False
    assert AuditLog.objects.filter(action="customer.update", object_id=str(customer.pk)).exists()


def test_consent_action_opts_out_and_records_it(admin_client_: Client, superuser: object) -> None:
    customers = CustomerFactory.create_batch(2)
    url = reverse("admin:callcenter_customer_changelist")

    response = admin_client_.post(
        url,
        {"action": "opt_out_sms", "_selected_action": [c.pk for c in customers]},
        follow=True,
    )

    assert response.status_code == 200
    for customer in customers:
        customer.refresh_from_db()
        assert customer.sms_opt_out is True
        change = ConsentChange.objects.get(customer=customer)
        assert (change.source, change.changed_by_id) == (ConsentSource.ADMIN, superuser.pk)
    assert "2 customers opted out" in response.content.decode()


def test_adding_a_customer_goes_through_the_service(admin_client_: Client) -> None:
    url = reverse("admin:callcenter_customer_add")
    data = {
        "name": "周杰",
        "kind": "person",
        "external_id": "ADM-1",
        "timezone": "Asia/Shanghai",
        "language": "zh-hans",
        "attributes": "{}",
        "contact_points-TOTAL_FORMS": "1",
        "contact_points-INITIAL_FORMS": "0",
        "contact_points-0-kind": "phone",
        "contact_points-0-value": "138 0013 8000",
        "contact_points-0-is_primary": "on",
        "contact_points-0-is_active": "on",
        "orders-TOTAL_FORMS": "0",
        "orders-INITIAL_FORMS": "0",
        "tickets-TOTAL_FORMS": "0",
        "tickets-INITIAL_FORMS": "0",
        "interactions-TOTAL_FORMS": "0",
        "interactions-INITIAL_FORMS": "0",
    }

    response = admin_client_.post(url, data)

    assert response.status_code == 302, response.content.decode()[:3000]
    customer = Customer.objects.get(external_id="ADM-1")
    point = customer.contact_points.get()
    assert (point.value, point.raw_value) == ("+8613800138000", "138 0013 8000")
    assert AuditLog.objects.filter(action="customer.create", object_id=str(customer.pk)).exists()


def test_a_future_birthday_is_a_form_error(admin_client_: Client) -> None:
    url = reverse("admin:callcenter_customer_add")
    data = {
        "name": "吴磊",
        "kind": "person",
        "birthday": (timezone.localdate() + dt.timedelta(days=3)).isoformat(),
        "timezone": "Asia/Shanghai",
        "language": "zh-hans",
        "attributes": "{}",
        "contact_points-TOTAL_FORMS": "0",
        "contact_points-INITIAL_FORMS": "0",
    }

    response = admin_client_.post(url, data)

    assert response.status_code == 200
    assert "birthday is in the future" in response.content.decode()
    assert not Customer.objects.filter(name="吴磊").exists()


def test_a_merged_customer_is_read_only(admin_client_: Client, superuser: object) -> None:
    survivor, merged = CustomerFactory(), CustomerFactory()
    customer_merge(survivor=survivor, merged=merged, merged_by=superuser)
    url = reverse("admin:callcenter_customer_change", args=[merged.pk])

    response = admin_client_.get(url)

    assert response.status_code == 200
    assert not response.context["has_change_permission"]


def test_merge_action_asks_for_confirmation_then_merges(
    admin_client_: Client, superuser: object
) -> None:
    # given
    keep = CustomerFactory(name="郑爽")
    fold = CustomerFactory(name="郑 爽")
    OrderFactory.create_batch(2, customer=fold)
    low, high = sorted((keep, fold), key=lambda c: c.pk)
    proposal = MergeProposal.objects.create(
        customer_a=low, customer_b=high, score=0.9, reasons=[{"kind": "email", "value": "z"}]
    )
    action = "merge_keep_a" if keep is low else "merge_keep_b"
    url = reverse("admin:callcenter_mergeproposal_changelist")
    # when: the action is chosen
    confirm = admin_client_.post(url, {"action": action, "_selected_action": [proposal.pk]})
    # then: nothing merged yet, the page says what will happen
    assert confirm.status_code == 200
    page = confirm.content.decode()
    assert f"Keep #{keep.pk}" in page
    assert 'name="post" value="yes"' in page
    fold.refresh_from_db()
    assert fold.status == CustomerStatus.ACTIVE
    # when: confirmed
    done = admin_client_.post(
        url, {"action": action, "_selected_action": [proposal.pk], "post": "yes"}, follow=True
    )
    # then
    fold.refresh_from_db()
    proposal.refresh_from_db()
    assert fold.merged_into_id == keep.pk
    assert proposal.status == MergeProposalStatus.MERGED
    assert Order.objects.filter(customer=keep).count() == 2
    message = done.content.decode()
    assert f"Merged customer #{fold.pk}" in message
    assert "2 orders" in message
    assert CustomerMerge.objects.get().merged_by_id == superuser.pk


def test_dismiss_action(admin_client_: Client) -> None:
    a, b = CustomerFactory(), CustomerFactory()
    proposal = MergeProposal.objects.create(customer_a=a, customer_b=b, score=0.4, reasons=[])
    url = reverse("admin:callcenter_mergeproposal_changelist")

    admin_client_.post(url, {"action": "dismiss", "_selected_action": [proposal.pk]})

    proposal.refresh_from_db()
    assert proposal.status == MergeProposalStatus.DISMISSED
    assert AuditLog.objects.filter(action="merge_proposal.dismiss").count() == 1


def test_agents_cannot_decide_proposals(make_user: Callable) -> None:
    agent = make_user("agent", username="staff-agent", is_staff=True)
    client = Client()
    client.force_login(agent)
    a, b = CustomerFactory(), CustomerFactory()
    proposal = MergeProposal.objects.create(customer_a=a, customer_b=b, score=0.4, reasons=[])

    response = client.post(
        reverse("admin:callcenter_mergeproposal_changelist"),
        {"action": "merge_keep_a", "_selected_action": [proposal.pk], "post": "yes"},
    )

    assert response.status_code == 403
    proposal.refresh_from_db()
    assert proposal.status == MergeProposalStatus.OPEN


def test_records_are_read_only(admin_client_: Client, superuser: object) -> None:
    make_rows(1, superuser)
    for model in (
        ConsentChange,
        AuditLog,
        CustomerMerge,
        ImportRun,
        Order,
        Interaction,
        CalendarDay,
    ):
        model_admin = admin.site._registry[model]
        request = type("R", (), {"user": superuser})()
        assert not model_admin.has_add_permission(request), model
        assert not model_admin.has_change_permission(request), model


def test_describe_moved_names_tables_in_words() -> None:
    text = describe_moved(
        {
            "callcenter.order": 2,
            "callcenter.ticket": 0,
            "callcenter.customer.merged_into": 1,
            "callcenter.contactpoint:deactivated_duplicates": 1,
        }
    )
    assert text == "2 orders, 1 customers (merged_into), 1 contact points [deactivated duplicates]"

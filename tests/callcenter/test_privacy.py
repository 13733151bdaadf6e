"""Subject access and erasure: the command, the service and the admin actions."""

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Count, Sum
from django.test import Client

from callcenter.choices import ConsentChannel, ConsentSource, CustomerStatus, Role
from callcenter.models import AuditLog, ContactPoint, Customer, Interaction, Order, Ticket
from callcenter.selectors.customers import customer_search
from callcenter.selectors.screenpop import screenpop_owner
from callcenter.services.customers import customer_consent_set
from callcenter.services.privacy import (
    ERASED_NAME,
    customer_erase,
    customer_relations,
    erasure_decisions,
    relation_key,
)
from care.services.events import EventPoster, event_ingest
from outreach.choices import TaskStatus
from outreach.models import OutreachTask
from tests.callcenter.factories import (
    BusinessCustomerFactory,
    CustomerFactory,
    EmailFactory,
    InteractionFactory,
    OrderFactory,
    PhoneFactory,
    SurveyFactory,
    TicketFactory,
    UserFactory,
)
from tests.outreach.factories import TaskFactory
from tests.segments.factories import SegmentMembershipFactory

pytestmark = pytest.mark.django_db

PHONE = "+8613912345678"
EMAIL = "li.lei@example.com"


@pytest.fixture
def subject() -> Customer:
    """A customer with a bit of everything, and one merged into it."""
    customer = CustomerFactory(
        name="李雷",
        external_id="CRM-7",
        city="上海",
        region="浦东",
        birthday="1990-05-01",
        attributes={"vip_card": "VIP-0001"},
    )
    PhoneFactory(customer=customer, value=PHONE, raw_value="139 1234 5678")
    EmailFactory(customer=customer, value=EMAIL)
    OrderFactory(customer=customer, amount=Decimal("120.50"), external_id="SHOP-1")
    OrderFactory(customer=customer, amount=Decimal("79.50"), external_id="SHOP-2")
    InteractionFactory(customer=customer, notes="Lives at 5 Nanjing Road, prefers evenings")
    TicketFactory(customer=customer, subject="Refund for Li Lei", description="card 4111")
    SurveyFactory(customer=customer, comment="Call me on 13912345678")
    SegmentMembershipFactory(customer=customer)
    customer_consent_set(
        customer=customer,
        channel=ConsentChannel.SMS,
        opted_out=True,
        source=ConsentSource.AGENT,
        note="asked by phone",
    )
    event_ingest(
        poster=EventPoster.integration(),
        event_type="external",
        idempotency_key="privacy-1",
        customer_id=customer.pk,
        payload={"address": "5 Nanjing Road"},
    )
    TaskFactory(customer=customer, body="Hello Li Lei", to_address=PHONE)
    absorbed = CustomerFactory(name="Lei Li", external_id="CRM-8")
    PhoneFactory(customer=absorbed, value="+8613900000001", is_active=False)
    Customer.objects.filter(pk=absorbed.pk).update(
        status=CustomerStatus.MERGED, merged_into=customer
    )
    return customer


def test_every_relation_to_a_customer_has_an_erasure_decision() -> None:
    keys = {relation_key(field) for field in customer_relations()}

    assert keys - set(erasure_decisions()) == set(), "decide what erasure does to these rows"
    assert set(erasure_decisions()) - keys == set(), "decisions for relations that are gone"


def test_export_subject_writes_every_personal_datum_as_json_and_is_audited(
    subject: Customer, tmp_path: Path
) -> None:
    output = tmp_path / "subject.json"

    call_command("export_subject", "CRM-7", "--output", str(output))

    data = json.loads(output.read_text(encoding="utf-8"))
    assert data["customer"]["name"] == "李雷"
    assert data["customer"]["attributes"] == {"vip_card": "VIP-0001"}
    related = data["related"]
    assert {row["value"] for row in related["callcenter.contactpoint.customer"]} == {PHONE, EMAIL}
    assert sorted(row["amount"] for row in related["callcenter.order.customer"]) == [
        "120.50",
        "79.50",
    ]
    assert "Nanjing" in related["callcenter.interaction.customer"][0]["notes"]
    assert related["callcenter.ticket.customer"][0]["description"] == "card 4111"
    assert related["callcenter.surveyresponse.customer"][0]["comment"]
    assert related["callcenter.consentchange.customer"][0]["note"] == "asked by phone"
    assert len(related["segments.segmentmembership.customer"]) == 1
    assert {"address": "5 Nanjing Road"} in [
        row["payload"] for row in related["care.event.customer"]
    ]
    assert len(related["care.enrollment.customer"]) == 0
    assert related["outreach.outreachtask.customer"][0]["body"] == "Hello Li Lei"
    assert [row["name"] for row in related["callcenter.customer.merged_into"]] == ["Lei Li"]
    audit = AuditLog.objects.get(action="customer.subject_export")
    assert (audit.object_type, audit.object_id) == ("customer", str(subject.pk))
    assert audit.data["rows"]["callcenter.order.customer"] == 2


def test_export_subject_by_id_to_stdout_and_unknown_customer(
    subject: Customer, capsys: Any
) -> None:
    call_command("export_subject", str(subject.pk))
    assert json.loads(capsys.readouterr().out)["customer"]["external_id"] == "CRM-7"

    with pytest.raises(CommandError, match="No customer"):
        call_command("export_subject", "nobody")


def test_erasure_anonymizes_keeps_aggregates_and_is_idempotent(subject: Customer) -> None:
    figures_before = Order.objects.filter(customer=subject).aggregate(
        total=Sum("amount"), count=Count("pk")
    )
    absorbed = Customer.objects.get(merged_into=subject)

    call_command("erase_customer", "CRM-7", "--yes")

    subject.refresh_from_db()
    assert subject.name == ERASED_NAME
    assert (subject.external_id, subject.birthday, subject.city, subject.region) == (
        None,
        None,
        "",
        "",
    )
    assert subject.attributes == {}
    assert subject.do_not_contact is True
    absorbed.refresh_from_db()
    assert (absorbed.name, absorbed.external_id) == (ERASED_NAME, None)
    assert not ContactPoint.objects.filter(customer__in=[subject, absorbed]).exists()
    # no longer found by phone, email, name or external id
    assert screenpop_owner(phone=PHONE) is None
    for term in (PHONE, EMAIL, "李雷", "CRM-7"):
        assert subject not in customer_search(term)
    # free text gone, anonymous figures kept
    assert Interaction.objects.get(customer=subject).notes == ""
    ticket = Ticket.objects.get(customer=subject)
    assert (ticket.subject, ticket.description) == ("[erased]", "")
    assert subject.survey_responses.get().comment == ""
    assert subject.survey_responses.get().score == 9
    assert subject.consent_changes.get().note == ""
    assert all(payload == {} for payload in subject.care_events.values_list("payload", flat=True))
    task = OutreachTask.objects.get(customer=subject)
    assert (task.body, task.to_address, task.status) == ("", "", TaskStatus.CANCELLED)
    assert not Order.objects.filter(external_id__in=["SHOP-1", "SHOP-2"]).exists()
    figures_after = Order.objects.filter(customer=subject).aggregate(
        total=Sum("amount"), count=Count("pk")
    )
    assert figures_after == figures_before
    assert subject.segment_memberships.count() == 1
    # audited, and a second run changes nothing
    first = AuditLog.objects.get(action="customer.erase")
    assert first.data["changed"]["contact_points"] == 3
    assert sorted(first.data["customers"]) == sorted([subject.pk, absorbed.pk])
    again = customer_erase(customer=subject)
    assert again.changed == {}
    assert AuditLog.objects.filter(action="customer.erase").count() == 2


def test_erasing_a_business_keeps_its_check_constraint() -> None:
    business = BusinessCustomerFactory()

    customer_erase(customer=business)

    business.refresh_from_db()
    assert (business.name, business.company_name, business.industry) == (
        ERASED_NAME,
        "[erased]",
        "",
    )


@pytest.mark.parametrize("typed", ["y", "yes", "crm-7", ""])
def test_erase_customer_erases_nothing_unless_the_external_id_is_typed(
    subject: Customer, monkeypatch: Any, typed: str
) -> None:
    monkeypatch.setattr("builtins.input", lambda _question: typed)

    with pytest.raises(CommandError, match="Nothing erased"):
        call_command("erase_customer", str(subject.pk))

    subject.refresh_from_db()
    assert subject.name == "李雷"
    assert not AuditLog.objects.filter(action="customer.erase").exists()


def test_erase_customer_erases_once_the_external_id_is_typed(
    subject: Customer, monkeypatch: Any
) -> None:
    questions = []
    monkeypatch.setattr("builtins.input", lambda question: questions.append(question) or "CRM-7")

    call_command("erase_customer", str(subject.pk))

    subject.refresh_from_db()
    assert subject.name == ERASED_NAME
    assert "CRM-7" in questions[0]


@pytest.fixture
def admin_client() -> Client:
    client = Client()
    client.force_login(UserFactory(role=Role.ADMIN, username="privacy_admin", is_staff=True))
    return client


def test_admin_action_exports_the_subject_as_a_json_download(
    subject: Customer, admin_client: Client
) -> None:
    response = admin_client.post(
        "/admin/callcenter/customer/",
        {"action": "export_subject_data", "_selected_action": [subject.pk]},
    )

    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    data = json.loads(response.content)
    assert data["customer"]["id"] == subject.pk
    audit = AuditLog.objects.get(action="customer.subject_export")
    assert audit.data["via"] == "admin"
    assert audit.actor.username == "privacy_admin"


def test_admin_action_erases_after_the_external_id_is_typed(
    subject: Customer, admin_client: Client
) -> None:
    form = {"action": "erase_personal_data", "_selected_action": [subject.pk]}

    # the confirmation page asks to type the external id
    confirm = admin_client.post("/admin/callcenter/customer/", form)
    subject.refresh_from_db()
    assert confirm.status_code == 200
    assert b"cannot be undone" in confirm.content
    assert b'name="confirmation"' in confirm.content
    assert b"CRM-7" in confirm.content
    assert subject.name == "李雷"

    # a confirmation without the text, or with the wrong text, erases nothing
    for typed in ({}, {"confirmation": ""}, {"confirmation": "yes"}, {"confirmation": "crm-7"}):
        again = admin_client.post("/admin/callcenter/customer/", {**form, "post": "yes", **typed})
        assert again.status_code == 200
        subject.refresh_from_db()
        assert subject.name == "李雷"
    assert b"does not match; nothing was erased" in again.content
    assert not AuditLog.objects.filter(action="customer.erase").exists()

    done = admin_client.post(
        "/admin/callcenter/customer/", {**form, "post": "yes", "confirmation": " CRM-7 "}
    )

    assert done.status_code == 302
    subject.refresh_from_db()
    assert subject.name == ERASED_NAME
    assert AuditLog.objects.get(action="customer.erase").actor.username == "privacy_admin"


def test_erasing_several_customers_in_the_admin_asks_how_many(
    subject: Customer, admin_client: Client
) -> None:
    other = CustomerFactory(name="Han Meimei")
    form = {"action": "erase_personal_data", "_selected_action": [subject.pk, other.pk]}

    wrong = admin_client.post("/admin/callcenter/customer/", {**form, "post": "yes"})
    done = admin_client.post(
        "/admin/callcenter/customer/", {**form, "post": "yes", "confirmation": "2"}
    )

    assert wrong.status_code == 200
    assert done.status_code == 302
    assert set(
        Customer.objects.filter(pk__in=[subject.pk, other.pk]).values_list("name", flat=True)
    ) == {ERASED_NAME}


def test_supervisors_can_neither_export_nor_erase_in_the_admin(subject: Customer) -> None:
    # given a supervisor who may use the admin and change customers
    client = Client()
    client.force_login(
        UserFactory(role=Role.SUPERVISOR, username="privacy_supervisor", is_staff=True)
    )
    changelist = client.get("/admin/callcenter/customer/")
    assert changelist.status_code == 200
    assert b"opt_out_sms" in changelist.content

    # when they post the actions anyway, confirmation included
    selected = {"_selected_action": [subject.pk]}
    export = client.post(
        "/admin/callcenter/customer/", {"action": "export_subject_data", **selected}
    )
    erase = client.post(
        "/admin/callcenter/customer/",
        {"action": "erase_personal_data", "post": "yes", "confirmation": "CRM-7", **selected},
    )

    # then the actions are not offered and nothing is exported or erased
    assert b"erase_personal_data" not in changelist.content
    assert b"export_subject_data" not in changelist.content
    assert (export.status_code, erase.status_code) == (302, 302)
    assert "attachment" not in export.get("Content-Disposition", "")
    subject.refresh_from_db()
    assert subject.name == "李雷"
    assert not AuditLog.objects.filter(
        action__in=["customer.erase", "customer.subject_export"]
    ).exists()

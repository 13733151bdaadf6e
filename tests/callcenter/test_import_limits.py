"""Caps: custom attributes per customer (import and API), attribute names and values, free text
(ticket descriptions, notes, comments) and the size of an uploaded file (page, API, command).
Whatever is refused is refused with a clear error and changes nothing."""

import io
from collections.abc import Callable
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from rest_framework.test import APIClient

from callcenter.choices import ImportStatus, Role
from callcenter.errors import ApplicationError
from callcenter.limits import FREE_TEXT_MAX_LENGTH
from callcenter.models import Customer, ImportRun, Interaction, Order, SurveyResponse, Ticket
from callcenter.services.imports import csv_import, import_upload
from callcenter.services.imports.customers import CUSTOMERS
from tests.callcenter.factories import CustomerFactory

pytestmark = pytest.mark.django_db

ORDER_HEADER = "external_id,customer_external_id,placed_at,amount,currency,category,channel,status"


def _import(kind: str, text: str) -> ImportRun:
    return csv_import(kind=kind, file=io.BytesIO(text.encode("utf-8")), file_name=f"{kind}.csv")


@pytest.fixture
def c1() -> Customer:
    return CustomerFactory(external_id="C1", name="王芳")


@pytest.fixture
def three_attributes(settings: object) -> None:
    settings.CUSTOMER_ATTRIBUTES_MAX_KEYS = 3
    settings.CUSTOMER_ATTRIBUTE_KEY_MAX_LENGTH = 12
    settings.CUSTOMER_ATTRIBUTE_VALUE_MAX_LENGTH = 10


# ------------------------------------------------------------------------ custom attributes


def test_a_file_of_twenty_thousand_columns_is_refused_at_its_header() -> None:
    # Before, every customer got 20,000 attributes and a page of 50 customers weighed 12.5 MB.
    header = "external_id,name," + ",".join(f"a{n}" for n in range(20_000))
    row = "C1,Alice," + ",".join("x" for _ in range(20_000))

    run = _import("customers", f"{header}\n{row}\n")

    most = len(CUSTOMERS.columns) + settings.CUSTOMER_ATTRIBUTES_MAX_KEYS
    assert run.errors == [
        f"line 1: the header has 20002 columns; a customers file may have at most {most}"
    ]
    assert not Customer.objects.exists()


def test_more_attribute_columns_than_allowed_are_refused(three_attributes: None) -> None:
    run = _import("customers", "external_id,name,a,b,c,d\nC1,Alice,1,2,3,4\n")

    assert run.errors == ["line 1: 4 custom attributes; a customer may have at most 3"]
    assert not Customer.objects.exists()


def test_long_attribute_names_and_values_are_bad_lines(three_attributes: None) -> None:
    header = _import("customers", "external_id,name,a_very_long_name\nC1,Alice,1\n")
    values = _import("customers", "external_id,name,level\nC1,Alice,gold\nC2,Bob,platinum+++\n")

    assert header.errors == [
        'line 1: attribute name "a_very_long_name…" is longer than 12 characters'
    ]
    assert values.errors == ["line 3: level: longer than 10 characters"]
    assert not Customer.objects.exists()


def test_attributes_added_to_stored_ones_may_not_exceed_the_cap(three_attributes: None) -> None:
    CustomerFactory(external_id="C1", attributes={"a": "1", "b": "2"})
    CustomerFactory(external_id="C2", attributes={"a": "1", "b": "2"})

    run = _import("customers", "external_id,b,c,d\nC1,3,4,5\nC2,,,5\n")

    assert run.errors == ["line 2: attributes: 4 custom attributes; a customer may have at most 3"]
    assert Customer.objects.get(external_id="C2").attributes == {"a": "1", "b": "2"}

    accepted = _import("customers", "external_id,b,c\nC1,3,4\n")

    assert accepted.status == ImportStatus.SUCCEEDED, accepted.errors
    assert Customer.objects.get(external_id="C1").attributes == {"a": "1", "b": "3", "c": "4"}


@pytest.fixture
def agent_api(make_user: Callable[..., object]) -> APIClient:
    client = APIClient()
    client.force_authenticate(make_user(Role.AGENT, username="agent_api"))
    return client


@pytest.mark.parametrize(
    ("attributes", "message"),
    [
        ({"a": 1, "b": 2, "c": 3, "d": 4}, "4 custom attributes; a customer may have at most 3"),
        ({"a_very_long_name": 1}, 'attribute name "a_very_long_name…" is longer than 12'),
        ({"level": "platinum+++"}, 'the value of attribute "level" is longer than 10'),
        ({"level": {"nested": "object"}}, 'the value of attribute "level" is longer than 10'),
    ],
)
def test_the_api_refuses_attributes_beyond_the_caps(
    agent_api: APIClient, three_attributes: None, attributes: dict, message: str
) -> None:
    customer = CustomerFactory(name="Old", attributes={"vip": True})

    created = agent_api.post(
        reverse("api-customer-list"), {"name": "New", "attributes": attributes}, format="json"
    )
    patched = agent_api.patch(
        reverse("api-customer-detail", args=[customer.pk]),
        {"attributes": attributes},
        format="json",
    )

    assert (created.status_code, patched.status_code) == (400, 400)
    assert message in created.json()["detail"]
    assert message in patched.json()["detail"]
    assert list(Customer.objects.values_list("name", flat=True)) == ["Old"]
    customer.refresh_from_db()
    assert customer.attributes == {"vip": True}


def test_the_api_accepts_attributes_within_the_caps(
    agent_api: APIClient, three_attributes: None
) -> None:
    customer = CustomerFactory()

    response = agent_api.patch(
        reverse("api-customer-detail", args=[customer.pk]),
        {"attributes": {"a": 1, "b": "short", "c": True}},
        format="json",
    )

    assert response.status_code == 200, response.content
    customer.refresh_from_db()
    assert customer.attributes == {"a": 1, "b": "short", "c": True}


# -------------------------------------------------------------------------------- free text

LONG = "长" * (FREE_TEXT_MAX_LENGTH + 1)


@pytest.mark.parametrize(
    ("kind", "text", "model"),
    [
        (
            "tickets",
            f"external_id,customer_external_id,kind,subject,description,opened_at\n"
            f"T1,C1,complaint,Late,{LONG},2024-05-01\n",
            Ticket,
        ),
        (
            "interactions",
            f"external_id,customer_external_id,channel,occurred_at,notes\n"
            f"I1,C1,call,2024-05-01,{LONG}\n",
            Interaction,
        ),
        (
            "surveys",
            f"external_id,customer_external_id,kind,score,comment,responded_at\n"
            f"S1,C1,nps,9,{LONG},2024-05-01\n",
            SurveyResponse,
        ),
    ],
)
def test_free_text_longer_than_the_cap_is_a_bad_line(
    c1: Customer, kind: str, text: str, model: type
) -> None:
    run = _import(kind, text)

    column = {"tickets": "description", "interactions": "notes", "surveys": "comment"}[kind]
    assert run.errors == [f"line 2: {column}: longer than {FREE_TEXT_MAX_LENGTH} characters"]
    assert not model.objects.exists()


def test_the_api_refuses_a_ticket_description_longer_than_the_cap(
    agent_api: APIClient, c1: Customer
) -> None:
    response = agent_api.post(
        "/api/tickets/",
        {"customer": c1.pk, "kind": "complaint", "subject": "Late", "description": LONG},
        format="json",
    )

    assert response.status_code == 400
    assert "description" in response.json()
    assert not Ticket.objects.exists()


# ------------------------------------------------------------------------------ upload size


@pytest.fixture
def one_mb_limit(settings: object) -> None:
    settings.IMPORT_MAX_UPLOAD_MB = 1


def _big_orders_file() -> bytes:
    row = "O{n},C1,2024-01-01,10,,,,\n"
    text = ORDER_HEADER + "\n" + "".join(row.format(n=n) for n in range(60_000))
    assert len(text) > 1024 * 1024
    return text.encode()


def test_the_service_refuses_a_file_above_the_limit(one_mb_limit: None, c1: Customer) -> None:
    with pytest.raises(ApplicationError, match=r"The file is 1\.\d MB; the largest file"):
        import_upload(kind="orders", file=io.BytesIO(_big_orders_file()), file_name="big.csv")
    assert not ImportRun.objects.exists()


def test_the_page_refuses_a_file_above_the_limit(
    client: object, supervisor_user: object, one_mb_limit: None, c1: Customer
) -> None:
    client.force_login(supervisor_user)
    upload = SimpleUploadedFile("big.csv", _big_orders_file(), content_type="text/csv")

    response = client.post("/import/", {"kind": "orders", "file": upload})

    assert response.status_code == 200
    # skipped while the request was read, never stored in a temporary file
    assert response.wsgi_request.upload_refused_size > 1024 * 1024
    errors = response.context["form"].errors["file"]
    assert len(errors) == 1
    assert errors[0].startswith("The file is 1.")
    assert "the largest file that can be imported is 1.0 MB" in errors[0]
    assert not ImportRun.objects.exists()
    assert not Order.objects.exists()


def test_the_api_refuses_a_file_above_the_limit(
    api_as: Callable[[object | None], APIClient],
    supervisor_user: object,
    one_mb_limit: None,
    c1: Customer,
) -> None:
    upload = SimpleUploadedFile("big.csv", _big_orders_file(), content_type="text/csv")

    response = api_as(supervisor_user).post(
        "/api/imports/", {"kind": "orders", "file": upload}, format="multipart"
    )

    assert response.status_code == 400
    assert response.wsgi_request.upload_refused_size > 1024 * 1024
    assert "the largest file that can be imported is 1.0 MB" in response.json()["detail"]
    assert not ImportRun.objects.exists()


def test_the_command_refuses_a_file_above_the_limit(
    tmp_path: Path, one_mb_limit: None, c1: Customer
) -> None:
    path = tmp_path / "big.csv"
    path.write_bytes(_big_orders_file())

    with pytest.raises(CommandError, match="big.csv: The file is 1.") as error:
        call_command("import_csv", "orders", str(path))

    assert error.value.returncode == 2
    assert not ImportRun.objects.exists()

"""The optional gender profile field: CSV import (set, kept when empty, bad values refused like
other columns), the customer API and the customer page."""

import io

import pytest
from django.urls import reverse

from callcenter.choices import Gender, ImportStatus, Role
from callcenter.models import Customer
from callcenter.services.imports import csv_import
from callcenter.services.privacy import customer_erase
from tests.callcenter.factories import CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db


def _import(*lines: str):
    text = "\n".join(lines) + "\n"
    return csv_import(kind="customers", file=io.BytesIO(text.encode()), file_name="c.csv")


def test_import_sets_gender_and_an_empty_cell_keeps_it() -> None:
    run = _import("external_id,name,gender", "C1,Ann,Female", "C2,Bo,")
    assert run.status == ImportStatus.SUCCEEDED, run.errors
    assert Customer.objects.get(external_id="C1").gender == Gender.FEMALE
    assert Customer.objects.get(external_id="C2").gender == ""

    _import("external_id,name,gender", "C1,Ann,", "C2,Bo,male")

    assert Customer.objects.get(external_id="C1").gender == Gender.FEMALE
    assert Customer.objects.get(external_id="C2").gender == Gender.MALE


def test_import_refuses_an_unknown_gender_clearly() -> None:
    run = _import("external_id,name,gender", "C1,Ann,robot")

    assert run.status == ImportStatus.REJECTED
    assert run.errors == ['line 2: gender: "robot" is not one of female, male, other']
    assert not Customer.objects.exists()


def test_api_reads_and_writes_gender(api_as) -> None:
    customer = CustomerFactory()
    client = api_as(UserFactory(role=Role.SUPERVISOR))
    url = f"/api/customers/{customer.pk}/"

    response = client.patch(url, {"gender": "other"}, format="json")
    assert response.status_code == 200, response.json()
    assert client.get(url).json()["gender"] == "other"

    refused = client.patch(url, {"gender": "robot"}, format="json")
    assert refused.status_code == 400
    assert "gender" in str(refused.json())


def test_customer_page_shows_gender(client) -> None:
    customer = CustomerFactory(gender=Gender.MALE)
    client.force_login(UserFactory(role=Role.AGENT))

    html = client.get(reverse("customer-detail", args=[customer.pk])).content.decode()

    assert "Gender" in html
    assert "Male" in html


def test_erasure_blanks_gender() -> None:
    customer = CustomerFactory(gender=Gender.FEMALE)

    customer_erase(customer=customer)

    assert Customer.objects.get(pk=customer.pk).gender == ""

"""WeChat openids and WeCom external contact ids as customer contact points, and consent per
channel for WeChat and WeCom: CSV import, the API, the customer page, erasure."""

import io
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from callcenter.choices import ConsentChannel, ConsentSource, ContactKind, ImportStatus, Role
from callcenter.models import ConsentChange, ContactPoint, Customer
from callcenter.services.imports import csv_import
from tests.callcenter.factories import CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db


def _import(*lines: str) -> Any:
    text = "\n".join(lines) + "\n"
    return csv_import(kind="customers", file=io.BytesIO(text.encode()), file_name="c.csv")


def test_import_stores_wechat_and_wecom_ids_and_their_opt_outs() -> None:
    run = _import(
        "external_id,name,wechat,wecom,wechat_opt_out,wecom_opt_out",
        "C1,王芳,o-wang;o-wang-2,wm-wang,no,yes",
        "C2,李雷,,,yes,",
    )

    assert (run.status, run.errors) == (ImportStatus.SUCCEEDED, [])
    wang = Customer.objects.get(external_id="C1")
    points = sorted(wang.contact_points.values_list("kind", "value", "is_primary"))
    assert points == [
        (ContactKind.WECHAT, "o-wang", True),
        (ContactKind.WECHAT, "o-wang-2", False),
        (ContactKind.WECOM, "wm-wang", True),
    ]
    assert (wang.wechat_opt_out, wang.wecom_opt_out) == (False, True)
    li = Customer.objects.get(external_id="C2")
    assert (li.wechat_opt_out, li.wecom_opt_out) == (True, False)
    assert set(ConsentChange.objects.values_list("customer__external_id", "channel")) == {
        ("C1", ConsentChannel.WECOM),
        ("C2", ConsentChannel.WECHAT),
    }


def test_import_refuses_a_wecom_id_of_another_customer_and_changes_nothing() -> None:
    owner = CustomerFactory(external_id="C9")
    ContactPoint.objects.create(customer=owner, kind=ContactKind.WECOM, value="wm-taken")

    run = _import("external_id,name,wecom", "C1,王芳,wm-taken")

    assert run.status == ImportStatus.REJECTED
    (error,) = run.errors
    assert "wecom" in str(error)
    assert not Customer.objects.filter(external_id="C1").exists()


@pytest.fixture
def agent_api() -> APIClient:
    client = APIClient()
    client.force_authenticate(UserFactory(role=Role.AGENT))
    return client


def test_api_adds_a_wecom_id_and_records_a_wechat_opt_out(agent_api: APIClient) -> None:
    customer = CustomerFactory()

    added = agent_api.post(
        reverse("api-customer-contact-points", args=[customer.pk]),
        {"kind": "wecom", "value": " wm-li ", "is_primary": True},
        format="json",
    )
    consent = agent_api.post(
        reverse("api-customer-consent", args=[customer.pk]),
        {"channel": "wechat", "opted_out": True, "note": "asked in WeChat"},
        format="json",
    )

    assert added.status_code in (200, 201), added.json()
    assert customer.contact_points.get().value == "wm-li"
    assert consent.status_code == 200
    assert consent.json()["customer"]["wechat_opt_out"] is True
    assert consent.json()["customer"]["wecom_opt_out"] is False
    change = ConsentChange.objects.get()
    assert (change.channel, change.source) == (ConsentChannel.WECHAT, ConsentSource.API)


def test_api_refuses_an_empty_wecom_id(agent_api: APIClient) -> None:
    customer = CustomerFactory()
    response = agent_api.post(
        reverse("api-customer-contact-points", args=[customer.pk]),
        {"kind": "wecom", "value": "   "},
        format="json",
    )
    assert response.status_code == 400
    assert not customer.contact_points.exists()


def test_customer_page_shows_wechat_and_wecom_consent(client: Client) -> None:
    client.force_login(UserFactory(role=Role.AGENT))
    customer = CustomerFactory(wechat_opt_out=True)

    page = client.get(
        reverse("customer-detail", args=[customer.pk]), HTTP_ACCEPT_LANGUAGE="zh-hans"
    )

    html = page.content.decode()
    assert page.status_code == 200
    assert "拒收微信" in html
    assert "企业微信" in html

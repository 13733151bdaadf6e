"""Filter arguments of message templates are bounded when a template is saved (API, template
page, Django admin), and what a template renders to is bounded when it is sent.

`{{ order.amount|floatformat:99999999 }}` used to be accepted and then fail every send of its
template; `floatformat:999999` rendered an SMS of a megabyte."""

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from callcenter.choices import Role
from callcenter.errors import ApplicationError
from care.choices import TemplateChannel
from care.models import MessageTemplate, TemplateVariant
from care.services.templates import (
    MAX_RENDERED_BODY_LENGTH,
    template_render,
    template_variants_check,
)
from outreach.choices import TaskStatus
from outreach.services.dispatch import dispatch_due
from tests.callcenter.factories import CustomerFactory, OrderFactory, PhoneFactory, UserFactory
from tests.outreach.factories import TaskFactory

pytestmark = pytest.mark.django_db

DAYTIME = dt.datetime(2026, 6, 10, 7, 0, tzinfo=dt.UTC)

REFUSED = [
    ("{{ order.amount|floatformat:99999999 }}", "floatformat"),
    ("{{ order.amount|floatformat:999999 }}", "floatformat"),
    ("{{ order.amount|floatformat:-99999999 }}", "floatformat"),
    ("{{ order.amount|floatformat:11 }}", "floatformat"),
    ('{{ order.amount|floatformat:"99999g" }}', "floatformat"),
    ("{{ order.amount|floatformat:2.5 }}", "floatformat"),
    ("{{ order.amount|floatformat:ticket.number }}", "floatformat"),
    ("{% if order.amount|floatformat:999999 %}x{% endif %}", "floatformat"),
    ("{{ customer.name|truncatechars:0 }}", "truncatechars"),
    ("{{ customer.name|truncatechars:99999999999 }}", "truncatechars"),
    ('{{ customer.name|truncatechars:"many" }}', "truncatechars"),
    ("{{ customer.name|truncatechars:ticket.number }}", "truncatechars"),
]
ACCEPTED = [
    "{{ order.amount|floatformat }}",
    "{{ order.amount|floatformat:2 }}",
    "{{ order.amount|floatformat:-2 }}",
    '{{ order.amount|floatformat:"2g" }}',
    '{{ order.amount|floatformat:"-3u" }}',
    '{{ order.amount|floatformat:"g" }}',
    "{{ customer.name|truncatechars:20 }}",
    '{{ customer.name|truncatechars:"20" }}',
    '{{ customer.city|default:"your city" }}',
]


@pytest.mark.parametrize(("body", "filter_name"), REFUSED)
def test_unbounded_filter_arguments_are_refused_naming_the_filter(
    body: str, filter_name: str
) -> None:
    with pytest.raises(ApplicationError) as refused:
        template_variants_check(channel=TemplateChannel.SMS, variants={"en": {"body": body}})

    assert refused.value.message.startswith("en body: ")
    assert filter_name in refused.value.message


@pytest.mark.parametrize("body", ACCEPTED)
def test_bounded_filter_arguments_are_accepted(body: str) -> None:
    template_variants_check(channel=TemplateChannel.SMS, variants={"en": {"body": body}})


@pytest.fixture
def admin_api() -> APIClient:
    client = APIClient()
    client.force_authenticate(UserFactory(role=Role.ADMIN, username="bounds_admin"))
    return client


def test_the_api_refuses_such_a_template_and_writes_nothing(admin_api: APIClient) -> None:
    response = admin_api.post(
        "/api/care/templates/",
        {
            "name": "Receipt",
            "channel": "sms",
            "variants": {"en": {"body": "Paid {{ order.amount|floatformat:99999999 }}"}},
        },
        format="json",
    )

    assert response.status_code == 400
    assert "floatformat" in response.json()["detail"]
    assert response.json()["field"] == "en body"
    assert not MessageTemplate.objects.filter(name="Receipt").exists()


def test_the_template_page_shows_the_error_next_to_the_text(client: Client) -> None:
    client.force_login(UserFactory(role=Role.ADMIN, username="bounds_page_admin"))

    response = client.post(
        reverse("care-template-create"),
        {
            "name": "Receipt",
            "channel": "sms",
            "description": "",
            "subject_zh_hans": "",
            "body_zh_hans": "",
            "subject_en": "",
            "body_en": "Paid {{ order.amount|floatformat:999999 }}",
        },
    )

    assert response.status_code == 400
    assert "floatformat" in str(response.context["form"].errors["body_en"])
    assert not MessageTemplate.objects.filter(name="Receipt").exists()


def test_the_django_admin_refuses_such_a_template(client: Client) -> None:
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))

    response = client.post(
        "/admin/care/messagetemplate/add/",
        {
            "name": "Receipt",
            "slug": "receipt",
            "channel": "sms",
            "description": "",
            "variants-TOTAL_FORMS": 1,
            "variants-INITIAL_FORMS": 0,
            "variants-MIN_NUM_FORMS": 0,
            "variants-MAX_NUM_FORMS": 1000,
            "variants-0-language": "en",
            "variants-0-subject": "",
            "variants-0-body": "Paid {{ order.amount|floatformat:99999999 }}",
        },
    )

    assert response.status_code == 200
    assert "floatformat" in response.content.decode()
    assert not MessageTemplate.objects.filter(slug="receipt").exists()


def _saved_unchecked(body: str) -> MessageTemplate:
    """A template stored as a check that did not exist yet would have let it through."""
    template = MessageTemplate.objects.create(name="Old", slug="old", channel="sms")
    TemplateVariant.objects.create(template=template, language="en", body=body)
    return template


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("Paid {{ order.amount|floatformat:99999999 }}", "cannot be rendered"),
        ("Paid {{ order.amount|floatformat:999999 }}", "characters"),
    ],
)
def test_rendering_a_bad_stored_template_is_refused(body: str, reason: str) -> None:
    customer = CustomerFactory(language="en")
    OrderFactory(customer=customer)

    with pytest.raises(ApplicationError) as refused:
        template_render(template=_saved_unchecked(body), customer_id=customer.pk)

    assert reason in refused.value.message


def test_a_rendered_text_within_the_bound_is_sent_whole() -> None:
    customer = CustomerFactory(language="en", name="A" * 200)
    template = _saved_unchecked("{{ customer.name }}" * 40)

    rendered = template_render(template=template, customer_id=customer.pk)

    assert len(rendered.body) == 8000 <= MAX_RENDERED_BODY_LENGTH


def test_the_dispatcher_fails_such_a_send_visibly_and_sends_nothing(settings: Any) -> None:
    settings.SMS_BACKEND = "console"
    template = _saved_unchecked("Paid {{ order.amount|floatformat:999999 }}")
    with time_machine.travel(DAYTIME, tick=False):
        customer = CustomerFactory(language="en")
        PhoneFactory(customer=customer)
        OrderFactory(customer=customer)
        task = TaskFactory(
            customer=customer,
            template=template,
            body="",
            due_at=timezone.now() - dt.timedelta(minutes=1),
        )

        dispatch_due()

    task.refresh_from_db()
    assert task.status == TaskStatus.FAILED
    assert "characters" in task.last_error
    assert task.sent_at is None

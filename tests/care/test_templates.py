"""Message templates: checked at save, rendered safely, previewed with a real customer."""

import datetime as dt
from decimal import Decimal

import pytest

from callcenter.choices import Language, TicketKind
from callcenter.errors import ApplicationError
from callcenter.models import AuditLog
from care.choices import TemplateChannel
from care.models import MessageTemplate
from care.services.templates import (
    template_create,
    template_delete,
    template_preview,
    template_render,
    template_update,
)
from tests.callcenter.factories import CustomerFactory, OrderFactory, TicketFactory, UserFactory

pytestmark = pytest.mark.django_db


def _email(body: str, subject: str = "Hello {{ customer.name }}") -> MessageTemplate:
    return template_create(
        name="Mail",
        channel=TemplateChannel.EMAIL,
        variants={"en": {"subject": subject, "body": body}},
    )


def test_a_customer_named_script_renders_inert_in_an_email() -> None:
    customer = CustomerFactory(name='<script>alert("x")</script>', language=Language.EN)
    template = _email("<p>Dear {{ customer.name }},</p>")

    message = template_render(template=template, customer_id=customer.pk)

    assert "<script>" not in message.body
    assert message.body == "<p>Dear &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;,</p>"
    # The subject is a header: plain text, on one line.
    assert message.subject == 'Hello <script>alert("x")</script>'


def test_sms_text_is_plain_text_not_html_escaped() -> None:
    customer = CustomerFactory(name="Tom & Jerry", language=Language.EN)
    template = template_create(
        name="Hi", channel=TemplateChannel.SMS, variants={"en": {"body": "Hi {{ customer.name }}"}}
    )

    assert template_render(template=template, customer_id=customer.pk).body == "Hi Tom & Jerry"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("Hi {{ customer.nickname }}", 'unknown placeholder "{{ customer.nickname }}"'),
        ("{{ customer.__class__ }}", "may not begin with underscores: 'customer.__class__'"),
        ("{{ customer.name.upper }}", 'unknown placeholder "{{ customer.name.upper }}"'),
        ("{{ customer.items }}", 'unknown placeholder "{{ customer.items }}"'),
        ("{{ settings.SECRET_KEY }}", 'unknown placeholder "{{ settings.SECRET_KEY }}"'),
        ("{% if secret %}x{% endif %}", 'unknown placeholder "{{ secret }}"'),
        ("{{ customer.name|default:order.cost }}", 'unknown placeholder "{{ order.cost }}"'),
        ("{{ customer.name|safe }}", "Invalid filter: 'safe'"),
        ("{% load static %}", "Invalid block tag on line 1: 'load'"),
        ("{% include 'x.html' %}", "Invalid block tag on line 1: 'include'"),
        ("{% autoescape off %}{{ customer.name }}{% endautoescape %}", "'autoescape'"),
        ("Hi {{ customer.name ", "unclosed or stray {{ }}"),
        ("Hi }} there", "unclosed or stray {{ }}"),
    ],
)
def test_bad_texts_are_refused_at_save_with_a_clear_message(body: str, message: str) -> None:
    with pytest.raises(ApplicationError) as refused:
        template_create(name="Bad", channel=TemplateChannel.SMS, variants={"en": {"body": body}})

    assert message in refused.value.message
    assert refused.value.message.startswith("en body: ")
    assert not MessageTemplate.objects.exists()


def test_an_update_with_a_bad_placeholder_changes_nothing() -> None:
    template = template_create(
        name="Ok", channel=TemplateChannel.SMS, variants={"en": {"body": "Hi {{ customer.name }}"}}
    )

    with pytest.raises(ApplicationError, match="zh-hans body: unknown placeholder"):
        template_update(
            template=template,
            variants={"en": {"body": "Hello"}, "zh-hans": {"body": "{{ customer.phone }}"}},
        )

    assert list(template.variants.values_list("language", "body")) == [
        ("en", "Hi {{ customer.name }}")
    ]


def test_email_needs_a_subject_and_sms_has_none() -> None:
    with pytest.raises(ApplicationError, match="en subject: an email needs a subject"):
        template_create(name="E", channel=TemplateChannel.EMAIL, variants={"en": {"body": "x"}})
    with pytest.raises(ApplicationError, match="en subject: only emails have a subject"):
        template_create(
            name="S", channel=TemplateChannel.SMS, variants={"en": {"subject": "s", "body": "x"}}
        )


def test_render_uses_the_customers_language_and_falls_back_to_the_other() -> None:
    template = template_create(
        name="Both",
        channel=TemplateChannel.SMS,
        variants={"zh-hans": {"body": "您好 {{ customer.name }}"}, "en": {"body": "Hi"}},
    )
    only_en = template_create(
        name="En", channel=TemplateChannel.SMS, variants={"en": {"body": "Hi {{ opt_out_hint }}"}}
    )
    chinese = CustomerFactory(name="王芳", language=Language.ZH_HANS)
    english = CustomerFactory(name="Ann", language=Language.EN)

    assert template_render(template=template, customer_id=chinese.pk).body == "您好 王芳"
    assert template_render(template=template, customer_id=english.pk).body == "Hi"
    fallback = template_render(template=only_en, customer_id=chinese.pk)
    assert (fallback.language, fallback.body) == ("en", "Hi Reply STOP to opt out")


def test_render_fills_ticket_order_and_advisor_from_the_customers_own_records() -> None:
    advisor = UserFactory(username="li", first_name="Li", last_name="Wei")
    customer = CustomerFactory(
        name="Ann Smith", language=Language.EN, advisor=advisor, timezone="America/New_York"
    )
    ticket = TicketFactory(customer=customer, external_id="T-77", subject="Late parcel")
    order = OrderFactory(
        customer=customer,
        external_id="O-9",
        amount=Decimal("12.5"),
        placed_at=dt.datetime(2025, 3, 1, 2, 0, tzinfo=dt.UTC),
    )
    someone_elses = TicketFactory(kind=TicketKind.COMPLAINT, subject="Not yours")
    template = template_create(
        name="All",
        channel=TemplateChannel.SMS,
        variants={
            "en": {
                "body": "{{ customer.first_name }}|{{ advisor.name }}|{{ ticket.number }}|"
                "{{ ticket.subject }}|{{ order.number }}|{{ order.amount }} {{ order.currency }}|"
                "{{ order.date }}"
            }
        },
    )

    body = template_render(template=template, customer_id=customer.pk).body
    # Placed 1 March 02:00 UTC: still 28 February (21:00) on the customer's New York clock.
    assert body == "Ann|Li Wei|T-77|Late parcel|O-9|12.50 CNY|2025-02-28"
    # A ticket id from another customer's event payload is ignored.
    other = template_render(
        template=template, customer_id=customer.pk, extra={"ticket_id": someone_elses.pk}
    )
    assert other.body.split("|")[2:4] == ["", ""]
    assert ticket.pk != someone_elses.pk
    assert order.pk


def test_preview_renders_unsaved_texts_for_a_real_customer_in_each_language() -> None:
    customer = CustomerFactory(name="王芳")

    rendered = template_preview(
        customer_id=customer.pk,
        channel=TemplateChannel.SMS,
        variants={
            "zh-hans": {"body": "您好 {{ customer.name }}"},
            "en": {"body": "Hello {{ customer.name }}"},
        },
    )

    assert {lang: m.body for lang, m in rendered.items()} == {
        "zh-hans": "您好 王芳",
        "en": "Hello 王芳",
    }
    assert not MessageTemplate.objects.exists()
    with pytest.raises(ApplicationError, match="unknown placeholder"):
        template_preview(
            customer_id=customer.pk,
            channel=TemplateChannel.SMS,
            variants={"en": {"body": "{{ customer.password }}"}},
        )


def test_template_changes_are_audited_and_a_used_template_cannot_be_deleted() -> None:
    from care.services.rules import care_rule_create

    admin = UserFactory(role="admin")
    template = template_create(
        name="Used",
        channel=TemplateChannel.SMS,
        variants={"en": {"body": "Hi"}},
        created_by=admin,
    )
    care_rule_create(
        name="R",
        trigger_type="birthday",
        steps=[{"channel": "sms", "template_id": template.pk, "sla_minutes": 60}],
    )

    with pytest.raises(ApplicationError, match="is used by care rule steps"):
        template_delete(template=template, deleted_by=admin)

    assert MessageTemplate.objects.filter(pk=template.pk).exists()
    assert AuditLog.objects.filter(action="care_template.create", actor=admin).exists()

"""Message template pages: create and edit per language (admins), read-only for supervisors,
errors next to the text, live preview for a chosen customer with SMS length and parts."""

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from care.models import MessageTemplate, TemplateVariant
from care.views.templates import sms_segments
from tests.callcenter.factories import CustomerFactory, OrderFactory, TicketFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def template() -> MessageTemplate:
    template = MessageTemplate.objects.create(name="Wake-up", slug="wake-up", channel="sms")
    TemplateVariant.objects.create(
        template=template, language="zh-hans", body="{{ customer.name }}，好久不见"
    )
    return template


def _texts(**fields: str) -> dict[str, str]:
    return {
        "name": "Guide",
        "channel": "sms",
        "description": "",
        "subject_zh_hans": "",
        "body_zh_hans": "",
        "subject_en": "",
        "body_en": "",
        **fields,
    }


def test_sms_segments_count_gsm_and_unicode_texts() -> None:
    assert sms_segments("") == {"length": 0, "parts": 0, "encoding": "GSM-7"}
    assert sms_segments("a" * 160)["parts"] == 1
    assert sms_segments("a" * 161)["parts"] == 2
    assert sms_segments("a" * 306)["parts"] == 2
    assert sms_segments("{}") == {"length": 4, "parts": 1, "encoding": "GSM-7"}
    assert sms_segments("您" * 70) == {"length": 70, "parts": 1, "encoding": "UCS-2"}
    assert sms_segments("您" * 71)["parts"] == 2
    assert sms_segments("😀")["length"] == 2


def test_admin_creates_a_template_with_two_languages(admin_client: Client) -> None:
    response = admin_client.post(
        reverse("care-template-create"),
        _texts(body_zh_hans="{{ customer.name }}您好", body_en="Hello {{ customer.name }}"),
    )

    template = MessageTemplate.objects.get(name="Guide")
    assert response.status_code == 302
    assert dict(template.variants.values_list("language", "body")) == {
        "zh-hans": "{{ customer.name }}您好",
        "en": "Hello {{ customer.name }}",
    }


def test_an_unknown_placeholder_is_refused_next_to_its_text(admin_client: Client) -> None:
    response = admin_client.post(
        reverse("care-template-create"), _texts(body_en="Hi {{ customer.password }}")
    )

    assert response.status_code == 400
    assert not MessageTemplate.objects.filter(name="Guide").exists()
    assert "customer.password" in str(response.context["form"].errors["body_en"])


def test_a_template_needs_a_text(admin_client: Client) -> None:
    response = admin_client.post(reverse("care-template-create"), _texts())

    assert response.status_code == 400
    assert response.context["form"].non_field_errors()


def test_editing_replaces_the_texts_but_keeps_the_channel(
    admin_client: Client, template: MessageTemplate
) -> None:
    response = admin_client.post(
        reverse("care-template-edit", args=[template.pk]),
        _texts(name="Wake-up 2", channel="email", body_en="Miss you, {{ customer.first_name }}"),
    )

    template.refresh_from_db()
    assert response.status_code == 302
    assert template.name == "Wake-up 2"
    assert template.channel == "sms"
    assert list(template.variants.values_list("language", flat=True)) == ["en"]


def test_supervisors_read_templates_but_may_not_change_them(
    supervisor_client: Client, template: MessageTemplate
) -> None:
    page = supervisor_client.get(reverse("care-template-edit", args=[template.pk]))
    post = supervisor_client.post(
        reverse("care-template-edit", args=[template.pk]), _texts(body_en="changed")
    )
    create = supervisor_client.get(reverse("care-template-create"))

    assert page.status_code == 200
    assert "Read only" in page.content.decode()
    assert post.status_code == 403
    assert create.status_code == 403
    assert template.variants.get().body == "{{ customer.name }}，好久不见"


def test_the_preview_renders_unsaved_texts_for_the_chosen_customer(
    admin_client: Client, template: MessageTemplate
) -> None:
    customer = CustomerFactory(name="王小明")

    response = admin_client.post(
        reverse("care-template-preview"),
        {
            **_texts(body_zh_hans="{{ customer.name }}，欢迎回来 {{ opt_out_hint }}"),
            "template_pk": str(template.pk),
            "customer_id": str(customer.pk),
        },
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert "王小明，欢迎回来 回复TD退订" in html
    assert "UCS-2" in html
    assert "1 SMS part" in html
    assert template.variants.get().body == "{{ customer.name }}，好久不见"


def test_a_read_only_preview_renders_the_saved_texts(
    supervisor_client: Client, template: MessageTemplate
) -> None:
    customer = CustomerFactory(name="李雷")

    response = supervisor_client.post(
        reverse("care-template-preview"),
        {"template_pk": str(template.pk), "customer_id": str(customer.pk)},
    )

    assert "李雷，好久不见" in response.content.decode()


def test_the_preview_asks_for_a_customer_and_reports_bad_texts(admin_client: Client) -> None:
    no_customer = admin_client.post(reverse("care-template-preview"), _texts(body_en="Hi"))
    customer = CustomerFactory()
    bad = admin_client.post(
        reverse("care-template-preview"),
        {**_texts(body_en="Hi {% load x %}"), "customer_id": str(customer.pk)},
    )

    assert "Choose a customer" in no_customer.content.decode()
    assert "not allowed" in bad.content.decode() or "Invalid" in bad.content.decode()


def test_the_customer_picker_finds_customers_in_one_query(
    supervisor_client: Client, django_assert_max_num_queries: Any
) -> None:
    CustomerFactory(name="Zhang Wei", external_id="ZW1")
    CustomerFactory(name="Li Na", external_id="LN1")
    supervisor_client.get(reverse("care-customer-picker"))

    with django_assert_max_num_queries(7):
        response = supervisor_client.get(reverse("care-customer-picker"), {"q": "Zhang"})

    html = response.content.decode()
    assert "Zhang Wei" in html
    assert "Li Na" not in html


def test_the_template_list_shows_languages_and_use(
    supervisor_client: Client, template: MessageTemplate
) -> None:
    response = supervisor_client.get(reverse("care-templates"))

    html = response.content.decode()
    assert "Wake-up" in html
    assert "Simplified Chinese" in html


def test_the_preview_counts_sms_parts_with_links_as_sent_short_links(
    admin_client: Client, settings: Any
) -> None:
    # given a text whose long link would take a second SMS part, but not as a short link
    settings.TRACKED_LINK_BASE_URL = "https://crm.example.cn"
    customer = CustomerFactory(name="Li Lei")
    link = "https://shop.example.cn/campaigns/2026/summer/" + "a" * 120
    body = f"Hi {{{{ customer.name }}}}, see {link}"
    assert sms_segments(f"Hi Li Lei, see {link}")["parts"] == 2

    # when it is previewed
    response = admin_client.post(
        reverse("care-template-preview"),
        {**_texts(body_en=body), "customer_id": str(customer.pk)},
    )

    # then the text shows the link as written, counted as the short link it is sent as
    html = response.content.decode()
    sent = "Hi Li Lei, see https://crm.example.cn/l/xxxxxxxxxxx"
    assert link in html
    assert "https://crm.example.cn/l/xxxxxxxxxxx" in html
    assert f"{len(sent)} characters (GSM-7), 1 SMS part" in html


def test_sms_parts_of_chinese_are_70_alone_and_67_each_when_split() -> None:
    assert sms_segments("您" * 134)["parts"] == 2
    assert sms_segments("您" * 135)["parts"] == 3
    assert sms_segments("a" * 307)["parts"] == 3


def test_the_sms_count_is_of_the_rendered_text_not_the_template(
    admin_client: Client, template: MessageTemplate
) -> None:
    customer = CustomerFactory(name="王小明")
    # As written: 19 characters of placeholder + 60 Chinese = 79 (two parts); as sent: 63.
    body = "{{ customer.name }}" + "好" * 60

    response = admin_client.post(
        reverse("care-template-preview"),
        {**_texts(body_zh_hans=body), "customer_id": str(customer.pk)},
    )

    assert "63 characters (UCS-2), 1 SMS part" in response.content.decode()


def test_without_a_chosen_customer_the_preview_uses_a_recent_customers_real_ticket_and_order(
    supervisor_client: Client,
) -> None:
    CustomerFactory(name="Nobody special")
    buyer = CustomerFactory(name="赵敏")
    TicketFactory(customer=buyer, external_id="T-777")
    OrderFactory(customer=buyer, external_id="SO-888")
    template = MessageTemplate.objects.create(name="Follow", slug="follow", channel="sms")
    body = "Ticket {{ ticket.number }}, order {{ order.number }}"
    TemplateVariant.objects.create(template=template, language="en", body=body)

    response = supervisor_client.post(
        reverse("care-template-preview"), {"template_pk": str(template.pk)}
    )

    html = response.content.decode()
    assert "Ticket T-777, order SO-888" in html
    assert "Previewed with 赵敏" in html
    assert "sample ticket" not in html

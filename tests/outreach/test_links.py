"""Tracked links: the links of sent SMS and emails become per-recipient short links whose
redirect counts clicks and tells care of the first one."""

import datetime as dt
import re
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.db import IntegrityError, transaction
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from care.choices import EventType, StepChannel, TemplateChannel
from care.models import Event, MessageTemplate, TemplateVariant
from care.services.events import event_process
from care.services.templates.links import message_links, message_links_replace
from care.views.templates import sms_segments
from outreach.checks import outreach_tracked_link_check, outreach_tracked_link_deploy_check
from outreach.choices import TaskStatus
from outreach.models import OutreachTask, TrackedLink
from outreach.services.dispatch import dispatch_due
from outreach.services.links import tracked_link_click, tracked_links_apply
from tests.callcenter.factories import CustomerFactory, EmailFactory, PhoneFactory
from tests.outreach.factories import TaskFactory, enrollment_with_step
from tests.outreach.gateway import Gateway

pytestmark = pytest.mark.django_db

DAYTIME = dt.datetime(2026, 6, 10, 7, 0, tzinfo=dt.UTC)
BASE = "https://crm.example.cn"
SHORT = re.compile(re.escape(BASE) + r"/l/([A-Za-z0-9_-]{11})")


@pytest.fixture(autouse=True)
def _base(settings: Any) -> None:
    settings.TRACKED_LINK_BASE_URL = BASE + "/"


def _sms_task(body: str, **fields: Any) -> OutreachTask:
    customer = CustomerFactory(name="王小明", timezone="Asia/Shanghai")
    PhoneFactory(customer=customer, value="+8613800138000")
    return TaskFactory(customer=customer, body=body, due_at=DAYTIME, **fields)


class TestFindingLinks:
    def test_links_end_at_spaces_quotes_and_chinese_punctuation(self) -> None:
        text = (
            "请访问https://shop.cn/a?x=1&y=2。再看 http://b.cn/p, 和 "
            '<a href="https://c.cn/q">这里</a> (https://d.cn/r). 重复 https://shop.cn/a?x=1&y=2'
        )
        assert message_links(text) == [
            "https://shop.cn/a?x=1&y=2",
            "http://b.cn/p",
            "https://c.cn/q",
            "https://d.cn/r",
        ]

    def test_other_schemes_and_own_short_links_are_left_alone(self) -> None:
        text = f"javascript:alert(1) ftp://x.cn/f mailto:a@b.cn {BASE}/l/abcdefghijk"
        assert message_links(text) == []
        assert message_links_replace(text, lambda url: "X") == text


class TestSending:
    def test_sms_links_are_sent_as_short_links_of_the_recipient(self, http_sms: Gateway) -> None:
        # given a message with two links, one of them twice
        body = "您好，订单详情 https://shop.cn/orders/9981?ref=sms 。优惠：https://shop.cn/sale ！"
        body += " 再次：https://shop.cn/sale"
        with time_machine.travel(DAYTIME, tick=False):
            task = _sms_task(body)
            # when it is sent
            counts = dispatch_due()
        # then the gateway got short links in place of the links, one per target
        assert counts["sent"] == 1
        (request,) = http_sms.requests
        sent = request.json()["text"]
        assert "shop.cn" not in sent
        tokens = SHORT.findall(sent)
        assert len(tokens) == 3
        assert len(set(tokens)) == 2
        links = {link.token: link for link in TrackedLink.objects.filter(task=task)}
        assert set(links) == set(tokens)
        assert {link.target_url for link in links.values()} == {
            "https://shop.cn/orders/9981?ref=sms",
            "https://shop.cn/sale",
        }
        assert all(link.customer_id == task.customer_id for link in links.values())
        # and the text recorded on the task is what went out
        task.refresh_from_db()
        assert task.body == sent

    def test_short_links_carry_no_personal_data(self, http_sms: Gateway) -> None:
        with time_machine.travel(DAYTIME, tick=False):
            task = _sms_task("详情 https://shop.cn/x")
            dispatch_due()
        (request,) = http_sms.requests
        (short,) = re.findall(re.escape(BASE) + r"/l/\S+", request.json()["text"])
        # nothing but the random token: no query, no ids, no name or number
        token = short.removeprefix(BASE + "/l/")
        assert re.fullmatch(r"[A-Za-z0-9_-]{11}", token)
        assert TrackedLink.objects.get(task=task).token == token
        phone = task.customer.contact_points.get().value
        for personal in (task.customer.name, phone, phone[-4:]):
            assert personal not in token
        # and the token is not derived from them: another send to the same customer and
        # target gets another token
        other = TaskFactory(customer=task.customer, body="详情 https://shop.cn/x")
        assert SHORT.findall(tracked_links_apply(task=other, body=other.body)) != [token]

    def test_a_retried_send_reuses_the_links_of_its_first_attempt(self, http_sms: Gateway) -> None:
        # given a gateway that fails the first attempt
        http_sms.fail_next(1, status=503)
        with time_machine.travel(DAYTIME, tick=False):
            task = _sms_task("看看 https://shop.cn/a 与 https://shop.cn/b")
            assert dispatch_due()["retried"] == 1
        first = http_sms.requests[0].json()["text"]
        task.refresh_from_db()
        assert task.status == TaskStatus.PENDING
        # when it is sent again
        with time_machine.travel(task.next_attempt_at, tick=False):
            assert dispatch_due()["sent"] == 1
        # then the same short links went out, and no link was made twice
        second = http_sms.requests[1].json()["text"]
        assert second == first
        assert TrackedLink.objects.filter(task=task).count() == 2

    def test_applying_twice_makes_no_new_link(self) -> None:
        task = _sms_task("https://shop.cn/a")
        first = tracked_links_apply(task=task, body="去 https://shop.cn/a")
        second = tracked_links_apply(task=task, body="去 https://shop.cn/a")
        assert first == second
        assert TrackedLink.objects.count() == 1

    def test_sms_parts_count_the_text_with_its_short_links(self, http_sms: Gateway) -> None:
        long_link = "https://shop.example.cn/campaigns/2026/summer/" + "a" * 120
        with time_machine.travel(DAYTIME, tick=False):
            _sms_task(f"Summer sale: {long_link}")
            dispatch_due()
        sent = http_sms.requests[0].json()["text"]
        assert sms_segments(f"Summer sale: {long_link}")["parts"] == 2
        assert sms_segments(sent)["parts"] == 1
        assert sent == f"Summer sale: {BASE}/l/{SHORT.findall(sent)[0]}"

    def test_email_links_are_tracked_with_html_entities_read(self, care_settings: Any) -> None:
        with time_machine.travel(DAYTIME, tick=False):
            customer = CustomerFactory()
            EmailFactory(customer=customer, value="li@example.com")
            template = MessageTemplate.objects.create(
                name="News", slug="news", channel=TemplateChannel.EMAIL
            )
            TemplateVariant.objects.create(
                template=template,
                language="zh-hans",
                subject="新品",
                body='<a href="https://shop.cn/new?a=1&amp;b=2">{{ customer.name }}</a>',
            )
            task = TaskFactory(
                customer=customer, channel=StepChannel.EMAIL, template=template, body=""
            )
            dispatch_due()
        (message,) = mail.outbox
        assert "shop.cn" not in message.body
        link = TrackedLink.objects.get(task=task)
        assert link.target_url == "https://shop.cn/new?a=1&b=2"
        assert f'href="{BASE}/l/{link.token}"' in message.body

    def test_a_body_without_links_makes_no_query(self, django_assert_num_queries: Any) -> None:
        task = _sms_task("没有链接")
        with django_assert_num_queries(0):
            assert tracked_links_apply(task=task, body="没有链接") == "没有链接"


class TestRedirect:
    def _link(self, *, with_enrollment: bool = True) -> TrackedLink:
        customer = CustomerFactory()
        enrollment = None
        if with_enrollment:
            enrollment, _step = enrollment_with_step(customer=customer)
        task = TaskFactory(customer=customer, enrollment=enrollment, status=TaskStatus.SENT)
        return TrackedLink.objects.create(
            token="Ab3_xYz9-Qw", task=task, customer=customer, target_url="https://shop.cn/x?y=1"
        )

    def test_a_click_redirects_to_the_target_and_is_recorded_as_a_care_event(self) -> None:
        link = self._link()
        moment = dt.datetime(2026, 6, 10, 8, 0, tzinfo=dt.UTC)
        with time_machine.travel(moment, tick=False):
            response = Client().get(f"/l/{link.token}")
        assert response.status_code == 302
        assert response["Location"] == "https://shop.cn/x?y=1"
        link.refresh_from_db()
        assert link.click_count == 1
        assert link.first_clicked_at == link.last_clicked_at == moment
        (event,) = Event.objects.filter(type=EventType.LINK_CLICKED)
        assert event.customer_id == link.customer_id
        assert event.occurred_at == moment
        assert event.payload == {
            "enrollment_id": link.task.enrollment_id,
            "step_position": link.task.step_position,
            "task_id": link.task_id,
            "link_id": link.pk,
            "url": "https://shop.cn/x?y=1",
        }

    def test_the_click_event_is_processed_by_care(self) -> None:
        # (without the factory's bare rule, whose snapshot holds only its steps)
        link = self._link(with_enrollment=False)
        tracked_link_click(token=link.token, now=DAYTIME)
        (event,) = Event.objects.filter(type=EventType.LINK_CLICKED)
        assert event_process(event_id=event.pk) == "processed"
        event.refresh_from_db()
        assert (event.processed_at is not None, event.last_error) == (True, "")

    def test_further_clicks_are_counted_but_announced_once(self) -> None:
        link = self._link(with_enrollment=False)
        first = dt.datetime(2026, 6, 10, 8, 0, tzinfo=dt.UTC)
        with time_machine.travel(first, tick=False):
            Client().get(f"/l/{link.token}")
        with time_machine.travel(first + dt.timedelta(seconds=2), tick=False):
            Client().get(f"/l/{link.token}")
            Client().get(f"/l/{link.token}")
        link.refresh_from_db()
        assert link.click_count == 3
        assert link.first_clicked_at == first
        assert link.last_clicked_at == first + dt.timedelta(seconds=2)
        (event,) = Event.objects.filter(type=EventType.LINK_CLICKED)
        assert event.payload["enrollment_id"] is None

    def test_a_head_request_redirects_without_counting(self) -> None:
        link = self._link()
        response = Client().head(f"/l/{link.token}")
        assert response.status_code == 302
        link.refresh_from_db()
        assert link.click_count == 0
        assert not Event.objects.filter(type=EventType.LINK_CLICKED).exists()

    @pytest.mark.parametrize("token", ["unknown1234", "x" * 40, "Ab3_xYz9-Q"])
    def test_an_unknown_token_is_a_404_page_and_records_nothing(self, token: str) -> None:
        link = self._link()
        response = Client().get(f"/l/{token}")
        assert response.status_code == 404
        assert "Link not found" in response.content.decode()
        assert "Location" not in response
        link.refresh_from_db()
        assert link.click_count == 0
        assert not Event.objects.filter(type=EventType.LINK_CLICKED).exists()

    def test_only_http_targets_can_be_stored(self) -> None:
        link = self._link()
        with pytest.raises(IntegrityError), transaction.atomic():
            TrackedLink.objects.create(
                token="evil0000000",
                task=link.task,
                customer=link.customer,
                target_url="javascript:alert(1)",
            )

    def test_the_redirect_ignores_anything_the_request_says(self) -> None:
        link = self._link()
        response = Client().get(f"/l/{link.token}?next=https://evil.example/&url=//evil")
        assert response["Location"] == "https://shop.cn/x?y=1"

    def test_clicks_are_limited_per_client_address(self, settings: Any) -> None:
        settings.REST_FRAMEWORK = {
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {
                **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
                "tracked_link": "2/min",
            },
        }
        link = self._link()
        client = Client()
        assert [client.get(f"/l/{link.token}").status_code for _ in range(3)] == [302, 302, 429]
        link.refresh_from_db()
        assert link.click_count == 2

    def test_the_service_returns_none_for_an_unknown_token(self) -> None:
        assert tracked_link_click(token="nope", now=DAYTIME) is None


class TestShownOnTheCustomerPage:
    def test_the_tasks_panel_shows_links_clicked_or_not(
        self, client: Client, supervisor_user: Any
    ) -> None:
        customer = CustomerFactory()
        task = TaskFactory(customer=customer, status=TaskStatus.SENT)
        TrackedLink.objects.create(
            token="clicked0000",
            task=task,
            customer=customer,
            target_url="https://shop.cn/clicked",
            click_count=2,
            first_clicked_at=DAYTIME,
        )
        TrackedLink.objects.create(
            token="waiting0000", task=task, customer=customer, target_url="https://shop.cn/not"
        )
        client.force_login(supervisor_user)
        page = client.get(f"/customers/{customer.pk}/").content.decode()
        assert "https://shop.cn/clicked" in page
        assert "Clicked 2 times" in page
        assert "https://shop.cn/not" in page
        assert "Not clicked" in page


class TestChecks:
    def test_a_base_that_is_no_web_address_fails_at_startup(self, settings: Any) -> None:
        settings.TRACKED_LINK_BASE_URL = "crm.example.cn"
        assert [e.id for e in outreach_tracked_link_check()] == ["outreach.E002"]
        settings.TRACKED_LINK_BASE_URL = "https://crm.example.cn"
        assert outreach_tracked_link_check() == []

    def test_a_malformed_click_rate_fails_at_startup(self, settings: Any) -> None:
        settings.REST_FRAMEWORK = {
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {"webhook": "10/min", "tracked_link": "lots"},
        }
        assert [e.id for e in outreach_tracked_link_check()] == ["outreach.E003"]

    def test_a_deployment_linking_to_localhost_is_warned(self, settings: Any) -> None:
        settings.TRACKED_LINK_BASE_URL = "http://localhost:8000"
        assert [w.id for w in outreach_tracked_link_deploy_check()] == ["outreach.W004"]
        settings.TRACKED_LINK_BASE_URL = "https://crm.example.cn"
        assert outreach_tracked_link_deploy_check() == []


def test_the_task_api_shows_the_links_of_its_message(supervisor_user: Any) -> None:
    task = TaskFactory(status=TaskStatus.SENT)
    TrackedLink.objects.create(
        token="apilink0000",
        task=task,
        customer=task.customer,
        target_url="https://shop.cn/a",
        click_count=1,
        first_clicked_at=DAYTIME,
        last_clicked_at=DAYTIME,
    )
    client = APIClient()
    client.force_login(supervisor_user)
    body = client.get(reverse("api-outreach-task", args=[task.pk])).json()
    assert [(link["target_url"], link["click_count"]) for link in body["links"]] == [
        ("https://shop.cn/a", 1)
    ]
    assert "token" not in body["links"][0]


def test_the_redirect_sends_no_referrer() -> None:
    customer = CustomerFactory()
    task = TaskFactory(customer=customer, status=TaskStatus.SENT)
    TrackedLink.objects.create(
        token="noreferrer1", task=task, customer=customer, target_url="https://shop.cn/"
    )
    response = Client().get("/l/noreferrer1")
    assert response["Referrer-Policy"] == "no-referrer"
    assert response["Cache-Control"].startswith("max-age=0")

"""The dispatcher sending WeChat template messages and WeCom messages through the loopback
Tencent API, consent per channel, and a step's fallback channel ("WeChat, else SMS")."""

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.urls import reverse

from callcenter.choices import ConsentChannel, ConsentSource, ContactKind, Role
from callcenter.models import ConsentChange, ContactPoint, Customer
from care.choices import StepChannel, TemplateChannel
from care.models import MessageTemplate, TemplateVariant
from outreach.choices import TaskStatus
from outreach.models import OutreachTask
from outreach.reasons import SkipReason
from outreach.services.dispatch import dispatch_due
from tests.callcenter.factories import CustomerFactory, PhoneFactory, UserFactory
from tests.outreach.factories import TaskFactory, enrollment_with_step
from tests.outreach.gateway import Gateway
from tests.outreach.weixin_gateway import WeixinGateway

pytestmark = pytest.mark.django_db

DAYTIME = dt.datetime(2026, 6, 10, 7, 0, tzinfo=dt.UTC)


def _reload(task: OutreachTask) -> OutreachTask:
    task.refresh_from_db()
    return task


def _customer(*, openid: str = "", external: str = "", phone: bool = True, **fields: Any) -> Any:
    customer = CustomerFactory(timezone="Asia/Shanghai", **fields)
    if phone:
        PhoneFactory(customer=customer)
    if openid:
        ContactPoint.objects.create(
            customer=customer, kind=ContactKind.WECHAT, value=openid, is_primary=True
        )
    if external:
        ContactPoint.objects.create(
            customer=customer, kind=ContactKind.WECOM, value=external, is_primary=True
        )
    return customer


def _step_task(customer: Customer, channel: str, fallback: str = "", **task: Any) -> OutreachTask:
    """A due task of a rule step on `channel` whose rule version names `fallback`."""
    enrollment, step = enrollment_with_step(
        customer=customer,
        channel=channel,
        fallback_channel=fallback,
        snapshot_steps=[{"position": 1, "conditions": None, "fallback_channel": fallback}],
    )
    return TaskFactory(
        customer=customer,
        enrollment=enrollment,
        step=step,
        step_position=1,
        channel=channel,
        **task,
    )


class TestSend:
    def test_wechat_task_goes_to_the_openid_as_a_template_message(
        self, wechat_api: WeixinGateway, care_settings: Any
    ) -> None:
        # given a text template rendered for the customer at send time
        template = MessageTemplate.objects.create(
            name="Care", slug="care-wx", channel=TemplateChannel.SMS
        )
        TemplateVariant.objects.create(
            template=template, language="zh-hans", body="{{ customer.name }}，您好"
        )
        wechat_api.followers.add("o-wang")
        with time_machine.travel(DAYTIME, tick=False):
            customer = _customer(openid="o-wang", name="王芳")
            task = TaskFactory(
                customer=customer, channel=StepChannel.WECHAT, template=template, body=""
            )

            counts = dispatch_due()

        # then
        assert counts["sent"] == 1
        (sent,) = wechat_api.delivered
        assert sent.body["touser"] == "o-wang"
        assert sent.body["data"]["content"] == {"value": "王芳，您好"}
        task = _reload(task)
        assert (task.status, task.channel, task.to_address) == (
            TaskStatus.SENT,
            StepChannel.WECHAT,
            "o-wang",
        )
        assert task.provider_message_id == "1001"
        assert (task.fallback_from, task.fallback_reason) == ("", "")

    def test_wecom_task_goes_to_the_external_contact(
        self, wechat_api: WeixinGateway, care_settings: Any
    ) -> None:
        wechat_api.contacts.add("wm-li")
        with time_machine.travel(DAYTIME, tick=False):
            task = TaskFactory(
                customer=_customer(external="wm-li"), channel=StepChannel.WECOM, body="回访"
            )
            dispatch_due()
        task = _reload(task)
        assert (task.status, task.provider_message_id) == (TaskStatus.SENT, "msgGW1001")
        assert wechat_api.delivered[0].body["external_userid"] == ["wm-li"]

    @pytest.mark.parametrize(
        ("channel", "field"),
        [(StepChannel.WECHAT, "wechat_opt_out"), (StepChannel.WECOM, "wecom_opt_out")],
    )
    def test_an_opt_out_of_the_channel_skips_it(
        self, wechat_api: WeixinGateway, care_settings: Any, channel: str, field: str
    ) -> None:
        with time_machine.travel(DAYTIME, tick=False):
            customer = _customer(openid="o-1", external="wm-1", **{field: True})
            task = TaskFactory(customer=customer, channel=channel)
            other = TaskFactory(customer=customer, channel=StepChannel.SMS)
            dispatch_due()
        assert (_reload(task).status, task.reason) == (TaskStatus.SKIPPED, SkipReason.OPTED_OUT)
        assert wechat_api.sends == []
        # the opt-out is of that channel only (SMS goes to the console backend)
        assert _reload(other).status == TaskStatus.SENT

    def test_no_openid_and_no_fallback_is_skipped_for_no_address(
        self, wechat_api: WeixinGateway, care_settings: Any
    ) -> None:
        with time_machine.travel(DAYTIME, tick=False):
            task = TaskFactory(customer=_customer(), channel=StepChannel.WECHAT)
            dispatch_due()
        assert (_reload(task).status, task.reason) == (TaskStatus.SKIPPED, SkipReason.NO_ADDRESS)

    def test_transient_errcode_is_retried_later(
        self, wechat_api: WeixinGateway, care_settings: Any
    ) -> None:
        wechat_api.followers.add("o-1")
        wechat_api.errcode_next(1, -1)
        with time_machine.travel(DAYTIME, tick=False):
            task = TaskFactory(customer=_customer(openid="o-1"), channel=StepChannel.WECHAT)
            assert dispatch_due()["retried"] == 1
        task = _reload(task)
        assert task.status == TaskStatus.PENDING
        assert "errcode -1" in task.last_error
        assert task.next_attempt_at is not None

    def test_unsubscribed_follower_without_fallback_fails_and_is_opted_out(
        self, wechat_api: WeixinGateway, care_settings: Any
    ) -> None:
        # given a customer who unfollowed the Official Account since their openid was stored
        wechat_api.unfollowed.add("o-gone")
        with time_machine.travel(DAYTIME, tick=False):
            customer = _customer(openid="o-gone")
            task = TaskFactory(customer=customer, channel=StepChannel.WECHAT)
            dispatch_due()

        # then the task failed once with WeChat's code, and their WeChat opt-out is recorded
        task = _reload(task)
        assert task.status == TaskStatus.FAILED
        assert "43004" in task.last_error
        assert len(wechat_api.sends) == 1
        customer.refresh_from_db()
        assert customer.wechat_opt_out is True
        change = ConsentChange.objects.get(customer=customer)
        assert (change.channel, change.source) == (ConsentChannel.WECHAT, ConsentSource.PROVIDER)


class TestFallback:
    def test_no_openid_falls_back_to_sms(
        self, wechat_api: WeixinGateway, http_sms: Gateway, care_settings: Any
    ) -> None:
        with time_machine.travel(DAYTIME, tick=False):
            customer = _customer()
            task = _step_task(customer, StepChannel.WECHAT, StepChannel.SMS)
            dispatch_due()
        task = _reload(task)
        assert task.status == TaskStatus.SENT
        assert task.channel == StepChannel.SMS
        assert (task.fallback_from, task.fallback_reason) == (
            StepChannel.WECHAT,
            SkipReason.NO_ADDRESS,
        )
        assert task.to_address == customer.contact_points.get(kind=ContactKind.PHONE).value
        assert wechat_api.sends == []
        assert http_sms.delivery_count == 1

    def test_wechat_opt_out_falls_back_to_sms(
        self, wechat_api: WeixinGateway, http_sms: Gateway, care_settings: Any
    ) -> None:
        with time_machine.travel(DAYTIME, tick=False):
            task = _step_task(
                _customer(openid="o-1", wechat_opt_out=True), StepChannel.WECHAT, StepChannel.SMS
            )
            dispatch_due()
        task = _reload(task)
        assert (task.status, task.channel, task.fallback_reason) == (
            TaskStatus.SENT,
            StepChannel.SMS,
            SkipReason.OPTED_OUT,
        )

    def test_provider_unreachable_falls_back_to_sms_in_the_same_pass(
        self, wechat_api: WeixinGateway, http_sms: Gateway, care_settings: Any
    ) -> None:
        wechat_api.unfollowed.add("o-gone")
        with time_machine.travel(DAYTIME, tick=False):
            customer = _customer(openid="o-gone")
            task = _step_task(customer, StepChannel.WECHAT, StepChannel.SMS)
            counts = dispatch_due()
        assert counts["sent"] == 1
        task = _reload(task)
        assert (task.status, task.channel, task.fallback_from, task.fallback_reason) == (
            TaskStatus.SENT,
            StepChannel.SMS,
            StepChannel.WECHAT,
            SkipReason.OPTED_OUT,
        )
        assert http_sms.delivery_count == 1
        assert Customer.objects.get(pk=customer.pk).wechat_opt_out is True

    def test_wecom_lost_contact_falls_back_as_unreachable(
        self, wechat_api: WeixinGateway, http_sms: Gateway, care_settings: Any
    ) -> None:
        wechat_api.lost_contacts.add("wm-lost")
        with time_machine.travel(DAYTIME, tick=False):
            customer = _customer(external="wm-lost")
            task = _step_task(customer, StepChannel.WECOM, StepChannel.SMS)
            dispatch_due()
        task = _reload(task)
        assert (task.status, task.channel, task.fallback_reason) == (
            TaskStatus.SENT,
            StepChannel.SMS,
            SkipReason.UNREACHABLE,
        )
        # being no longer a contact is not an opt-out
        assert Customer.objects.get(pk=customer.pk).wecom_opt_out is False

    def test_fallback_honours_the_fallback_channels_consent(
        self, wechat_api: WeixinGateway, http_sms: Gateway, care_settings: Any
    ) -> None:
        with time_machine.travel(DAYTIME, tick=False):
            task = _step_task(_customer(sms_opt_out=True), StepChannel.WECHAT, StepChannel.SMS)
            dispatch_due()
        task = _reload(task)
        assert (task.status, task.reason) == (TaskStatus.SKIPPED, SkipReason.OPTED_OUT)
        assert http_sms.requests == []

    def test_do_not_contact_blocks_the_fallback_too(
        self, wechat_api: WeixinGateway, http_sms: Gateway, care_settings: Any
    ) -> None:
        with time_machine.travel(DAYTIME, tick=False):
            task = _step_task(_customer(do_not_contact=True), StepChannel.WECHAT, StepChannel.SMS)
            dispatch_due()
        assert (_reload(task).status, task.reason) == (
            TaskStatus.SKIPPED,
            SkipReason.DO_NOT_CONTACT,
        )
        assert http_sms.requests == []

    def test_reachable_customer_gets_the_steps_own_channel(
        self, wechat_api: WeixinGateway, http_sms: Gateway, care_settings: Any
    ) -> None:
        wechat_api.followers.add("o-1")
        with time_machine.travel(DAYTIME, tick=False):
            task = _step_task(_customer(openid="o-1"), StepChannel.WECHAT, StepChannel.SMS)
            dispatch_due()
        task = _reload(task)
        assert (task.status, task.channel, task.fallback_from) == (
            TaskStatus.SENT,
            StepChannel.WECHAT,
            "",
        )
        assert http_sms.requests == []


def test_customer_page_says_which_channel_a_fallback_replaced(
    client: Any, wechat_api: WeixinGateway, http_sms: Gateway, care_settings: Any
) -> None:
    # given a WeChat step sent by SMS because the customer has no WeChat id
    with time_machine.travel(DAYTIME, tick=False):
        customer = _customer()
        _step_task(customer, StepChannel.WECHAT, StepChannel.SMS)
        dispatch_due()
    client.force_login(UserFactory(role=Role.AGENT))

    # when an agent opens the customer in Chinese
    page = client.get(
        reverse("customer-detail", args=[customer.pk]), HTTP_ACCEPT_LANGUAGE="zh-hans"
    )

    # then the task shows the channel it replaced, and why on hover
    html = page.content.decode()
    assert "原定渠道：微信模板消息" in html
    assert "此渠道没有可发送的地址" in html

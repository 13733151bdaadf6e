"""The WeChat Official Account's server push: signature, template receipts, replies and
opt-out words from followers, unfollows; bad signatures and bodies change nothing."""

import time
from typing import Any
from urllib.parse import urlencode

import pytest
from defusedxml import ElementTree  # type: ignore[import-untyped]
from django.urls import reverse
from rest_framework.test import APIClient

from callcenter.choices import ConsentChannel, ConsentSource, ContactKind
from callcenter.models import ConsentChange, ContactPoint
from care.choices import EventType, StepChannel
from care.models import Event
from outreach.choices import InboundAction, TaskStatus
from outreach.models import InboundMessage, OutreachTask
from outreach.services.weixin_callbacks import wechat_signature
from outreach.services.weixin_crypto import (
    aes_key_decode,
    message_decrypt,
    message_encrypt,
    msg_signature,
)
from tests.callcenter.factories import CustomerFactory
from tests.outreach.factories import TaskFactory

pytestmark = pytest.mark.django_db

TOKEN = "wx-callback-token"
OA = "gh_0123456789ab"
URL = reverse("api-outreach-wechat-callback")


@pytest.fixture
def push(settings: Any) -> Any:
    """POST an XML body as WeChat does, signed unless told otherwise."""
    settings.WECHAT_CALLBACK_TOKEN = TOKEN
    client = APIClient()

    def _post(xml: str, *, signature: str | None = None, timestamp: int | None = None) -> Any:
        stamp = str(timestamp if timestamp is not None else int(time.time()))
        nonce = "n0nce"
        query = {
            "signature": signature or wechat_signature(token=TOKEN, timestamp=stamp, nonce=nonce),
            "timestamp": stamp,
            "nonce": nonce,
        }
        return client.post(f"{URL}?{urlencode(query)}", data=xml.encode(), content_type="text/xml")

    return _post


def _follower(openid: str = "o-wang", **fields: Any) -> Any:
    customer = CustomerFactory(**fields)
    ContactPoint.objects.create(customer=customer, kind=ContactKind.WECHAT, value=openid)
    return customer


def _text(openid: str, content: str, msg_id: str = "6054768590064713728") -> str:
    return (
        f"<xml><ToUserName><![CDATA[{OA}]]></ToUserName>"
        f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
        "<CreateTime>1348831860</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId></xml>"
    )


def _receipt(openid: str, msg_id: str, status: str) -> str:
    return (
        f"<xml><ToUserName><![CDATA[{OA}]]></ToUserName>"
        f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
        "<CreateTime>1395658920</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        "<Event><![CDATA[TEMPLATESENDJOBFINISH]]></Event>"
        f"<MsgID>{msg_id}</MsgID><Status><![CDATA[{status}]]></Status></xml>"
    )


def _wechat_task(customer: Any, msg_id: str) -> OutreachTask:
    return TaskFactory(
        customer=customer,
        channel=StepChannel.WECHAT,
        status=TaskStatus.SENT,
        provider_message_id=msg_id,
    )


class TestSignature:
    def test_url_check_echoes_echostr(self, settings: Any) -> None:
        settings.WECHAT_CALLBACK_TOKEN = TOKEN
        stamp = str(int(time.time()))
        query = {
            "signature": wechat_signature(token=TOKEN, timestamp=stamp, nonce="abc"),
            "timestamp": stamp,
            "nonce": "abc",
            "echostr": "4321",
        }
        response = APIClient().get(f"{URL}?{urlencode(query)}")
        assert response.status_code == 200
        assert response.content == b"4321"

    def test_url_check_with_a_bad_signature_is_refused(self, settings: Any) -> None:
        settings.WECHAT_CALLBACK_TOKEN = TOKEN
        query = {"signature": "f" * 40, "timestamp": str(int(time.time())), "nonce": "abc"}
        response = APIClient().get(f"{URL}?{urlencode({**query, 'echostr': '4321'})}")
        assert response.status_code == 403
        assert b"4321" not in response.content

    def test_signature_is_sha1_of_the_sorted_values(self) -> None:
        # WeChat's documented example: sort, join, sha1
        import hashlib

        expected = hashlib.sha1(b"".join(sorted([b"tok", b"123", b"xyz"]))).hexdigest()  # noqa: S324
        assert wechat_signature(token="tok", timestamp="123", nonce="xyz") == expected

    @pytest.mark.parametrize("case", ["wrong", "stale", "no_token"])
    def test_bad_signature_is_refused_and_changes_nothing(
        self, push: Any, settings: Any, case: str
    ) -> None:
        customer = _follower()
        task = _wechat_task(customer, "200")
        if case == "no_token":
            settings.WECHAT_CALLBACK_TOKEN = ""
        kwargs: dict[str, Any] = {}
        if case == "wrong":
            kwargs["signature"] = "0" * 40
        if case == "stale":
            kwargs["timestamp"] = int(time.time()) - 3600
        response = push(_receipt("o-wang", "200", "success"), **kwargs)
        assert response.status_code == 403
        task.refresh_from_db()
        assert task.status == TaskStatus.SENT
        response = push(_text("o-wang", "退订"), **kwargs)
        assert response.status_code == 403
        assert InboundMessage.objects.count() == 0
        assert ConsentChange.objects.count() == 0


class TestReceipts:
    def test_success_marks_the_task_delivered(self, push: Any) -> None:
        task = _wechat_task(_follower(), "200163836")
        sms_twin = TaskFactory(status=TaskStatus.SENT, provider_message_id="200163836")

        response = push(_receipt("o-wang", "200163836", "success"))

        assert response.status_code == 200
        assert response.content == b"success"
        task.refresh_from_db()
        assert task.status == TaskStatus.DELIVERED
        assert task.delivered_at is not None
        # an SMS that happens to carry the same provider id is not WeChat's to change
        sms_twin.refresh_from_db()
        assert sms_twin.status == TaskStatus.SENT

    def test_user_block_fails_the_task_and_records_the_opt_out(self, push: Any) -> None:
        customer = _follower()
        task = _wechat_task(customer, "201")

        push(_receipt("o-wang", "201", "failed:user block"))

        task.refresh_from_db()
        assert task.status == TaskStatus.FAILED
        assert "failed:user block" in task.last_error
        customer.refresh_from_db()
        assert customer.wechat_opt_out is True
        change = ConsentChange.objects.get(customer=customer)
        assert (change.channel, change.source) == (
            ConsentChannel.WECHAT,
            ConsentSource.INBOUND_WECHAT,
        )

    def test_system_failure_fails_the_task_without_opt_out(self, push: Any) -> None:
        customer = _follower()
        task = _wechat_task(customer, "202")
        push(_receipt("o-wang", "202", "failed: system failed"))
        task.refresh_from_db()
        assert task.status == TaskStatus.FAILED
        customer.refresh_from_db()
        assert customer.wechat_opt_out is False


class TestMessages:
    def test_a_reply_is_recorded_and_announced_like_an_sms_reply(self, push: Any) -> None:
        customer = _follower()

        response = push(_text("o-wang", "什么时候发货？"))

        assert response.status_code == 200
        message = InboundMessage.objects.get()
        assert (message.channel, message.action, message.customer_id) == (
            StepChannel.WECHAT,
            InboundAction.REPLY,
            customer.pk,
        )
        event = Event.objects.get(type=EventType.CUSTOMER_REPLIED, customer=customer)
        assert event.payload["channel"] == StepChannel.WECHAT
        assert event.payload["text"] == "什么时候发货？"

    def test_a_repeated_push_is_acknowledged_once(self, push: Any) -> None:
        _follower()
        push(_text("o-wang", "hello", msg_id="77"))
        response = push(_text("o-wang", "hello", msg_id="77"))
        assert response.status_code == 200
        assert InboundMessage.objects.count() == 1
        assert Event.objects.filter(type=EventType.CUSTOMER_REPLIED).count() == 1

    @pytest.mark.parametrize("word", ["退订", "TD", "stop", "ＳＴＯＰ"])
    def test_an_opt_out_word_opts_out_of_wechat_and_is_answered(self, push: Any, word: str) -> None:
        customer = _follower(language="zh-hans")

        response = push(_text("o-wang", word))

        customer.refresh_from_db()
        assert customer.wechat_opt_out is True
        assert customer.sms_opt_out is False
        assert InboundMessage.objects.get().action == InboundAction.OPTED_OUT
        assert not Event.objects.filter(type=EventType.CUSTOMER_REPLIED).exists()
        # the passive reply goes back to the follower from the Official Account
        reply = ElementTree.fromstring(response.content)
        assert reply.findtext("ToUserName") == "o-wang"
        assert reply.findtext("FromUserName") == OA
        assert reply.findtext("MsgType") == "text"
        assert "退订" in reply.findtext("Content")

    def test_unknown_follower_is_recorded_without_an_event(self, push: Any) -> None:
        push(_text("o-stranger", "hi"))
        message = InboundMessage.objects.get()
        assert (message.action, message.customer_id) == (InboundAction.UNKNOWN_SENDER, None)
        assert not Event.objects.filter(type=EventType.CUSTOMER_REPLIED).exists()

    def test_unfollow_records_the_opt_out(self, push: Any) -> None:
        customer = _follower()
        xml = (
            f"<xml><ToUserName>{OA}</ToUserName><FromUserName>o-wang</FromUserName>"
            "<CreateTime>1</CreateTime><MsgType>event</MsgType><Event>unsubscribe</Event></xml>"
        )
        assert push(xml).status_code == 200
        customer.refresh_from_db()
        assert customer.wechat_opt_out is True


class TestBadBodies:
    @pytest.mark.parametrize(
        ("xml", "field"),
        [
            ("not xml at all", "body"),
            ("<xml><FromUserName>o</FromUserName>", "body"),
            ("<other><MsgType>text</MsgType></other>", "body"),
            (
                "<xml><MsgType>text</MsgType><Content>hi</Content><MsgId>1</MsgId></xml>",
                "FromUserName",
            ),
            (
                "<xml><FromUserName>o-wang</FromUserName><MsgType>event</MsgType>"
                "<Event>TEMPLATESENDJOBFINISH</Event><MsgID>5</MsgID></xml>",
                "Status",
            ),
            ("<xml><ToUserName>gh</ToUserName><Encrypt>abc</Encrypt></xml>", "Encrypt"),
            (
                '<!DOCTYPE x [<!ENTITY a "aaaa">]><xml><FromUserName>&a;</FromUserName>'
                "<MsgType>text</MsgType><Content>x</Content><MsgId>9</MsgId></xml>",
                "body",
            ),
        ],
    )
    def test_malformed_push_is_400_and_changes_nothing(
        self, push: Any, xml: str, field: str | None
    ) -> None:
        customer = _follower()
        task = _wechat_task(customer, "5")

        response = push(xml)

        assert response.status_code == 400
        body = response.json()
        assert body["detail"]
        if field is not None:
            assert body["field"] == field
        task.refresh_from_db()
        assert task.status == TaskStatus.SENT
        assert InboundMessage.objects.count() == 0
        assert ConsentChange.objects.count() == 0


AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
APP_ID = "wx-app-1"


@pytest.fixture
def safe_push(settings: Any) -> Any:
    """POST a push as WeChat's encrypted ("safe") mode does: the XML encrypted for our app id
    inside an <Encrypt> envelope, `signature` and `msg_signature` in the query string."""
    settings.WECHAT_CALLBACK_TOKEN = TOKEN
    settings.WECHAT_CALLBACK_AES_KEY = AES_KEY
    settings.WECHAT_APP_ID = APP_ID
    client = APIClient()

    def _post(
        xml: str,
        *,
        receive_id: str = APP_ID,
        encrypt: str | None = None,
        msg_sig: str | None = None,
        timestamp: int | None = None,
    ) -> Any:
        stamp = str(timestamp if timestamp is not None else int(time.time()))
        nonce = "n0nce"
        if encrypt is None:
            encrypt = message_encrypt(
                key=aes_key_decode(AES_KEY), message=xml.encode(), receive_id=receive_id
            )
        query = {
            "signature": wechat_signature(token=TOKEN, timestamp=stamp, nonce=nonce),
            "timestamp": stamp,
            "nonce": nonce,
            "encrypt_type": "aes",
            "msg_signature": msg_sig
            or msg_signature(token=TOKEN, timestamp=stamp, nonce=nonce, encrypt=encrypt),
        }
        body = f"<xml><ToUserName>{OA}</ToUserName><Encrypt>{encrypt}</Encrypt></xml>"
        return client.post(f"{URL}?{urlencode(query)}", data=body.encode(), content_type="text/xml")

    return _post


class TestEncryptedMode:
    def test_a_reply_is_opened_and_announced(self, safe_push: Any) -> None:
        customer = _follower()

        response = safe_push(_text("o-wang", "收到了，谢谢"))

        assert response.status_code == 200
        assert response.content == b"success"
        message = InboundMessage.objects.get()
        assert (message.channel, message.action, message.body) == (
            StepChannel.WECHAT,
            InboundAction.REPLY,
            "收到了，谢谢",
        )
        assert Event.objects.filter(type=EventType.CUSTOMER_REPLIED, customer=customer).exists()

    def test_a_receipt_is_applied(self, safe_push: Any) -> None:
        task = _wechat_task(_follower(), "300")
        assert safe_push(_receipt("o-wang", "300", "success")).status_code == 200
        task.refresh_from_db()
        assert task.status == TaskStatus.DELIVERED

    def test_the_opt_out_confirmation_is_encrypted_back(self, safe_push: Any) -> None:
        customer = _follower(language="zh-hans")

        response = safe_push(_text("o-wang", "退订"))

        assert response.status_code == 200
        customer.refresh_from_db()
        assert customer.wechat_opt_out is True
        envelope = ElementTree.fromstring(response.content)
        encrypt = envelope.findtext("Encrypt")
        assert envelope.findtext("MsgSignature") == msg_signature(
            token=TOKEN,
            timestamp=envelope.findtext("TimeStamp"),
            nonce=envelope.findtext("Nonce"),
            encrypt=encrypt,
        )
        reply = ElementTree.fromstring(
            message_decrypt(key=aes_key_decode(AES_KEY), encrypt=encrypt, receive_id=APP_ID)
        )
        assert reply.findtext("ToUserName") == "o-wang"
        assert reply.findtext("FromUserName") == OA
        assert "退订" in reply.findtext("Content")

    def test_a_repeated_push_is_recorded_once(self, safe_push: Any) -> None:
        _follower()
        safe_push(_text("o-wang", "hello", msg_id="88"))
        assert safe_push(_text("o-wang", "hello", msg_id="88")).status_code == 200
        assert InboundMessage.objects.count() == 1

    @pytest.mark.parametrize(
        ("case", "code"),
        [
            ("tampered", 403),
            ("stale", 403),
            ("other_app", 403),
            ("no_key", 403),
            ("garbage", 400),
            ("wrong_key", 400),
        ],
    )
    def test_a_push_that_does_not_open_changes_nothing(
        self, safe_push: Any, settings: Any, case: str, code: int
    ) -> None:
        customer = _follower()
        kwargs: dict[str, Any] = {}
        if case == "tampered":
            kwargs["msg_sig"] = "0" * 40
        if case == "stale":
            kwargs["timestamp"] = int(time.time()) - 3600
        if case == "other_app":
            kwargs["receive_id"] = "wx-someone-else"
        if case == "no_key":
            settings.WECHAT_CALLBACK_AES_KEY = ""
        if case == "garbage":
            kwargs["encrypt"] = "bm90IGEgYmxvY2s="
        if case == "wrong_key":
            settings.WECHAT_CALLBACK_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"

        response = safe_push(_text("o-wang", "退订"), **kwargs)

        assert response.status_code == code, response.content
        assert response.json()["detail"]
        customer.refresh_from_db()
        assert customer.wechat_opt_out is False
        assert InboundMessage.objects.count() == 0
        assert ConsentChange.objects.count() == 0

    def test_plain_mode_keeps_working_with_a_key_set(self, safe_push: Any, push: Any) -> None:
        _follower()
        assert push(_text("o-wang", "plain")).status_code == 200
        assert InboundMessage.objects.get().body == "plain"

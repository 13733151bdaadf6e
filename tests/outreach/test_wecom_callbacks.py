"""WeCom's callback through the Django test client: the URL check, contacts lost, replies and
opt-out words from external contacts, each encrypted for our corp id and signed as WeCom does;
what does not verify or open changes nothing."""

import time
from typing import Any
from urllib.parse import urlencode

import pytest
from django.core.checks import Error, Warning
from django.urls import reverse
from rest_framework.test import APIClient

from callcenter.choices import ConsentChannel, ConsentSource, ContactKind
from callcenter.models import ConsentChange, ContactPoint
from care.choices import EventType, StepChannel
from care.models import Event
from outreach.checks import outreach_callback_keys_check, outreach_wecom_callback_check
from outreach.choices import InboundAction
from outreach.models import InboundMessage
from outreach.services.weixin_crypto import aes_key_decode, message_encrypt, msg_signature
from tests.callcenter.factories import CustomerFactory

pytestmark = pytest.mark.django_db

TOKEN = "wecom-callback-token"
AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
CORP_ID = "ww-corp-1"
URL = reverse("api-outreach-wecom-callback")


def _encrypt(message: str, receive_id: str = CORP_ID) -> str:
    return message_encrypt(
        key=aes_key_decode(AES_KEY), message=message.encode(), receive_id=receive_id
    )


@pytest.fixture
def wecom(settings: Any) -> Any:
    settings.WECOM_CALLBACK_TOKEN = TOKEN
    settings.WECOM_CALLBACK_AES_KEY = AES_KEY
    settings.WECOM_CORP_ID = CORP_ID
    settings.WECOM_SENDER = ""
    return settings


@pytest.fixture
def push(wecom: Any) -> Any:
    """POST an XML message as WeCom does: encrypted for our corp id in an <Encrypt> envelope,
    `msg_signature`, `timestamp` and `nonce` in the query string."""
    client = APIClient()

    def _post(
        xml: str,
        *,
        receive_id: str = CORP_ID,
        encrypt: str | None = None,
        signature: str | None = None,
        timestamp: int | None = None,
        body: str | None = None,
    ) -> Any:
        stamp = str(timestamp if timestamp is not None else int(time.time()))
        nonce = "1372623149"
        encrypt = _encrypt(xml, receive_id) if encrypt is None else encrypt
        query = {
            "msg_signature": signature
            or msg_signature(token=TOKEN, timestamp=stamp, nonce=nonce, encrypt=encrypt),
            "timestamp": stamp,
            "nonce": nonce,
        }
        if body is None:
            body = (
                f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName>"
                f"<Encrypt><![CDATA[{encrypt}]]></Encrypt><AgentID>218</AgentID></xml>"
            )
        return client.post(f"{URL}?{urlencode(query)}", data=body.encode(), content_type="text/xml")

    return _post


def _contact(external: str = "wm-wang", **fields: Any) -> Any:
    customer = CustomerFactory(**fields)
    ContactPoint.objects.create(
        customer=customer, kind=ContactKind.WECOM, value=external, is_primary=True
    )
    return customer


def _change(change_type: str, external: str = "wm-wang", member: str = "advisor-li") -> str:
    return (
        f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName>"
        "<FromUserName><![CDATA[sys]]></FromUserName><CreateTime>1403610513</CreateTime>"
        "<MsgType><![CDATA[event]]></MsgType>"
        "<Event><![CDATA[change_external_contact]]></Event>"
        f"<ChangeType><![CDATA[{change_type}]]></ChangeType>"
        f"<UserID><![CDATA[{member}]]></UserID>"
        f"<ExternalUserID><![CDATA[{external}]]></ExternalUserID></xml>"
    )


def _text(sender: str, content: str, msg_id: str = "1234567890123456") -> str:
    return (
        f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName>"
        f"<FromUserName><![CDATA[{sender}]]></FromUserName><CreateTime>1348831860</CreateTime>"
        "<MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId>"
        "<AgentID>218</AgentID></xml>"
    )


class TestUrlCheck:
    def _get(self, echostr: str, signature: str | None = None) -> Any:
        stamp = str(int(time.time()))
        query = {
            "msg_signature": signature
            or msg_signature(token=TOKEN, timestamp=stamp, nonce="5", encrypt=echostr),
            "timestamp": stamp,
            "nonce": "5",
            "echostr": echostr,
        }
        return APIClient().get(f"{URL}?{urlencode(query)}")

    def test_answers_the_decrypted_echostr(self, wecom: Any) -> None:
        response = self._get(_encrypt("1616140317555161061"))
        assert response.status_code == 200
        assert response.content == b"1616140317555161061"

    def test_a_bad_signature_is_refused(self, wecom: Any) -> None:
        response = self._get(_encrypt("1616140317555161061"), signature="0" * 40)
        assert response.status_code == 403
        assert b"1616140317555161061" not in response.content

    def test_an_echostr_for_another_corp_is_refused(self, wecom: Any) -> None:
        assert self._get(_encrypt("42", receive_id="ww-other")).status_code == 403

    def test_an_undecryptable_echostr_is_400(self, wecom: Any) -> None:
        response = self._get("bm90IGEgYmxvY2s=")
        assert response.status_code == 400
        assert response.json()["field"] == "echostr"

    def test_without_a_token_everything_is_refused(self, wecom: Any) -> None:
        wecom.WECOM_CALLBACK_TOKEN = ""
        assert self._get(_encrypt("42")).status_code == 403


class TestContactChanges:
    @pytest.mark.parametrize("change_type", ["del_follow_user", "del_external_contact"])
    def test_a_lost_contact_records_the_wecom_opt_out_once(
        self, push: Any, change_type: str
    ) -> None:
        customer = _contact()

        response = push(_change(change_type))
        repeated = push(_change(change_type))

        assert (response.status_code, repeated.status_code) == (200, 200)
        assert response.content == b""
        customer.refresh_from_db()
        assert customer.wecom_opt_out is True
        assert customer.wechat_opt_out is False
        change = ConsentChange.objects.get(customer=customer)
        assert (change.channel, change.source) == (ConsentChannel.WECOM, ConsentSource.PROVIDER)
        assert change_type in change.note
        assert "advisor-li" in change.note

    def test_another_members_change_is_ignored_when_a_sender_is_set(
        self, push: Any, wecom: Any
    ) -> None:
        wecom.WECOM_SENDER = "advisor-li"
        customer = _contact()

        push(_change("del_external_contact", member="advisor-zhao"))
        customer.refresh_from_db()
        assert customer.wecom_opt_out is False

        push(_change("del_external_contact", member="advisor-li"))
        customer.refresh_from_db()
        assert customer.wecom_opt_out is True

    def test_an_added_contact_changes_nothing(self, push: Any) -> None:
        customer = _contact()
        assert push(_change("add_external_contact")).status_code == 200
        customer.refresh_from_db()
        assert customer.wecom_opt_out is False
        assert ConsentChange.objects.count() == 0

    def test_an_unknown_contact_is_acknowledged(self, push: Any) -> None:
        assert push(_change("del_follow_user", external="wm-stranger")).status_code == 200
        assert ConsentChange.objects.count() == 0


class TestMessages:
    def test_a_reply_is_recorded_and_announced_like_an_sms_reply(self, push: Any) -> None:
        customer = _contact()

        response = push(_text("wm-wang", "好的，明天联系"))

        assert response.status_code == 200
        message = InboundMessage.objects.get()
        assert (message.channel, message.action, message.customer_id) == (
            StepChannel.WECOM,
            InboundAction.REPLY,
            customer.pk,
        )
        event = Event.objects.get(type=EventType.CUSTOMER_REPLIED, customer=customer)
        assert event.payload["channel"] == StepChannel.WECOM
        assert event.payload["text"] == "好的，明天联系"

    def test_a_repeated_push_is_recorded_once(self, push: Any) -> None:
        _contact()
        push(_text("wm-wang", "hi", msg_id="99"))
        assert push(_text("wm-wang", "hi", msg_id="99")).status_code == 200
        assert InboundMessage.objects.count() == 1
        assert Event.objects.filter(type=EventType.CUSTOMER_REPLIED).count() == 1

    @pytest.mark.parametrize("word", ["退订", "TD", "stop"])
    def test_an_opt_out_word_opts_out_of_wecom_only(self, push: Any, word: str) -> None:
        customer = _contact()

        assert push(_text("wm-wang", word)).status_code == 200

        customer.refresh_from_db()
        assert customer.wecom_opt_out is True
        assert (customer.sms_opt_out, customer.wechat_opt_out) == (False, False)
        assert InboundMessage.objects.get().action == InboundAction.OPTED_OUT
        assert ConsentChange.objects.get().channel == ConsentChannel.WECOM
        assert not Event.objects.filter(type=EventType.CUSTOMER_REPLIED).exists()

    def test_a_members_message_to_the_app_is_ignored(self, push: Any) -> None:
        _contact()
        assert push(_text("zhangsan", "hello app")).status_code == 200
        assert InboundMessage.objects.count() == 0
        assert not Event.objects.exists()


class TestRefused:
    @pytest.mark.parametrize(
        ("case", "code", "field"),
        [
            ("bad_signature", 403, None),
            ("stale", 403, None),
            ("other_corp", 403, None),
            ("no_key", 403, None),
            ("undecryptable", 400, "Encrypt"),
            ("no_encrypt", 400, "Encrypt"),
            ("not_xml", 400, "body"),
            ("inner_not_xml", 400, "body"),
            ("inner_missing_field", 400, "ExternalUserID"),
        ],
    )
    def test_nothing_changes(
        self, push: Any, wecom: Any, case: str, code: int, field: str | None
    ) -> None:
        customer = _contact()
        xml = _text("wm-wang", "退订")
        kwargs: dict[str, Any] = {}
        if case == "bad_signature":
            kwargs["signature"] = "f" * 40
        if case == "stale":
            kwargs["timestamp"] = int(time.time()) - 600
        if case == "other_corp":
            kwargs["receive_id"] = "ww-other"
        if case == "no_key":
            wecom.WECOM_CALLBACK_AES_KEY = ""
        if case == "undecryptable":
            kwargs["encrypt"] = "%%%not-base64%%%"
        if case == "no_encrypt":
            kwargs["body"] = f"<xml><ToUserName>{CORP_ID}</ToUserName></xml>"
        if case == "not_xml":
            kwargs["body"] = "<xml><Encrypt>"
        if case == "inner_not_xml":
            xml = "<xml><MsgType>text"
        if case == "inner_missing_field":
            xml = _change("del_follow_user", external="")

        response = push(xml, **kwargs)

        assert response.status_code == code, response.content
        body = response.json()
        assert body["detail"]
        if field is not None:
            assert body["field"] == field
        customer.refresh_from_db()
        assert customer.wecom_opt_out is False
        assert InboundMessage.objects.count() == 0
        assert ConsentChange.objects.count() == 0


class TestChecks:
    def test_the_api_backend_without_callback_settings_warns(self, settings: Any) -> None:
        settings.WECOM_BACKEND = "api"
        settings.WECOM_CALLBACK_TOKEN = ""
        settings.WECOM_CALLBACK_AES_KEY = AES_KEY
        [warning] = outreach_wecom_callback_check()
        assert isinstance(warning, Warning)
        assert "WECOM_CALLBACK_TOKEN" in warning.msg
        settings.WECOM_CALLBACK_TOKEN = TOKEN
        assert outreach_wecom_callback_check() == []
        settings.WECOM_BACKEND = "console"
        settings.WECOM_CALLBACK_TOKEN = ""
        assert outreach_wecom_callback_check() == []

    def test_a_malformed_encoding_aes_key_is_an_error(self, settings: Any) -> None:
        settings.WECOM_CALLBACK_AES_KEY = AES_KEY
        settings.WECHAT_CALLBACK_AES_KEY = "too-short"
        [error] = outreach_callback_keys_check()
        assert isinstance(error, Error)
        assert "WECHAT_CALLBACK_AES_KEY" in error.msg
        settings.WECHAT_CALLBACK_AES_KEY = ""
        assert outreach_callback_keys_check() == []


def test_an_unsigned_post_is_refused_before_its_body_is_read(wecom: Any) -> None:
    query = urlencode({"timestamp": str(int(time.time())), "nonce": "1"})
    response = APIClient().post(f"{URL}?{query}", data=b"not xml", content_type="text/xml")
    assert response.status_code == 403
    assert "msg_signature" in response.json()["detail"]

"""The WeChat Official Account and WeCom backends against the loopback API that speaks
Tencent's documented formats: token fetch, caching in Redis, refresh on expiry, error codes."""

import threading
from typing import Any

import pytest

from callcenter.redis_client import redis_client
from care.choices import StepChannel
from outreach.backends import (
    PermanentSendError,
    RecipientUnreachable,
    TransientSendError,
    WeChatTemplateBackend,
    WeComExternalBackend,
    channel_backend,
)
from outreach.checks import outreach_backends_check, outreach_wechat_callback_check
from tests.outreach import weixin_gateway as wx

OPENID = "oAbc123followerXYZ"
EXTERNAL_ID = "wmExternal0001"


def _wechat(gateway: wx.WeixinGateway, **kwargs: Any) -> WeChatTemplateBackend:
    values: dict[str, Any] = {
        "app_id": wx.APP_ID,
        "secret": wx.APP_SECRET,
        "template_id": wx.TEMPLATE_ID,
        "base_url": gateway.url,
        "timeout": 2,
    }
    return WeChatTemplateBackend(**{**values, **kwargs})


def _wecom(gateway: wx.WeixinGateway, **kwargs: Any) -> WeComExternalBackend:
    values: dict[str, Any] = {
        "corp_id": wx.CORP_ID,
        "secret": wx.CORP_SECRET,
        "sender": "advisor-li",
        "base_url": gateway.url,
        "timeout": 2,
    }
    return WeComExternalBackend(**{**values, **kwargs})


def test_wechat_fetches_a_token_once_and_sends_the_documented_template_message(
    weixin: wx.WeixinGateway,
) -> None:
    # given a follower and a template whose keywords take the subject and the text
    weixin.followers.add(OPENID)
    backend = _wechat(
        weixin, template_data='{"thing1": "{subject}", "content": "{body}"}', url="https://x.cn/m"
    )

    # when two messages are sent
    first = backend.send(to=OPENID, body="您的工单已解决", subject="回访", idempotency_key="k-1")
    second = backend.send(to=OPENID, body="second", idempotency_key="k-2")

    # then one token served both sends, and the body is WeChat's template format
    assert weixin.token_fetches == 1
    assert (first, second) == ("1001", "1002")
    sent = weixin.delivered[0]
    assert sent.path == "/cgi-bin/message/template/send"
    assert sent.query == {"access_token": "wx-token-1"}
    assert sent.body["touser"] == OPENID
    assert sent.body["template_id"] == wx.TEMPLATE_ID
    assert sent.body["url"] == "https://x.cn/m"
    assert sent.body["data"] == {
        "thing1": {"value": "回访"},
        "content": {"value": "您的工单已解决"},
    }
    # and the token is shared through Redis with an expiry before WeChat's
    ttl = redis_client().ttl(backend.key)
    assert 7200 - 300 - 5 <= ttl <= 7200 - 300


def test_wechat_resend_of_the_same_task_is_deduplicated_by_client_msg_id(
    weixin: wx.WeixinGateway,
) -> None:
    weixin.followers.add(OPENID)
    backend = _wechat(weixin)
    first = backend.send(to=OPENID, body="a", idempotency_key="same")
    second = backend.send(to=OPENID, body="a", idempotency_key="same")
    assert first == second
    assert len(weixin.sends) == 2
    assert len(weixin.delivered) == 1


@pytest.mark.parametrize("make_stale", ["expire_tokens", "revoke_tokens"])
def test_an_expired_or_revoked_token_is_refreshed_once_and_the_send_retried(
    weixin: wx.WeixinGateway, make_stale: str
) -> None:
    # given a cached token that WeChat no longer accepts (42001 expired, 40001 invalid)
    weixin.followers.add(OPENID)
    backend = _wechat(weixin)
    backend.send(to=OPENID, body="first", idempotency_key="k-1")
    getattr(weixin, make_stale)()

    # when
    message_id = backend.send(to=OPENID, body="second", idempotency_key="k-2")

    # then a new token was fetched, cached, and the send went through on it
    assert message_id == "1002"
    assert weixin.token_fetches == 2
    assert [s.query["access_token"] for s in weixin.sends] == [
        "wx-token-1",
        "wx-token-1",
        "wx-token-2",
    ]
    assert redis_client().get(backend.key) == b"wx-token-2"


def test_a_token_that_really_expires_is_refreshed(weixin: wx.WeixinGateway) -> None:
    # given WeChat tokens that live one second (our cache keeps them at least a minute)
    weixin.followers.add(OPENID)
    weixin.token_lifetime = 1
    backend = _wechat(weixin)
    backend.send(to=OPENID, body="first", idempotency_key="k-1")
    weixin.token_lifetime = 7200
    weixin.expire_tokens()

    # when / then
    assert backend.send(to=OPENID, body="second", idempotency_key="k-2") == "1002"
    assert weixin.token_fetches == 2


def test_a_token_still_refused_after_the_refresh_fails_without_looping(
    weixin: wx.WeixinGateway,
) -> None:
    weixin.followers.add(OPENID)
    weixin.errcode_next(5, 40001)
    backend = _wechat(weixin)
    with pytest.raises(PermanentSendError, match="errcode 40001"):
        backend.send(to=OPENID, body="x", idempotency_key="k-1")
    assert len(weixin.sends) == 2
    assert weixin.token_fetches == 2


def test_concurrent_workers_fetch_the_token_once(weixin: wx.WeixinGateway) -> None:
    # given six workers starting together with no token cached, and a slow token endpoint
    weixin.token_fetch_delay = 0.3
    backends = [_wechat(weixin) for _ in range(6)]
    tokens: list[str] = []
    errors: list[BaseException] = []

    def fetch(backend: WeChatTemplateBackend) -> None:
        try:
            tokens.append(backend.access_token())
        except BaseException as exc:  # the test reports it below
            errors.append(exc)

    threads = [threading.Thread(target=fetch, args=(backend,)) for backend in backends]

    # when
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    # then one fetch under the lock served everyone
    assert errors == []
    assert weixin.token_fetches == 1
    assert tokens == ["wx-token-1"] * 6


def test_wechat_unsubscribed_user_is_unreachable_and_opted_out(weixin: wx.WeixinGateway) -> None:
    weixin.unfollowed.add(OPENID)
    with pytest.raises(RecipientUnreachable) as caught:
        _wechat(weixin).send(to=OPENID, body="x", idempotency_key="k-1")
    assert caught.value.code == 43004
    assert caught.value.opted_out is True
    assert "43004" in str(caught.value)
    assert len(weixin.sends) == 1  # no retry


def test_wechat_unknown_openid_is_unreachable_but_not_an_opt_out(
    weixin: wx.WeixinGateway,
) -> None:
    with pytest.raises(RecipientUnreachable) as caught:
        _wechat(weixin).send(to="o-nobody", body="x", idempotency_key="k-1")
    assert (caught.value.code, caught.value.opted_out) == (40003, False)


@pytest.mark.parametrize(
    ("errcode", "error"),
    [(-1, TransientSendError), (45009, TransientSendError), (40037, PermanentSendError)],
)
def test_wechat_errcodes_are_transient_or_permanent(
    weixin: wx.WeixinGateway, errcode: int, error: type[Exception]
) -> None:
    weixin.followers.add(OPENID)
    weixin.errcode_next(1, errcode)
    with pytest.raises(error, match=f"errcode {errcode}") as caught:
        _wechat(weixin).send(to=OPENID, body="x", idempotency_key="k-1")
    assert not isinstance(caught.value, RecipientUnreachable)


def test_wrong_credentials_fail_permanently_with_the_code(weixin: wx.WeixinGateway) -> None:
    with pytest.raises(PermanentSendError, match="token fetch: errcode 40013"):
        _wechat(weixin, secret="wrong").send(to=OPENID, body="x", idempotency_key="k-1")
    assert weixin.sends == []


def test_an_unreachable_api_is_transient(weixin: wx.WeixinGateway) -> None:
    backend = _wechat(weixin, base_url="http://127.0.0.1:9")
    with pytest.raises(TransientSendError):
        backend.send(to=OPENID, body="x", idempotency_key="k-1")


def test_wecom_sends_the_documented_external_contact_message(weixin: wx.WeixinGateway) -> None:
    weixin.contacts.add(EXTERNAL_ID)
    backend = _wecom(weixin)

    message_id = backend.send(to=EXTERNAL_ID, body="您好，回访一下", idempotency_key="k-1")

    assert message_id == "msgGW1001"
    (sent,) = weixin.delivered
    assert sent.path == "/cgi-bin/externalcontact/add_msg_template"
    assert sent.query == {"access_token": "ww-token-1"}
    assert sent.body == {
        "chat_type": "single",
        "external_userid": [EXTERNAL_ID],
        "sender": "advisor-li",
        "text": {"content": "您好，回访一下"},
    }


def test_wecom_refreshes_an_expired_token(weixin: wx.WeixinGateway) -> None:
    weixin.contacts.add(EXTERNAL_ID)
    backend = _wecom(weixin)
    backend.send(to=EXTERNAL_ID, body="a", idempotency_key="k-1")
    weixin.expire_tokens()
    assert backend.send(to=EXTERNAL_ID, body="b", idempotency_key="k-2") == "msgGW1002"
    assert weixin.token_fetches == 2


def test_wecom_lost_or_unknown_contact_is_unreachable(weixin: wx.WeixinGateway) -> None:
    weixin.lost_contacts.add(EXTERNAL_ID)
    with pytest.raises(RecipientUnreachable, match="not an external contact"):
        _wecom(weixin).send(to=EXTERNAL_ID, body="a", idempotency_key="k-1")
    with pytest.raises(RecipientUnreachable) as caught:
        _wecom(weixin).send(to="wm-nobody", body="a", idempotency_key="k-2")
    assert caught.value.code == 40096


def test_settings_choose_the_api_backends(settings: Any, wechat_api: wx.WeixinGateway) -> None:
    assert isinstance(channel_backend(StepChannel.WECHAT), WeChatTemplateBackend)
    assert isinstance(channel_backend(StepChannel.WECOM), WeComExternalBackend)


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("WECHAT_APP_SECRET", "", "WECHAT_APP_SECRET"),
        ("WECHAT_TEMPLATE_ID", "", "WECHAT_TEMPLATE_ID"),
        ("WECHAT_TEMPLATE_DATA", "{not json", "WECHAT_TEMPLATE_DATA is not valid JSON"),
        ("WECHAT_TEMPLATE_DATA", '{"a": 1}', "WECHAT_TEMPLATE_DATA must be an object of texts"),
        ("WECHAT_API_BASE_URL", "ftp://x", "WECHAT_API_BASE_URL must be an http"),
        ("WECOM_SECRET", "", "WECOM_SECRET"),
        ("WECHAT_BACKEND", "carrier-pigeon", "WECHAT_BACKEND='carrier-pigeon'"),
    ],
)
def test_a_misconfigured_backend_fails_loudly_at_startup(
    settings: Any, wechat_api: wx.WeixinGateway, setting: str, value: str, message: str
) -> None:
    setattr(settings, setting, value)
    problems = outreach_backends_check()
    assert len(problems) == 1
    assert message in problems[0].msg
    assert problems[0].id == "outreach.E001"


def test_deploy_check_warns_when_wechat_pushes_would_be_refused(
    settings: Any, wechat_api: wx.WeixinGateway
) -> None:
    settings.WECHAT_CALLBACK_TOKEN = ""
    assert [w.id for w in outreach_wechat_callback_check()] == ["outreach.W003"]
    settings.WECHAT_CALLBACK_TOKEN = "token"
    assert outreach_wechat_callback_check() == []
    settings.WECHAT_CALLBACK_TOKEN = ""
    settings.WECHAT_BACKEND = "console"
    assert outreach_wechat_callback_check() == []


def test_wecom_resend_of_the_same_task_is_not_delivered_twice(weixin: wx.WeixinGateway) -> None:
    # given a task recovered from a dead worker after WeCom accepted it (same key again)
    weixin.contacts.add(EXTERNAL_ID)
    first = _wecom(weixin).send(to=EXTERNAL_ID, body="a", idempotency_key="same")

    # when another worker sends it again
    second = _wecom(weixin).send(to=EXTERNAL_ID, body="a", idempotency_key="same")

    # then WeCom got it once, and the second send answers the first msgid
    assert first == second == "msgGW1001"
    assert len(weixin.sends) == 1


def test_redis_down_is_transient_and_sends_nothing(weixin: wx.WeixinGateway, settings: Any) -> None:
    # given the shared token cache unreachable
    weixin.followers.add(OPENID)
    settings.REDIS_URL = "redis://127.0.0.1:9/0"
    redis_client.cache_clear()
    try:
        # when / then the send is retried later, with nothing sent meanwhile
        with pytest.raises(TransientSendError, match="token cache"):
            _wechat(weixin).send(to=OPENID, body="x", idempotency_key="k-1")
        with pytest.raises(TransientSendError, match="cache"):
            _wecom(weixin).send(to=EXTERNAL_ID, body="x", idempotency_key="k-2")
    finally:
        redis_client.cache_clear()
    assert weixin.sends == []
    assert weixin.token_fetches == 0

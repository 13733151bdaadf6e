"""Fixtures of the outreach tests: a loopback SMS gateway, settings pointing at it, signed
webhook requests, care settings."""

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import connection
from django.test.utils import setup_databases
from rest_framework.test import APIClient

from callcenter.models import Customer
from callcenter.redis_client import redis_client
from care.models import CareSettings
from outreach.models import OutreachTask
from tests.outreach import weixin_gateway as wx
from tests.outreach.gateway import Gateway, GatewayServer
from tests.signing import signed_headers

WEBHOOK_SECRET = "test-webhook-secret"


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    with GatewayServer() as running:
        yield running


@pytest.fixture
def http_sms(settings: Any, gateway: Gateway) -> Gateway:
    """SMS through the generic HTTP backend to the loopback gateway."""
    settings.SMS_BACKEND = "http"
    settings.SMS_GATEWAY_URL = f"{gateway.url}/send"
    settings.SMS_GATEWAY_TOKEN = gateway.token
    settings.SMS_TIMEOUT_SECONDS = 0.5
    return gateway


@pytest.fixture
def weixin() -> Iterator[wx.WeixinGateway]:
    """The loopback WeChat/WeCom API, with no access token (nor sent WeCom message) remembered
    in Redis before or after."""

    def forget_tokens() -> None:
        client = redis_client()
        keys = list(client.scan_iter("outreach:weixin:*"))
        if keys:
            client.delete(*keys)

    forget_tokens()
    with wx.WeixinGatewayServer() as running:
        yield running
    forget_tokens()


@pytest.fixture
def wechat_api(settings: Any, weixin: wx.WeixinGateway) -> wx.WeixinGateway:
    """WeChat template messages and WeCom messages through the loopback API."""
    settings.WECHAT_BACKEND = "api"
    settings.WECHAT_API_BASE_URL = weixin.url
    settings.WECHAT_APP_ID = wx.APP_ID
    settings.WECHAT_APP_SECRET = wx.APP_SECRET
    settings.WECHAT_TEMPLATE_ID = wx.TEMPLATE_ID
    settings.WECHAT_TEMPLATE_DATA = '{"thing1": "{subject}", "content": "{body}"}'
    settings.WECOM_BACKEND = "api"
    settings.WECOM_API_BASE_URL = weixin.url
    settings.WECOM_CORP_ID = wx.CORP_ID
    settings.WECOM_SECRET = wx.CORP_SECRET
    settings.WECOM_SENDER = "advisor-li"
    settings.SMS_TIMEOUT_SECONDS = 2
    return weixin


@pytest.fixture
def care_settings(db: None) -> CareSettings:
    return CareSettings.load()


def sign(
    body: bytes, *, path: str, timestamp: int | None = None, secret: str = WEBHOOK_SECRET
) -> dict:
    """Headers of `body` POSTed to `path`, signed as the SMS gateway does."""
    return signed_headers(body, secret=secret, path=path, timestamp=timestamp)


@pytest.fixture
def webhook(settings: Any) -> Callable[..., Any]:
    """POST a JSON body to a webhook, signed with the SMS gateway's secret unless told
    otherwise."""
    settings.SMS_WEBHOOK_SECRETS = [WEBHOOK_SECRET]
    client = APIClient()

    def _post(
        url: str, payload: dict, *, headers: dict | None = None, timestamp: int | None = None
    ) -> Any:
        body = json.dumps(payload, ensure_ascii=False).encode()
        signed = sign(body, path=url, timestamp=timestamp) if headers is None else headers
        return client.post(url, data=body, content_type="application/json", **signed)

    return _post


@pytest.fixture
def committed(django_db_setup: None, django_db_blocker: Any) -> Any:
    """Database access outside any test transaction, so rows are committed and other
    connections see them; the customers listed in the yielded list (and their tasks and
    contact points) are deleted afterwards. Unlike a transactional test this flushes nothing,
    so rows installed by data migrations (roles, built-in segments) stay for later tests."""
    customers: list[Any] = []
    with django_db_blocker.unblock():
        if not connection.settings_dict["NAME"].startswith("test_"):
            # pytest-django sets up the test database only when a collected test is marked
            # for the database; when only tests of this kind run, do it here (kept, as with
            # --reuse-db).
            setup_databases(verbosity=0, interactive=False, keepdb=True, aliases={"default"})
        had_settings = CareSettings.objects.filter(pk=1).exists()
        try:
            yield customers
        finally:
            ids = [customer.pk for customer in customers]
            OutreachTask.objects.filter(customer_id__in=ids).delete()
            Customer.objects.filter(pk__in=ids).delete()
            if not had_settings:
                CareSettings.objects.filter(pk=1).delete()
            connection.close()

"""Fixtures of the outreach tests: a loopback SMS gateway, settings pointing at it, signed
webhook requests, care settings."""

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from rest_framework.test import APIClient

from care.models import CareSettings
from tests.outreach.gateway import Gateway, GatewayServer

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
def care_settings(db: None) -> CareSettings:
    return CareSettings.load()


def sign(body: bytes, *, timestamp: int | None = None, secret: str = WEBHOOK_SECRET) -> dict:
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    signature = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256)
    return {"HTTP_X_TIMESTAMP": stamp, "HTTP_X_SIGNATURE": signature.hexdigest()}


@pytest.fixture
def webhook(settings: Any) -> Callable[..., Any]:
    """POST a JSON body to a webhook, signed with the shared secret unless told otherwise."""
    settings.OUTREACH_WEBHOOK_SECRET = WEBHOOK_SECRET
    client = APIClient()

    def _post(
        url: str, payload: dict, *, headers: dict | None = None, timestamp: int | None = None
    ) -> Any:
        body = json.dumps(payload, ensure_ascii=False).encode()
        signed = sign(body, timestamp=timestamp) if headers is None else headers
        return client.post(url, data=body, content_type="application/json", **signed)

    return _post

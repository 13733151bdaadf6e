"""Requests without a user (the signed webhooks) are rate-limited per client address in Redis:
the N+1th request in the window is 429, refused requests count too, another address is not
affected, and users with a token are not limited by it."""

import json
from typing import Any

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from callcenter.choices import Role
from tests.callcenter.factories import CustomerFactory, UserFactory
from tests.signing import signed_headers

pytestmark = pytest.mark.django_db

LIMIT = 3
SECRETS = {
    "sms": "sms-secret",
    "voice": "voice-secret",
    "cti": "cti-secret",
    "events": "events-secret",
}
# Each anonymous endpoint with its integration and a body it accepts or refuses for content.
WEBHOOKS = {
    "receipts": (
        "/api/outreach/receipts/",
        "sms",
        {"provider_message_id": "x", "status": "delivered"},
    ),
    "inbound-sms": ("/api/outreach/inbound-sms/", "sms", {"from": "", "body": "", "id": ""}),
    "call-results": (
        "/api/outreach/call-results/",
        "voice",
        {"call_id": "x", "result": "answered"},
    ),
    "cti": ("/api/cti/call-events/", "cti", {"event": "ringing"}),
    "events": ("/api/events/", "events", {"type": "external"}),
}


@pytest.fixture(autouse=True)
def _limits(settings: Any) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"webhook": f"{LIMIT}/min"},
    }
    settings.SMS_WEBHOOK_SECRETS = [SECRETS["sms"]]
    settings.VOICE_WEBHOOK_SECRETS = [SECRETS["voice"]]
    settings.CTI_WEBHOOK_SECRETS = [SECRETS["cti"]]
    settings.EVENTS_WEBHOOK_SECRETS = [SECRETS["events"]]


def _signed_post(
    path: str, integration: str, payload: dict[str, Any], *, n: int, **extra: str
) -> Any:
    # Each request its own body, so none is refused as a replay of another.
    body = json.dumps({**payload, "n": n}).encode()
    headers = signed_headers(body, secret=SECRETS[integration], path=path)
    return APIClient().post(path, body, content_type="application/json", **headers, **extra)


@pytest.mark.parametrize("webhook", WEBHOOKS)
def test_the_request_past_the_rate_is_429_and_another_address_is_not_affected(
    webhook: str,
) -> None:
    path, integration, payload = WEBHOOKS[webhook]

    # given one address used its allowance
    allowed = [
        _signed_post(path, integration, payload, n=n, REMOTE_ADDR="10.0.0.1") for n in range(LIMIT)
    ]

    # when it sends one more, and another address sends one
    over = _signed_post(path, integration, payload, n=LIMIT, REMOTE_ADDR="10.0.0.1")
    other = _signed_post(path, integration, payload, n=LIMIT, REMOTE_ADDR="10.0.0.2")

    # then only the one over the rate is throttled
    assert all(response.status_code < 429 for response in allowed), allowed
    assert over.status_code == 429
    assert int(over["Retry-After"]) > 0
    assert "throttled" in over.json()["detail"]
    assert other.status_code != 429


def test_refused_signatures_count_towards_the_rate() -> None:
    path, _integration, payload = WEBHOOKS["receipts"]
    forged = [_signed_post(path, "cti", payload, n=n, REMOTE_ADDR="10.0.0.1") for n in range(LIMIT)]

    valid_but_over = _signed_post(path, "sms", payload, n=LIMIT, REMOTE_ADDR="10.0.0.1")

    assert [response.status_code for response in forged] == [403] * LIMIT
    assert valid_but_over.status_code == 429


def test_behind_a_trusted_proxy_clients_are_told_apart_by_x_forwarded_for(
    settings: Any,
) -> None:
    settings.TRUSTED_PROXY_COUNT = 1
    path, integration, payload = WEBHOOKS["receipts"]
    via_proxy = {"REMOTE_ADDR": "10.9.9.9"}
    for n in range(LIMIT):
        _signed_post(
            path, integration, payload, n=n, HTTP_X_FORWARDED_FOR="203.0.113.1", **via_proxy
        )

    first_client = _signed_post(
        path, integration, payload, n=LIMIT, HTTP_X_FORWARDED_FOR="203.0.113.1", **via_proxy
    )
    second_client = _signed_post(
        path, integration, payload, n=LIMIT, HTTP_X_FORWARDED_FOR="203.0.113.2", **via_proxy
    )

    assert first_client.status_code == 429
    assert second_client.status_code == 200


def test_users_with_a_token_are_not_limited_by_the_webhook_rate() -> None:
    admin = UserFactory(role=Role.ADMIN, username="erp")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=admin).key}")
    customer = CustomerFactory()

    statuses = [
        client.post(
            "/api/events/",
            {"type": "external", "customer_id": customer.pk, "idempotency_key": f"k{n}"},
            format="json",
            REMOTE_ADDR="10.0.0.1",
        ).status_code
        for n in range(LIMIT + 2)
    ]

    assert statuses == [201] * (LIMIT + 2)

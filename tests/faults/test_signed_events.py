"""The events API for integrations without a user: a request signed with the events
integration's secret is accepted once; forged, stale, unsigned or replayed requests, and
requests signed with another integration's secret, change nothing."""

import json
import time
from typing import Any

import pytest
from rest_framework.test import APIClient

from care.models import Event
from tests.callcenter.factories import CustomerFactory
from tests.signing import signed_headers

SECRET = "events-test-secret"
SMS_SECRET = "sms-gateway-secret"
URL = "/api/events/"

pytestmark = pytest.mark.django_db


def _signed(body: bytes, *, stamp: int | None = None, secret: str = SECRET) -> dict[str, str]:
    return signed_headers(body, secret=secret, path=URL, timestamp=stamp)


@pytest.fixture
def post(settings: Any) -> Any:
    settings.EVENTS_WEBHOOK_SECRETS = [SECRET]
    settings.SMS_WEBHOOK_SECRETS = [SMS_SECRET]
    client = APIClient()

    def _post(body: bytes, headers: dict[str, str]) -> Any:
        return client.post(URL, data=body, content_type="application/json", **headers)

    return _post


def _body(customer_id: int, key: str = "erp-1") -> bytes:
    return json.dumps(
        {"type": "external", "customer_id": customer_id, "idempotency_key": key}
    ).encode()


def test_a_signed_event_without_a_user_is_recorded_once(post: Any) -> None:
    customer = CustomerFactory()
    body = _body(customer.pk)

    accepted = post(body, _signed(body))

    assert accepted.status_code == 201, accepted.content
    event = Event.objects.get()
    assert event.customer_id == customer.pk
    assert (event.client, event.idempotency_key) == ("integration:events", "erp-1")


def test_forged_stale_unsigned_and_replayed_events_are_refused(post: Any) -> None:
    customer = CustomerFactory()
    body = _body(customer.pk)
    headers = _signed(body)
    assert post(body, headers).status_code == 201

    replayed = post(body, headers)
    other = _body(customer.pk, key="erp-2")
    forged = post(other, _signed(other, secret="guessed"))
    by_the_sms_gateway = post(other, _signed(other, secret=SMS_SECRET))
    stale = post(other, _signed(other, stamp=int(time.time()) - 3600))
    tampered = post(other, headers)  # a valid signature of another body
    unsigned = post(other, {})

    assert replayed.status_code == 403
    assert "replay" in replayed.json()["detail"]
    assert forged.status_code == 403
    assert by_the_sms_gateway.status_code == 403
    assert stale.status_code == 403
    assert tampered.status_code == 403
    assert unsigned.status_code in (401, 403)
    assert Event.objects.count() == 1


def test_a_bad_signature_is_refused_even_for_a_logged_in_user(
    post: Any, api_client: APIClient, agent_user: Any
) -> None:
    customer = CustomerFactory()
    body = _body(customer.pk)
    api_client.force_authenticate(agent_user)

    response = api_client.post(
        URL,
        data=body,
        content_type="application/json",
        **_signed(body, secret="guessed"),
    )

    assert response.status_code == 403
    assert not Event.objects.exists()


def test_without_a_configured_secret_signed_events_are_refused(post: Any, settings: Any) -> None:
    settings.EVENTS_WEBHOOK_SECRETS = []
    body = _body(CustomerFactory().pk)

    assert post(body, _signed(body)).status_code == 403
    assert not Event.objects.exists()


def test_a_signed_request_that_fails_validation_may_be_sent_again_after_a_fix(
    post: Any,
) -> None:
    body = json.dumps({"type": "party", "idempotency_key": "x"}).encode()
    headers = _signed(body)

    first, second = post(body, headers), post(body, headers)

    # Refused for its content both times, not as a replay: the signature was not spent.
    assert (first.status_code, second.status_code) == (400, 400)

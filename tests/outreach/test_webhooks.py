"""Delivery-receipt and inbound-SMS webhooks: signatures, replays, idempotency, opt-out words
with exactly one confirmation, replies announced as domain events."""

import datetime as dt
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
import time_machine
from django.urls import reverse
from rest_framework.test import APIClient

from callcenter.choices import ConsentChannel, ConsentSource
from callcenter.events import domain_events
from callcenter.models import ConsentChange, Customer
from care.choices import EventType, StepChannel, TouchKind
from care.models import CareSettings, Event
from outreach.choices import InboundAction, TaskStatus
from outreach.models import InboundMessage, OutreachTask
from outreach.services.dispatch import dispatch_due
from tests.callcenter.factories import CustomerFactory, PhoneFactory
from tests.outreach.conftest import WEBHOOK_SECRET, sign
from tests.outreach.factories import TaskFactory
from tests.outreach.gateway import Gateway
from tests.signing import signed_headers

pytestmark = pytest.mark.django_db

CTI_SECRET = "telephony-secret"
NIGHT = dt.datetime(2026, 6, 10, 15, 0, tzinfo=dt.UTC)  # 23:00 in Shanghai
RECEIPTS = reverse("api-outreach-receipts")
INBOUND = reverse("api-outreach-inbound-sms")
Post = Callable[..., Any]


@pytest.fixture
def night() -> Any:
    with time_machine.travel(NIGHT, tick=False):
        yield


def _customer(**fields: Any) -> Customer:
    customer = CustomerFactory(**fields)
    PhoneFactory(customer=customer, value="+8613912345678")
    return customer


class TestSignature:
    def test_valid_signature_is_accepted(self, webhook: Post) -> None:
        response = webhook(RECEIPTS, {"provider_message_id": "none", "status": "delivered"})
        assert response.status_code == 200
        assert response.json() == {"updated": 0}

    @pytest.mark.parametrize(
        "problem",
        [
            "missing",
            "wrong_secret",
            "tampered",
            "stale",
            "junk",
            "other_path",
            "other_method",
            "other_integration",
        ],
    )
    def test_bad_signatures_are_refused(self, webhook: Post, problem: str, settings: Any) -> None:
        # given the telephony integration has a secret of its own
        settings.CTI_WEBHOOK_SECRETS = [CTI_SECRET]
        task = TaskFactory(status=TaskStatus.SENT, provider_message_id="m1")
        payload = {"provider_message_id": "m1", "status": "delivered"}
        body = b'{"provider_message_id": "m1", "status": "delivered"}'
        headers = {
            "missing": {},
            "wrong_secret": sign(body, path=RECEIPTS, secret="guess"),
            "tampered": sign(
                b'{"provider_message_id": "m2", "status": "delivered"}', path=RECEIPTS
            ),
            "stale": sign(body, path=RECEIPTS, timestamp=int(time.time()) - 301),
            "other_path": sign(body, path=INBOUND),
            "other_method": signed_headers(
                body, secret=WEBHOOK_SECRET, path=RECEIPTS, method="PUT"
            ),
            "other_integration": sign(body, path=RECEIPTS, secret=CTI_SECRET),
            "junk": {"HTTP_X_TIMESTAMP": "yesterday", "HTTP_X_SIGNATURE": "00"},
        }[problem]
        response = webhook(RECEIPTS, payload, headers=headers)
        assert response.status_code == 403
        task.refresh_from_db()
        assert task.status == TaskStatus.SENT

    def test_a_secret_is_rotated_with_an_overlap(self, webhook: Post, settings: Any) -> None:
        payload = {"provider_message_id": "none", "status": "delivered"}
        body = json.dumps(payload).encode()

        # given the new secret is listed first, the old one still accepted
        settings.SMS_WEBHOOK_SECRETS = ["new-secret", WEBHOOK_SECRET]
        with_new = webhook(
            RECEIPTS, payload, headers=sign(body, path=RECEIPTS, secret="new-secret")
        )
        with_old = webhook(
            RECEIPTS, payload, headers=sign(body, path=RECEIPTS, timestamp=int(time.time()) - 1)
        )
        # when the gateway has switched, the old secret is dropped
        settings.SMS_WEBHOOK_SECRETS = ["new-secret"]
        old_after = webhook(RECEIPTS, payload, headers=sign(body, path=RECEIPTS))

        assert (with_new.status_code, with_old.status_code) == (200, 200)
        assert old_after.status_code == 403

    def test_the_old_signature_of_timestamp_and_body_alone_is_refused(self, webhook: Post) -> None:
        payload = {"provider_message_id": "none", "status": "delivered"}
        body = json.dumps(payload).encode()
        stamp = str(int(time.time()))
        digest = hmac.new(WEBHOOK_SECRET.encode(), stamp.encode() + b"." + body, hashlib.sha256)
        headers = {"HTTP_X_TIMESTAMP": stamp, "HTTP_X_SIGNATURE": digest.hexdigest()}

        assert webhook(RECEIPTS, payload, headers=headers).status_code == 403

    def test_replayed_request_is_refused(self, webhook: Post) -> None:
        payload = {"from": "+8613912345678", "body": "hello", "id": "in-1"}
        stamp = int(time.time())
        assert webhook(INBOUND, payload, timestamp=stamp).status_code == 200
        replay = webhook(INBOUND, payload, timestamp=stamp)
        assert replay.status_code == 403
        assert "replay" in replay.json()["detail"]

    def test_no_secret_configured_refuses_everything(self, webhook: Post, settings: Any) -> None:
        settings.SMS_WEBHOOK_SECRETS = []
        response = webhook(RECEIPTS, {"provider_message_id": "x", "status": "delivered"})
        assert response.status_code == 403
        assert "not configured" in response.json()["detail"]

    def test_session_users_still_need_a_signature(self, webhook: Post, supervisor_user) -> None:
        client = APIClient()
        client.force_login(supervisor_user)
        response = client.post(
            RECEIPTS, {"provider_message_id": "x", "status": "delivered"}, format="json"
        )
        assert response.status_code == 403


class TestReceipts:
    def test_delivered_receipt_is_idempotent(self, webhook: Post) -> None:
        task = TaskFactory(status=TaskStatus.SENT, provider_message_id="m-7")
        payload = {"provider_message_id": "m-7", "status": "delivered"}
        first = webhook(RECEIPTS, payload)
        task.refresh_from_db()
        delivered_at = task.delivered_at
        # the gateway retries (re-signed, a second later)
        second = webhook(RECEIPTS, payload, timestamp=int(time.time()) + 1)
        task.refresh_from_db()
        assert (first.json(), second.json()) == ({"updated": 1}, {"updated": 0})
        assert task.status == TaskStatus.DELIVERED
        assert task.delivered_at == delivered_at

    def test_failed_receipt_keeps_the_reason_visible(self, webhook: Post) -> None:
        task = TaskFactory(status=TaskStatus.SENT, provider_message_id="m-8")
        webhook(RECEIPTS, {"provider_message_id": "m-8", "status": "failed", "error": "30006"})
        task.refresh_from_db()
        assert task.status == TaskStatus.FAILED
        assert "30006" in task.last_error

    def test_bad_receipt_is_a_400(self, webhook: Post) -> None:
        response = webhook(RECEIPTS, {"provider_message_id": "m", "status": "read"})
        assert response.status_code == 400


class TestInbound:
    @pytest.mark.parametrize(
        "text",
        ["STOP", "stop", "  Stop \n", "UNSUBSCRIBE", "退订", " 退订 ", "TD", "td", "ＳＴＯＰ"],
    )
    def test_opt_out_words_opt_out_with_one_confirmation(
        self, webhook: Post, text: str, http_sms: Gateway, night: None
    ) -> None:
        # given a customer with an offer SMS pending, late in the evening in Shanghai
        customer = _customer(language="en")
        pending = TaskFactory(customer=customer)

        # when they text an opt-out word twice
        first = webhook(INBOUND, {"from": "139 1234 5678", "body": text, "id": "in-1"})
        second = webhook(INBOUND, {"from": "+8613912345678", "body": text, "id": "in-2"})

        # then they are opted out of SMS, recorded with time and source
        assert first.status_code == second.status_code == 200
        customer.refresh_from_db()
        assert customer.sms_opt_out is True
        assert customer.consent_source == ConsentSource.INBOUND_SMS
        assert customer.consent_updated_at is not None
        change = ConsentChange.objects.get(customer=customer)
        assert (change.channel, change.opted_out, change.source) == (
            ConsentChannel.SMS,
            True,
            ConsentSource.INBOUND_SMS,
        )
        # and exactly one confirmation was scheduled
        confirmations = OutreachTask.objects.filter(customer=customer).exclude(pk=pending.pk)
        assert confirmations.count() == 1
        confirmation = confirmations.get()
        assert first.json()["confirmation_task"] == confirmation.pk
        assert second.json()["confirmation_task"] is None
        assert (confirmation.channel, confirmation.touch_kind) == (
            StepChannel.SMS,
            TouchKind.SERVICE,
        )
        assert "unsubscribed" in confirmation.body
        assert InboundMessage.objects.filter(action=InboundAction.OPTED_OUT).count() == 2

        # when the dispatcher runs: the confirmation goes out (even at night), the offer not
        dispatch_due()
        confirmation.refresh_from_db()
        pending.refresh_from_db()
        assert confirmation.status == TaskStatus.SENT
        assert pending.status == TaskStatus.SKIPPED
        assert [r.json()["text"] for r in http_sms.requests] == [confirmation.body]

    def test_configured_stop_word(self, webhook: Post) -> None:
        settings = CareSettings.load()
        settings.stop_words = ["取消", "Basta"]
        settings.save()
        customer = _customer()
        webhook(INBOUND, {"from": "+8613912345678", "body": "basta", "id": "in-1"})
        customer.refresh_from_db()
        assert customer.sms_opt_out is True

    def test_stop_inside_a_sentence_is_a_reply(self, webhook: Post) -> None:
        customer = _customer()
        webhook(INBOUND, {"from": "+8613912345678", "body": "please don't stop", "id": "in-1"})
        customer.refresh_from_db()
        assert customer.sms_opt_out is False

    def test_reply_is_recorded_and_announced(self, webhook: Post) -> None:
        customer = _customer()
        announced: list = []

        def receiver(sender: Any, events: list, **kwargs: Any) -> None:
            announced.extend(events)

        domain_events.connect(receiver, dispatch_uid="test-outreach-replies")
        try:
            response = webhook(
                INBOUND, {"from": "+8613912345678", "body": "好的，明天再说", "id": "in-9"}
            )
        finally:
            domain_events.disconnect(dispatch_uid="test-outreach-replies")

        message = InboundMessage.objects.get(provider_message_id="in-9")
        assert response.json()["action"] == InboundAction.REPLY
        assert (message.customer_id, message.body) == (customer.pk, "好的，明天再说")
        (event,) = [e for e in announced if e.type == EventType.CUSTOMER_REPLIED]
        assert event.customer_id == customer.pk
        assert event.payload["inbound_message_id"] == message.pk
        # care's receiver wrote it to the outbox in the same transaction
        assert Event.objects.filter(type=EventType.CUSTOMER_REPLIED, customer=customer).exists()
        customer.refresh_from_db()
        assert customer.sms_opt_out is False

    def test_same_message_twice_is_recorded_once(self, webhook: Post) -> None:
        customer = _customer()
        payload = {"from": "+8613912345678", "body": "hi", "id": "in-5"}
        first = webhook(INBOUND, payload)
        second = webhook(INBOUND, payload, timestamp=int(time.time()) + 1)
        assert (first.json()["duplicate"], second.json()["duplicate"]) == (False, True)
        assert InboundMessage.objects.count() == 1
        assert Event.objects.filter(type=EventType.CUSTOMER_REPLIED, customer=customer).count() == 1

    def test_unknown_sender(self, webhook: Post) -> None:
        response = webhook(INBOUND, {"from": "+8613800000000", "body": "STOP", "id": "in-3"})
        assert response.json()["action"] == InboundAction.UNKNOWN_SENDER
        assert InboundMessage.objects.get().customer_id is None
        assert not OutreachTask.objects.exists()

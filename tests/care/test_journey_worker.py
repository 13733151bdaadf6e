"""Integration: the playbook's repayment-reminder journey walked branch by branch through a real
Celery worker (events and dispatch through Redis) and a loopback gateway that takes both the
automated calls and the SMS; the voice platform's results come through its signed webhook.

- "transfer to human" -> a person's call, due at once, within 2 h;
- "promise to pay" -> the confirmation SMS, sent to the gateway;
- no answer twice -> after the second call, a person's call within 2 h;
- the payment event -> the plan stops and its open tasks are cancelled.

Rows are committed (the worker has its own connection) and deleted by `committed_rows`.
"""

import datetime as dt
import json
import os
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from callcenter.choices import Role
from care.choices import EnrollmentStatus
from care.models import Enrollment
from care.playbook import playbook_install
from outreach.choices import TaskStatus
from outreach.models import OutreachTask
from outreach.tasks import dispatch_due_task
from tests.callcenter.factories import CustomerFactory, PhoneFactory, UserFactory
from tests.outreach.gateway import Gateway
from tests.signing import signed_headers
from tests.workers import WORKER_TIMEOUT, noon_zone, wait_for

VOICE_SECRET = "journey-voice-secret"
RESULTS = reverse("api-outreach-call-results")
H = dt.timedelta(hours=1)


@pytest.fixture
def gateway(journey_worker: str, journey_gateway: Gateway) -> Gateway:
    return journey_gateway


@pytest.fixture
def worker(journey_worker: str, committed_rows: None) -> str:
    return journey_worker


def _keys(customer_id: int) -> list[str]:
    return list(
        OutreachTask.objects.filter(customer_id=customer_id)
        .order_by("pk")
        .values_list("step__key", flat=True)
    )


def _task(customer_id: int, key: str) -> OutreachTask:
    return OutreachTask.objects.get(customer_id=customer_id, step__key=key)


def _dispatch() -> dict[str, int]:
    return dispatch_due_task.apply_async(queue="outreach").get(timeout=WORKER_TIMEOUT)


class Journey:
    """The test's hands: the other system posting events, the voice platform posting results."""

    def __init__(self) -> None:
        self.api = APIClient()
        self.api.force_authenticate(UserFactory(role=Role.ADMIN, username=f"erp-{os.getpid()}"))
        self.voice = APIClient()

    def event(self, customer: Any, name: str) -> None:
        response = self.api.post(
            "/api/events/",
            {"type": "external", "customer_id": customer.pk, "payload": {"name": name}},
            format="json",
            HTTP_IDEMPOTENCY_KEY=f"{name}-{customer.pk}",
        )
        assert response.status_code == 201, response.content

    def result(self, task: OutreachTask, result: str, intent: str = "") -> None:
        body = json.dumps(
            {
                "call_id": task.provider_message_id,
                "result": result,
                "intent": intent,
                "duration": 20,
                "occurred_at": timezone.now().isoformat(),
            },
            ensure_ascii=False,
        ).encode()
        headers = signed_headers(body, secret=VOICE_SECRET, path=RESULTS)
        response = self.voice.post(RESULTS, data=body, content_type="application/json", **headers)
        assert response.status_code in (200, 201), response.content


def test_the_repayment_reminder_walks_every_branch_through_a_real_worker(
    worker: str, gateway: Gateway, settings: Any
) -> None:
    # given: the playbook with the repayment reminder switched on, four customers at noon
    settings.CARE_PLAYBOOK_ACTIVE = ["repayment-reminder"]
    settings.VOICE_WEBHOOK_SECRETS = [VOICE_SECRET]
    playbook_install()
    transfer, promise, silent, payer = customers = [
        CustomerFactory(timezone=noon_zone()) for _ in range(4)
    ]
    for customer in customers:
        PhoneFactory(customer=customer)
    hands = Journey()

    # when: the lender's system says their repayments are due
    for customer in customers:
        hands.event(customer, "repayment_due")
    wait_for(
        lambda: all(_keys(c.pk) == ["auto-call-1"] for c in customers), "the first calls planned"
    )
    # the payer pays before the first call goes out: the plan stops, the call is cancelled
    hands.event(payer, "payment_received")
    wait_for(
        lambda: _task(payer.pk, "auto-call-1").status == TaskStatus.CANCELLED, "the plan stopped"
    )
    enrollment = Enrollment.objects.get(customer=payer)
    assert (enrollment.status, enrollment.stop_reason) == (
        EnrollmentStatus.STOPPED,
        "external:payment_received",
    )

    # the worker places the other three calls through the gateway
    assert _dispatch()["sent"] == 3
    assert len([r for r in gateway.requests if r.path == "/call"]) == 3

    # "transfer to human": a person's call, due now, within 2 hours
    hands.result(_task(transfer.pk, "auto-call-1"), "answered", intent="转人工")
    # "promise to pay": the confirmation SMS
    hands.result(_task(promise.pk, "auto-call-1"), "answered", intent="promise to pay")
    # not answered: a second call 3 hours later
    hands.result(_task(silent.pk, "auto-call-1"), "no_answer")
    wait_for(lambda: "human-call" in _keys(transfer.pk), "the transfer branch")
    wait_for(lambda: "promise-sms" in _keys(promise.pk), "the promise branch")
    wait_for(lambda: "auto-call-2" in _keys(silent.pk), "the second call")

    call = _task(transfer.pk, "human-call")
    assert call.due_at <= timezone.now()
    assert call.deadline_at - call.due_at == 2 * H
    assert call.queue is not None
    assert call.queue.slug == "general"
    assert _dispatch()["sent"] == 1
    (sms,) = [r for r in gateway.requests if r.path == "/send"]
    assert sms.headers["Idempotency-Key"] == _task(promise.pk, "promise-sms").idempotency_key

    # three hours pass for the silent customer (the worker's clock is real: the plan is moved)
    second = _task(silent.pk, "auto-call-2")
    assert second.due_at - timezone.now() > 2 * H
    earlier = timezone.now() - dt.timedelta(minutes=1)
    OutreachTask.objects.filter(pk=second.pk).update(due_at=earlier)
    Enrollment.objects.filter(customer=silent).update(wait_started_at=earlier)
    assert _dispatch()["sent"] == 1
    second.refresh_from_db()
    hands.result(second, "busy")
    wait_for(lambda: "human-call" in _keys(silent.pk), "no answer twice")

    # then: a person calls the silent customer within 2 hours; every journey has moved on
    call = _task(silent.pk, "human-call")
    assert call.deadline_at - max(call.due_at, timezone.now()) <= 2 * H
    assert _keys(transfer.pk) == ["auto-call-1", "human-call"]
    assert _keys(promise.pk) == ["auto-call-1", "promise-sms"]
    assert _keys(silent.pk) == ["auto-call-1", "auto-call-2", "human-call"]
    assert not Enrollment.objects.filter(customer__in=customers).exclude(waiting_step="").exists()

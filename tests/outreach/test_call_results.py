"""The voice platform's result webhook: signatures of its own, strict validation that changes
nothing, idempotency, unknown calls, the result stored on the task with its status moved, and
the result shown on the customer page."""

import datetime as dt
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation
from rest_framework.test import APIClient

from callcenter.checks import integration_secrets_distinct_check
from callcenter.choices import Role
from care.choices import EventType, StepChannel
from care.models import Event
from care.services.triggers import trigger_matches, trigger_params_validate
from outreach.checks import outreach_voice_secret_check
from outreach.choices import CallIntent, CallResult, TaskStatus
from outreach.models import OutreachTask
from outreach.services.call_results import call_intent_normalize
from tests.callcenter.factories import UserFactory
from tests.outreach.conftest import WEBHOOK_SECRET
from tests.outreach.factories import TaskFactory
from tests.signing import signed_headers

pytestmark = pytest.mark.django_db

VOICE_SECRET = "voice-platform-secret"
RESULTS = reverse("api-outreach-call-results")
ENDED = dt.datetime(2026, 6, 10, 2, 0, tzinfo=dt.UTC)
Post = Callable[..., Any]


@pytest.fixture
def voice(settings: Any) -> Post:
    """POST a JSON body to the call-results webhook, signed with the voice platform's secret
    unless other headers are given."""
    settings.VOICE_WEBHOOK_SECRETS = [VOICE_SECRET]
    settings.SMS_WEBHOOK_SECRETS = [WEBHOOK_SECRET]
    client = APIClient()

    def _post(payload: Any, *, headers: dict | None = None, timestamp: int | None = None) -> Any:
        body = json.dumps(payload, ensure_ascii=False).encode()
        signed = (
            signed_headers(body, secret=VOICE_SECRET, path=RESULTS, timestamp=timestamp)
            if headers is None
            else headers
        )
        return client.post(RESULTS, data=body, content_type="application/json", **signed)

    return _post


def _call(**fields: Any) -> OutreachTask:
    values = {
        "channel": StepChannel.AUTO_CALL,
        "status": TaskStatus.SENT,
        "provider_message_id": "vp-1",
        "idempotency_key": "care:auto:1",
        **fields,
    }
    return TaskFactory(**values)


def _result(**fields: Any) -> dict[str, Any]:
    return {
        "call_id": "vp-1",
        "result": "answered",
        "duration": 42,
        "occurred_at": ENDED.isoformat(),
        **fields,
    }


def _unchanged(task: OutreachTask) -> None:
    before = task.status
    task.refresh_from_db()
    assert task.status == before
    assert task.call_result == ""
    assert task.call_result_at is None


class TestSignature:
    @pytest.mark.parametrize("problem", ["missing", "wrong_secret", "sms_secret"])
    def test_requests_without_the_voice_platforms_signature_are_refused(
        self, voice: Post, problem: str
    ) -> None:
        task = _call()
        body = json.dumps(_result()).encode()
        headers = {
            "missing": {},
            "wrong_secret": signed_headers(body, secret="guess", path=RESULTS),
            # A leaked SMS-gateway secret cannot report call results.
            "sms_secret": signed_headers(body, secret=WEBHOOK_SECRET, path=RESULTS),
        }[problem]

        response = voice(_result(), headers=headers)

        assert response.status_code == 403
        _unchanged(task)

    def test_without_configured_secrets_every_result_is_refused(
        self, voice: Post, settings: Any
    ) -> None:
        task = _call()
        settings.VOICE_WEBHOOK_SECRETS = []

        response = voice(_result())

        assert response.status_code == 403
        assert "VOICE_WEBHOOK_SECRETS" in response.json()["detail"]
        _unchanged(task)


class TestValidation:
    @pytest.mark.parametrize(
        ("payload", "field"),
        [
            (_result(result="hung_up"), "result"),
            (_result(keypress="1a"), "keypress"),
            (_result(duration=-1), "duration"),
            (_result(duration="long"), "duration"),
            (_result(occurred_at="yesterday"), "occurred_at"),
            (_result(occurred_at="2999-01-01T00:00:00Z"), "occurred_at"),
            (_result(occurred_at="0001-01-01T00:00:00"), "occurred_at"),
            (_result(intent="x" * 65), "intent"),
            (_result(call_id=""), "call_id"),
            (_result(colour="blue"), "colour"),
            ({k: v for k, v in _result().items() if k != "occurred_at"}, "occurred_at"),
            ({k: v for k, v in _result().items() if k != "duration"}, "duration"),
        ],
    )
    def test_bad_input_is_a_400_naming_the_field_and_changes_nothing(
        self, voice: Post, payload: dict, field: str
    ) -> None:
        task = _call()

        response = voice(payload)

        assert response.status_code == 400
        assert field in response.json()
        _unchanged(task)

    def test_a_body_that_is_not_an_object_is_a_400(self, voice: Post) -> None:
        response = voice([_result()])

        assert response.status_code == 400

    def test_an_unknown_call_is_a_404_that_says_so(self, voice: Post) -> None:
        task = _call()

        response = voice(_result(call_id="nobody-knows"))

        assert response.status_code == 404
        assert "nobody-knows" in response.json()["detail"]
        _unchanged(task)

    def test_a_task_of_another_channel_is_not_a_call(self, voice: Post) -> None:
        TaskFactory(channel=StepChannel.SMS, status=TaskStatus.SENT, provider_message_id="sms-1")

        assert voice(_result(call_id="sms-1")).status_code == 404


class TestRecording:
    def test_an_answered_call_is_stored_and_the_task_delivered(self, voice: Post) -> None:
        task = _call(last_error="timeout")

        response = voice(_result(keypress="2", intent="Promise to pay"))

        assert response.status_code == 200
        assert response.json() == {
            "task": task.pk,
            "status": TaskStatus.DELIVERED,
            "result": CallResult.ANSWERED,
            "intent": CallIntent.PROMISE_TO_PAY,
            "duplicate": False,
        }
        task.refresh_from_db()
        assert task.status == TaskStatus.DELIVERED
        assert task.delivered_at == ENDED
        assert task.last_error == ""
        assert (task.call_result, task.call_keypress, task.call_intent) == (
            CallResult.ANSWERED,
            "2",
            CallIntent.PROMISE_TO_PAY,
        )
        assert (task.call_duration, task.call_result_at) == (42, ENDED)

    def test_the_call_is_found_by_the_idempotency_key_the_backend_sent(self, voice: Post) -> None:
        task = _call(provider_message_id="")

        response = voice(_result(call_id="care:auto:1", result="voicemail"))

        assert response.status_code == 200
        task.refresh_from_db()
        assert (task.call_result, task.status) == (CallResult.VOICEMAIL, TaskStatus.DELIVERED)

    @pytest.mark.parametrize("result", ["no_answer", "busy", "failed"])
    def test_a_call_that_did_not_reach_the_customer_fails_the_task(
        self, voice: Post, result: str
    ) -> None:
        task = _call()

        response = voice(_result(result=result, duration=0))

        assert response.json()["status"] == TaskStatus.FAILED
        task.refresh_from_db()
        assert task.status == TaskStatus.FAILED
        assert task.call_result == result
        assert str(CallResult(result).label) in task.last_error
        assert task.delivered_at is None

    def test_a_result_for_a_task_not_yet_marked_sent_is_stored_without_moving_it(
        self, voice: Post
    ) -> None:
        task = _call(status=TaskStatus.CANCELLED)

        voice(_result())

        task.refresh_from_db()
        assert (task.status, task.call_result) == (TaskStatus.CANCELLED, CallResult.ANSWERED)

    def test_the_same_result_twice_changes_nothing_the_second_time(self, voice: Post) -> None:
        task = _call()
        signed_at = int(time.time())
        voice(_result(intent="transfer"), timestamp=signed_at)
        task.refresh_from_db()
        first_update = task.updated_at

        # the platform posts it again (a retry is signed anew, so it is no replay); the stamp
        # is pinned, since "now - 1" read after a second boundary would equal the first one
        again = voice(_result(intent="transfer"), timestamp=signed_at - 1)

        assert again.status_code == 200
        assert again.json()["duplicate"] is True
        task.refresh_from_db()
        assert task.updated_at == first_update
        assert task.call_intent == CallIntent.TRANSFER_TO_HUMAN

    def test_another_result_for_a_call_that_has_one_is_a_409_and_changes_nothing(
        self, voice: Post
    ) -> None:
        task = _call()
        voice(_result())

        response = voice(_result(result="busy"))

        assert response.status_code == 409
        assert "already has a result" in response.json()["detail"]
        task.refresh_from_db()
        assert (task.call_result, task.status) == (CallResult.ANSWERED, TaskStatus.DELIVERED)


class TestAnnouncement:
    def test_a_stored_result_is_recorded_once_as_a_care_event(self, voice: Post) -> None:
        task = _call()

        signed_at = int(time.time())
        voice(_result(intent="promise to pay", keypress="1"), timestamp=signed_at)
        voice(_result(intent="promise to pay", keypress="1"), timestamp=signed_at - 1)

        (event,) = Event.objects.filter(type=EventType.CALL_RESULT, customer=task.customer)
        assert event.occurred_at == ENDED
        assert event.payload == {
            "task_id": task.pk,
            "enrollment_id": None,
            "step_position": None,
            "channel": StepChannel.AUTO_CALL,
            "result": CallResult.ANSWERED,
            "intent": CallIntent.PROMISE_TO_PAY,
            "keypress": "1",
            "duration": 42,
        }

    def test_a_refused_result_records_no_event(self, voice: Post) -> None:
        _call()

        voice(_result(result="hung_up"))

        assert not Event.objects.filter(type=EventType.CALL_RESULT).exists()

    def test_rules_may_trigger_on_a_result_and_an_intent(self) -> None:
        params = trigger_params_validate(
            trigger_type=EventType.CALL_RESULT,
            params={"result": "answered", "intent": "transfer_to_human"},
        )
        payload = {"result": "answered", "intent": "transfer_to_human"}

        assert trigger_matches(params=params, payload=payload)
        assert not trigger_matches(params=params, payload={**payload, "intent": "ptp"})


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("transfer_to_human", "transfer_to_human"),
        ("Transfer to human", "transfer_to_human"),
        ("转人工", "transfer_to_human"),
        ("PROMISE-TO-PAY", "promise_to_pay"),
        ("callback", "callback_requested"),
        ("not interested", "not_interested"),
        ("  asks about fees ", "asks about fees"),
        ("", ""),
    ],
)
def test_intents_are_normalized_to_the_known_set_and_others_kept(given: str, stored: str) -> None:
    assert call_intent_normalize(given) == stored


def test_the_customer_page_shows_the_call_result_translated(client: Client) -> None:
    task = _call(
        status=TaskStatus.DELIVERED,
        call_result=CallResult.ANSWERED,
        call_intent=CallIntent.TRANSFER_TO_HUMAN,
        call_keypress="0",
        call_duration=42,
        call_result_at=timezone.now(),
    )
    _call(
        customer=task.customer,
        idempotency_key="care:auto:2",
        provider_message_id="vp-2",
        status=TaskStatus.FAILED,
        call_result=CallResult.BUSY,
        call_intent="asks about fees",
    )
    client.force_login(UserFactory(role=Role.AGENT))
    url = reverse("customer-detail", args=[task.customer_id])

    english = client.get(url).content.decode()
    # The request activates Chinese in this thread; override puts the test's language back.
    with translation.override("zh-hans"):
        chinese = client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()

    assert "Answered · 42 seconds" in english
    assert "Transfer to a human" in english
    assert "Pressed 0" in english
    assert "Busy" in english
    assert "asks about fees" in english
    assert "已接听 · 42 秒" in chinese
    assert "转人工" in chinese
    assert "按键 0" in chinese
    assert "占线" in chinese


def test_a_voice_secret_shared_with_another_integration_is_a_deploy_warning(
    settings: Any,
) -> None:
    settings.SMS_WEBHOOK_SECRETS = ["shared"]
    settings.VOICE_WEBHOOK_SECRETS = ["shared"]

    (warning,) = integration_secrets_distinct_check()

    assert "SMS_WEBHOOK_SECRETS, VOICE_WEBHOOK_SECRETS" in warning.msg


def test_deploy_check_warns_when_a_voice_platform_has_no_secret(settings: Any) -> None:
    settings.AUTO_CALL_BACKEND = "file"
    settings.VOICE_WEBHOOK_SECRETS = []
    assert [w.id for w in outreach_voice_secret_check()] == ["outreach.W002"]
    settings.VOICE_WEBHOOK_SECRETS = ["s"]
    assert outreach_voice_secret_check() == []
    settings.AUTO_CALL_BACKEND = "console"
    settings.VOICE_WEBHOOK_SECRETS = []
    assert outreach_voice_secret_check() == []

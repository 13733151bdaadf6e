"""Channel backends against a real HTTP server on loopback, the file and console backends,
email through Django's mail backend, and loud failures when a backend is misconfigured."""

import json
from typing import Any

import pytest
from django.core import mail
from django.core.exceptions import ImproperlyConfigured

from care.choices import StepChannel
from outreach.backends import (
    ConsoleBackend,
    DjangoEmailBackend,
    FileBackend,
    HttpGatewayBackend,
    PermanentSendError,
    TransientSendError,
    TwilioBackend,
    channel_backend,
)
from outreach.checks import outreach_backends_check, outreach_webhook_secret_check
from tests.outreach.gateway import Gateway


def _http(gateway: Gateway, **kwargs: Any) -> HttpGatewayBackend:
    return HttpGatewayBackend(url=f"{gateway.url}/send", token=gateway.token, timeout=0.5, **kwargs)


def test_http_backend_posts_the_template_with_auth_and_idempotency_key(gateway: Gateway) -> None:
    # given a body template with nested fields and a text that itself looks like a placeholder
    backend = _http(
        gateway,
        body_template='{"dest": "{to}", "payload": {"text": "{body}"}, "ref": "{idempotency_key}"}',
    )

    # when
    message_id = backend.send(to="+8613900000001", body='Hi "Li" {to}', idempotency_key="k-1")

    # then the gateway got one JSON request, with the values safely encoded
    assert message_id == "msg-1"
    (request,) = gateway.requests
    assert request.path == "/send"
    assert request.headers["Authorization"] == "Bearer gw-token"
    assert request.headers["Idempotency-Key"] == "k-1"
    assert request.json() == {
        "dest": "+8613900000001",
        "payload": {"text": 'Hi "Li" {to}'},
        "ref": "k-1",
    }


def test_http_backend_resend_with_same_key_is_deduplicated_by_gateway(gateway: Gateway) -> None:
    backend = _http(gateway)
    first = backend.send(to="+8613900000001", body="a", idempotency_key="same")
    second = backend.send(to="+8613900000001", body="a", idempotency_key="same")
    assert first == second
    assert len(gateway.requests) == 2
    assert gateway.delivery_count == 1


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (500, TransientSendError),
        (503, TransientSendError),
        (429, TransientSendError),
        (400, PermanentSendError),
        (404, PermanentSendError),
    ],
)
def test_http_backend_classifies_error_answers(
    gateway: Gateway, status: int, error: type[Exception]
) -> None:
    gateway.fail_next(1, status)
    with pytest.raises(error, match=f"HTTP {status}"):
        _http(gateway).send(to="+8613900000001", body="x", idempotency_key="k")
    assert gateway.delivery_count == 0


def test_http_backend_timeout_is_transient(gateway: Gateway) -> None:
    gateway.fail_next(1, "timeout")
    gateway.stall_seconds = 1.5
    with pytest.raises(TransientSendError, match="timed out"):
        _http(gateway).send(to="+8613900000001", body="x", idempotency_key="k")


def test_http_backend_unreachable_gateway_is_transient() -> None:
    backend = HttpGatewayBackend(url="http://127.0.0.1:9/send", timeout=0.5)
    with pytest.raises(TransientSendError):
        backend.send(to="+8613900000001", body="x", idempotency_key="k")


def test_http_backend_bad_credentials_are_permanent(gateway: Gateway) -> None:
    backend = HttpGatewayBackend(url=f"{gateway.url}/send", token="wrong", timeout=0.5)
    with pytest.raises(PermanentSendError, match="HTTP 401"):
        backend.send(to="+8613900000001", body="x", idempotency_key="k")


def test_twilio_backend_posts_form_with_basic_auth(gateway: Gateway) -> None:
    backend = TwilioBackend(
        account_sid=gateway.twilio_sid,
        auth_token=gateway.twilio_token,
        from_number="+15005550006",
        base_url=gateway.url,
        timeout=0.5,
    )

    message_id = backend.send(to="+14155550100", body="Hello 你好", idempotency_key="tw-1")
    again = backend.send(to="+14155550100", body="Hello 你好", idempotency_key="tw-1")

    assert message_id == again == "SMmsg-1"
    request = gateway.requests[0]
    assert request.path == "/2010-04-01/Accounts/AC123/Messages.json"
    assert request.headers["Idempotency-Key"] == "tw-1"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.form() == {"To": "+14155550100", "From": "+15005550006", "Body": "Hello 你好"}
    assert gateway.delivery_count == 1


def test_twilio_backend_server_error_is_transient(gateway: Gateway) -> None:
    gateway.fail_next(1, 500)
    backend = TwilioBackend(
        account_sid="AC123", auth_token="tw-secret", from_number="+1500", base_url=gateway.url
    )
    with pytest.raises(TransientSendError):
        backend.send(to="+14155550100", body="x", idempotency_key="k")


def test_file_backend_appends_json_lines_once_per_key(tmp_path: Any) -> None:
    path = tmp_path / "sms" / "outbox.jsonl"
    backend = FileBackend(path=str(path))
    first = backend.send(to="+8613900000001", body="一", idempotency_key="a")
    backend.send(to="+8613900000002", body="二", idempotency_key="b")
    again = backend.send(to="+8613900000001", body="一", idempotency_key="a")
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert [line["idempotency_key"] for line in lines] == ["a", "b"]
    assert lines[0]["body"] == "一"
    assert first == again


def test_console_backend_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="outreach.send")
    assert ConsoleBackend().send(to="+861", body="hello", idempotency_key="c") == "console:c"
    assert "hello" in caplog.text


def test_email_backend_uses_django_mail_with_stable_message_id(settings: Any) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    backend = DjangoEmailBackend()
    first = backend.send(to="li@example.com", subject="Hi", body="Body", idempotency_key="e1")
    again = backend.send(to="li@example.com", subject="Hi", body="Body", idempotency_key="e1")
    assert first == again
    assert mail.outbox[0].extra_headers["Message-ID"] == first
    assert mail.outbox[0].to == ["li@example.com"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"SMS_BACKEND": "http", "SMS_GATEWAY_URL": ""}, "SMS_GATEWAY_URL"),
        ({"SMS_BACKEND": "http", "SMS_GATEWAY_URL": "ftp://x"}, "SMS_GATEWAY_URL"),
        (
            {"SMS_BACKEND": "http", "SMS_GATEWAY_URL": "http://gw", "SMS_HTTP_BODY_TEMPLATE": "{"},
            "SMS_HTTP_BODY_TEMPLATE",
        ),
        ({"SMS_BACKEND": "twilio", "SMS_TWILIO_ACCOUNT_SID": ""}, "SMS_TWILIO_ACCOUNT_SID"),
        ({"SMS_BACKEND": "file", "SMS_FILE_PATH": ""}, "file path"),
        ({"SMS_BACKEND": "carrier-pigeon"}, "carrier-pigeon"),
        ({"SMS_BACKEND": "no.such.Backend"}, "cannot be imported"),
    ],
)
def test_misconfigured_sms_backend_fails_loudly(
    settings: Any, overrides: dict, message: str
) -> None:
    for name, value in overrides.items():
        setattr(settings, name, value)
    with pytest.raises(ImproperlyConfigured, match=message):
        channel_backend(StepChannel.SMS)
    # and the startup check reports it
    errors = outreach_backends_check()
    assert [error.id for error in errors] == ["outreach.E001"]


def test_backends_chosen_by_settings(settings: Any, tmp_path: Any) -> None:
    settings.SMS_BACKEND = "twilio"
    settings.SMS_TWILIO_ACCOUNT_SID = "AC1"
    settings.SMS_TWILIO_AUTH_TOKEN = "t"
    settings.SMS_TWILIO_FROM = "+1500"
    settings.AUTO_CALL_BACKEND = "file"
    settings.AUTO_CALL_FILE_PATH = str(tmp_path / "calls.jsonl")
    assert isinstance(channel_backend(StepChannel.SMS), TwilioBackend)
    assert isinstance(channel_backend(StepChannel.AUTO_CALL), FileBackend)
    assert isinstance(channel_backend(StepChannel.EMAIL), DjangoEmailBackend)
    settings.SMS_BACKEND = "outreach.backends.ConsoleBackend"
    assert isinstance(channel_backend(StepChannel.SMS), ConsoleBackend)
    assert outreach_backends_check() == []


def test_deploy_check_warns_without_webhook_secret(settings: Any) -> None:
    settings.SMS_WEBHOOK_SECRETS = []
    assert [w.id for w in outreach_webhook_secret_check()] == ["outreach.W001"]
    settings.SMS_WEBHOOK_SECRETS = ["s"]
    assert outreach_webhook_secret_check() == []

"""Gateway errors and timeouts: a send is retried with exponential backoff, then fails
visibly (status failed, last error kept); a stalled gateway never holds the dispatcher past
its timeout; a recovered gateway gets the message exactly once."""

import datetime as dt
import time
from typing import Any

import pytest
import time_machine

from care.models import CareSettings
from outreach.choices import TaskStatus
from outreach.models import OutreachTask
from outreach.services.dispatch import dispatch_due
from tests.outreach.factories import TaskFactory
from tests.outreach.gateway import Gateway
from tests.outreach.test_dispatch import DAYTIME, _customer

pytestmark = pytest.mark.django_db


@pytest.fixture
def retries(care_settings: Any) -> CareSettings:
    care_settings.max_attempts = 4
    care_settings.retry_base_seconds = 60
    care_settings.save()
    return care_settings


@pytest.fixture
def care_settings(db: None) -> CareSettings:
    return CareSettings.load()


def _pass(at: dt.datetime) -> dict[str, int]:
    with time_machine.travel(at, tick=False):
        return dispatch_due(now=at)


def test_server_errors_are_retried_with_backoff_then_fail_visibly(
    http_sms: Gateway, retries: CareSettings
) -> None:
    task = TaskFactory(customer=_customer(), due_at=DAYTIME)
    http_sms.fail_next(100, status=503)

    moments, now = [], DAYTIME
    for _ in range(retries.max_attempts):
        counts = _pass(now)
        task.refresh_from_db()
        moments.append((counts["retried"], counts["failed"], task.next_attempt_at))
        if task.status == TaskStatus.FAILED:
            break
        # nothing happens before the backoff is over
        assert _pass(task.next_attempt_at - dt.timedelta(seconds=1))["claimed"] == 0
        now = task.next_attempt_at

    delays = [(later - DAYTIME).total_seconds() for _retried, _failed, later in moments if later]
    assert delays == [60, 60 + 120, 60 + 120 + 240]
    assert moments[-1][:2] == (0, 1)
    assert (task.status, task.attempts) == (TaskStatus.FAILED, retries.max_attempts)
    assert "HTTP 503" in task.last_error
    assert len(http_sms.requests) == retries.max_attempts
    assert http_sms.delivery_count == 0


def test_a_stalled_gateway_times_out_and_the_retry_delivers_once(
    http_sms: Gateway, retries: CareSettings
) -> None:
    task = TaskFactory(customer=_customer(), due_at=DAYTIME)
    # Far beyond the 0.5 s timeout, so that the bound below leaves a busy machine plenty of
    # time for the rest of the pass and still proves the dispatcher did not wait it out.
    http_sms.stall_seconds = 20
    http_sms.fail_next(1, status="timeout")

    started = time.monotonic()
    counts = _pass(DAYTIME)
    elapsed = time.monotonic() - started

    task.refresh_from_db()
    assert counts["retried"] == 1
    assert elapsed < http_sms.stall_seconds / 2, (
        f"the dispatcher waited {elapsed:.1f}s for a stalled gateway"
    )
    assert "timed out" in task.last_error
    assert _pass(task.next_attempt_at)["sent"] == 1
    task.refresh_from_db()
    assert task.status == TaskStatus.SENT
    assert http_sms.delivery_count == 1


def test_a_dead_gateway_port_is_a_transient_error(settings: Any, retries: CareSettings) -> None:
    settings.SMS_BACKEND = "http"
    settings.SMS_GATEWAY_URL = "http://127.0.0.1:9/send"  # discard port: nothing listens
    settings.SMS_TIMEOUT_SECONDS = 0.5
    task = TaskFactory(customer=_customer(), due_at=DAYTIME)

    assert _pass(DAYTIME)["retried"] == 1

    task.refresh_from_db()
    assert task.status == TaskStatus.PENDING
    assert "unreachable" in task.last_error or "connection" in task.last_error


def test_a_permanent_refusal_fails_at_once_and_the_next_task_still_goes(
    http_sms: Gateway, retries: CareSettings
) -> None:
    refused = TaskFactory(customer=_customer(), due_at=DAYTIME)
    fine = TaskFactory(customer=_customer(), due_at=DAYTIME + dt.timedelta(seconds=1))
    http_sms.fail_next(1, status=400)

    counts = _pass(DAYTIME + dt.timedelta(seconds=1))

    assert (counts["failed"], counts["sent"]) == (1, 1)
    assert OutreachTask.objects.get(pk=refused.pk).status == TaskStatus.FAILED
    assert OutreachTask.objects.get(pk=fine.pk).status == TaskStatus.SENT

"""Why a task waits, in words and in both languages: recorded by the dispatcher (quiet hours),
read from the task's columns and the guardrails, shown on the customer page, the desk card,
the agent's "Coming up" list and in the task API."""

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import translation

from care.choices import StepChannel
from care.models import CareSettings
from outreach.choices import TaskStatus
from outreach.models import OutreachTask
from outreach.reasons import SkipReason, WaitReason
from outreach.services.dispatch import dispatch_due
from outreach.task_states import Guardrails, task_state_text
from tests.callcenter.factories import CustomerFactory, PhoneFactory
from tests.outreach.factories import CallTaskFactory, QueueFactory, TaskFactory
from tests.outreach.gateway import Gateway

pytestmark = pytest.mark.django_db

UTC = dt.UTC
# 22:30 in Shanghai: quiet hours (21:00-08:00 by default).
SHANGHAI_NIGHT = dt.datetime(2026, 6, 10, 14, 30, tzinfo=UTC)


def _text(task: OutreachTask, now: dt.datetime) -> str:
    task.refresh_from_db()
    return task_state_text(task, now=now, guardrails=Guardrails())


def test_a_task_deferred_by_quiet_hours_says_until_when(
    http_sms: Gateway, care_settings: CareSettings
) -> None:
    customer = CustomerFactory(timezone="Asia/Shanghai")
    PhoneFactory(customer=customer)
    with time_machine.travel(SHANGHAI_NIGHT, tick=False):
        task = TaskFactory(customer=customer)
        assert dispatch_due()["deferred"] == 1

    task.refresh_from_db()
    assert task.reason == WaitReason.QUIET_HOURS
    with translation.override("en"):
        english = _text(task, SHANGHAI_NIGHT)
    with translation.override("zh-hans"):
        chinese = _text(task, SHANGHAI_NIGHT)
    assert english == (
        "Deferred to 2026-06-11 08:00 by quiet hours (21:00–08:00 on the customer's clock)"
    )
    assert chinese == "因免打扰时段（客户当地时间 21:00–08:00）顺延至 2026-06-11 08:00"

    with time_machine.travel(dt.datetime(2026, 6, 11, 0, 0, tzinfo=UTC), tick=False):
        assert dispatch_due()["sent"] == 1
    task.refresh_from_db()
    assert (task.status, task.reason) == (TaskStatus.SENT, "")
    assert task_state_text(task, now=SHANGHAI_NIGHT, guardrails=Guardrails()) == ""


def test_frequency_cap_and_consent_skips_say_why(care_settings: CareSettings) -> None:
    now = dt.datetime(2026, 6, 10, 7, 0, tzinfo=UTC)
    capped = TaskFactory(status=TaskStatus.SKIPPED, reason=SkipReason.FREQUENCY_CAP)
    opted_out = TaskFactory(status=TaskStatus.SKIPPED, reason=SkipReason.OPTED_OUT)

    with translation.override("en"):
        assert _text(capped, now) == "Not sent: frequency cap reached (3 per 7 days)"
        assert _text(opted_out, now) == ("Not sent, no consent: Customer opted out")
    with translation.override("zh-hans"):
        assert _text(capped, now) == "未发送：已达频次上限（每 7 天 3 次）"


def test_retries_future_due_tasks_and_call_tasks_in_a_queue(care_settings: CareSettings) -> None:
    now = dt.datetime(2026, 6, 10, 7, 0, tzinfo=UTC)  # 15:00 in Shanghai
    retrying = TaskFactory(
        attempts=1, next_attempt_at=now + dt.timedelta(minutes=5), last_error="gateway timeout"
    )
    later = TaskFactory(due_at=now + dt.timedelta(hours=2))
    queued = CallTaskFactory(due_at=now, queue=QueueFactory(name="Care calls"))
    held = TaskFactory(status=TaskStatus.HELD)

    with translation.override("en"):
        assert _text(retrying, now) == (
            "Retrying at 15:05 after an error (attempt 2 of 5): gateway timeout"
        )
        assert _text(later, now) == "Waiting until 17:00, when it is due"
        assert _text(queued, now) == "Waiting in the queue Care calls for an agent"
        assert _text(held, now) == "Held: its campaign is paused"


def test_the_customer_page_and_the_api_show_why_a_task_waits(
    client: Client,
    agent_user: Any,
    supervisor_user: Any,
    api_as: Any,
    care_settings: CareSettings,
) -> None:
    customer = CustomerFactory()
    TaskFactory(customer=customer, status=TaskStatus.SKIPPED, reason=SkipReason.FREQUENCY_CAP)
    client.force_login(agent_user)

    english = client.get(reverse("customer-detail", args=[customer.pk])).content.decode()
    chinese = client.get(
        reverse("customer-detail", args=[customer.pk]), HTTP_ACCEPT_LANGUAGE="zh-hans"
    ).content.decode()
    # agents list only their own queues' tasks over the API; supervisors every task
    api = api_as(supervisor_user).get(reverse("api-outreach-tasks"), {"customer": customer.pk})

    assert "Not sent: frequency cap reached (3 per 7 days)" in english
    assert "未发送：已达频次上限（每 7 天 3 次）" in chinese
    rows = api.json()
    rows = rows.get("results", rows) if isinstance(rows, dict) else rows
    assert rows[0]["state_text"] == "Not sent: frequency cap reached (3 per 7 days)"


def test_the_agents_coming_up_list_says_until_when(client: Client, agent_user: Any) -> None:
    CallTaskFactory(
        assignee=agent_user,
        channel=StepChannel.CALL,
        due_at=dt.datetime(2099, 1, 1, 1, 0, tzinfo=UTC),
    )
    client.force_login(agent_user)

    page = client.get(reverse("my-queue"), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()

    assert "等待至 2099-01-01 09:00 到期" in page

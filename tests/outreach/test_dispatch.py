"""The dispatcher on real PostgreSQL against a loopback SMS gateway: sends, every send-time
guardrail, retries with backoff and give-up, recovery of a dead worker's claim, concurrency."""

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from callcenter.choices import Direction, InteractionChannel
from care.choices import StepChannel, TemplateChannel, TouchKind
from care.models import CareSettings, MessageTemplate, TemplateVariant
from outreach.backends import ChannelBackend, HttpGatewayBackend
from outreach.choices import InboundAction, TaskOutcome, TaskStatus
from outreach.models import InboundMessage, OutreachTask
from outreach.reasons import SkipReason
from outreach.services.dispatch import CHUNK, LOCK_NAMESPACE, dispatch_due
from outreach.services.tasks import TaskSpec, outreach_tasks_create
from tests.callcenter.factories import (
    CustomerFactory,
    EmailFactory,
    InteractionFactory,
    OrderFactory,
    PhoneFactory,
)
from tests.outreach.factories import CallTaskFactory, TaskFactory, enrollment_with_step
from tests.outreach.gateway import Gateway

UTC = dt.UTC
# 14:30 UTC = 22:30 in Shanghai (quiet) and 10:30 in New York (EDT, awake).
SHANGHAI_NIGHT = dt.datetime(2026, 6, 10, 14, 30, tzinfo=UTC)
# 02:00 UTC = 10:00 in Shanghai (awake) and 22:00 the evening before in New York (quiet).
NEW_YORK_NIGHT = dt.datetime(2026, 6, 11, 2, 0, tzinfo=UTC)
# Mid-afternoon in Shanghai: nobody's quiet hours get in the way.
DAYTIME = dt.datetime(2026, 6, 10, 7, 0, tzinfo=UTC)


def _customer(zone: str = "Asia/Shanghai", **fields: Any) -> Any:
    customer = CustomerFactory(timezone=zone, **fields)
    PhoneFactory(customer=customer)
    return customer


def _reload(task: OutreachTask) -> OutreachTask:
    task.refresh_from_db()
    return task


pytestmark = pytest.mark.django_db


def _sms_template() -> MessageTemplate:
    template = MessageTemplate.objects.create(
        name="Wake up", slug="wake-up", channel=TemplateChannel.SMS
    )
    TemplateVariant.objects.create(
        template=template, language="zh-hans", body="{{ customer.name }}，好久不见！"
    )
    TemplateVariant.objects.create(
        template=template, language="en", body="Hi {{ customer.first_name }}, we miss you"
    )
    return template


class ExplodingBackend(ChannelBackend):
    """A backend with a bug: it raises something no backend should for one message."""

    def send(self, *, to: str, body: str, subject: str = "", idempotency_key: str) -> str:
        if "boom" in body:
            raise RuntimeError("backend bug")
        return f"ok:{idempotency_key}"


class TestSend:
    def test_due_sms_is_sent_with_its_key_and_recorded(self, http_sms: Gateway) -> None:
        with time_machine.travel(DAYTIME, tick=False):
            customer = _customer()
            task = TaskFactory(customer=customer, due_at=DAYTIME - dt.timedelta(minutes=1))
            later = TaskFactory(customer=customer, due_at=DAYTIME + dt.timedelta(minutes=5))

            counts = dispatch_due()

        assert counts["claimed"] == 1
        assert counts["sent"] == 1
        (request,) = http_sms.requests
        phone = customer.contact_points.get().value
        assert request.json() == {
            "to": phone,
            "text": task.body,
            "reference": task.idempotency_key,
        }
        assert request.headers["Idempotency-Key"] == task.idempotency_key
        task = _reload(task)
        assert task.status == TaskStatus.SENT
        assert task.sent_at == DAYTIME
        assert task.provider_message_id == "msg-1"
        assert task.to_address == phone
        assert task.attempts == 1
        assert _reload(later).status == TaskStatus.PENDING

    def test_email_goes_through_django_mail(self, care_settings: CareSettings) -> None:
        with time_machine.travel(DAYTIME, tick=False):
            customer = CustomerFactory()
            EmailFactory(customer=customer, value="wang@example.com")
            task = TaskFactory(
                customer=customer, channel=StepChannel.EMAIL, subject="Welcome", body="Hello"
            )
            dispatch_due()
        assert _reload(task).status == TaskStatus.SENT
        (message,) = mail.outbox
        assert message.to == ["wang@example.com"]
        assert message.subject == "Welcome"
        assert task.provider_message_id == message.extra_headers["Message-ID"]

    def test_template_is_rendered_for_the_customer_at_send_time(self, http_sms: Gateway) -> None:
        template = _sms_template()
        with time_machine.travel(DAYTIME, tick=False):
            zh = _customer(name="王小明", language="zh-hans")
            en = _customer(name="Amy Lee", language="en")
            TaskFactory(customer=zh, template=template, body="")
            TaskFactory(customer=en, template=template, body="")
            dispatch_due()
        texts = sorted(request.json()["text"] for request in http_sms.requests)
        assert texts == ["Hi Amy, we miss you", "王小明，好久不见！"]
        assert OutreachTask.objects.get(customer=zh).body == "王小明，好久不见！"

    def test_auto_call_request_is_recorded_by_its_backend(
        self, settings: Any, tmp_path: Any, care_settings: CareSettings
    ) -> None:
        settings.AUTO_CALL_BACKEND = "file"
        settings.AUTO_CALL_FILE_PATH = str(tmp_path / "calls.jsonl")
        with time_machine.travel(DAYTIME, tick=False):
            task = TaskFactory(customer=_customer(), channel=StepChannel.AUTO_CALL, body="IVR")
            dispatch_due()
        assert _reload(task).status == TaskStatus.SENT
        assert task.idempotency_key in (tmp_path / "calls.jsonl").read_text()

    def test_unexpected_error_fails_one_task_and_the_pass_goes_on(
        self, settings: Any, care_settings: CareSettings
    ) -> None:
        settings.SMS_BACKEND = "tests.outreach.test_dispatch.ExplodingBackend"
        with time_machine.travel(DAYTIME, tick=False):
            bad = TaskFactory(customer=_customer(), body="boom", due_at=DAYTIME)
            good = TaskFactory(customer=_customer(), body="fine", due_at=DAYTIME)
            counts = dispatch_due()
        assert (counts["failed"], counts["sent"]) == (1, 1)
        bad.refresh_from_db()
        assert bad.status == TaskStatus.FAILED
        assert "backend bug" in bad.last_error
        assert _reload(good).status == TaskStatus.SENT

    def test_customer_without_phone_is_skipped(self, http_sms: Gateway) -> None:
        with time_machine.travel(DAYTIME, tick=False):
            task = TaskFactory(customer=CustomerFactory())
            dispatch_due()
        assert (_reload(task).status, task.reason) == (TaskStatus.SKIPPED, SkipReason.NO_ADDRESS)
        assert http_sms.requests == []

    def test_queries_per_task_are_constant(
        self, http_sms: Gateway, care_settings: CareSettings
    ) -> None:
        template = _sms_template()

        def run(count: int) -> int:
            OutreachTask.objects.all().delete()
            with time_machine.travel(DAYTIME, tick=False):
                for _ in range(count):
                    customer = _customer()
                    OrderFactory(customer=customer)
                    TaskFactory(customer=customer, template=template, body="")
                with CaptureQueriesContext(connection) as queries:
                    assert dispatch_due()["sent"] == count
            return len(queries)

        one, three, five = run(1), run(3), run(5)
        # Only the record of each send is per task: locks, consent, the frequency cap and the
        # templates' customers, tickets and orders are loaded once per chunk.
        assert five - three == three - one == 2

    def test_a_pass_longer_than_a_chunk_sends_every_task_once(
        self, http_sms: Gateway, care_settings: CareSettings
    ) -> None:
        with time_machine.travel(DAYTIME, tick=False):
            crowded = _customer()
            tasks = [TaskFactory(customer=crowded) for _ in range(4)]
            tasks += [TaskFactory(customer=_customer()) for _ in range(CHUNK + 3)]
            opted_out = _customer(sms_opt_out=True)
            tasks.append(TaskFactory(customer=opted_out))
            counts = dispatch_due(limit=CHUNK * 2)
        assert (counts["claimed"], counts["sent"], counts["skipped"]) == (CHUNK + 8, CHUNK + 6, 2)
        assert http_sms.delivery_count == CHUNK + 6
        reasons = sorted(
            task.reason for task in map(_reload, tasks) if task.status != TaskStatus.SENT
        )
        assert reasons == [SkipReason.FREQUENCY_CAP, SkipReason.OPTED_OUT]

    def test_customer_locked_by_another_dispatcher_is_given_back(
        self, http_sms: Gateway, care_settings: CareSettings
    ) -> None:
        with time_machine.travel(DAYTIME, tick=False):
            held, free = _customer(), _customer()
            waiting = TaskFactory(customer=held)
            sent = TaskFactory(customer=free)
            other = connections.create_connection("default")
            try:
                with other.cursor() as cursor:
                    cursor.execute(
                        "SELECT pg_advisory_lock(%s, %s)", [LOCK_NAMESPACE, held.pk % 2**31]
                    )
                counts = dispatch_due()
            finally:
                other.close()
            assert (counts["busy"], counts["sent"]) == (1, 1)
            assert _reload(waiting).status == TaskStatus.PENDING
            assert _reload(sent).status == TaskStatus.SENT
            # the lock gone, the next pass sends it; this pass's locks were all released
            assert dispatch_due()["sent"] == 1
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = "
                    "pg_backend_pid()"
                )
                assert cursor.fetchone()[0] == 0


class TestConsent:
    @pytest.mark.parametrize(
        ("channel", "flags", "reason"),
        [
            (StepChannel.SMS, {"sms_opt_out": True}, SkipReason.OPTED_OUT),
            (StepChannel.SMS, {"do_not_contact": True}, SkipReason.DO_NOT_CONTACT),
            (StepChannel.EMAIL, {"email_opt_out": True}, SkipReason.OPTED_OUT),
            (StepChannel.AUTO_CALL, {"call_opt_out": True}, SkipReason.OPTED_OUT),
            (StepChannel.AUTO_CALL, {"do_not_contact": True}, SkipReason.DO_NOT_CONTACT),
        ],
    )
    def test_opted_out_customer_is_skipped_with_reason(
        self, http_sms: Gateway, channel: str, flags: dict, reason: str
    ) -> None:
        with time_machine.travel(DAYTIME, tick=False):
            customer = _customer()
            EmailFactory(customer=customer)
            task = TaskFactory(customer=customer, channel=channel)
            # consent changes after the task was scheduled: the send-time check catches it
            type(customer).objects.filter(pk=customer.pk).update(**flags)
            counts = dispatch_due()
        assert counts["skipped"] == 1
        assert (_reload(task).status, task.reason) == (TaskStatus.SKIPPED, reason)
        assert http_sms.requests == []
        assert mail.outbox == []

    def test_opt_out_of_another_channel_does_not_block(self, http_sms: Gateway) -> None:
        with time_machine.travel(DAYTIME, tick=False):
            task = TaskFactory(customer=_customer(email_opt_out=True, call_opt_out=True))
            dispatch_due()
        assert _reload(task).status == TaskStatus.SENT


class TestQuietHours:
    def test_shanghai_night_is_deferred_to_eight_while_new_york_is_sent(
        self, http_sms: Gateway
    ) -> None:
        with time_machine.travel(SHANGHAI_NIGHT, tick=False):
            shanghai = TaskFactory(
                customer=_customer("Asia/Shanghai"),
                due_at=SHANGHAI_NIGHT - dt.timedelta(minutes=10),
            )
            new_york = TaskFactory(customer=_customer("America/New_York"))
            counts = dispatch_due()

        assert (counts["sent"], counts["deferred"]) == (1, 1)
        assert _reload(new_york).status == TaskStatus.SENT
        shanghai = _reload(shanghai)
        eight_next_morning = dt.datetime(2026, 6, 11, 0, 0, tzinfo=UTC)  # 08:00 +08:00
        assert shanghai.status == TaskStatus.PENDING
        assert shanghai.due_at == eight_next_morning
        # the SLA window moves with it
        assert shanghai.deadline_at == eight_next_morning + dt.timedelta(hours=1)
        assert shanghai.claimed_by == ""
        assert len(http_sms.requests) == 1

        # a minute before eight nothing goes; at eight it does
        with time_machine.travel(eight_next_morning - dt.timedelta(minutes=1), tick=False):
            assert dispatch_due()["claimed"] == 0
        with time_machine.travel(eight_next_morning, tick=False):
            assert dispatch_due()["sent"] == 1
        assert _reload(shanghai).status == TaskStatus.SENT

    def test_new_york_night_is_deferred_in_new_york_time(self, http_sms: Gateway) -> None:
        with time_machine.travel(NEW_YORK_NIGHT, tick=False):
            new_york = TaskFactory(customer=_customer("America/New_York"))
            shanghai = TaskFactory(customer=_customer("Asia/Shanghai"))
            dispatch_due()
        assert _reload(shanghai).status == TaskStatus.SENT
        new_york = _reload(new_york)
        assert new_york.status == TaskStatus.PENDING
        # 08:00 EDT on June 11 = 12:00 UTC
        assert new_york.due_at == dt.datetime(2026, 6, 11, 12, 0, tzinfo=UTC)

    def test_after_midnight_resumes_the_same_morning(self, http_sms: Gateway) -> None:
        one_am = dt.datetime(2026, 6, 10, 17, 0, tzinfo=UTC)  # 01:00 on June 11 in Shanghai
        with time_machine.travel(one_am, tick=False):
            task = TaskFactory(customer=_customer("Asia/Shanghai"))
            dispatch_due()
        assert _reload(task).due_at == dt.datetime(2026, 6, 11, 0, 0, tzinfo=UTC)

    @pytest.mark.parametrize(
        ("local", "quiet"),
        [("20:59", False), ("21:00", True), ("07:59", True), ("08:00", False)],
    )
    def test_window_edges(self, http_sms: Gateway, local: str, quiet: bool) -> None:
        hour, minute = map(int, local.split(":"))
        moment = dt.datetime(2026, 6, 10, hour, minute, tzinfo=dt.timezone(dt.timedelta(hours=8)))
        with time_machine.travel(moment, tick=False):
            task = TaskFactory(customer=_customer("Asia/Shanghai"))
            counts = dispatch_due()
        assert counts["deferred" if quiet else "sent"] == 1
        assert _reload(task).status == (TaskStatus.PENDING if quiet else TaskStatus.SENT)

    def test_configured_daytime_window(
        self, http_sms: Gateway, care_settings: CareSettings
    ) -> None:
        care_settings.quiet_start = dt.time(12, 0)
        care_settings.quiet_end = dt.time(14, 0)
        care_settings.save()
        noon = dt.datetime(2026, 6, 10, 4, 30, tzinfo=UTC)  # 12:30 in Shanghai
        with time_machine.travel(noon, tick=False):
            task = TaskFactory(customer=_customer("Asia/Shanghai"))
            dispatch_due()
        assert _reload(task).due_at == dt.datetime(2026, 6, 10, 6, 0, tzinfo=UTC)


class TestFrequencyCap:
    def _touch(self, customer: Any, days_ago: float, **fields: Any) -> OutreachTask:
        moment = DAYTIME - dt.timedelta(days=days_ago)
        defaults = {"status": TaskStatus.SENT, "sent_at": moment}
        return TaskFactory(customer=customer, due_at=moment, **{**defaults, **fields})

    def test_fourth_proactive_touch_in_seven_days_is_skipped(self, http_sms: Gateway) -> None:
        with time_machine.travel(DAYTIME, tick=False):
            customer = _customer()
            self._touch(customer, 1)
            self._touch(customer, 3, status=TaskStatus.DELIVERED)
            self._touch(customer, 6.9, channel=StepChannel.EMAIL)
            task = TaskFactory(customer=customer)
            dispatch_due()
        assert (_reload(task).status, task.reason) == (
            TaskStatus.SKIPPED,
            SkipReason.FREQUENCY_CAP,
        )
        assert http_sms.requests == []

    def test_service_touch_is_exempt(self, http_sms: Gateway) -> None:
        with time_machine.travel(DAYTIME, tick=False):
            customer = _customer()
            for days in (1, 2, 3):
                self._touch(customer, days)
            service = TaskFactory(customer=customer, touch_kind=TouchKind.SERVICE)
            dispatch_due()
        assert _reload(service).status == TaskStatus.SENT

    def test_only_touches_in_the_window_and_of_proactive_kind_count(
        self, http_sms: Gateway
    ) -> None:
        with time_machine.travel(DAYTIME, tick=False):
            customer = _customer()
            self._touch(customer, 1)
            self._touch(customer, 2)
            self._touch(customer, 7.1)  # outside the window
            self._touch(customer, 1, touch_kind=TouchKind.SERVICE)  # exempt
            self._touch(customer, 1, status=TaskStatus.SKIPPED, sent_at=None)  # never went
            task = TaskFactory(customer=customer)
            dispatch_due()
        assert _reload(task).status == TaskStatus.SENT

    def test_a_call_that_reached_the_customer_counts(self, http_sms: Gateway) -> None:
        with time_machine.travel(DAYTIME, tick=False):
            customer = _customer()
            self._touch(customer, 1)
            self._touch(customer, 2)
            CallTaskFactory(
                customer=customer,
                status=TaskStatus.DONE,
                outcome=TaskOutcome.REACHED,
                completed_at=DAYTIME - dt.timedelta(days=1),
                due_at=DAYTIME - dt.timedelta(days=1),
            )
            CallTaskFactory(
                customer=customer,
                status=TaskStatus.DONE,
                outcome=TaskOutcome.NO_ANSWER,
                completed_at=DAYTIME - dt.timedelta(days=1),
                due_at=DAYTIME - dt.timedelta(days=1),
            )
            task = TaskFactory(customer=customer)
            dispatch_due()
        assert _reload(task).reason == SkipReason.FREQUENCY_CAP

    def test_configurable_cap(self, http_sms: Gateway, care_settings: CareSettings) -> None:
        care_settings.frequency_cap = 1
        care_settings.frequency_window_days = 30
        care_settings.save()
        with time_machine.travel(DAYTIME, tick=False):
            customer = _customer()
            self._touch(customer, 20)
            task = TaskFactory(customer=customer)
            dispatch_due()
        assert _reload(task).reason == SkipReason.FREQUENCY_CAP

    def test_tasks_of_one_customer_in_one_pass_respect_the_cap(self, http_sms: Gateway) -> None:
        with time_machine.travel(DAYTIME, tick=False):
            customer = _customer()
            tasks = [TaskFactory(customer=customer) for _ in range(5)]
            dispatch_due()
        statuses = sorted(_reload(task).status for task in tasks)
        assert statuses == [TaskStatus.SENT] * 3 + [TaskStatus.SKIPPED] * 2
        assert http_sms.delivery_count == 3


class TestStepConditions:
    def test_conditions_are_checked_when_due(self, http_sms: Gateway) -> None:
        with time_machine.travel(DAYTIME, tick=False):
            beijing = _customer(city="北京")
            shanghai = _customer(city="上海")
            tree = {"field": "city", "cmp": "eq", "value": "北京"}
            tasks = []
            for customer in (beijing, shanghai):
                enrollment, step = enrollment_with_step(customer=customer, conditions=tree)
                tasks.append(
                    TaskFactory(
                        customer=customer, enrollment=enrollment, step=step, step_position=1
                    )
                )
            dispatch_due()
        assert _reload(tasks[0]).status == TaskStatus.SENT
        assert (_reload(tasks[1]).status, tasks[1].reason) == (
            TaskStatus.SKIPPED,
            SkipReason.CONDITIONS_NOT_MET,
        )

    def test_the_enrollments_rule_version_wins_over_the_edited_step(
        self, http_sms: Gateway
    ) -> None:
        with time_machine.travel(DAYTIME, tick=False):
            customer = _customer(city="上海")
            # the step was edited after enrollment to require Beijing; the version did not
            enrollment, step = enrollment_with_step(
                customer=customer,
                conditions={"field": "city", "cmp": "eq", "value": "北京"},
                snapshot_steps=[{"position": 1, "conditions": None}],
            )
            task = TaskFactory(customer=customer, enrollment=enrollment, step=step, step_position=1)
            dispatch_due()
        assert _reload(task).status == TaskStatus.SENT

    @pytest.mark.parametrize("response", ["sms_reply", "inbound_call", "order", None])
    def test_only_if_no_response(self, http_sms: Gateway, response: str | None) -> None:
        enrolled = DAYTIME - dt.timedelta(days=7)
        with time_machine.travel(DAYTIME, tick=False):
            customer = _customer()
            enrollment, step = enrollment_with_step(
                customer=customer, only_if_no_response=True, enrolled_at=enrolled
            )
            # what happened before the enrollment does not count
            OrderFactory(customer=customer, placed_at=enrolled - dt.timedelta(days=1))
            after = enrolled + dt.timedelta(days=2)
            if response == "sms_reply":
                InboundMessage.objects.create(
                    from_number="+861",
                    body="ok",
                    received_at=after,
                    customer=customer,
                    action=InboundAction.REPLY,
                )
            elif response == "inbound_call":
                InteractionFactory(
                    customer=customer,
                    channel=InteractionChannel.CALL,
                    direction=Direction.INBOUND,
                    occurred_at=after,
                )
            elif response == "order":
                OrderFactory(customer=customer, placed_at=after, amount=Decimal("10"))
            task = TaskFactory(customer=customer, enrollment=enrollment, step=step, step_position=1)
            dispatch_due()
        task = _reload(task)
        if response is None:
            assert task.status == TaskStatus.SENT
        else:
            assert (task.status, task.reason) == (
                TaskStatus.SKIPPED,
                SkipReason.CUSTOMER_RESPONDED,
            )


class TestRetries:
    def test_gateway_errors_back_off_exponentially_then_give_up(
        self, http_sms: Gateway, care_settings: CareSettings
    ) -> None:
        care_settings.max_attempts = 4
        care_settings.retry_base_seconds = 60
        care_settings.save()
        http_sms.fail_next(100, 500)
        start = DAYTIME
        with time_machine.travel(start, tick=False):
            task = TaskFactory(customer=_customer())
            assert dispatch_due()["retried"] == 1
        task = _reload(task)
        assert (task.status, task.attempts) == (TaskStatus.PENDING, 1)
        assert task.next_attempt_at == start + dt.timedelta(seconds=60)
        assert "HTTP 500" in task.last_error

        # not before the backoff has passed
        with time_machine.travel(start + dt.timedelta(seconds=59), tick=False):
            assert dispatch_due()["claimed"] == 0
        expected_waits = [120, 240]
        moment = start + dt.timedelta(seconds=60)
        for attempt, wait in enumerate(expected_waits, start=2):
            with time_machine.travel(moment, tick=False):
                assert dispatch_due()["retried"] == 1
            task = _reload(task)
            assert task.attempts == attempt
            assert task.next_attempt_at == moment + dt.timedelta(seconds=wait)
            moment = task.next_attempt_at

        with time_machine.travel(moment, tick=False):
            assert dispatch_due()["failed"] == 1
        task = _reload(task)
        assert (task.status, task.attempts) == (TaskStatus.FAILED, 4)
        assert "HTTP 500" in task.last_error
        assert task.next_attempt_at is None
        assert len(http_sms.requests) == 4
        assert http_sms.delivery_count == 0

        # a failed task stays failed
        with time_machine.travel(moment + dt.timedelta(hours=1), tick=False):
            assert dispatch_due()["claimed"] == 0

    def test_recovers_after_transient_errors(
        self, http_sms: Gateway, care_settings: CareSettings
    ) -> None:
        http_sms.fail_next(1, "timeout")
        http_sms.stall_seconds = 1.0
        with time_machine.travel(DAYTIME, tick=False):
            task = TaskFactory(customer=_customer())
            assert dispatch_due()["retried"] == 1
        assert "timed out" in _reload(task).last_error
        with time_machine.travel(DAYTIME + dt.timedelta(minutes=1), tick=False):
            assert dispatch_due()["sent"] == 1
        task = _reload(task)
        assert (task.status, task.attempts, task.last_error) == (TaskStatus.SENT, 2, "")
        assert http_sms.delivery_count == 1

    def test_permanent_error_fails_at_once(self, http_sms: Gateway) -> None:
        http_sms.fail_next(1, 400)
        with time_machine.travel(DAYTIME, tick=False):
            task = TaskFactory(customer=_customer())
            assert dispatch_due()["failed"] == 1
        task = _reload(task)
        assert (task.status, task.attempts) == (TaskStatus.FAILED, 1)
        assert "HTTP 400" in task.last_error


class TestClaims:
    def test_dead_workers_claim_is_recovered_without_a_second_delivery(
        self, http_sms: Gateway, settings: Any
    ) -> None:
        with time_machine.travel(DAYTIME, tick=False):
            customer = _customer()
            # a worker claimed the task, the gateway accepted its send, then the worker died
            task = TaskFactory(
                customer=customer,
                status=TaskStatus.CLAIMED,
                claimed_at=DAYTIME - dt.timedelta(minutes=6),
                claimed_by="dead-worker",
            )
            HttpGatewayBackend(url=settings.SMS_GATEWAY_URL, token=http_sms.token).send(
                to="x", body=task.body, idempotency_key=task.idempotency_key
            )
            # another worker's fresh claim is left alone
            busy = TaskFactory(
                customer=_customer(),
                status=TaskStatus.CLAIMED,
                claimed_at=DAYTIME - dt.timedelta(minutes=1),
                claimed_by="live-worker",
            )

            counts = dispatch_due()

        assert (counts["recovered"], counts["sent"]) == (1, 1)
        task = _reload(task)
        assert task.status == TaskStatus.SENT
        assert task.provider_message_id == "msg-1"
        assert len(http_sms.requests) == 2
        assert http_sms.delivery_count == 1
        assert _reload(busy).status == TaskStatus.CLAIMED

    def test_cancelled_task_is_not_sent(self, http_sms: Gateway) -> None:
        with time_machine.travel(DAYTIME, tick=False):
            task = TaskFactory(customer=_customer(), status=TaskStatus.CANCELLED)
            assert dispatch_due()["claimed"] == 0
        assert http_sms.requests == []
        assert _reload(task).status == TaskStatus.CANCELLED


class TestCallRelease:
    def _call(self, customer: Any, **step_fields: Any) -> OutreachTask:
        enrollment, step = enrollment_with_step(
            customer=customer, channel=StepChannel.CALL, **step_fields
        )
        (task,) = outreach_tasks_create(
            specs=[
                TaskSpec(
                    customer_id=customer.pk,
                    channel=StepChannel.CALL,
                    due_at=DAYTIME,
                    deadline_at=DAYTIME + dt.timedelta(hours=24),
                    idempotency_key=f"enr:{enrollment.pk}:step:1",
                    enrollment_id=enrollment.pk,
                    step_id=step.pk,
                    step_position=1,
                    body="Ask how the order went",
                    assignee_rule="queue",
                    assignee_target="general",
                )
            ]
        )
        return task

    def test_due_call_tasks_are_checked_then_released_to_the_queue(
        self, care_settings: CareSettings
    ) -> None:
        with time_machine.travel(DAYTIME - dt.timedelta(hours=1), tick=False):
            fine = self._call(_customer(city="北京"))
            blocked = self._call(_customer(do_not_contact=True))
            unmatched = self._call(
                _customer(city="上海"), conditions={"field": "city", "cmp": "eq", "value": "北京"}
            )
            assert fine.next_attempt_at == DAYTIME
            assert dispatch_due()["calls_released"] == 0

        with time_machine.travel(DAYTIME, tick=False):
            counts = dispatch_due()

        assert (counts["calls_released"], counts["calls_skipped"]) == (1, 2)
        fine = _reload(fine)
        assert (fine.status, fine.next_attempt_at) == (TaskStatus.PENDING, None)
        assert _reload(blocked).reason == SkipReason.DO_NOT_CONTACT
        assert _reload(unmatched).reason == SkipReason.CONDITIONS_NOT_MET

    def test_call_script_template_is_rendered_on_release(self, care_settings: CareSettings) -> None:
        template = MessageTemplate.objects.create(
            name="Script", slug="script", channel=TemplateChannel.CALL_SCRIPT
        )
        TemplateVariant.objects.create(
            template=template, language="zh-hans", body="请问{{ customer.name }}对订单满意吗？"
        )
        with time_machine.travel(DAYTIME, tick=False):
            task = self._call(_customer(name="李雷"))
            OutreachTask.objects.filter(pk=task.pk).update(template=template)
            dispatch_due()
        assert _reload(task).body == "请问李雷对订单满意吗？"

    def test_release_queries_do_not_grow_with_the_tasks(self, care_settings: CareSettings) -> None:
        template = MessageTemplate.objects.create(
            name="Script", slug="script", channel=TemplateChannel.CALL_SCRIPT
        )
        TemplateVariant.objects.create(
            template=template, language="zh-hans", body="{{ customer.name }} {{ order.number }}"
        )

        def run(count: int) -> int:
            with time_machine.travel(DAYTIME, tick=False):
                for _ in range(count):
                    customer = _customer()
                    OrderFactory(customer=customer, external_id=f"O-{customer.pk}")
                    task = self._call(customer)
                    OutreachTask.objects.filter(pk=task.pk).update(template=template)
                with CaptureQueriesContext(connection) as queries:
                    assert dispatch_due()["calls_released"] == count
            return len(queries)

        assert run(1) == run(4)
        bodies = OutreachTask.objects.values_list("customer__name", "body", "customer_id")
        assert all(body == f"{name} O-{customer}" for name, body, customer in bodies)

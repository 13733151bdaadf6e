"""Journeys: steps that wait for an outcome and branch on it, the timeout pass, versions kept,
stopping on an external event, and journeys refused with the path of the bad node."""

import datetime as dt
import threading
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone

from callcenter.choices import Role
from callcenter.errors import ApplicationError
from callcenter.events import DomainEvent
from care.choices import EnrollmentStatus, EventType, WaitFor
from care.models import CareRule, Enrollment, Event, MessageTemplate
from care.services.events import events_process, events_record
from care.services.journey_runs import journeys_advance_for_event, journeys_time_out
from care.services.rules import care_rule_activate, care_rule_create, care_rule_update
from outreach.choices import CallResult, TaskOutcome, TaskStatus
from outreach.models import OutreachTask
from outreach.services.call_results import CallReport, call_result_record
from outreach.services.tasks import outreach_task_complete
from tests.callcenter.factories import CustomerFactory, UserFactory
from tests.outreach.factories import QueueFactory

H = dt.timedelta(hours=1)

pytestmark = pytest.mark.usefixtures("frozen")


def _process() -> None:
    events_process(
        event_ids=Event.objects.filter(processed_at__isnull=True).values_list("pk", flat=True)
    )


def _fire(customer_id: int, type: str = EventType.EXTERNAL, **payload: Any) -> None:
    events_record(events=[DomainEvent(type=type, customer_id=customer_id, payload=payload)])
    _process()


def _tasks(customer_id: int) -> list[tuple[str, str]]:
    """(step key, status) of the customer's tasks, in creation order."""
    rows = OutreachTask.objects.filter(customer_id=customer_id).select_related("step")
    return [(row.step.key, row.status) for row in rows.order_by("pk")]


def _task(customer_id: int, position: int) -> OutreachTask:
    return OutreachTask.objects.get(customer_id=customer_id, step_position=position)


def _call_result(task: OutreachTask, result: str = CallResult.ANSWERED, **fields: Any) -> None:
    call_result_record(
        report=CallReport(
            call_id=task.idempotency_key,
            result=result,
            duration=30,
            occurred_at=timezone.now(),
            **fields,
        )
    )
    _process()


@pytest.fixture
def repayment(playbook: Any) -> CareRule:
    return CareRule.objects.get(playbook_key="repayment-reminder")


@pytest.fixture
def sms(db: None) -> MessageTemplate:
    """An SMS template (and the queue call steps name)."""
    QueueFactory(slug="general")
    return MessageTemplate.objects.create(name="Hi", slug="hi", channel="sms")


def _journey(sms: MessageTemplate, wait_for: str, branches: list, **trigger: Any) -> CareRule:
    """SMS "ask" waiting `wait_for` for 48 h, then "yes" (SMS) or "no" (a call)."""
    return care_rule_activate(
        rule=care_rule_create(
            name="Ask",
            trigger_type=EventType.EXTERNAL,
            trigger_params={"name": "ask"},
            steps=[
                {
                    "key": "ask",
                    "channel": "sms",
                    "template_id": sms.pk,
                    "wait_for": wait_for,
                    "wait_hours": 48,
                    "branches": [*branches, {"if": "timeout", "goto": "no"}],
                },
                {"key": "yes", "channel": "sms", "template_id": sms.pk, "next_step": "end"},
                {"key": "no", "channel": "call", "name": "Call them", "assignee_target": "general"},
            ],
        )
    )


class TestRepaymentReminder:
    def test_the_journey_plans_up_to_the_first_wait(self, repayment: CareRule) -> None:
        customer = CustomerFactory()

        _fire(customer.pk, name="repayment_due")

        (enrollment,) = Enrollment.objects.filter(customer=customer)
        assert _tasks(customer.pk) == [("auto-call-1", TaskStatus.PENDING)]
        assert enrollment.waiting_step == "auto-call-1"
        task = _task(customer.pk, 1)
        assert (enrollment.wait_started_at, enrollment.wait_until) == (
            task.due_at,
            task.due_at + 24 * H,
        )

    def test_the_customer_page_says_where_the_plan_waits(
        self, repayment: CareRule, supervisor_client: Any
    ) -> None:
        customer = CustomerFactory()
        _fire(customer.pk, name="repayment_due")

        response = supervisor_client.get(reverse("customer-detail", args=[customer.pk]))

        html = response.content.decode()
        assert 'data-waiting="auto-call-1"' in html
        assert "waiting at auto-call-1 until" in html

    def test_transfer_to_human_asks_a_person_to_call_within_2_hours(
        self, repayment: CareRule
    ) -> None:
        customer = CustomerFactory()
        _fire(customer.pk, name="repayment_due")

        _call_result(_task(customer.pk, 1), intent="转人工")

        assert [key for key, _status in _tasks(customer.pk)] == ["auto-call-1", "human-call"]
        call = _task(customer.pk, 3)
        assert (call.due_at, call.deadline_at) == (timezone.now(), timezone.now() + 2 * H)
        assert call.queue is not None
        assert call.queue.slug == "general"
        assert Enrollment.objects.get(customer=customer).waiting_step == ""

    def test_a_promise_to_pay_sends_a_confirmation(self, repayment: CareRule) -> None:
        customer = CustomerFactory()
        _fire(customer.pk, name="repayment_due")

        _call_result(_task(customer.pk, 1), intent="promise to pay")

        assert [key for key, _status in _tasks(customer.pk)] == ["auto-call-1", "promise-sms"]

    def test_no_answer_twice_hands_over_to_a_person(self, repayment: CareRule, frozen: Any) -> None:
        customer = CustomerFactory()
        _fire(customer.pk, name="repayment_due")

        _call_result(_task(customer.pk, 1), result=CallResult.NO_ANSWER)
        second = _task(customer.pk, 2)
        assert second.due_at == timezone.now() + 3 * H
        assert Enrollment.objects.get(customer=customer).waiting_step == "auto-call-2"

        frozen.shift(3 * H)
        _call_result(second, result=CallResult.BUSY)

        assert [key for key, _status in _tasks(customer.pk)] == [
            "auto-call-1",
            "auto-call-2",
            "human-call",
        ]
        assert _task(customer.pk, 3).deadline_at == timezone.now() + 2 * H

    def test_a_result_of_another_step_or_before_the_wait_is_ignored(
        self, repayment: CareRule
    ) -> None:
        customer = CustomerFactory()
        _fire(customer.pk, name="repayment_due")
        # a call of the customer that is no task of this journey
        _fire(
            customer.pk,
            type=EventType.CALL_RESULT,
            result="no_answer",
            enrollment_id=None,
            step_position=None,
        )

        assert [key for key, _status in _tasks(customer.pk)] == ["auto-call-1"]
        assert Enrollment.objects.get(customer=customer).waiting_step == "auto-call-1"

    def test_the_timeout_pass_takes_the_timeout_branch_once(
        self, repayment: CareRule, frozen: Any
    ) -> None:
        customer = CustomerFactory()
        _fire(customer.pk, name="repayment_due")

        frozen.shift(23 * H)
        assert journeys_time_out() == 0
        frozen.shift(2 * H)
        assert journeys_time_out() == 1
        assert journeys_time_out() == 0

        assert [key for key, _status in _tasks(customer.pk)] == ["auto-call-1", "auto-call-2"]
        frozen.shift(28 * H)
        assert journeys_time_out() == 1
        assert [key for key, _status in _tasks(customer.pk)][-1] == "human-call"

    def test_a_payment_stops_the_plan_and_cancels_its_open_tasks(
        self, repayment: CareRule, frozen: Any
    ) -> None:
        customer = CustomerFactory()
        _fire(customer.pk, name="repayment_due")
        frozen.shift(H)

        _fire(customer.pk, name="payment_received")

        enrollment = Enrollment.objects.get(customer=customer)
        assert (enrollment.status, enrollment.stop_reason) == (
            EnrollmentStatus.STOPPED,
            "external:payment_received",
        )
        assert _tasks(customer.pk) == [("auto-call-1", TaskStatus.CANCELLED)]
        frozen.shift(30 * H)
        assert journeys_time_out() == 0


class TestOutcomes:
    def test_sms_reply_keywords_match_chinese_and_any_case(
        self, sms: MessageTemplate, frozen: Any
    ) -> None:
        _journey(sms, WaitFor.SMS_REPLY, [{"if": {"keywords": ["还款", "YES"]}, "goto": "yes"}])
        first, second, third = CustomerFactory(), CustomerFactory(), CustomerFactory()
        for customer in (first, second, third):
            _fire(customer.pk, name="ask")
        frozen.shift(H)

        _fire(first.pk, type=EventType.CUSTOMER_REPLIED, channel="sms", text="我明天还款")
        _fire(second.pk, type=EventType.CUSTOMER_REPLIED, channel="sms", text="yes please")
        _fire(third.pk, type=EventType.CUSTOMER_REPLIED, channel="sms", text="who is this?")

        assert [key for key, _s in _tasks(first.pk)] == ["ask", "yes"]
        assert [key for key, _s in _tasks(second.pk)] == ["ask", "yes"]
        # no keyword: the journey keeps waiting for the timeout
        assert [key for key, _s in _tasks(third.pk)] == ["ask"]
        assert Enrollment.objects.get(customer=third).waiting_step == "ask"

    def test_an_agents_task_outcome_branches(self, sms: MessageTemplate) -> None:
        rule = care_rule_activate(
            rule=care_rule_create(
                name="Call",
                trigger_type=EventType.EXTERNAL,
                trigger_params={"name": "ask"},
                steps=[
                    {
                        "key": "call",
                        "channel": "call",
                        "name": "Call",
                        "assignee_target": "general",
                        "wait_for": WaitFor.TASK_OUTCOME,
                        "wait_hours": 24,
                        "branches": [
                            {"if": {"outcomes": [TaskOutcome.WRONG_NUMBER]}, "goto": "end"},
                            {"if": {"outcomes": [TaskOutcome.REACHED]}, "goto": "thanks"},
                            {"if": "timeout", "goto": "end"},
                        ],
                    },
                    {"key": "thanks", "channel": "sms", "template_id": sms.pk},
                ],
            )
        )
        customer = CustomerFactory()
        _fire(customer.pk, name="ask")
        agent: User = UserFactory(role=Role.SUPERVISOR)

        outreach_task_complete(task=_task(customer.pk, 1), user=agent, outcome="reached")
        _process()

        assert [key for key, _s in _tasks(customer.pk)] == ["call", "thanks"]
        assert Enrollment.objects.get(customer=customer, rule=rule).waiting_step == ""

    @pytest.mark.parametrize(
        ("wait_for", "match", "event"),
        [
            (WaitFor.ORDER_PLACED, {"any": True}, (EventType.ORDER_PLACED, {"amount": "9"})),
            (WaitFor.TICKET_RESOLVED, {"any": True}, (EventType.TICKET_RESOLVED, {})),
            (WaitFor.EXTERNAL_EVENT, {"name": "paid"}, (EventType.EXTERNAL, {"name": "paid"})),
            (WaitFor.LINK_CLICK, {"any": True}, (EventType.LINK_CLICKED, {"link_id": 1})),
        ],
    )
    def test_other_outcomes_branch(
        self, sms: MessageTemplate, frozen: Any, wait_for: str, match: dict, event: tuple
    ) -> None:
        _journey(sms, wait_for, [{"if": match, "goto": "yes"}])
        customer = CustomerFactory()
        _fire(customer.pk, name="ask")
        enrollment = Enrollment.objects.get(customer=customer)
        frozen.shift(H)

        type_, payload = event
        if type_ == EventType.LINK_CLICKED:
            # the tracked link names the enrollment and task it was sent for
            payload = {**payload, "enrollment_id": enrollment.pk, "task_id": 1}
        _fire(customer.pk, type=type_, **payload)

        assert [key for key, _s in _tasks(customer.pk)] == ["ask", "yes"]

    def test_an_edited_rule_leaves_a_waiting_enrollment_on_its_version(
        self, sms: MessageTemplate, frozen: Any
    ) -> None:
        rule = _journey(sms, WaitFor.EXTERNAL_EVENT, [{"if": {"name": "paid"}, "goto": "yes"}])
        customer = CustomerFactory()
        _fire(customer.pk, name="ask")
        steps = rule.versions.get(version=rule.version).snapshot["steps"]
        steps[0]["branches"][0]["if"] = {"name": "something-else"}
        care_rule_update(
            rule=rule, steps=[{k: v for k, v in s.items() if k != "template_slug"} for s in steps]
        )
        assert CareRule.objects.get(pk=rule.pk).version == 3  # created, activated, edited
        frozen.shift(H)

        _fire(customer.pk, name="paid")

        assert [key for key, _s in _tasks(customer.pk)] == ["ask", "yes"]


BAD_JOURNEYS = [
    (
        "two kinds in one call-result branch",
        {
            "wait_for": WaitFor.CALL_RESULT,
            "branches": [
                {"if": {"results": ["busy"], "keypresses": ["1"]}, "goto": "end"},
                {"if": "timeout", "goto": "end"},
            ],
        },
        "steps[0].branches[0].if",
    ),
    (
        "an intent the voice platform does not report",
        {
            "wait_for": WaitFor.CALL_RESULT,
            "branches": [
                {"if": {"intents": ["dance"]}, "goto": "end"},
                {"if": "timeout", "goto": "end"},
            ],
        },
        "steps[0].branches[0].if.intents",
    ),
    # (what is wrong, steps after the first, the first step's changes, the path named)
    (
        "unknown goto",
        {"branches": [{"if": "timeout", "goto": "nowhere"}]},
        "steps[0].branches[0].goto",
    ),
    ("no goto", {"branches": [{"if": "timeout"}]}, "steps[0].branches[0].goto"),
    ("a wait without a limit", {"wait_hours": None}, "steps[0].wait_hours"),
    ("a limit past 30 days", {"wait_hours": 721}, "steps[0].wait_hours"),
    (
        "no timeout branch",
        {"branches": [{"if": {"any": True}, "goto": "end"}]},
        "steps[0].branches",
    ),
    (
        "a match the outcome does not have",
        {
            "branches": [
                {"if": {"results": ["maybe"]}, "goto": "end"},
                {"if": "timeout", "goto": "end"},
            ]
        },
        "steps[0].branches[0].if",
    ),
]


class TestValidation:
    def _steps(self, sms: MessageTemplate, **first: Any) -> list[dict[str, Any]]:
        return [
            {
                "key": "ask",
                "channel": "sms",
                "template_id": sms.pk,
                "wait_for": WaitFor.SMS_REPLY,
                "wait_hours": 24,
                "branches": [{"if": "timeout", "goto": "end"}],
                **first,
            },
        ]

    @pytest.mark.parametrize(("what", "first", "path"), BAD_JOURNEYS)
    def test_a_bad_journey_is_refused_with_the_path_of_the_bad_node(
        self, sms: MessageTemplate, what: str, first: dict, path: str
    ) -> None:
        with pytest.raises(ApplicationError) as refused:
            care_rule_create(
                name="Bad", trigger_type=EventType.EXTERNAL, steps=self._steps(sms, **first)
            )

        assert refused.value.extra["path"] == path, what
        assert refused.value.message.startswith(f"{path}: ")
        assert not CareRule.objects.exists()

    def test_a_loop_is_refused_at_the_edge_that_closes_it(self, sms: MessageTemplate) -> None:
        steps = [
            {"key": "a", "channel": "sms", "template_id": sms.pk},
            {
                "key": "b",
                "channel": "sms",
                "template_id": sms.pk,
                "wait_for": WaitFor.SMS_REPLY,
                "wait_hours": 24,
                "branches": [{"if": {"any": True}, "goto": "end"}, {"if": "timeout", "goto": "a"}],
            },
        ]
        with pytest.raises(ApplicationError, match="may not loop") as refused:
            care_rule_create(name="Loop", trigger_type=EventType.EXTERNAL, steps=steps)

        assert refused.value.extra["path"] == "steps[1].branches[1].goto"

    def test_an_unreachable_step_and_a_duplicate_key_are_refused(
        self, sms: MessageTemplate
    ) -> None:
        first = {"key": "a", "channel": "sms", "template_id": sms.pk, "next_step": "end"}
        second = {"key": "b", "channel": "sms", "template_id": sms.pk}
        with pytest.raises(ApplicationError) as unreachable:
            care_rule_create(name="X", trigger_type=EventType.EXTERNAL, steps=[first, second])
        with pytest.raises(ApplicationError) as duplicate:
            care_rule_create(name="X", trigger_type=EventType.EXTERNAL, steps=[second, {**second}])

        assert unreachable.value.extra["path"] == "steps[1]"
        assert duplicate.value.extra["path"] == "steps[1].key"

    def test_the_api_answers_400_with_the_path_and_saves_nothing(
        self, sms: MessageTemplate, api_as: Any, crm_admin_user: Any
    ) -> None:
        client = api_as(crm_admin_user)
        body = {
            "name": "Bad",
            "trigger_type": EventType.EXTERNAL,
            "trigger_params": {"name": "x"},
            "steps": self._steps(sms, branches=[{"if": "timeout", "goto": "ask"}]),
        }

        response = client.post("/api/care/rules/", body, format="json")

        assert response.status_code == 400
        assert response.json()["path"] == "steps[0].branches[0].goto"
        assert "loop" in response.json()["detail"]
        assert not CareRule.objects.exists()

    def test_a_rule_without_waits_plans_every_step_as_before(self, sms: MessageTemplate) -> None:
        care_rule_activate(
            rule=care_rule_create(
                name="Linear",
                trigger_type=EventType.EXTERNAL,
                trigger_params={"name": "go"},
                steps=[
                    {"channel": "sms", "template_id": sms.pk},
                    {"channel": "sms", "template_id": sms.pk, "delay_value": 2},
                ],
            )
        )
        customer = CustomerFactory()

        _fire(customer.pk, name="go")

        assert [key for key, _s in _tasks(customer.pk)] == ["step-1", "step-2"]
        assert Enrollment.objects.get(customer=customer).waiting_step == ""


def test_the_api_saves_a_journey_and_shows_it_with_the_stop_event(
    sms: MessageTemplate, api_as: Any, crm_admin_user: Any
) -> None:
    client = api_as(crm_admin_user)
    steps = [
        {
            "key": "ask",
            "channel": "sms",
            "template_id": sms.pk,
            "wait_for": WaitFor.SMS_REPLY,
            "wait_hours": 24,
            "branches": [
                {"if": {"keywords": ["还款"]}, "goto": "end"},
                {"if": "timeout", "goto": "end"},
            ],
        }
    ]
    body = {
        "name": "Ask",
        "trigger_type": EventType.EXTERNAL,
        "trigger_params": {"name": "x"},
        "stop_conditions": ["external:payment_received", "customer_replied"],
        "steps": steps,
    }

    response = client.post("/api/care/rules/", body, format="json")

    assert response.status_code == 201, response.json()
    rule = response.json()
    assert rule["stop_conditions"] == ["customer_replied", "external:payment_received"]
    (step,) = rule["steps"]
    assert (step["key"], step["wait_for"], step["wait_hours"]) == ("ask", "sms_reply", 24)
    assert step["branches"] == steps[0]["branches"]
    bad_stop = client.post(
        "/api/care/rules/", {**body, "stop_conditions": ["external:"]}, format="json"
    )
    assert bad_stop.status_code == 400
    assert bad_stop.json()["field"] == "stop_conditions"
    assert CareRule.objects.count() == 1


def test_a_bad_journey_sent_to_an_existing_rule_changes_nothing(
    sms: MessageTemplate, api_as: Any, crm_admin_user: Any
) -> None:
    rule = _journey(sms, WaitFor.SMS_REPLY, [{"if": {"any": True}, "goto": "yes"}])
    version = rule.version
    steps = [
        {k: v for k, v in step.items() if k not in ("template_slug", "position")}
        for step in rule.versions.get(version=version).snapshot["steps"]
    ]
    steps[0]["wait_hours"] = None

    response = api_as(crm_admin_user).patch(
        f"/api/care/rules/{rule.pk}/", {"steps": steps, "name": "Renamed"}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["path"] == "steps[0].wait_hours"
    rule.refresh_from_db()
    assert (rule.name, rule.version) == ("Ask", version)
    assert rule.steps.get(key="ask").wait_hours == 48


def test_an_outcome_and_the_timeout_pass_move_one_wait_once(committed_rows: None) -> None:
    QueueFactory(slug="general")
    sms = MessageTemplate.objects.create(name="Hi", slug="journey-race", channel="sms")
    _journey(sms, WaitFor.EXTERNAL_EVENT, [{"if": {"name": "paid"}, "goto": "yes"}])
    customer = CustomerFactory()
    _fire(customer.pk, name="ask")
    # the wait is past its limit, and an outcome that came within it is being processed
    past = timezone.now() - H
    Enrollment.objects.filter(customer=customer).update(wait_started_at=past - H, wait_until=past)
    event = Event.objects.create(
        type=EventType.EXTERNAL,
        customer=customer,
        payload={"name": "paid"},
        occurred_at=past - H / 2,
    )
    holding, release = threading.Event(), threading.Event()
    moved: list[int] = []

    def outcome_worker() -> None:
        try:
            with transaction.atomic():
                moved.append(journeys_advance_for_event(event=event, now=timezone.now()))
                holding.set()
                release.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=outcome_worker)
    thread.start()
    assert holding.wait(10)
    timed_out = [journeys_time_out()]
    release.set()
    thread.join()
    timed_out.append(journeys_time_out())

    # the pass skips the row the outcome holds, then finds the wait already taken
    assert (moved, timed_out) == ([1], [0, 0])
    assert [key for key, _s in _tasks(customer.pk)] == ["ask", "yes"]

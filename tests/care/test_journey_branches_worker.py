"""Integration: every kind of outcome a journey branches on, driven the way production drives it,
through one real Celery worker (events and dispatch through Redis, SMS to a loopback gateway)
and the real HTTP entry points:

- an SMS reply through the signed inbound-SMS webhook (Chinese keywords: 好 / 是 vs 不);
- a click of the tracked short link in the SMS the worker sent (`GET /l/<token>`), counted
  only by the wait of its own step;
- an agent's outcome of the call task through the queue's API (callback requested vs wrong
  number);
- an order and a resolved ticket through the REST API other systems use;
- a named event another system posts to the events API;
- the timeout, taken by the beat task (`care.tasks.journeys_time_out_task`, sent by name).

Each asserts the branch's next task and its due time, that the other branch planned nothing, and
that the same outcome arriving again plans nothing twice. Rows are committed (the worker has its
own connection) and deleted by `committed_rows`.
"""

import datetime as dt
import json
import os
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.db.models import Max, Q
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from callcenter import celery_app
from callcenter.choices import Role
from callcenter.models import Customer
from callcenter.schedules import PERIODIC_TASKS
from care.choices import EventType, WaitFor
from care.models import CareRule, Enrollment, Event, MessageTemplate
from care.services.rules import care_rule_activate, care_rule_create
from care.services.templates import template_create
from outreach.choices import TaskOutcome, TaskStatus
from outreach.models import OutreachTask, Queue
from outreach.tasks import dispatch_due_task
from tests.callcenter.factories import CustomerFactory, PhoneFactory, UserFactory
from tests.outreach.gateway import Gateway
from tests.signing import signed_headers
from tests.workers import WORKER_TIMEOUT, noon_zone, wait_for

H = dt.timedelta(hours=1)
SMS_SECRET = "journey-sms-secret"
INBOUND = reverse("api-outreach-inbound-sms")
TOKEN = re.compile(r"/l/([A-Za-z0-9_-]+)")
TIME_OUT_TASK = "care.tasks.journeys_time_out_task"


@pytest.fixture
def worker(journey_worker: str, committed_rows: None, settings: Any) -> Iterator[str]:
    settings.SMS_WEBHOOK_SECRETS = [SMS_SECRET]
    # the queue the journeys' call steps name
    Queue.objects.get_or_create(slug="general", defaults={"name": "General"})
    mark = Event.objects.aggregate(top=Max("pk"))["top"] or 0
    yield journey_worker
    # Nothing this test queued may run against the next test's rows.
    ours = Event.objects.filter(pk__gt=mark, processed_at__isnull=True)
    wait_for(lambda: not ours.exists(), "this test's events processed")


@pytest.fixture
def admin_api(worker: str) -> APIClient:
    """Another system's client (an admin's token: orders are written by admins)."""
    api = APIClient()
    api.force_authenticate(UserFactory(role=Role.ADMIN, username=f"erp-{os.getpid()}"))
    return api


def _template(body: str = "Hello {{ customer.name }}") -> MessageTemplate:
    return template_create(
        name="Journey SMS", channel="sms", variants={"en": {"body": body}}, slug=None
    )


def _rule(first: dict[str, Any], *rest: dict[str, Any]) -> CareRule:
    """A journey started by the external event "start": `first` waits, `rest` are branches."""
    return care_rule_activate(
        rule=care_rule_create(
            name=f"Journey {first['wait_for']}",
            trigger_type=EventType.EXTERNAL,
            trigger_params={"name": "start"},
            steps=[first, *rest],
        )
    )


def _ask(wait_for: str, branches: list[dict[str, Any]], template: MessageTemplate) -> dict:
    """The first step: an SMS that waits 48 h for `wait_for`; nothing comes: a call at once."""
    return {
        "key": "ask",
        "channel": "sms",
        "template_id": template.pk,
        "wait_for": wait_for,
        "wait_hours": 48,
        "branches": [*branches, {"if": "timeout", "goto": "timeout-call"}],
    }


def _sms(key: str, template: MessageTemplate, hours: int) -> dict[str, Any]:
    return {
        "key": key,
        "channel": "sms",
        "template_id": template.pk,
        "delay_value": hours,
        "delay_unit": "hours",
        "next_step": "end",
    }


def _call(key: str, hours: int, next_step: str = "end") -> dict[str, Any]:
    return {
        "key": key,
        "channel": "call",
        "name": key,
        "assignee_target": "general",
        "delay_value": hours,
        "delay_unit": "hours",
        "next_step": next_step,
    }


def _customers(count: int) -> list[Customer]:
    made = [CustomerFactory(timezone=noon_zone()) for _ in range(count)]
    for customer in made:
        PhoneFactory(customer=customer)
    return made


def _keys(customer: Customer) -> list[str]:
    return list(
        OutreachTask.objects.filter(customer=customer)
        .order_by("pk")
        .values_list("step__key", flat=True)
    )


def _task(customer: Customer, key: str) -> OutreachTask:
    return OutreachTask.objects.get(customer=customer, step__key=key)


def _settled(customer: Customer) -> bool:
    """Every event of the customer is processed (its plans, and its moves, committed)."""
    return not Event.objects.filter(customer=customer, processed_at__isnull=True).exists()


def _start(api: APIClient, *customers: Customer) -> None:
    """The other system starts the journeys; wait until each customer's first step is planned."""
    for customer in customers:
        response = api.post(
            "/api/events/",
            {"type": "external", "customer_id": customer.pk, "payload": {"name": "start"}},
            format="json",
            HTTP_IDEMPOTENCY_KEY=f"start-{customer.pk}",
        )
        assert response.status_code == 201, response.content
    for customer in customers:
        wait_for(lambda c=customer: len(_keys(c)) == 1 and _settled(c), "the first step planned")
        assert Enrollment.objects.get(customer=customer).waiting_step == _keys(customer)[0]


def _dispatch(*sent: tuple[Customer, str]) -> None:
    """The dispatcher's pass, run by the worker; the SMS of these (customer, step) went out."""
    dispatch_due_task.apply_async(queue="outreach").get(timeout=WORKER_TIMEOUT)
    for customer, key in sent:
        assert _task(customer, key).status == TaskStatus.SENT, (customer, key)


def _sent_token(gateway: Gateway, task: OutreachTask) -> str:
    """The short link in the SMS the gateway received for `task`."""
    key = task.idempotency_key
    (sent,) = [r for r in gateway.requests if r.headers.get("Idempotency-Key") == key]
    text = sent.json()["text"]
    assert "pay.example.com" not in text  # the target is behind the customer's short link
    (token,) = TOKEN.findall(text)
    return token


def _moved(customer: Customer, key: str, since: dt.datetime, delay: dt.timedelta) -> OutreachTask:
    """Wait for the branch's task `key`; it is due `delay` after the outcome was processed."""
    wait_for(lambda: key in _keys(customer) and _settled(customer), f"the {key} branch")
    task = _task(customer, key)
    assert since + delay <= task.due_at <= timezone.now() + delay
    assert Enrollment.objects.get(customer=customer).waiting_step == ""
    return task


def _unchanged_after(customer: Customer, keys: list[str]) -> None:
    """The outcome that came again is processed and planned nothing more."""
    wait_for(lambda: _settled(customer), "the repeated outcome processed")
    assert _keys(customer) == keys


def _inbound(
    client: Client, customer: Customer, text: str, message_id: str, *, later: int = 0
) -> None:
    """The provider posts a reply (`later` seconds on: a retry is signed afresh)."""
    body = json.dumps(
        {"from": customer.contact_points.get().value, "body": text, "id": message_id},
        ensure_ascii=False,
    ).encode()
    stamp = int(time.time()) + later
    headers = signed_headers(body, secret=SMS_SECRET, path=INBOUND, timestamp=stamp)
    response = client.post(INBOUND, data=body, content_type="application/json", **headers)
    assert response.status_code == 200, response.content


def test_an_sms_reply_takes_the_branch_of_its_chinese_keyword(
    worker: str, admin_api: APIClient, journey_gateway: Gateway, client: Client
) -> None:
    # given: "ask" waits for a reply: 不 -> a call in 1 h; 好 or 是 -> an SMS in 2 h
    template = _template()
    _rule(
        _ask(
            WaitFor.SMS_REPLY,
            [
                {"if": {"keywords": ["不"]}, "goto": "no-call"},
                {"if": {"keywords": ["好", "是"]}, "goto": "yes-sms"},
            ],
            template,
        ),
        _sms("yes-sms", template, hours=2),
        _call("no-call", hours=1),
        _call("timeout-call", hours=0),
    )
    agrees, declines = _customers(2)
    _start(admin_api, agrees, declines)
    _dispatch((agrees, "ask"), (declines, "ask"))

    # when: they answer the SMS through the provider's signed webhook
    since = timezone.now()
    _inbound(client, agrees, "好的，谢谢", "in-agrees-1")
    _inbound(client, declines, "不好，不需要", "in-declines-1")

    # then: each takes its own branch, due by its delay from now
    _moved(agrees, "yes-sms", since, 2 * H)
    _moved(declines, "no-call", since, 1 * H)
    assert _keys(agrees) == ["ask", "yes-sms"]
    assert _keys(declines) == ["ask", "no-call"]

    # the provider posts the same message again, and the customer replies once more
    _inbound(client, agrees, "好的，谢谢", "in-agrees-1", later=1)
    _inbound(client, agrees, "是", "in-agrees-2")
    _inbound(client, declines, "不", "in-declines-2")
    _unchanged_after(agrees, ["ask", "yes-sms"])
    _unchanged_after(declines, ["ask", "no-call"])
    assert Event.objects.filter(customer=agrees, type=EventType.CUSTOMER_REPLIED).count() == 2


def test_a_click_on_the_tracked_link_of_the_sent_sms_moves_the_journey(
    worker: str, admin_api: APIClient, journey_gateway: Gateway, client: Client
) -> None:
    # given: the SMS carries a link; a click -> an SMS in 2 h
    template = _template("Pay here: https://pay.example.com/bill?ref=7")
    _rule(
        _ask(WaitFor.LINK_CLICK, [{"if": {"any": True}, "goto": "clicked-sms"}], template),
        _sms("clicked-sms", template, hours=2),
        _call("timeout-call", hours=0),
    )
    (customer,) = _customers(1)
    _start(admin_api, customer)

    # the worker sends it through the gateway, the link replaced by the customer's short link
    _dispatch((customer, "ask"))
    token = _sent_token(journey_gateway, _task(customer, "ask"))

    # when: the customer taps it
    since = timezone.now()
    response = client.get(f"/l/{token}")

    # then: the journey moves on; the timeout's call is not planned
    assert response.status_code == 302
    assert response["Location"] == "https://pay.example.com/bill?ref=7"
    _moved(customer, "clicked-sms", since, 2 * H)
    assert _keys(customer) == ["ask", "clicked-sms"]

    # a second tap is counted but announces nothing again
    assert client.get(f"/l/{token}").status_code == 302
    _unchanged_after(customer, ["ask", "clicked-sms"])
    assert Event.objects.filter(customer=customer, type=EventType.LINK_CLICKED).count() == 1


def _wait_passed(customer: Customer) -> None:
    """The customer's wait is past its limit (the worker's clock is real: the wait is moved)."""
    past = timezone.now() - 49 * H
    Enrollment.objects.filter(customer=customer).update(
        wait_started_at=past, wait_until=past + 48 * H
    )


def _time_out_pass() -> int:
    """Beat's timeout pass, run by the worker (sent by name, as beat sends it)."""
    (job,) = [job for job in PERIODIC_TASKS if job.task == TIME_OUT_TASK]
    assert (job.every_seconds, job.queue) == (60, None)  # every minute, on the default queue
    return celery_app.send_task(TIME_OUT_TASK).get(timeout=WORKER_TIMEOUT)


def test_a_late_click_on_an_earlier_messages_link_does_not_answer_the_reminder(
    worker: str, admin_api: APIClient, journey_gateway: Gateway, client: Client
) -> None:
    # given: no click on the first SMS in time -> a reminder SMS with its own link, which waits
    template = _template("Pay here: https://pay.example.com/bill?ref=8")
    _rule(
        _ask(WaitFor.LINK_CLICK, [{"if": {"any": True}, "goto": "clicked-sms"}], template),
        {
            **_sms("remind", template, hours=0),
            "next_step": "",
            "wait_for": WaitFor.LINK_CLICK,
            "wait_hours": 24,
            "branches": [
                {"if": {"any": True}, "goto": "clicked-sms"},
                {"if": "timeout", "goto": "end"},
            ],
        },
        _sms("clicked-sms", template, hours=2),
        {**_call("timeout-call", hours=0), "next_step": "remind"},
    )
    (customer,) = _customers(1)
    _start(admin_api, customer)
    _dispatch((customer, "ask"))
    _wait_passed(customer)
    assert _time_out_pass() >= 1
    wait_for(lambda: "remind" in _keys(customer), "the timeout branch")
    _dispatch((customer, "remind"))
    first = _sent_token(journey_gateway, _task(customer, "ask"))
    reminder = _sent_token(journey_gateway, _task(customer, "remind"))

    # when: the customer taps the first message's link, late
    assert client.get(f"/l/{first}").status_code == 302

    # then: the reminder keeps waiting for a click on its own link
    _unchanged_after(customer, ["ask", "timeout-call", "remind"])
    assert Enrollment.objects.get(customer=customer).waiting_step == "remind"
    since = timezone.now()
    assert client.get(f"/l/{reminder}").status_code == 302
    _moved(customer, "clicked-sms", since, 2 * H)


def test_an_agents_outcome_of_the_call_task_takes_its_branch(
    worker: str, admin_api: APIClient
) -> None:
    # given: a person's call that waits for the agent's outcome: a callback requested -> an SMS
    # in 1 h; a wrong number -> a call to check the number in 4 h
    template = _template()
    agent = UserFactory(role=Role.AGENT, username=f"journey-agent-{os.getpid()}")
    Queue.objects.get(slug="general").members.add(agent)
    _rule(
        {
            **_call("call", hours=0, next_step=""),
            "wait_for": WaitFor.TASK_OUTCOME,
            "wait_hours": 24,
            "branches": [
                {"if": {"outcomes": [TaskOutcome.CALLBACK_REQUESTED]}, "goto": "callback-sms"},
                {"if": {"outcomes": [TaskOutcome.WRONG_NUMBER]}, "goto": "check-number"},
                {"if": "timeout", "goto": "end"},
            ],
        },
        _sms("callback-sms", template, hours=1),
        _call("check-number", hours=4),
    )
    callback, wrong = _customers(2)
    _start(admin_api, callback, wrong)
    desk = APIClient()
    desk.force_authenticate(agent)
    tomorrow = (timezone.now() + 24 * H).isoformat()

    # when: the dispatcher releases the due calls to the queue; the agent works both
    _dispatch()
    queued = {row["id"] for row in desk.get("/api/outreach/my-queue/").json()}
    first, second = _task(callback, "call"), _task(wrong, "call")
    assert {first.pk, second.pk} <= queued
    since = timezone.now()
    asked = desk.post(
        f"/api/outreach/tasks/{first.pk}/reschedule/",
        {"callback_at": tomorrow, "outcome": TaskOutcome.CALLBACK_REQUESTED},
        format="json",
    )
    done = desk.post(
        f"/api/outreach/tasks/{second.pk}/complete/",
        {"outcome": TaskOutcome.WRONG_NUMBER},
        format="json",
    )

    # then: each outcome takes its branch (the callback itself is the agent's own new task)
    assert asked.status_code == 201, asked.content
    assert done.status_code == 200, done.content
    _moved(callback, "callback-sms", since, 1 * H)
    _moved(wrong, "check-number", since, 4 * H)
    assert _keys(callback) == ["call", "call", "callback-sms"]
    assert _keys(wrong) == ["call", "check-number"]

    # the agent records the callback's outcome (the same step) and tries the done call again
    again = desk.post(
        f"/api/outreach/tasks/{asked.json()['id']}/complete/",
        {"outcome": TaskOutcome.CALLBACK_REQUESTED},
        format="json",
    )
    assert again.status_code == 200, again.content
    repeated = desk.post(
        f"/api/outreach/tasks/{second.pk}/complete/",
        {"outcome": TaskOutcome.WRONG_NUMBER},
        format="json",
    )
    assert repeated.status_code == 400
    _unchanged_after(callback, ["call", "call", "callback-sms"])
    _unchanged_after(wrong, ["call", "check-number"])


def test_an_order_placed_through_the_api_moves_the_journey(
    worker: str, admin_api: APIClient
) -> None:
    # given: "ask" waits for an order: a thank-you SMS in 3 h
    template = _template()
    _rule(
        _ask(WaitFor.ORDER_PLACED, [{"if": {"any": True}, "goto": "thanks-sms"}], template),
        _sms("thanks-sms", template, hours=3),
        _call("timeout-call", hours=0),
    )
    (customer,) = _customers(1)
    _start(admin_api, customer)

    def order(external_id: str) -> None:
        response = admin_api.post(
            "/api/orders/",
            {
                "external_id": external_id,
                "customer": customer.pk,
                "placed_at": timezone.now().isoformat(),
                "amount": "199.00",
            },
            format="json",
        )
        assert response.status_code == 201, response.content

    # when: the shop reports the customer's first order (an order and a first order event)
    since = timezone.now()
    order(f"journey-order-{customer.pk}-1")

    # then
    _moved(customer, "thanks-sms", since, 3 * H)
    assert _keys(customer) == ["ask", "thanks-sms"]
    assert Event.objects.filter(customer=customer, type=EventType.FIRST_ORDER).exists()

    # another order
    order(f"journey-order-{customer.pk}-2")
    _unchanged_after(customer, ["ask", "thanks-sms"])


def test_a_ticket_resolved_through_the_api_moves_the_journey(
    worker: str, admin_api: APIClient
) -> None:
    # given: "ask" waits for a resolved ticket: a satisfaction SMS in 1 h
    template = _template()
    rule = _rule(
        _ask(WaitFor.TICKET_RESOLVED, [{"if": {"any": True}, "goto": "survey-sms"}], template),
        _sms("survey-sms", template, hours=1),
        _call("timeout-call", hours=0),
    )
    (customer,) = _customers(1)
    _start(admin_api, customer)

    def ticket() -> int:
        response = admin_api.post(
            "/api/tickets/",
            {"customer": customer.pk, "kind": "inquiry", "subject": "Where is my parcel?"},
            format="json",
        )
        assert response.status_code == 201, response.content
        return int(response.json()["id"])

    def resolve(ticket_id: int) -> None:
        response = admin_api.post(f"/api/tickets/{ticket_id}/resolve/", {}, format="json")
        assert response.status_code == 200, response.content

    first, second = ticket(), ticket()
    wait_for(lambda: _settled(customer), "the tickets opened")
    assert _keys(customer) == ["ask"]  # opening one is no outcome

    # when
    since = timezone.now()
    resolve(first)

    # then
    _moved(customer, "survey-sms", since, 1 * H)
    assert _keys(customer) == ["ask", "survey-sms"]

    # resolving it again changes nothing; another ticket resolved plans nothing twice
    resolve(first)
    resolve(second)
    _unchanged_after(customer, ["ask", "survey-sms"])
    assert set(
        OutreachTask.objects.filter(customer=customer).values_list("enrollment__rule", flat=True)
    ) == {rule.pk}


def test_an_event_from_another_system_takes_the_branch_of_its_name(
    worker: str, admin_api: APIClient
) -> None:
    # given: "ask" waits for the lender's event: paid -> a receipt SMS in 1 h; declined ->
    # a person's call in 2 h
    template = _template()
    _rule(
        _ask(
            WaitFor.EXTERNAL_EVENT,
            [
                {"if": {"name": "paid"}, "goto": "receipt-sms"},
                {"if": {"name": "declined"}, "goto": "rescue-call"},
            ],
            template,
        ),
        _sms("receipt-sms", template, hours=1),
        _call("rescue-call", hours=2),
        _call("timeout-call", hours=0),
    )
    payer, decliner = _customers(2)
    _start(admin_api, payer, decliner)

    def event(customer: Customer, name: str, key: str) -> int:
        response = admin_api.post(
            "/api/events/",
            {"type": "external", "customer_id": customer.pk, "payload": {"name": name}},
            format="json",
            HTTP_IDEMPOTENCY_KEY=key,
        )
        assert response.status_code in (200, 201), response.content
        return response.status_code

    # when
    since = timezone.now()
    event(payer, "paid", f"paid-{payer.pk}")
    event(decliner, "declined", f"declined-{decliner.pk}")

    # then
    _moved(payer, "receipt-sms", since, 1 * H)
    _moved(decliner, "rescue-call", since, 2 * H)
    assert _keys(payer) == ["ask", "receipt-sms"]
    assert _keys(decliner) == ["ask", "rescue-call"]

    # sent again with its key (the same event), and again as a new event
    assert event(payer, "paid", f"paid-{payer.pk}") == 200
    assert event(payer, "paid", f"paid-{payer.pk}-again") == 201
    assert event(decliner, "paid", f"paid-{decliner.pk}") == 201
    _unchanged_after(payer, ["ask", "receipt-sms"])
    _unchanged_after(decliner, ["ask", "rescue-call"])


def test_the_beat_task_takes_the_timeout_branch_once(
    worker: str, admin_api: APIClient, client: Client
) -> None:
    # given: "ask" waits 48 h for a reply; nothing comes -> a person's call in 1 h
    template = _template()
    _rule(
        _ask(WaitFor.SMS_REPLY, [{"if": {"any": True}, "goto": "yes-sms"}], template),
        _sms("yes-sms", template, hours=2),
        _call("timeout-call", hours=1),
    )
    silent, waiting = _customers(2)
    _start(admin_api, silent, waiting)
    # the silent customer's 48 hours have passed
    _wait_passed(silent)

    # when: beat's pass runs in the worker
    since = timezone.now()
    assert _time_out_pass() >= 1  # (and any wait an aborted earlier run left behind)

    # then: the timeout's call, due in 1 h; the other customer still waits
    call = _moved(silent, "timeout-call", since, 1 * H)
    assert call.queue is not None
    assert call.status == TaskStatus.PENDING
    assert _keys(silent) == ["ask", "timeout-call"]
    assert Enrollment.objects.get(customer=waiting).waiting_step == "ask"

    # the next pass finds nothing; a reply after the limit changes nothing
    assert _time_out_pass() == 0
    _inbound(client, silent, "好的", "in-silent-late")
    _unchanged_after(silent, ["ask", "timeout-call"])
    assert not OutreachTask.objects.filter(
        Q(customer=silent) | Q(customer=waiting), step__key="yes-sms"
    ).exists()

"""Decisions for the agent desk, CTI call events and live stream, my queue, queue board."""

import datetime as dt
from typing import Any

from django.utils import timezone

from outreach.models import (
    CallReasonSetting,
    OutreachTask,
    Queue,
    RoutingRule,
    SurveyAsk,
    TicketRoute,
    TrackedLink,
)
from tests.matrix import ADMINS, AGENT, MANAGERS, PUBLIC, STAFF, Entry, _e, _page

EXPECTATIONS: dict[str, Entry] = {
    # Agent desk: any call-center role takes calls.
    "desk": _page(get=STAFF),
    "desk-events": _page(get=STAFF),
    "desk-card": _page(get=STAFF),
    "desk-customer-create": _page(post=STAFF),
    "desk-log-call": _page("customer", post=STAFF),
    "desk-ticket": _page("customer", post=STAFF),
    "desk-callback": _page("customer", post=STAFF),
    # Telephony posts call events with a call-center user's token (or a signature, tested in
    # tests/callcenter/test_cti.py).
    "api-cti-call-events": _e(post=STAFF),
    # My queue: everyone works their own calls; the board is for supervisors.
    "my-queue": _page(get=STAFF),
    "my-queue-complete": _page("task", post=STAFF),
    "my-queue-reschedule": _page("task", post=STAFF),
    "queue-board": _page(get=MANAGERS),
    "queue-board-reassign": _page(post=MANAGERS),
    # Routing: supervisors see routed tickets and move them; admins edit the routing rules
    # (supervisors read them over the API); supervisors set agents' skills.
    "routed-tickets": _page(get=MANAGERS),
    "ticket-route": _page("ticket", post=MANAGERS),
    "agent-skills": _page(get=MANAGERS),
    "agent-skills-set": _page("agent", post=MANAGERS),
    "routing-rules": _page(get=ADMINS),
    "routing-rule-create": _page(get=ADMINS, post=ADMINS),
    "routing-rule-edit": _page("routing_rule", get=ADMINS, post=ADMINS),
    "routing-rule-delete": _page("routing_rule", post=ADMINS),
    "api-outreach-routing-rules": _e(get=MANAGERS, post=ADMINS),
    "api-outreach-routing-rule": _e(
        "routing_rule", get=MANAGERS, put=ADMINS, patch=ADMINS, delete=ADMINS
    ),
    "api-outreach-agents": _e(get=MANAGERS),
    "api-outreach-agent": _e("agent", patch=MANAGERS),
    "api-outreach-ticket-route": _e("ticket", get=MANAGERS, post=MANAGERS),
    # Tracked links: customers follow them from their messages, without an account.
    "tracked-link": Entry(methods={"get": PUBLIC}, pk="tracked_link", kwarg="token"),
    # The satisfaction page: customers answer it from their message, without an account.
    "survey-page": Entry(methods={"get": PUBLIC, "post": PUBLIC}, pk="survey_ask", kwarg="token"),
    # After-call follow-ups per call reason: supervisors read them, admins change them.
    "call-reasons": _page(get=MANAGERS, post=ADMINS),
    "call-reason-edit": _page("call_reason", get=ADMINS, post=ADMINS),
    "call-reason-delete": _page("call_reason", post=ADMINS),
    "api-call-reasons": _e(get=MANAGERS, post=ADMINS),
    "api-call-reason": _e("call_reason", get=MANAGERS, patch=ADMINS, delete=ADMINS),
}


def extra_objects(base: dict[str, Any]) -> dict[str, Any]:
    """A tracked link and a sent survey ask of the fixture's call task, a call reason, a routing
    rule, the ticket's route and an agent whose skills are set."""
    task = OutreachTask.objects.get(pk=base["ids"]["task"])
    link = TrackedLink.objects.create(
        token="matrixlink1", task=task, customer_id=task.customer_id, target_url="https://a.cn/"
    )
    queue, _created = Queue.objects.get_or_create(slug="matrix", defaults={"name": "Matrix"})
    rule = RoutingRule.objects.create(name="Matrix", queue=queue)
    TicketRoute.objects.get_or_create(
        ticket_id=base["ids"]["ticket"], defaults={"queue": queue, "routed_at": timezone.now()}
    )
    now = timezone.now()
    ask = SurveyAsk.objects.create(
        token="matrixsurvey1",
        task=task,
        customer_id=task.customer_id,
        sent_at=now,
        expires_at=now + dt.timedelta(days=3),
    )
    reason = CallReasonSetting.objects.create(reason="Matrix reason")
    return {
        "tracked_link": link.token,
        "survey_ask": ask.token,
        "call_reason": reason.pk,
        "routing_rule": rule.pk,
        "agent": base["users"][AGENT].pk,
    }

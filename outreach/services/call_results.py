"""What the voice platform tells us of an automated call: its result, stored on the task.

The platform signs its webhook with VOICE_WEBHOOK_SECRETS (callcenter.signatures checks them
before anything here runs). A call is found by the id the platform knows it by: the idempotency
key the backend sent with the call request, or the request id the backend returned (kept as
the task's provider message id).

The task's status follows the result as a delivery receipt moves an SMS: answered or voicemail
(the script was played) -> delivered; no answer, busy or failed -> failed, with the result as
its last error. A call has one result: the same result posted again changes nothing, another
result for a call that has one is refused. A stored result is announced as a
"call_result" care event (result, intent, keypress), which rules may trigger on.
"""

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from callcenter.errors import ApplicationError
from callcenter.events import DomainEvent, emit_events
from care.choices import EventType, StepChannel
from outreach.choices import CallIntent, CallResult, TaskStatus
from outreach.models import OutreachTask

# Results after which the script was played to the customer (or their voicemail).
PLAYED_RESULTS = frozenset({CallResult.ANSWERED, CallResult.VOICEMAIL})
# Other names platforms give the known intents (folded: lower case, words joined by "_").
INTENT_ALIASES: dict[str, str] = {
    "transfer": CallIntent.TRANSFER_TO_HUMAN,
    "human": CallIntent.TRANSFER_TO_HUMAN,
    "agent": CallIntent.TRANSFER_TO_HUMAN,
    "transfer_to_agent": CallIntent.TRANSFER_TO_HUMAN,
    "转人工": CallIntent.TRANSFER_TO_HUMAN,
    "promise": CallIntent.PROMISE_TO_PAY,
    "ptp": CallIntent.PROMISE_TO_PAY,
    "承诺还款": CallIntent.PROMISE_TO_PAY,
    "callback": CallIntent.CALLBACK_REQUESTED,
    "call_back": CallIntent.CALLBACK_REQUESTED,
    "回电": CallIntent.CALLBACK_REQUESTED,
    "not_interested": CallIntent.NOT_INTERESTED,
    "不感兴趣": CallIntent.NOT_INTERESTED,
}


class CallNotFound(ApplicationError):
    """No automated call is known by the id the platform sent (404, nothing written)."""

    status_code = 404


class CallResultConflict(ApplicationError):
    """The call already has another result (409, nothing written)."""

    status_code = 409


@dataclass(frozen=True)
class CallReport:
    """One result as the platform reports it (validated by the webhook's serializer)."""

    call_id: str
    result: str
    duration: int
    occurred_at: dt.datetime
    keypress: str = ""
    intent: str = ""


@dataclass(frozen=True)
class CallResultOutcome:
    task: OutreachTask
    duplicate: bool


def call_intent_normalize(intent: str) -> str:
    """A known intent (CallIntent) when the text names one, else the text as given (trimmed)."""
    given = intent.strip()
    folded = re.sub(r"[\s\-]+", "_", unicodedata.normalize("NFKC", given).casefold())
    if folded in CallIntent.values:
        return folded
    return str(INTENT_ALIASES.get(folded, given))


def _call(call_id: str) -> OutreachTask:
    task = (
        OutreachTask.objects.select_for_update()
        .filter(channel=StepChannel.AUTO_CALL)
        .filter(Q(idempotency_key=call_id) | Q(provider_message_id=call_id))
        # The idempotency key names one task; a provider id reused by the platform, the newest.
        .order_by("-created_at", "-id")
        .first()
    )
    if task is None:
        raise CallNotFound(_("No automated call is known by the id %(id)s.") % {"id": call_id})
    return task


def _same(task: OutreachTask, report: CallReport, intent: str) -> bool:
    return (
        task.call_result == report.result
        and task.call_keypress == report.keypress
        and task.call_intent == intent
        and task.call_duration == report.duration
        and task.call_result_at == report.occurred_at
    )


def _apply_status(task: OutreachTask, result: str, occurred_at: dt.datetime) -> None:
    if result in PLAYED_RESULTS:
        # As a late "delivered" receipt: it wins over a failure recorded before.
        if task.status in (TaskStatus.SENT, TaskStatus.FAILED) and task.delivered_at is None:
            task.status = TaskStatus.DELIVERED
            task.delivered_at = occurred_at
            task.last_error = ""
    elif task.status == TaskStatus.SENT:
        task.status = TaskStatus.FAILED
        task.last_error = _("Call not completed: %(result)s") % {"result": CallResult(result).label}


@transaction.atomic
def call_result_record(*, report: CallReport) -> CallResultOutcome:
    """Store the platform's result of an automated call on its task and move the task's
    status; a result received twice changes nothing the second time."""
    task = _call(report.call_id)
    intent = call_intent_normalize(report.intent)
    if task.call_result:
        if _same(task, report, intent):
            return CallResultOutcome(task=task, duplicate=True)
        raise CallResultConflict(
            _("This call already has a result (%(result)s); a call has one result.")
            % {"result": task.get_call_result_display()}
        )
    task.call_result = report.result
    task.call_keypress = report.keypress
    task.call_intent = intent
    task.call_duration = report.duration
    task.call_result_at = report.occurred_at
    _apply_status(task, report.result, report.occurred_at)
    task.save(
        update_fields=[
            "call_result",
            "call_keypress",
            "call_intent",
            "call_duration",
            "call_result_at",
            "status",
            "delivered_at",
            "last_error",
            "updated_at",
        ]
    )
    emit_events([_announcement(task, report.occurred_at)])
    return CallResultOutcome(task=task, duplicate=False)


def _announcement(task: OutreachTask, occurred_at: dt.datetime) -> DomainEvent:
    """The care event of a stored result (recorded in the same transaction as the task)."""
    return DomainEvent(
        type=EventType.CALL_RESULT,
        customer_id=task.customer_id,
        payload={
            "task_id": task.pk,
            "enrollment_id": task.enrollment_id,
            "step_position": task.step_position,
            "channel": StepChannel.AUTO_CALL,
            "result": task.call_result,
            "intent": task.call_intent,
            "keypress": task.call_keypress,
            "duration": task.call_duration,
        },
        occurred_at=occurred_at.isoformat(),
    )

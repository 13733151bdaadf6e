"""Where a task stands and why it waits, in words, for the pages and the API: "Deferred to
08:00 by quiet hours (21:00–08:00 on the customer's clock)", "Not sent: frequency cap reached
(3 per 7 days)", "Retrying at 10:05 after an error (attempt 2 of 5): gateway timeout".

Read from the task's own columns (status, `reason`, due and retry moments, last error) and
the care guardrails, which are loaded only when a task's words need them (one query for any
number of tasks).
"""

import datetime as dt
from collections.abc import Iterable

from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.translation import gettext as _

from care.choices import StepChannel
from care.models import CareSettings
from outreach.choices import TaskStatus
from outreach.models import OutreachTask
from outreach.reasons import REASON_LABELS, SkipReason, WaitReason

# Skips for want of consent: said as such.
_NO_CONSENT = frozenset({SkipReason.OPTED_OUT, SkipReason.DO_NOT_CONTACT})


def _when(moment: dt.datetime, now: dt.datetime) -> str:
    """A moment in the business time zone: its time today, else its date and time."""
    local, today = timezone.localtime(moment), timezone.localtime(now).date()
    return date_format(local, "H:i" if local.date() == today else "Y-m-d H:i")


class Guardrails:
    """The care settings, read once and only if asked."""

    def __init__(self) -> None:
        self._settings: CareSettings | None = None

    def get(self) -> CareSettings:
        if self._settings is None:
            self._settings = CareSettings.load()
        return self._settings


def _label(code: str) -> str:
    return str(REASON_LABELS.get(code, code))


def _pending_text(task: OutreachTask, now: dt.datetime, guardrails: Guardrails) -> str:
    if task.reason == WaitReason.QUIET_HOURS and task.due_at > now:
        settings = guardrails.get()
        return _(
            "Deferred to %(time)s by quiet hours (%(start)s–%(end)s on the customer's clock)"
        ) % {
            "time": _when(task.due_at, now),
            "start": settings.quiet_start.strftime("%H:%M"),
            "end": settings.quiet_end.strftime("%H:%M"),
        }
    call = task.channel == StepChannel.CALL
    if not call and task.next_attempt_at is not None and task.last_error:
        return _(
            "Retrying at %(time)s after an error (attempt %(attempt)s of %(max)s): %(error)s"
        ) % {
            "time": _when(task.next_attempt_at, now),
            "attempt": task.attempts + 1,
            "max": guardrails.get().max_attempts,
            "error": task.last_error[:200],
        }
    if task.due_at > now:
        return _("Waiting until %(time)s, when it is due") % {"time": _when(task.due_at, now)}
    if not call:
        return _("Due: the next dispatch sends it (within a minute)")
    if task.next_attempt_at is not None:
        return _("Due: released to the queue at the next dispatch (within a minute)")
    if task.assignee_id is not None:
        assignee = task.assignee
        name = (assignee.get_full_name() or assignee.get_username()) if assignee else ""
        return _("Waiting for %(agent)s to call") % {"agent": name}
    if task.queue_id is not None and task.queue is not None:
        return _("Waiting in the queue %(queue)s for an agent") % {"queue": task.queue.name}
    return _("Waiting for an agent")


def task_state_text(task: OutreachTask, *, now: dt.datetime, guardrails: Guardrails) -> str:
    """Why the task waits, or why it did not go out; empty once sent or done."""
    status = task.status
    if status == TaskStatus.PENDING:
        return _pending_text(task, now, guardrails)
    if status == TaskStatus.CLAIMED:
        return _("Being sent now")
    if status == TaskStatus.HELD:
        return _("Held: its campaign is paused")
    if status == TaskStatus.SKIPPED:
        if task.reason == SkipReason.FREQUENCY_CAP:
            settings = guardrails.get()
            return _("Not sent: frequency cap reached (%(cap)s per %(days)s days)") % {
                "cap": settings.frequency_cap,
                "days": settings.frequency_window_days,
            }
        if task.reason in _NO_CONSENT:
            return _("Not sent, no consent: %(reason)s") % {"reason": _label(task.reason)}
        return _("Not sent: %(reason)s") % {"reason": _label(task.reason)}
    if status == TaskStatus.CANCELLED and task.reason:
        return _("Cancelled: %(reason)s") % {"reason": _label(task.reason)}
    if status == TaskStatus.FAILED:
        return _("Failed: %(error)s") % {"error": task.last_error[:200] or "—"}
    return ""


def task_states_attach(tasks: Iterable[OutreachTask], *, now: dt.datetime | None = None) -> None:
    """Set `state_text` on each task (the guardrails read once, if any task needs them)."""
    moment = now or timezone.now()
    guardrails = Guardrails()
    for task in tasks:
        task.state_text = task_state_text(task, now=moment, guardrails=guardrails)  # type: ignore[attr-defined]

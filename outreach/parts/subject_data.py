"""Outreach's rows in subject erasure (callcenter.services.privacy): pending tasks are
cancelled (nobody may contact an erased customer), and the text, addresses and numbers of tasks
and inbound messages are blanked. Tracked links are deleted (a target may carry the customer's
own order or account in its URL; their short links then answer 404), and so are survey asks
(their pages then answer 404; the answers stay as the customer's surveys). The export finds
them from the model metadata."""

import datetime as dt

from django.db.models import Q

from callcenter.services.privacy import SubjectData, erase_update, subject_data_parts
from outreach.choices import TaskStatus
from outreach.models import InboundMessage, OutreachTask, SurveyAsk, TrackedLink
from outreach.reasons import SkipReason


def outreach_subject_erase(ids: list[int], now: dt.datetime) -> dict[str, int]:
    """Cancel the customers' pending tasks, blank their tasks and inbound messages, delete
    their tracked links."""
    return {
        "outreach_tasks_cancelled": OutreachTask.objects.filter(
            customer_id__in=ids, status=TaskStatus.PENDING
        ).update(status=TaskStatus.CANCELLED, reason=SkipReason.DO_NOT_CONTACT, updated_at=now),
        "outreach_tasks": erase_update(
            OutreachTask.objects.filter(customer_id__in=ids),
            Q(subject="", body="", to_address="", notes="", last_error=""),
            subject="",
            body="",
            to_address="",
            notes="",
            last_error="",
            updated_at=now,
        ),
        "inbound_messages": erase_update(
            InboundMessage.objects.filter(customer_id__in=ids),
            Q(from_number="", body=""),
            from_number="",
            body="",
        ),
        "tracked_links": TrackedLink.objects.filter(customer_id__in=ids).delete()[0],
        "survey_asks": SurveyAsk.objects.filter(customer_id__in=ids).delete()[0],
    }


OUTREACH_SUBJECT_DATA = SubjectData(
    decisions={
        "outreach.outreachtask.customer": "scrub",
        "outreach.inboundmessage.customer": "scrub",
        "outreach.trackedlink.customer": "delete",
        "outreach.surveyask.customer": "delete",
    },
    erase=outreach_subject_erase,
)


def register() -> None:
    """Add outreach's erasure decisions and statements (from OutreachConfig.ready)."""
    subject_data_parts.register("outreach", OUTREACH_SUBJECT_DATA, order=30)

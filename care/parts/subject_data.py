"""Care's rows in subject erasure (callcenter.services.privacy): an event's payload and error
text may name the person and are blanked; enrollments hold rule, step and dates only and stay,
as do threshold states (a rule, a side of its line and a count) and campaign members (a run, a
rank and whether held out).
The export finds both from the model metadata."""

import datetime as dt

from django.db.models import Q

from callcenter.services.privacy import SubjectData, erase_update, subject_data_parts
from care.models import Event


def care_subject_erase(ids: list[int], now: dt.datetime) -> dict[str, int]:
    """Blank the payload and last error of the customers' care events."""
    return {
        "care_events": erase_update(
            Event.objects.filter(customer_id__in=ids),
            Q(payload={}, last_error=""),
            payload={},
            last_error="",
        ),
    }


CARE_SUBJECT_DATA = SubjectData(
    decisions={
        "care.event.customer": "scrub",
        "care.enrollment.customer": "keep",
        "care.thresholdstate.customer": "keep",
        "care.campaignmember.customer": "keep",
    },
    erase=care_subject_erase,
)


def register() -> None:
    """Add care's erasure decisions and statements (from CareConfig.ready)."""
    subject_data_parts.register("care", CARE_SUBJECT_DATA, order=20)

"""Receivers that keep the care outbox in step with what other apps announce.

Connected in CareConfig.ready(). Each writes outbox rows inside the sender's transaction, so an
event exists exactly when the change that caused it was committed.
"""

from typing import Any

from callcenter.events import DomainEvent
from care.services.events import events_record, segment_events_record


def domain_events_received(sender: Any, events: list[DomainEvent], **kwargs: Any) -> None:
    """Record the domain events a service announced (ticket opened, order placed, ...) in the
    outbox, in the service's transaction; they are processed after its commit."""
    events_record(events=events)


def segment_memberships_changed_received(sender: Any, run_id: int, **kwargs: Any) -> None:
    """Record the entries and exits of a segment refresh run as segment_entered /
    segment_exited events (set-based, only for segments that active rules listen to)."""
    segment_events_record(run_id=run_id)

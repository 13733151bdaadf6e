"""Decisions for the agent desk, CTI call events and live stream, my queue, queue board."""

from typing import Any

from outreach.models import OutreachTask, TrackedLink
from tests.matrix import MANAGERS, PUBLIC, STAFF, Entry, _e, _page

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
    # Merging the customers of a proposal: supervisors and admins.
    "customer-merge": _page("customer", post=MANAGERS),
    # My queue: everyone works their own calls; the board is for supervisors.
    "my-queue": _page(get=STAFF),
    "my-queue-complete": _page("task", post=STAFF),
    "my-queue-reschedule": _page("task", post=STAFF),
    "queue-board": _page(get=MANAGERS),
    "queue-board-reassign": _page(post=MANAGERS),
    # Tracked links: customers follow them from their messages, without an account.
    "tracked-link": Entry(methods={"get": PUBLIC}, pk="tracked_link", kwarg="token"),
}


def extra_objects(base: dict[str, Any]) -> dict[str, Any]:
    """A tracked link of the fixture's call task."""
    task = OutreachTask.objects.get(pk=base["ids"]["task"])
    link = TrackedLink.objects.create(
        token="matrixlink1", task=task, customer_id=task.customer_id, target_url="https://a.cn/"
    )
    return {"tracked_link": link.token}

"""Several clicks of one link at the same moment (a mail scanner and the customer), each on
its own database connection: every click is counted and care hears of the link once.

Rows must be committed for the other connections to see them; like
test_dispatch_concurrency this module commits its rows and deletes them afterwards (the
`committed` fixture), and carries no django_db mark."""

import datetime as dt
import threading

from django.db import connection

from care.choices import EventType
from care.models import Event
from outreach.models import TrackedLink
from outreach.services.links import tracked_link_click
from tests.callcenter.factories import CustomerFactory
from tests.outreach.factories import TaskFactory

CLICKS = 4
MOMENT = dt.datetime(2026, 6, 10, 8, 0, tzinfo=dt.UTC)


def test_simultaneous_clicks_are_all_counted_and_announced_once(committed: list) -> None:
    # given a sent message's link, committed
    customer = CustomerFactory()
    committed.append(customer)
    task = TaskFactory(customer=customer)
    link = TrackedLink.objects.create(
        token="concurrent1", task=task, customer=customer, target_url="https://shop.cn/"
    )
    start = threading.Barrier(CLICKS)
    targets: list[str | None] = []
    errors: list[BaseException] = []

    def click() -> None:
        try:
            start.wait()
            targets.append(tracked_link_click(token=link.token, now=MOMENT))
        except BaseException as exc:  # surfaced in the main thread
            errors.append(exc)
        finally:
            connection.close()

    # when the clicks arrive together, each on its own connection
    threads = [threading.Thread(target=click) for _ in range(CLICKS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    # then each was counted and answered, and one event was recorded
    assert errors == []
    assert targets == ["https://shop.cn/"] * CLICKS
    link.refresh_from_db()
    assert link.click_count == CLICKS
    events = Event.objects.filter(type=EventType.LINK_CLICKED, customer=customer)
    assert [event.payload["link_id"] for event in events] == [link.pk]

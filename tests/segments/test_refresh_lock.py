"""The refresh lock between executors: a run requested the moment the previous one finished is
executed even though the previous executor still holds the lock for an instant after its
commit; a run that another executor (a redelivered task) finishes meanwhile is not run twice.

Rows are committed (the `committed_rows` fixture removes them afterwards) so that a second
database session, standing for the other executor, sees them."""

import datetime as dt
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

import psycopg
import pytest
from django.db import connection

from segments.choices import RunStatus
from segments.models import RefreshRun, SegmentSnapshot
from segments.services.refresh import as_of_from_date, segment_refresh, segment_refresh_execute
from segments.services.refresh_runs import REFRESH_LOCK_KEY, segment_refresh_request
from tests.callcenter.factories import CustomerFactory, OrderFactory

AS_OF = as_of_from_date(dt.date(2026, 6, 1))
# The other executor lets go after this long.
HOLD_SECONDS = 0.6


@pytest.fixture
def customers(committed_rows: None) -> None:
    for days in (5, 50, 500):
        OrderFactory(
            customer=CustomerFactory(),
            placed_at=AS_OF - dt.timedelta(days=days),
            amount=Decimal("100.00"),
        )


@contextmanager
def _other_executor() -> Iterator[psycopg.Connection]:
    """A database session of its own holding the refresh lock, as the executor of the previous
    run does between its commit and its unlock."""
    db = connection.settings_dict
    with psycopg.connect(
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        user=db["USER"],
        password=db["PASSWORD"] or None,
        dbname=db["NAME"],
        autocommit=True,
    ) as other:
        other.execute("SELECT pg_advisory_lock(%s)", [REFRESH_LOCK_KEY])
        yield other


def _later(action: object) -> threading.Timer:
    timer = threading.Timer(HOLD_SECONDS, action)  # type: ignore[arg-type]
    timer.start()
    return timer


def test_a_run_requested_before_the_previous_executor_let_go_of_the_lock_is_executed(
    customers: None,
) -> None:
    # given a finished run whose executor still holds the lock, and a new run requested now
    assert segment_refresh(as_of=AS_OF).status == RunStatus.SUCCEEDED
    run, created = segment_refresh_request(as_of=AS_OF + dt.timedelta(days=1))
    assert created
    with _other_executor() as other:
        unlock = _later(lambda: other.execute("SELECT pg_advisory_unlock(%s)", [REFRESH_LOCK_KEY]))

        # when the new run's task executes it
        finished = segment_refresh_execute(run_id=run.pk)
        unlock.join()

    # then it waited for the lock and ran, instead of leaving the run queued forever
    assert finished.status == RunStatus.SUCCEEDED, finished.error
    assert finished.phase == "done"
    assert SegmentSnapshot.objects.filter(run=run).exists()


def test_a_run_another_executor_finishes_meanwhile_is_not_executed_again(
    customers: None,
) -> None:
    run, _created = segment_refresh_request(as_of=AS_OF)
    with _other_executor() as other:
        # the other executor (the same run's task, delivered twice) finishes the run
        finish = _later(
            lambda: other.execute(
                "UPDATE segments_refreshrun SET status = %s, phase = 'done', "
                "finished_at = now() WHERE id = %s",
                [RunStatus.SUCCEEDED, run.pk],
            )
        )

        returned = segment_refresh_execute(run_id=run.pk)
        finish.join()

    assert returned.status == RunStatus.SUCCEEDED
    assert not SegmentSnapshot.objects.filter(run=run).exists()
    assert RefreshRun.objects.get(pk=run.pk).timings == {}

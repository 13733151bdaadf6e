"""A full refresh split over Celery workers gives exactly what the single pass gives."""

import datetime as dt
import os
import time
from decimal import Decimal
from typing import Any

import pytest

from callcenter import celery_app
from callcenter.choices import AccountRole
from callcenter.models import Customer
from segments.choices import RunStatus
from segments.models import CustomerMetrics, RefreshRun
from segments.services.distributed import id_ranges
from segments.services.refresh import as_of_from_date, segment_refresh
from segments.services.refresh_runs import segment_refresh_request
from segments.tasks import segment_refresh_task
from tests.callcenter.factories import BusinessCustomerFactory, CustomerFactory, OrderFactory
from tests.segments.factories import ValueModelFactory
from tests.workers import celery_worker, purge

AS_OF = as_of_from_date(dt.date(2026, 6, 1))
REFRESH_TIMEOUT = 240


def _base(customers: int = 60) -> list[Any]:
    made = [CustomerFactory(name=f"D{i}") for i in range(customers)]
    for index, customer in enumerate(made):
        for days in range(index % 6):
            OrderFactory(
                customer=customer,
                placed_at=AS_OF - dt.timedelta(days=3 + 37 * days + index),
                amount=Decimal(20 + 13 * index),
            )
    # Business accounts last (in the last range) with contacts first (in the first ranges):
    # a part rolls up contacts aggregated in another.
    if customers >= 20:
        for number in range(3):
            account = BusinessCustomerFactory(name=f"Account{number}")
            OrderFactory(customer=account, placed_at=AS_OF - dt.timedelta(days=5 + number))
            Customer.objects.filter(
                pk__in=[c.pk for c in made[number * 4 : number * 4 + 3]]
            ).update(account=account, account_role=AccountRole.USER)
    return made


def _assert_single_pass_changes_nothing() -> None:
    single = segment_refresh(as_of=AS_OF, window_days=365, full=True)
    assert single.status == RunStatus.SUCCEEDED, single.error
    assert single.counts["metrics_written"] == 0
    assert single.counts["metrics_deleted"] == 0
    assert (single.counts["entered"], single.counts["exited"]) == (0, 0)


def test_id_ranges_cover_every_customer_once(db: None) -> None:
    customers = _base(10)
    ranges = id_ranges(3)

    ids = [c.pk for c in customers]
    assert ranges[0][0] == min(ids)
    assert ranges[-1][1] == max(ids) + 1
    assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:], strict=False))


@pytest.mark.django_db
def test_a_split_refresh_equals_the_single_pass(settings: Any) -> None:
    _base()
    ValueModelFactory()
    settings.SEGMENTS_REFRESH_PARTS = 3
    run, _created = segment_refresh_request(as_of=AS_OF, window_days=365)

    segment_refresh_task(run.pk)

    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.counts["aggregation_parts"] == 3
    assert CustomerMetrics.objects.count() == 63
    # Spend ever and the value model's figures too (accounts rolled up across parts).
    assert CustomerMetrics.objects.filter(spend_lifetime__gt=0, p_alive__isnull=False).exists()
    _assert_single_pass_changes_nothing()


def test_two_worker_processes_share_a_split_refresh(committed_rows: None, tmp_path: Any) -> None:
    _base()
    purge("segments")
    env = {"SEGMENTS_REFRESH_PARTS": "4"}
    workers = [f"split-{n}-{id(tmp_path)}@localhost" for n in (1, 2)]
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    try:
        with (
            celery_worker(workers[0], queues="segments", log_path=tmp_path / "w1.log", env=env),
            celery_worker(workers[1], queues="segments", log_path=tmp_path / "w2.log", env=env),
        ):
            run, _created = segment_refresh_request(as_of=AS_OF, window_days=365)
            segment_refresh_task.delay(run.pk)
            deadline = time.monotonic() + REFRESH_TIMEOUT
            while RefreshRun.objects.get(pk=run.pk).status == RunStatus.RUNNING:
                assert time.monotonic() < deadline, (tmp_path / "w1.log").read_text()
                time.sleep(0.2)
            run.refresh_from_db()
            # the finish step records the parts after the run's own transaction
            while "aggregation_workers" not in run.counts and time.monotonic() < deadline:
                time.sleep(0.2)
                run.refresh_from_db()
    finally:
        celery_app.conf.task_always_eager = eager

    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.counts["aggregation_parts"] == 4
    # Parts ran in the worker processes (which of the two takes which is the broker's choice).
    assert run.counts["aggregation_workers"]
    assert all(not w.endswith(f":{os.getpid()}") for w in run.counts["aggregation_workers"])
    _assert_single_pass_changes_nothing()

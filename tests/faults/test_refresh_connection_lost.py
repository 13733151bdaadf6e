"""The database connection of a segment refresh is killed (pg_terminate_backend) in the middle
of the run: the run is marked failed with the error, metrics and memberships stay as the last
good run left them (the swap is one transaction), and the next run succeeds.

The refresh runs on this process's connection, so the rows are committed (the `committed_rows`
fixture removes them afterwards) and the killing is done from a second connection."""

import datetime as dt
from decimal import Decimal

import psycopg
import pytest
from django.db import connection

from segments.choices import RunStatus
from segments.models import CustomerMetrics, SegmentMembership
from segments.services.refresh import as_of_from_date, segment_refresh
from tests.callcenter.factories import CustomerFactory, OrderFactory

AS_OF = as_of_from_date(dt.date(2026, 6, 1))


def _kill(backend_pid: int) -> None:
    """pg_terminate_backend from a connection of its own."""
    db = connection.settings_dict
    with psycopg.connect(
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        user=db["USER"],
        password=db["PASSWORD"] or None,
        dbname=db["NAME"],
        autocommit=True,
    ) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [backend_pid])


def _state(ids: list[int]) -> tuple[set, list]:
    members = set(
        SegmentMembership.objects.filter(customer_id__in=ids).values_list(
            "segment_id", "customer_id", "entered_at", "exited_at"
        )
    )
    metrics = list(
        CustomerMetrics.objects.filter(customer_id__in=ids)
        .order_by("customer_id")
        .values("customer_id", "frequency", "monetary", "rfm_code", "lifecycle_stage")
    )
    return members, metrics


@pytest.mark.parametrize("phase", ["write", "memberships"])
def test_a_refresh_whose_connection_dies_fails_visibly_and_changes_nothing(
    committed_rows: None, phase: str
) -> None:
    ids = []
    for index in range(6):
        customer = CustomerFactory()
        ids.append(customer.pk)
        for days in range(index + 1):
            OrderFactory(
                customer=customer,
                placed_at=AS_OF - dt.timedelta(days=10 + 40 * days),
                amount=Decimal("100.00") * (index + 1),
            )
    assert segment_refresh(as_of=AS_OF).status == RunStatus.SUCCEEDED
    before = _state(ids)
    assert before[0], "the first run put the customers into segments"
    # new facts, so a finished second run would change the metrics
    for customer_id in ids:
        OrderFactory(customer_id=customer_id, placed_at=AS_OF + dt.timedelta(days=5))

    killed: list[str] = []

    def on_progress(name: str, _percent: int) -> None:
        if name == phase and not killed:
            killed.append(name)
            _kill(connection.connection.info.backend_pid)

    run = segment_refresh(as_of=AS_OF + dt.timedelta(days=30), on_progress=on_progress)

    assert killed == [phase], f"the run never reached the {phase} phase"
    assert run.status == RunStatus.FAILED
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert run.error, "the error is kept on the run"
    assert _state(ids) == before
    nxt = segment_refresh(as_of=AS_OF + dt.timedelta(days=30))
    assert nxt.status == RunStatus.SUCCEEDED, nxt.error
    assert _state(ids) != before

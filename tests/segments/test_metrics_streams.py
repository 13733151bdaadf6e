"""The aggregation as two streams (orders on a second connection) equals the single statement.

Committed rows: the second connection sees only committed history.
"""

import datetime as dt
import threading
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import psycopg
import pytest
from django.db import connection, transaction
from psycopg import sql

from callcenter.choices import CustomerStatus, OrderStatus, TicketKind
from callcenter.models import Customer, SurveyResponse
from segments.choices import RunStatus
from segments.models import CustomerMetrics
from segments.services import metrics as metrics_module
from segments.services.metrics import (
    _own_conninfo,
    _stored_rows_arrow,
    _stored_rows_frame,
    metrics_frame,
    metrics_stored_rows,
    metrics_stored_rows_ahead,
)
from segments.services.refresh import as_of_from_date, segment_refresh
from tests.callcenter.factories import (
    CustomerFactory,
    InteractionFactory,
    OrderFactory,
    TicketFactory,
)

AS_OF = as_of_from_date(dt.date(2026, 6, 1))


@pytest.fixture
def history(committed_rows: None) -> Iterator[list[Any]]:
    """30 committed customers with orders (some refunded), calls, complaints and NPS answers;
    the second one merged into the third."""
    rng = np.random.default_rng(11)
    customers = [CustomerFactory(name=f"S{i}") for i in range(30)]
    for index, customer in enumerate(customers):
        for days in rng.integers(-3, 500, size=index % 6):
            OrderFactory(
                customer=customer,
                placed_at=AS_OF - dt.timedelta(days=float(days)),
                amount=Decimal(f"{rng.integers(1, 900)}.{rng.integers(0, 99):02d}"),
                status=OrderStatus.REFUNDED if index % 7 == 0 else OrderStatus.PAID,
            )
        if index % 3 == 0:
            InteractionFactory(customer=customer, occurred_at=AS_OF - dt.timedelta(days=10))
        if index % 4 == 0:
            TicketFactory(
                customer=customer,
                kind=TicketKind.COMPLAINT,
                opened_at=AS_OF - dt.timedelta(days=20),
            )
        if index % 5 == 0:
            SurveyResponse.objects.create(
                customer=customer, kind="nps", score=index % 11, responded_at=AS_OF
            )
    customers[1].status, customers[1].merged_into = CustomerStatus.MERGED, customers[2]
    customers[1].save()
    yield customers
    # The merge protects its survivor: undone so that the committed rows can be removed.
    Customer.objects.filter(pk=customers[1].pk).update(
        status=CustomerStatus.ACTIVE, merged_into=None
    )


@pytest.fixture
def own_connections(monkeypatch: pytest.MonkeyPatch) -> list[Callable[[], Any]]:
    """The reads run on a connection of their own (`on_own_connection`), as they happen."""
    reads: list[Callable[[], Any]] = []
    on_own_connection = metrics_module.on_own_connection
    monkeypatch.setattr(
        metrics_module,
        "on_own_connection",
        lambda read: reads.append(read) or on_own_connection(read),
    )
    return reads


@pytest.fixture
def arrow_reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The threads the stored rows were read in through ADBC (`_stored_rows_arrow`)."""
    threads: list[int] = []
    read = metrics_module._stored_rows_arrow

    def recorded(conninfo: str) -> Any:
        threads.append(threading.get_ident())
        return read(conninfo)

    monkeypatch.setattr(metrics_module, "_stored_rows_arrow", recorded)
    return threads


@pytest.mark.parametrize("id_range", [None, "middle"])
def test_two_streams_equal_the_single_statement(
    history: list[Any], monkeypatch: pytest.MonkeyPatch, id_range: str | None
) -> None:
    customers = history
    bounds = (customers[5].pk, customers[20].pk) if id_range else None
    streams = []
    two_streams = metrics_module._metrics_frame_two_streams
    monkeypatch.setattr(
        metrics_module,
        "_metrics_frame_two_streams",
        lambda *args: streams.append(args) or two_streams(*args),
    )

    apart = metrics_frame(as_of=AS_OF, window_days=365, id_range=bounds)
    # Inside a caller's transaction: one statement on the caller's connection.
    with transaction.atomic():
        together = metrics_frame(as_of=AS_OF, window_days=365, id_range=bounds)
    with transaction.atomic():
        own = metrics_frame(as_of=AS_OF, window_days=365, id_range=bounds, own_transaction=True)

    assert len(streams) == 2
    expected = 15 if bounds else 29  # the merged customer is not scored
    assert len(apart) == expected
    assert apart["orders_lifetime"].sum() > 0
    assert apart["monetary"].gt(0).any()
    assert apart["spend_lifetime"].gt(0).any()
    assert apart["first_order_at"].isna().any()
    # Spend ever is 0, not missing, without orders.
    assert apart.loc[apart["first_order_at"].isna(), "spend_lifetime"].eq(0).all()
    pd.testing.assert_frame_equal(apart, together)
    pd.testing.assert_frame_equal(own, together)


def test_stored_rows_are_read_ahead_on_another_connection_only_when_safe(
    history: list[Any], arrow_reads: list[int]
) -> None:
    customers = history
    segment_refresh(as_of=AS_OF, window_days=365)
    arrow_reads.clear()

    with transaction.atomic():
        with metrics_stored_rows_ahead(own_transaction=True) as stored_rows:
            ahead = stored_rows()
        assert len(arrow_reads) == 1
        assert arrow_reads[0] != threading.get_ident()
        pd.testing.assert_frame_equal(ahead, metrics_stored_rows())
        assert len(ahead) == 29  # the merged customer has no row

        # Inside somebody's transaction: read on this connection, which sees its writes.
        CustomerMetrics.objects.filter(customer_id=customers[0].pk).update(monetary=12345)
        with transaction.atomic(), metrics_stored_rows_ahead(own_transaction=True) as rows:
            assert rows().loc[customers[0].pk, "monetary"] == 12345
        assert len(arrow_reads) == 1
        transaction.set_rollback(True)


def test_the_stored_rows_read_as_arrow_equal_those_read_as_csv(history: list[Any]) -> None:
    """Both reads give the same frame, column types included, at the edges of each type:
    missing and empty text, missing small integers and timestamps, numerics' trailing
    zeros, microseconds and days far from now."""
    customers = history
    segment_refresh(as_of=AS_OF, window_days=365)
    first, second, third = (c.pk for c in customers[3:6])
    CustomerMetrics.objects.filter(customer_id=first).update(
        rfm_code="",
        value_potential="",
        r_score=None,
        cluster=None,
        churn_probability=None,
        monetary=Decimal("0.10"),
        last_order_at=dt.datetime(1970, 1, 1, tzinfo=dt.UTC),
        orders_edge_at=None,
    )
    CustomerMetrics.objects.filter(customer_id=second).update(
        value_potential="high",
        spend_lifetime=Decimal("123456789012.34"),
        churn_probability=0.1234,
        last_nps=-1,
        last_contact_at=dt.datetime(2099, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC),
    )
    CustomerMetrics.objects.filter(customer_id=third).update(
        rfm_segment="champions", avg_sentiment_30d=-0.0, predicted_value_365d=Decimal("-5.00")
    )

    by_copy = metrics_stored_rows()
    by_arrow = _stored_rows_frame(_stored_rows_arrow(_own_conninfo()))

    pd.testing.assert_frame_equal(by_arrow, by_copy)
    assert pd.isna(by_arrow.loc[first, "rfm_code"])
    assert pd.isna(by_arrow.loc[first, "r_score"])
    assert by_arrow.loc[first, "monetary"] == 0.1
    assert by_arrow.loc[second, "last_contact_at"].microsecond == 999999
    assert by_arrow.loc[second, "spend_lifetime"] == 123456789012.34


def test_an_incremental_refresh_on_committed_rows_reads_ahead_and_equals_a_full_pass(
    history: list[Any], own_connections: list[Callable[[], Any]], arrow_reads: list[int]
) -> None:
    customers = history
    assert segment_refresh(as_of=AS_OF, window_days=365).status == RunStatus.SUCCEEDED
    OrderFactory(customer=customers[3], placed_at=AS_OF, amount=Decimal("77.00"))
    own_connections.clear()
    arrow_reads.clear()

    steady = segment_refresh(as_of=AS_OF + dt.timedelta(hours=6), window_days=365)

    assert steady.status == RunStatus.SUCCEEDED, steady.error
    assert 0 < steady.counts["aggregated"] < steady.counts["customers"]
    # The stored rows, brought out on a connection of their own while this one aggregated.
    assert len(arrow_reads) == 1
    assert own_connections == []
    stored = metrics_stored_rows()
    assert stored.loc[customers[3].pk, "orders_lifetime"] == customers[3].orders.count()

    full = segment_refresh(as_of=AS_OF + dt.timedelta(hours=6), window_days=365, full=True)

    assert full.status == RunStatus.SUCCEEDED, full.error
    assert (full.counts["metrics_written"], full.counts["metrics_deleted"]) == (0, 0)
    assert (full.counts["entered"], full.counts["exited"]) == (0, 0)
    pd.testing.assert_frame_equal(metrics_stored_rows(), stored)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    [
        "SELECT 1 / 0 AS x",  # fails before the first row
        "SELECT 1 / (g - 5) AS x FROM generate_series(1, 10) g",  # fails after four rows
    ],
)
def test_a_failing_copy_raises_the_server_error_and_leaves_the_connection_usable(
    query: str,
) -> None:
    with pytest.raises(psycopg.errors.DivisionByZero), transaction.atomic():
        metrics_module._copy_out(sql.SQL(query))
    rows = pd.read_csv(metrics_module._copy_out(sql.SQL("SELECT g FROM generate_series(1, 3) g")))
    assert rows["g"].tolist() == [1, 2, 3]


@pytest.mark.django_db
def test_a_copy_runs_without_jit_whatever_the_session_says() -> None:
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('jit', 'on', true)")
        query = sql.SQL("SELECT current_setting('jit') AS jit")
        rows = pd.read_csv(metrics_module._copy_out(query))
    assert rows["jit"].tolist() == ["off"]


def test_habits_are_computed_on_another_connection_while_the_refresh_goes_on(
    history: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from segments.models import CustomerBehaviour
    from segments.services import behaviour as behaviour_module
    from segments.services.behaviour import behaviour_ahead, behaviour_refresh
    from segments.services.metrics import dirty_log_snapshot

    customers = history
    started = threading.Event()
    on_own_connection = behaviour_module.on_own_connection

    def recorded(read: Callable[[], Any]) -> Any:
        started.set()
        return on_own_connection(read)

    monkeypatch.setattr(behaviour_module, "on_own_connection", recorded)
    # given a first refresh (whose habits came from a second connection)
    phases: list[str] = []
    first = segment_refresh(
        as_of=AS_OF, window_days=365, on_progress=lambda phase, _percent: phases.append(phase)
    )
    assert first.status == RunStatus.SUCCEEDED, first.error
    assert started.is_set()
    assert first.counts["behaviour_written"] == 29  # the merged customer has no row
    assert phases[-5:] == ["memberships", "behaviour", "rules", "snapshots", "done"]
    started.clear()

    # when the next day's habits are started and a new order arrives meanwhile
    OrderFactory(customer=customers[3], placed_at=AS_OF + dt.timedelta(hours=2))
    with transaction.atomic():
        dirty_log_snapshot()
        with behaviour_ahead(
            as_of=AS_OF + dt.timedelta(days=1),
            previous_as_of=AS_OF,
            now=AS_OF + dt.timedelta(days=1),
            own_transaction=True,
        ) as finish:
            # then they are being computed before the caller asks for them
            assert started.wait(timeout=30)
            counts = finish()

    assert counts["behaviour_written"] >= 1
    changed = CustomerBehaviour.objects.get(customer_id=customers[3].pk)
    assert changed.refreshed_at == AS_OF + dt.timedelta(days=1)
    # and what the second connection computed is what one pass on this connection computes
    stored = {row.customer_id: row.median_gap_days for row in CustomerBehaviour.objects.all()}
    with transaction.atomic():
        again = behaviour_refresh(
            as_of=AS_OF + dt.timedelta(days=1),
            previous_as_of=None,
            now=AS_OF + dt.timedelta(days=1),
        )
        assert again["behaviour_full"] == 1
        assert again["behaviour_written"] == 0
    assert stored == {
        row.customer_id: row.median_gap_days for row in CustomerBehaviour.objects.all()
    }

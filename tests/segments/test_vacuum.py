"""After a refresh the worker vacuums the refresh's tables that hold many dead row versions.

Committed rows: VACUUM runs on a connection of its own and frees only what no open transaction
can still see.
"""

import psycopg
import pytest
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from segments.models import CustomerMetrics
from segments.services import vacuum
from segments.services.vacuum import refresh_tables_due, refresh_tables_vacuum
from tests.callcenter.factories import CustomerFactory

METRICS = CustomerMetrics._meta.db_table


def _dead(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = %s", [table])
        return int(cursor.fetchone()[0])


def _stats_flushed() -> None:
    """This session's statistics reported now (each transaction's are, at most a second
    after it ends)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_force_next_flush()")
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


@pytest.fixture
def rewritten(committed_rows: None) -> int:
    """120 committed metrics rows, each rewritten once: 120 dead versions."""
    now = timezone.now()
    CustomerMetrics.objects.bulk_create(
        CustomerMetrics(
            customer=customer, lifecycle_stage="new", value_tier="low", refreshed_at=now
        )
        for customer in CustomerFactory.create_batch(120)
    )
    with connection.cursor() as cursor:
        cursor.execute(f'ANALYZE "{METRICS}"')
    CustomerMetrics.objects.update(frequency=F("frequency") + 1)
    _stats_flushed()
    return 120


def test_a_table_past_the_threshold_is_vacuumed_and_then_is_not_due(rewritten: int) -> None:
    assert _dead(METRICS) >= rewritten
    assert METRICS in refresh_tables_due()

    vacuumed = refresh_tables_vacuum()

    assert METRICS in vacuumed
    assert _dead(METRICS) == 0
    assert METRICS not in refresh_tables_due()
    assert refresh_tables_vacuum() == {}


def test_inside_an_open_transaction_nothing_is_vacuumed(rewritten: int) -> None:
    with transaction.atomic():
        assert refresh_tables_vacuum() == {}
    assert _dead(METRICS) >= rewritten


def test_a_table_held_by_another_session_is_left_not_waited_for(
    rewritten: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(vacuum, "LOCK_TIMEOUT", "200ms")
    params = connection.get_connection_params()
    with psycopg.connect(
        dbname=params["dbname"],
        **{k: params[k] for k in ("host", "port", "user") if params.get(k)},
    ) as other:
        # as a refresh's ANALYZE of the table holds it until its commit
        other.execute(f'LOCK TABLE "{METRICS}" IN SHARE UPDATE EXCLUSIVE MODE')
        vacuumed = refresh_tables_vacuum()
        other.rollback()
    assert METRICS not in vacuumed
    assert _dead(METRICS) >= rewritten


def _last_vacuum(table: str) -> object:
    with connection.cursor() as cursor:
        cursor.execute("SELECT last_vacuum FROM pg_stat_user_tables WHERE relname = %s", [table])
        return cursor.fetchone()[0]


def test_the_refresh_task_vacuums_what_its_run_left_due(rewritten: int) -> None:
    from segments.services.refresh_runs import segment_refresh_request
    from segments.tasks import segment_refresh_task

    before = _last_vacuum(METRICS)
    run, _created = segment_refresh_request(trigger="manual")

    assert segment_refresh_task(run.pk) == "succeeded"

    after = _last_vacuum(METRICS)
    assert after is not None
    assert before is None or after > before
    assert METRICS not in refresh_tables_due()


def test_memberships_are_vacuumed_by_partition_where_exits_left_dead_versions(
    committed_rows: None,
) -> None:
    """An exit moves the row from the open partition to the closed one: the dead versions are
    in the open partition, which is the one due and vacuumed; the closed one only received
    rows and is left alone."""
    from segments.models import Segment, SegmentMembership

    segment = Segment.objects.filter(kind="lifecycle").first()
    now = timezone.now()
    stays = SegmentMembership.objects.bulk_create(
        SegmentMembership(segment=segment, customer=customer, entered_at=now)
        for customer in CustomerFactory.create_batch(120)
    )
    with connection.cursor() as cursor:
        cursor.execute(f'ANALYZE "{SegmentMembership._meta.db_table}"')
    SegmentMembership.objects.filter(pk__in=[stay.pk for stay in stays]).update(exited_at=now)
    _stats_flushed()
    opened, closed = (f"{SegmentMembership._meta.db_table}_{part}" for part in ("open", "closed"))

    assert _dead(opened) >= 120
    due = refresh_tables_due()
    assert opened in due
    assert closed not in due
    assert SegmentMembership._meta.db_table not in due

    vacuumed = refresh_tables_vacuum()

    assert opened in vacuumed
    assert _dead(opened) == 0
    assert SegmentMembership.objects.filter(exited_at=now).count() == 120

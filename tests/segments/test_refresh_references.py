"""The refresh's tables keep their references without foreign-key constraints in the database
("References of the refresh's tables" in segments.models): a segment deleted while a refresh
writes its memberships waits for that refresh and takes its rows with it; deleting a customer
or a segment through the ORM still removes their rows.

The concurrency test commits rows (the `committed_rows` fixture removes them afterwards) so that
a second database session, standing for the refresh, holds the segment."""

import datetime as dt
import threading
import time
from decimal import Decimal

import psycopg
from django.db import connection

from segments.models import CustomerBehaviour, CustomerMetrics, Segment, SegmentMembership
from segments.services.refresh import as_of_from_date, segment_refresh
from segments.services.segments import segment_delete
from tests.callcenter.factories import CustomerFactory, OrderFactory
from tests.segments.factories import SegmentFactory

AS_OF = as_of_from_date(dt.date(2026, 6, 1))


def _own_session() -> psycopg.Connection:
    db = connection.settings_dict
    return psycopg.connect(
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        user=db["USER"],
        password=db["PASSWORD"] or None,
        dbname=db["NAME"],
    )


def test_the_refresh_tables_carry_no_foreign_key_constraints(db) -> None:
    tables = [
        model._meta.db_table for model in (CustomerMetrics, CustomerBehaviour, SegmentMembership)
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conrelid::regclass::text FROM pg_constraint "
            "WHERE contype = 'f' AND conrelid::regclass::text = ANY(%s)",
            [tables],
        )
        assert cursor.fetchall() == []


def test_metrics_pages_keep_room_for_updates_in_place(db) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reloptions FROM pg_class WHERE oid = %s::regclass",
            [CustomerMetrics._meta.db_table],
        )
        assert cursor.fetchone()[0] == ["fillfactor=75"]


def test_metrics_rows_carry_no_index_but_their_key(db) -> None:
    # An indexed column changed makes the nightly update of a row write every index instead of
    # staying on its page (migrations segments 0007 and 0018).
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = %s",
            [CustomerMetrics._meta.db_table],
        )
        definitions = [row[0] for row in cursor.fetchall()]
    assert len(definitions) == 1
    assert "UNIQUE INDEX" in definitions[0]
    assert "(customer_id)" in definitions[0]


def test_deleting_a_customer_still_removes_its_refresh_rows(db) -> None:
    customer = CustomerFactory()
    OrderFactory(customer=customer, placed_at=AS_OF - dt.timedelta(days=3), amount=Decimal(50))
    segment_refresh(as_of=AS_OF)
    assert SegmentMembership.objects.filter(customer=customer).exists()
    assert CustomerMetrics.objects.filter(customer=customer).exists()
    assert CustomerBehaviour.objects.filter(customer=customer).exists()
    customer.delete()
    assert not SegmentMembership.objects.filter(customer_id=customer.pk).exists()
    assert not CustomerMetrics.objects.filter(customer_id=customer.pk).exists()
    assert not CustomerBehaviour.objects.filter(customer_id=customer.pk).exists()


def test_a_segment_deleted_during_a_refresh_takes_the_refresh_rows_with_it(
    committed_rows: None,
) -> None:
    segment = SegmentFactory()
    customer = CustomerFactory()
    deleted = threading.Event()
    errors: list[BaseException] = []

    def delete() -> None:
        try:
            segment_delete(segment=Segment.objects.get(pk=segment.pk), deleted_by=None)
            deleted.set()
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
        finally:
            connection.close()

    with _own_session() as refresh:
        # What builtin_memberships_refresh does: hold the segment, then write its memberships.
        refresh.execute("SELECT id FROM segments_segment WHERE id = %s FOR KEY SHARE", [segment.pk])
        refresh.execute(
            "INSERT INTO segments_segmentmembership (segment_id, customer_id, entered_at, reason)"
            " VALUES (%s, %s, now(), 'rule')",
            [segment.pk, customer.pk],
        )
        deleter = threading.Thread(target=delete)
        deleter.start()
        # The delete waits for the refresh; give it the time to reach the lock.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not _waiting_on_a_lock(refresh):
            time.sleep(0.05)
        assert not deleted.is_set()
        refresh.commit()
    deleter.join(timeout=30)
    assert not errors
    assert deleted.is_set()
    assert not Segment.objects.filter(pk=segment.pk).exists()
    assert not SegmentMembership.objects.filter(segment_id=segment.pk).exists()


def _waiting_on_a_lock(own: psycopg.Connection) -> bool:
    """Whether another session of this database waits on a lock."""
    with _own_session() as probe:
        row = probe.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND pid <> %s",
            [own.info.backend_pid],
        ).fetchone()
        return bool(row and row[0])

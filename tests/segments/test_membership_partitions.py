"""Segment memberships live in two partitions, the open stays and the closed ones (migration
0021): rows land in and move between them, the model's rules still hold, the readers of open
stays read only the open partition, and the migration keeps every stay both ways."""

import datetime as dt
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.db.models.expressions import RawSQL
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from callcenter.models import Customer
from callcenter.moved_rows import ATTEMPTS, moved_rows_retried
from callcenter.selectors import screenpop
from callcenter.services.identity import customer_merge
from segments.models import SegmentMembership
from tests.callcenter.factories import CustomerFactory, UserFactory
from tests.segments.factories import SegmentFactory, SegmentMembershipFactory

TABLE = SegmentMembership._meta.db_table
OPEN, CLOSED = f"{TABLE}_open", f"{TABLE}_closed"
# How long the other transaction waits at most for the statement to block on its row; on
# time out it commits anyway and the test fails on the number of attempts.
WAIT_LIMIT = 60


def _partition_of(membership: SegmentMembership) -> str:
    return (
        SegmentMembership.objects.filter(pk=membership.pk)
        .annotate(part=RawSQL("tableoid::regclass::text", []))  # noqa: S611 - constant SQL
        .values_list("part", flat=True)
        .get()
    )


def _plan(queryset: object) -> str:
    return queryset.explain()  # type: ignore[attr-defined]


@pytest.mark.django_db
def test_an_open_stay_is_in_the_open_partition_and_its_exit_moves_it() -> None:
    stay = SegmentMembershipFactory()
    assert _partition_of(stay) == OPEN

    stay.exited_at = timezone.now()
    stay.save(update_fields=["exited_at"])

    assert _partition_of(stay) == CLOSED
    stay.refresh_from_db()
    assert stay.exited_at is not None


@pytest.mark.django_db
def test_ids_are_unique_across_both_partitions() -> None:
    segment = SegmentFactory()
    closed = SegmentMembershipFactory(segment=segment, exited_at=timezone.now())
    opened = SegmentMembershipFactory(segment=segment)

    assert opened.pk > closed.pk
    assert SegmentMembership.objects.filter(pk__in=[closed.pk, opened.pk]).count() == 2


@pytest.mark.django_db
def test_one_open_stay_per_segment_and_customer_and_any_number_of_closed_ones() -> None:
    stay = SegmentMembershipFactory()
    for _ in range(2):
        SegmentMembershipFactory(
            segment=stay.segment, customer=stay.customer, exited_at=timezone.now()
        )

    with pytest.raises(IntegrityError), transaction.atomic():
        SegmentMembershipFactory(segment=stay.segment, customer=stay.customer)

    assert SegmentMembership.objects.filter(customer=stay.customer).count() == 3


@pytest.mark.django_db
def test_the_readers_of_open_stays_read_the_open_partition_alone() -> None:
    stay = SegmentMembershipFactory()
    open_stays = SegmentMembership.objects.filter(customer=stay.customer, exited_at__isnull=True)
    segment_members = SegmentMembership.objects.filter(segment=stay.segment, exited_at__isnull=True)
    past_stays = SegmentMembership.objects.filter(customer=stay.customer, exited_at__isnull=False)

    for queryset in (open_stays, segment_members):
        plan = _plan(queryset)
        assert OPEN in plan
        assert CLOSED not in plan
    assert OPEN not in _plan(past_stays)


@pytest.mark.django_db
def test_the_migration_keeps_every_stay_and_its_id_both_ways() -> None:
    now = timezone.now()
    segment = SegmentFactory()
    opened = SegmentMembershipFactory(segment=segment, reason="RFM 555")
    closed = SegmentMembershipFactory(
        segment=segment, customer=opened.customer, exited_at=now - dt.timedelta(hours=1)
    )
    before = {row["id"]: row for row in SegmentMembership.objects.values()}
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes("segments")

    executor.migrate([("segments", "0020_memberships_one_index_by_customer")])
    with connection.cursor() as cursor:
        cursor.execute("SELECT relkind FROM pg_class WHERE relname = %s", [TABLE])
        assert cursor.fetchone()[0] == "r"
    assert {row["id"]: row for row in SegmentMembership.objects.values()} == before
    unpartitioned = SegmentMembershipFactory(segment=segment)

    executor = MigrationExecutor(connection)
    executor.migrate(latest)
    with connection.cursor() as cursor:
        cursor.execute("SELECT relkind FROM pg_class WHERE relname = %s", [TABLE])
        assert cursor.fetchone()[0] == "p"
    after = {row["id"]: row for row in SegmentMembership.objects.values()}
    assert after == {**before, unpartitioned.pk: after[unpartitioned.pk]}
    assert unpartitioned.pk > max(opened.pk, closed.pk)
    assert SegmentMembershipFactory(segment=segment).pk > unpartitioned.pk
    assert _partition_of(closed) == CLOSED
    assert _partition_of(opened) == OPEN


def _backend_pid() -> int:
    connection.ensure_connection()
    return connection.connection.info.backend_pid


def _other_connection() -> psycopg.Connection:
    params = connection.get_connection_params()
    return psycopg.connect(
        dbname=params["dbname"],
        **{k: params[k] for k in ("host", "port", "user", "password") if params.get(k)},
    )


def _commit_once_waited_for(other: psycopg.Connection, waiter_pid: int) -> threading.Thread:
    """Commit `other`'s transaction as soon as the backend `waiter_pid` waits for one of its
    locks: the waiter's statement then meets the row `other` moved, whatever the machine's
    speed."""

    def commit() -> None:
        deadline = time.monotonic() + WAIT_LIMIT
        with _other_connection() as watcher:
            watcher.autocommit = True
            while (
                time.monotonic() < deadline
                and not watcher.execute(
                    "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = %s "
                    "AND wait_event_type = 'Lock')",
                    [waiter_pid],
                ).fetchone()[0]
            ):
                time.sleep(0.01)
        other.commit()

    thread = threading.Thread(target=commit)
    thread.start()
    return thread


@contextmanager
def _closed_by_a_refresh(stay: SegmentMembership) -> Iterator[None]:
    """Within the block, another session has closed `stay` (its row moved to the closed
    partition) and holds it, as a refresh does until its commit; it commits as soon as this
    session waits for the row, and the block's end waits for that."""
    with _other_connection() as refresh:
        refresh.execute(
            f'UPDATE "{TABLE}" SET exited_at = now() WHERE id = %s',  # noqa: S608 - constant
            [stay.pk],
        )
        committer = _commit_once_waited_for(refresh, _backend_pid())
        try:
            yield
        finally:
            committer.join()


@pytest.mark.usefixtures("committed_rows")
def test_a_statement_that_waited_for_a_moved_row_runs_again_and_finds_it() -> None:
    stay = SegmentMembershipFactory()
    attempts = 0

    def move_to_another_customer() -> int:
        nonlocal attempts
        attempts += 1
        return SegmentMembership.objects.filter(pk=stay.pk).update(customer=other_customer)

    other_customer = CustomerFactory()
    with _closed_by_a_refresh(stay), transaction.atomic():
        moved = moved_rows_retried(move_to_another_customer)

    assert moved == 1
    assert attempts == 2
    stay.refresh_from_db()
    assert stay.customer_id == other_customer.pk
    assert stay.exited_at is not None


@pytest.mark.django_db
def test_other_errors_are_not_retried() -> None:
    attempts = 0

    def fails() -> None:
        nonlocal attempts
        attempts += 1
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1/0")

    with pytest.raises(Exception, match="division by zero"):
        moved_rows_retried(fails)
    assert attempts == 1
    assert ATTEMPTS > 1


@pytest.mark.usefixtures("committed_rows")
def test_a_merge_during_a_refresh_moves_the_stay_the_refresh_closed() -> None:
    supervisor = UserFactory(username="merger")
    survivor, merged = CustomerFactory(), CustomerFactory()
    stay = SegmentMembershipFactory(customer=merged)
    with _closed_by_a_refresh(stay):
        record = customer_merge(survivor=survivor, merged=merged, merged_by=supervisor)

    assert record.moved["segments.segmentmembership"] == 1
    stay.refresh_from_db()
    assert stay.customer_id == survivor.pk
    assert stay.exited_at is not None
    # The merged record points at the survivor and is protected by it: gone first.
    record.delete()
    merged.delete()


@pytest.mark.usefixtures("committed_rows")
def test_an_admin_deleting_a_customer_during_a_refresh_deletes_the_closed_stay_too(
    client: Client,
) -> None:
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(admin)
    customer = CustomerFactory()
    stay = SegmentMembershipFactory(customer=customer)
    url = reverse("admin:callcenter_customer_delete", args=[customer.pk])
    with _closed_by_a_refresh(stay):
        response = client.post(url, {"post": "yes"})

    assert response.status_code == 302
    assert not SegmentMembership.objects.filter(pk=stay.pk).exists()
    assert not Customer.objects.filter(pk=customer.pk).exists()


@pytest.mark.django_db
def test_the_screen_pop_statement_reads_the_open_partition_alone() -> None:
    sections = tuple(
        (name, section)
        for name, section in screenpop._SECTIONS.items()
        if isinstance(section, screenpop.SqlSection)
    )
    sql, params = screenpop._card_statement(sections)
    with connection.cursor() as cursor:
        cursor.execute(
            "EXPLAIN " + sql, {**params, "phone": "+8613800000000", "full_contacts": False}
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())

    assert OPEN in plan
    assert CLOSED not in plan

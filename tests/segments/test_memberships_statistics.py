"""The membership diff's statistics: a first refresh's entries get the membership table
analysed again within the transaction, a nightly run's few percent of moves do not."""

import datetime as dt

import pytest
from django.db import connection

from segments.models import SegmentMembership
from segments.services import memberships
from segments.services.refresh import as_of_from_date, segment_refresh
from tests.callcenter.factories import CustomerFactory, OrderFactory

pytestmark = pytest.mark.django_db

AS_OF = as_of_from_date(dt.date(2026, 6, 1))


def _stale(moves: int) -> bool:
    with connection.cursor() as wrapper:
        return memberships._statistics_stale(wrapper.cursor, moves)


def test_the_membership_table_is_analysed_again_only_after_many_moves(monkeypatch) -> None:
    monkeypatch.setattr(memberships, "REANALYZE_AFTER_MOVES", 0)
    for index in range(10):
        OrderFactory(
            customer=CustomerFactory(name=f"C{index}"),
            placed_at=AS_OF - dt.timedelta(days=index + 1),
        )
    # Never analysed: a first refresh's entries are many next to nothing.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reltuples FROM pg_class WHERE oid = %s::regclass",
            [SegmentMembership._meta.db_table],
        )
        assert cursor.fetchone()[0] <= 0
    assert _stale(1)

    segment_refresh(as_of=AS_OF, window_days=365)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {SegmentMembership._meta.db_table}")
    rows = SegmentMembership.objects.count()

    # A nightly share of moves leaves the statistics as they are; more than a tenth does not.
    assert not _stale(int(rows * memberships.REANALYZE_MIN_SHARE))
    assert _stale(int(rows * memberships.REANALYZE_MIN_SHARE) + 1)
    monkeypatch.setattr(memberships, "REANALYZE_AFTER_MOVES", rows)
    assert not _stale(rows)

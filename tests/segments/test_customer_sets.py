"""Frames COPYed into tables as Arrow-written CSV (the write-back, the buying habits): timestamps
leave pandas as UTC text with their offset, read back equal whatever the session's time zone.
Per-customer rows are deleted by condition, within a set of customers or in the whole table."""

import pandas as pd
import pytest
from django.db import connection, transaction
from psycopg import sql

from segments.services.customer_sets import customer_rows_delete, frame_csv, rows_copy

pytestmark = pytest.mark.django_db


def _moments() -> pd.DataFrame:
    utc = pd.to_datetime(
        ["2026-12-01 00:27:26.303841", None, "2026-01-01 08:00:00.000001"],
        utc=True,
        format="ISO8601",
    )
    return pd.DataFrame({"n": [1, 2, 3], "at": utc, "local": utc.tz_convert("Asia/Shanghai")})


def test_aware_timestamps_are_written_as_utc_text_with_their_offset() -> None:
    lines = frame_csv(_moments()).decode().splitlines()

    assert lines == [
        '1,"2026-12-01 00:27:26.303841+00","2026-12-01 00:27:26.303841+00"',
        "2,,",
        '3,"2026-01-01 08:00:00.000001+00","2026-01-01 08:00:00.000001+00"',
    ]


def test_written_timestamps_read_back_equal_whatever_the_session_time_zone() -> None:
    frame = _moments()
    with transaction.atomic(), connection.cursor() as wrapper:
        cursor = wrapper.cursor
        cursor.execute("SET LOCAL TimeZone = 'America/New_York'")
        cursor.execute(
            "CREATE TEMP TABLE moments (n int, at timestamptz, local timestamptz) ON COMMIT DROP"
        )
        rows_copy(cursor, "moments", ["n", "at", "local"], frame_csv(frame))
        # Read back as the application reads (its connections' zone is UTC).
        cursor.execute("SET LOCAL TimeZone = 'UTC'")
        cursor.execute("SELECT at, local FROM moments ORDER BY n")
        rows = cursor.fetchall()

    expected = [None if pd.isna(at) else at.to_pydatetime() for at in frame["at"]]
    assert [at for at, _local in rows] == expected
    assert [local for _at, local in rows] == expected


@pytest.mark.parametrize("within", [None, "chosen"])
def test_rows_meeting_the_condition_are_deleted_only_within_the_set(within) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE per_customer (customer_id bigint PRIMARY KEY, note text) "
            "ON COMMIT DROP; INSERT INTO per_customer SELECT g, 'x' FROM generate_series(1, 10) g;"
            "CREATE TEMP TABLE chosen (customer_id bigint PRIMARY KEY) ON COMMIT DROP; "
            "INSERT INTO chosen VALUES (1), (2), (3), (4), (11)"
        )
        deleted = customer_rows_delete(
            cursor,
            table="per_customer",
            alias="r",
            condition=sql.SQL("r.customer_id % 2 = 0"),
            within=within,
        )
        cursor.execute("SELECT customer_id FROM per_customer ORDER BY 1")
        left = [row[0] for row in cursor.fetchall()]
        transaction.set_rollback(True)

    if within is None:
        assert (deleted, left) == (5, [1, 3, 5, 7, 9])
    else:
        assert (deleted, left) == (2, [1, 3, 5, 6, 7, 8, 9, 10])

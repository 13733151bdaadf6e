"""Hot-path reads as prepared statements (callcenter.prepared), and the WSGI
module that loads what requests would otherwise load lazily. The tests of dead connections
run on committed rows (no test transaction around them)."""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.db import DatabaseError, connection, transaction
from psycopg.rows import tuple_row

from callcenter.prepared import fetch_prepared

ROOT = Path(__file__).resolve().parent.parent.parent

_ROWS = "SELECT g AS n, %(label)s::text AS label FROM generate_series(1, %(count)s) g"
_ONE = "SELECT %(value)s::int * 2 AS doubled"


def _prepared_statements() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return {row[0] for row in cursor.fetchall()}


@pytest.mark.django_db
def test_rows_come_back_as_dicts_and_unused_parameters_are_ignored() -> None:
    rows = fetch_prepared("default", _ROWS, {"label": "x", "count": 3, "unused": 1})

    assert rows == [{"n": 1, "label": "x"}, {"n": 2, "label": "x"}, {"n": 3, "label": "x"}]


@pytest.mark.django_db
def test_a_name_used_twice_is_one_parameter_and_a_doubled_percent_is_a_percent() -> None:
    sql = "SELECT %(word)s || '%%' || %(word)s AS text, 7 %% 4 AS rest"

    assert fetch_prepared("default", sql, {"word": "a"}) == [{"text": "a%a", "rest": 3}]


@pytest.mark.django_db
def test_a_lone_percent_or_a_missing_value_is_refused_before_the_database() -> None:
    with pytest.raises(ValueError, match="incomplete placeholder"):
        fetch_prepared("default", "SELECT 7 % 4", {})
    with pytest.raises(DatabaseError, match="no value for the parameters"):
        fetch_prepared("default", _ONE, {"other": 1})


@pytest.mark.django_db
def test_a_row_factory_can_ask_for_tuples() -> None:
    assert fetch_prepared("default", _ONE, {"value": 2}, row_factory=tuple_row) == [(4,)]


@pytest.mark.django_db
def test_statements_are_prepared_on_the_connection_once(settings: Any) -> None:
    settings.DB_PREPARED_STATEMENTS = True
    for value in range(3):
        fetch_prepared("default", _ONE, {"value": value})

    prepared = [text for text in _prepared_statements() if "doubled" in text]
    assert len(prepared) == 1
    assert "$1" in prepared[0]


@pytest.mark.django_db
def test_without_prepared_statements_nothing_is_prepared(settings: Any) -> None:
    settings.DB_PREPARED_STATEMENTS = False
    for value in range(6):
        assert fetch_prepared("default", _ONE, {"value": value}) == [{"doubled": 2 * value}]

    assert not [text for text in _prepared_statements() if "doubled" in text]


@pytest.mark.django_db
def test_the_statement_counts_as_one_query(django_assert_num_queries: Any) -> None:
    with django_assert_num_queries(1) as captured:
        fetch_prepared("default", _ROWS, {"label": "y", "count": 1})

    assert "generate_series" in captured.captured_queries[0]["sql"]


@pytest.mark.django_db
def test_a_failing_statement_raises_djangos_error_and_the_connection_goes_on() -> None:
    with pytest.raises(DatabaseError, match="division by zero"), transaction.atomic():
        fetch_prepared("default", "SELECT %(value)s::int / 0 AS boom", {"value": 1})

    assert fetch_prepared("default", _ONE, {"value": 5}) == [{"doubled": 10}]


def test_importing_the_wsgi_module_loads_the_urls_and_freezes_what_it_loaded() -> None:
    code = (
        "import gc, json, sys; import callcenter.wsgi; "
        "print(json.dumps({'views': 'segments.apis' in sys.modules, "
        "'frozen': gc.get_freeze_count()}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "callcenter.settings.test"},
        capture_output=True,
        text=True,
        check=True,
    )
    loaded = json.loads(result.stdout.strip().splitlines()[-1])

    assert loaded["views"] is True
    assert loaded["frozen"] > 100_000


def _terminate(pid: int) -> None:
    dsn = connection.get_connection_params()
    with psycopg.connect(
        **{key: value for key, value in dsn.items() if key not in ("context", "cursor_factory")},
        autocommit=True,
    ) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])


def test_a_connection_found_dead_is_replaced_and_the_statement_runs_again(
    committed_rows: None,
) -> None:
    fetch_prepared("default", _ONE, {"value": 1})
    dead = connection.connection.info.backend_pid
    # As at the start of a request: the health check is due, and left to the statement.
    connection.health_check_done = False
    _terminate(dead)

    assert fetch_prepared("default", _ONE, {"value": 4}) == [{"doubled": 8}]
    assert connection.connection.info.backend_pid != dead
    assert connection.health_check_done is True


def test_a_connection_killed_in_the_middle_of_a_transaction_is_an_error(
    committed_rows: None,
) -> None:
    def read_in_a_transaction_after_the_kill() -> None:
        with transaction.atomic():
            _terminate(connection.connection.info.backend_pid)
            fetch_prepared("default", _ONE, {"value": 2})

    fetch_prepared("default", _ONE, {"value": 1})
    with pytest.raises(DatabaseError):
        read_in_a_transaction_after_the_kill()
    connection.close()

    assert fetch_prepared("default", _ONE, {"value": 3}) == [{"doubled": 6}]

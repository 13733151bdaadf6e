"""The production gunicorn settings and the benchmarks' numbers and queries, without a load run."""

import random
import runpy
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from django.db import connection

from bench import campaign, date_triggers, reach, scorecard, screenpop, sla
from bench.events import BENCH_EVENTS, event_body, idempotency_key
from bench.screenpop import PHONES_SQL, known_number, server_errors, unknown_number
from callcenter.choices import Role
from callcenter.models import Customer
from callcenter.phones import try_normalize_phone
from care.choices import EventType
from care.models import Event
from care.services.events import time_events_emit
from care.services.rules import care_rule_activate
from tests.callcenter.factories import CustomerFactory

ROOT = Path(__file__).resolve().parent.parent.parent


def _config(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict:
    for name in ("WEB_CONCURRENCY", "GUNICORN_THREADS", "GUNICORN_BIND", "PORT"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(ROOT / "gunicorn.conf.py"))


def test_gunicorn_defaults_leave_threads_for_a_hundred_agent_streams(monkeypatch) -> None:
    config = _config(monkeypatch)

    assert config["worker_class"] == "gthread"
    assert config["workers"] >= 2
    assert config["workers"] * config["threads"] >= 100 + 16
    assert config["bind"] == "0.0.0.0:8000"
    assert config["max_requests"] > 0
    assert config["max_requests_jitter"] > 0
    assert config["preload_app"] is True


def test_gunicorn_settings_come_from_the_environment(monkeypatch) -> None:
    config = _config(
        monkeypatch, WEB_CONCURRENCY="3", GUNICORN_THREADS="8", PORT="9000", GUNICORN_ACCESS_LOG=""
    )

    assert (config["workers"], config["threads"]) == (3, 8)
    assert config["bind"] == "0.0.0.0:9000"
    assert config["accesslog"] is None


def test_the_benchmark_numbers_are_the_stored_ones_or_nobodys() -> None:
    # the build stores '+86139' || lpad(id, 8, '0'); a caller id shows the national number
    assert "'+86139' || lpad(g::text, 8, '0')" in PHONES_SQL
    assert try_normalize_phone(known_number(42)) == "+8613900000042"
    unknown = unknown_number(random.Random(1))
    assert try_normalize_phone(unknown).startswith("+86137")


@pytest.mark.django_db
def test_the_event_benchmark_finds_the_events_it_posts(
    api_as: Callable, make_user: Callable
) -> None:
    # given the benchmark's first event posted as its integration user does (an admin's token)
    customer = CustomerFactory()
    client = api_as(make_user(Role.ADMIN, username="bench_integration"))

    response = client.post(
        "/api/events/",
        event_body(customer.pk, 0),
        format="json",
        HTTP_IDEMPOTENCY_KEY=idempotency_key(0),
    )

    # then the benchmark's own filter counts it (it counted nothing when the stored key changed)
    assert response.status_code == 201, response.content
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM care_event WHERE {BENCH_EVENTS}")  # noqa: S608
        assert cursor.fetchone()[0] == 1


@pytest.mark.django_db
def test_the_date_benchmark_customers_fire_every_attribute_rule_at_its_moment() -> None:
    # given customers as the date benchmark builds them, bad values included, and its rules on
    with connection.cursor() as cursor:
        cursor.execute(
            date_triggers.GENERATE_SQL[0],
            {
                "customers": 2000,
                "moment": date_triggers.MOMENT,
                "zones": date_triggers.ZONES,
                "zone_count": len(date_triggers.ZONES),
            },
        )
    for rule in date_triggers.date_rules():
        care_rule_activate(rule=rule)
    assert Customer.objects.filter(attributes__repayment_due_at="soon").exists()

    # when the benchmark's pass runs, then again
    first = time_events_emit(now=date_triggers.MOMENT)
    again = time_events_emit(now=date_triggers.MOMENT)

    # then every attribute rule fired for some customers (so the pass measures real inserts),
    # and the second run added nothing
    fields = Event.objects.filter(type=EventType.DATE_REACHED).values_list(
        "payload__field", flat=True
    )
    attribute_rules = {r["field"] for r in date_triggers.DATE_RULES if "attr:" in r["field"]}
    assert attribute_rules <= set(fields)
    assert first[EventType.DATE_REACHED] == len(fields)
    assert sum(again.values()) == 0


def _json_of_script(tmp_path: Path, body: str) -> dict:
    script = tmp_path / "bench_script.py"
    script.write_text(body)
    run = runpy.run_path(str(ROOT / "bench" / "run.py"))
    return run["_json_of"]([sys.executable, str(script)])


def test_a_benchmark_whose_own_check_fails_keeps_its_figures(tmp_path: Path) -> None:
    ok = _json_of_script(tmp_path, 'print("log line"); print(\'{"lost": 0}\')')
    failed = _json_of_script(tmp_path, "import sys; print('{\"lost\": 3}'); sys.exit(1)")
    crashed = _json_of_script(tmp_path, 'import sys; sys.exit("it broke")')

    assert ok == {"lost": 0}
    assert failed["lost"] == 3
    assert failed["error"] == "exit code 1: the benchmark's own check failed"
    assert crashed == {"error": "it broke\n"}


def _moment_params(customers: int) -> dict:
    return {
        "customers": customers,
        "moment": date_triggers.MOMENT,
        "zones": date_triggers.ZONES,
        "zone_count": len(date_triggers.ZONES),
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("module", "params"),
    [
        (date_triggers, _moment_params(50)),
        (campaign, {"customers": 50}),
        (sla, {"customers": 50, "tickets": 100}),
        (scorecard, {"customers": 50, "agents": scorecard.AGENTS, "teams": scorecard.TEAMS}),
        (reach, {**_moment_params(50), "tasks": 100}),
        (screenpop, screenpop.generate_params(50)),
    ],
    ids=["date_triggers", "campaign", "sla", "scorecard", "reach", "screenpop"],
)
def test_each_synthetic_base_fills_the_current_schema(module: object, params: dict) -> None:
    # A NOT NULL column added later without the benchmarks' statements knowing stopped three
    # of them from building their base; each statement runs here on the migrated schema.
    with connection.cursor() as cursor:
        # The statements number customers from 1, as on the benchmark's fresh database (the
        # restart is rolled back with the test).
        cursor.execute("SELECT pg_get_serial_sequence('callcenter_customer', 'id')")
        cursor.execute(f"ALTER SEQUENCE {cursor.fetchone()[0]} RESTART")
        for statement in module.GENERATE_SQL:
            cursor.execute(statement, params)
        cursor.execute("SELECT count(*) FROM callcenter_customer")
        assert cursor.fetchone()[0] >= 50


def test_server_errors_name_every_exception_of_a_chain_and_nothing_else(tmp_path: Path) -> None:
    log = tmp_path / "gunicorn.log"
    log.write_text(
        "[2026-12-06 20:00:00 +0000] [12] [INFO] Booting worker\n"
        "Traceback (most recent call last):\n"
        '  File "x.py", line 1, in <module>\n'
        "psycopg.errors.UniqueViolation: duplicate key value\n"
        "\n"
        "During handling of the above exception, another exception occurred:\n"
        "ValueError: Missing staticfiles manifest entry for 'css/app.css'\n"
        "ValueError: Missing staticfiles manifest entry for 'css/app.css'\n"
    )

    assert server_errors([log]) == [
        "gunicorn: ValueError: Missing staticfiles manifest entry for 'css/app.css'",
        "gunicorn: psycopg.errors.UniqueViolation: duplicate key value",
    ]

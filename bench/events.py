"""Event to enrollment: complaint events posted through the API, processed by a real worker.

    python bench/events.py --events 10000 [--rate 50] [--clients 16] [--worker-concurrency 2]

Builds a database (bench_events on the DATABASE_URL server) with one customer per event and the
care playbook's "complaint-opened" rule switched on, then starts what production runs: gunicorn
(gunicorn.conf.py, production settings), a Celery worker and Celery beat (the database
scheduler, so the outbox sweep runs as deployed). `--clients` threads post `ticket_opened`
events of kind complaint to /api/events/ with an API token and an idempotency key each, at
`--rate` events per second in all (0: as fast as the server takes them), then wait until the
outbox is empty.

Latency per event is enrollment time minus the event's `created_at` (the API's insert): the
enrollment's `enrolled_at` is the moment the worker took the event. Prints JSON: p50/p90/p99/max
latency, posting and processing throughput, and the loss check (every posted event recorded
once, processed, and enrolled once). Exits non-zero if an event is lost.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.refresh import GENERATE_SQL, _admin_url, _setup_django, _url_for  # noqa: E402
from bench.screenpop import _free_port, server_errors, start_gunicorn  # noqa: E402

BENCH_DB = "bench_events"
BENCH_USER = "bench_integration"
RULE_KEY = "complaint-opened"
TARGET_P99_MS = 500
# Waiting for the outbox to drain stops when nothing was processed for this long: longer than
# the sweep's period (60 s), so an event whose message was lost has had its second chance.
IDLE_TIMEOUT_SECONDS = 90
# The benchmark's events, as the API stores them: the Idempotency-Key as sent (keys are unique
# per client, which has a column of its own), so this filter and `idempotency_key` must agree
# (tests/bench/test_bench_config.py posts one through the API and finds it with this filter).
KEY_PREFIX = "bench-"
BENCH_EVENTS = f"idempotency_key LIKE '{KEY_PREFIX}%%'"


def idempotency_key(index: int) -> str:
    """The Idempotency-Key of the benchmark's `index`th event."""
    return f"{KEY_PREFIX}{index}"


def event_body(customer_id: int, index: int) -> dict[str, object]:
    """The benchmark's `index`th event: a complaint ticket opened for `customer_id`."""
    return {
        "type": "ticket_opened",
        "customer_id": customer_id,
        "payload": {"kind": "complaint", "ticket": f"BENCH-{index}"},
    }


def _database_url() -> str:
    return _url_for(BENCH_DB).replace("postgres://", "postgresql://", 1)


def _service_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": _url_for(BENCH_DB),
        "CARE_PLAYBOOK_ACTIVE": RULE_KEY,
        **(extra or {}),
    }


def build(customers: int) -> dict[str, object]:
    """A fresh database: customers, the playbook (complaint rule on), periodic tasks."""
    import psycopg

    with psycopg.connect(_admin_url(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{BENCH_DB}"')
    manage = [sys.executable, str(ROOT / "manage.py")]
    env = _service_env()
    subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], env=env, check=True, cwd=ROOT)
    with psycopg.connect(_database_url(), autocommit=True) as conn:
        conn.execute(GENERATE_SQL[0], {"customers": customers})
        conn.execute("VACUUM ANALYZE")
    subprocess.run(
        [*manage, "install_playbook"], env=env, check=True, cwd=ROOT, stdout=subprocess.DEVNULL
    )
    return {"customers": customers}


def prepare() -> dict[str, str]:
    """An integration user with an API token (admin role: the role that may post
    ticket_opened, care.services.events.EVENT_POSTERS); the rule must be on."""
    _setup_django(BENCH_DB)
    from django.contrib.auth.models import Group, User
    from rest_framework.authtoken.models import Token

    from callcenter.choices import Role
    from care.models import CareRule

    if not CareRule.objects.filter(is_active=True, trigger_type="ticket_opened").exists():
        raise SystemExit("the complaint rule is not active")
    user, _created = User.objects.get_or_create(username=BENCH_USER)
    user.groups.set([Group.objects.get_or_create(name=Role.ADMIN)[0]])
    # A new token each run: one kept from an earlier run may have expired (API_TOKEN_TTL_DAYS).
    Token.objects.filter(user=user).delete()
    return {"token": Token.objects.create(user=user).key}


def start_celery(kind: str, log_path: Path, concurrency: int) -> subprocess.Popen:
    """A Celery worker (every queue) or beat, as docker-compose runs them."""
    celery = str(Path(sys.executable).parent / "celery")
    if kind == "worker":
        command = [
            celery,
            "-A",
            "callcenter",
            "worker",
            "-l",
            "warning",
            "-Q",
            "default,segments,outreach",
            "--concurrency",
            str(concurrency),
            "-n",
            f"bench-{os.getpid()}@%h",
        ]
    else:
        command = [celery, "-A", "callcenter", "beat", "-l", "warning"]
    env = _service_env({"DJANGO_SETTINGS_MODULE": "callcenter.settings.dev", "DEBUG": "false"})
    return subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=log_path.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _wait_worker_ready(log_dir: Path, seconds: float = 60) -> None:
    """Until the worker answers a ping through the broker."""
    code = (
        "from callcenter.celery import app; import sys; "
        "sys.exit(0 if app.control.ping(timeout=1.0) else 1)"
    )
    env = _service_env({"DJANGO_SETTINGS_MODULE": "callcenter.settings.dev"})
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        ping = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=False)
        if ping.returncode == 0:
            return
        time.sleep(0.5)
    raise SystemExit(f"the Celery worker did not answer; see {log_dir}")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def post_events(
    *, port: int, token: str, events: int, first_customer: int, rate: float, clients: int
) -> dict[str, object]:
    """POST `events` complaint events, one customer each, at `rate` per second in all."""
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
    lock = threading.Lock()
    next_index = iter(range(events))
    statuses: dict[int, int] = {}
    failures: list[str] = []
    started = time.perf_counter()

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while True:
            with lock:
                index = next(next_index, None)
            if index is None:
                break
            if rate > 0:
                delay = started + index / rate - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
            body = json.dumps(event_body(first_customer + index, index))
            request_headers = {**headers, "Idempotency-Key": idempotency_key(index)}
            try:
                connection.request("POST", "/api/events/", body=body, headers=request_headers)
                response = connection.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException) as exc:
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                status = 0
                with lock:
                    failures.append(f"{index}: {exc.__class__.__name__}")
            with lock:
                statuses[status] = statuses.get(status, 0) + 1
        connection.close()

    with ThreadPoolExecutor(max_workers=clients) as pool:
        for _ in range(clients):
            pool.submit(client)
    seconds = time.perf_counter() - started
    return {
        "seconds": round(seconds, 2),
        "events_per_second": round(events / seconds, 1),
        "statuses": {str(code): count for code, count in sorted(statuses.items())},
        "failures": failures[:20],
    }


def wait_for_drain(expected: int) -> float:
    """Seconds until every event is processed, or until processing made no progress for
    IDLE_TIMEOUT_SECONDS (what is left then counts as lost)."""
    import psycopg

    started = last_progress = time.perf_counter()
    last_pending = None
    with psycopg.connect(_database_url(), autocommit=True) as conn:
        while time.perf_counter() - last_progress < IDLE_TIMEOUT_SECONDS:
            recorded, pending = conn.execute(
                "SELECT count(*), count(*) FILTER (WHERE processed_at IS NULL) FROM care_event "
                f"WHERE {BENCH_EVENTS}"
            ).fetchone()
            if recorded >= expected and pending == 0:
                break
            if pending != last_pending:
                last_pending, last_progress = pending, time.perf_counter()
            time.sleep(0.2)
    return time.perf_counter() - started


LATENCY_SQL = f"""
WITH events AS (
    SELECT e.id, e.created_at, e.processed_at FROM care_event e
    WHERE e.{BENCH_EVENTS}
), enrolled AS (
    SELECT n.event_id, min(n.enrolled_at) AS enrolled_at, count(*) AS enrollments
    FROM care_enrollment n JOIN events e ON e.id = n.event_id GROUP BY n.event_id
), latency AS (
    SELECT extract(epoch FROM n.enrolled_at - e.created_at) * 1000 AS ms
    FROM events e JOIN enrolled n ON n.event_id = e.id
)
SELECT
    (SELECT count(*) FROM events),
    (SELECT count(*) FROM events WHERE processed_at IS NOT NULL),
    (SELECT count(*) FROM enrolled),
    (SELECT count(*) FROM enrolled WHERE enrollments > 1),
    (SELECT percentile_cont(ARRAY[0.5, 0.9, 0.99, 1.0]) WITHIN GROUP (ORDER BY ms) FROM latency),
    (SELECT extract(epoch FROM max(processed_at) - min(created_at)) FROM events)
"""


def figures(posted: int) -> dict[str, object]:
    import psycopg

    with psycopg.connect(_database_url()) as conn:
        recorded, processed, enrolled, duplicated, percentiles, span = conn.execute(
            LATENCY_SQL
        ).fetchone()
    percentiles = percentiles or [None] * 4
    p50, p90, p99, worst = (
        round(float(value), 1) if value is not None else None for value in percentiles
    )
    return {
        "recorded": recorded,
        "processed": processed,
        "enrolled": enrolled,
        "enrolled_twice": duplicated,
        "lost": posted - processed,
        "latency_ms": {"p50": p50, "p90": p90, "p99": p99, "max": worst},
        "processed_per_second": round(processed / float(span), 1) if span else None,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=50.0, help="events/s in all; 0: no limit")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--worker-concurrency", type=int, default=2)
    parser.add_argument("--phase", choices=["prepare"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase == "prepare":
        print(json.dumps(prepare()))
        return 0
    scale = build(args.events)
    prepared = subprocess.run(
        [sys.executable, __file__, "--phase", "prepare"],
        env=_service_env(),
        check=True,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    token = json.loads(prepared.stdout.strip().splitlines()[-1])["token"]
    with tempfile.TemporaryDirectory(prefix="bench-events-") as tmp:
        log_dir = Path(tmp)
        os.environ["DATABASE_URL"] = _url_for(BENCH_DB)
        os.environ["CARE_PLAYBOOK_ACTIVE"] = RULE_KEY
        worker = start_celery("worker", log_dir / "worker.log", args.worker_concurrency)
        beat = start_celery("beat", log_dir / "beat.log", 0)
        port = _free_port()
        web = None
        try:
            _wait_worker_ready(log_dir)
            web = start_gunicorn(port, log_dir / "gunicorn.log", BENCH_DB)
            posting = post_events(
                port=port,
                token=token,
                events=args.events,
                first_customer=1,
                rate=args.rate,
                clients=args.clients,
            )
            drain = wait_for_drain(args.events)
            result = figures(args.events)
            errors = server_errors(sorted(log_dir.glob("*.log")))
        finally:
            for process in (web, worker, beat):
                if process is not None:
                    stop(process)
    p99 = result["latency_ms"]["p99"]
    report = {
        "benchmark": "event_to_enrollment",
        "scale": {**scale, "events": args.events},
        "load": {
            "rate_per_second": args.rate or "unlimited",
            "clients": args.clients,
            "worker_concurrency": args.worker_concurrency,
        },
        "posting": posting,
        # The exception lines the API and the worker logged (a 5xx answered, a task failed).
        "server_errors": errors,
        "drain_seconds_after_last_post": round(drain, 2),
        **result,
        "targets": {
            "p99_ms": TARGET_P99_MS,
            "met": p99 is not None and p99 < TARGET_P99_MS and result["lost"] == 0,
        },
        "machine": {
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "load_average": [round(x, 2) for x in os.getloadavg()],
        },
    }
    print(json.dumps(report, indent=2))
    return 0 if result["lost"] == 0 and result["enrolled_twice"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

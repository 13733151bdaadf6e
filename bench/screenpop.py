"""Screen-pop under load: gunicorn as configured for production, wrk on loopback.

    python bench/screenpop.py --customers 1000000 [--seconds 30] [--connections 32] [--reuse]

Builds a database (bench_screenpop on the DATABASE_URL server) server-side with the refresh
benchmark's generators plus one mobile number per customer (a third also have an email), runs
a segment refresh so the card's segment section has rows to read, and creates an agent with an
API token. Then it starts gunicorn with gunicorn.conf.py and the production settings, and runs
`wrk` in its own process: `--connections` clients for `--seconds`, each request the card of a
random number (80% known customers, 20% unknown numbers), authenticated with the token. Two
runs each:
  - saturated: every client sends its next request as soon as the last one is answered, which
    measures capacity (requests/s). Its latency is not the service time: with N clients always
    waiting, mean latency = N / throughput (Little's law), e.g. 32 / 300 = 107 ms;
  - paced at `--rate` requests/s in all (random, exponentially distributed pauses per client,
    so arrivals are Poisson-like): the latency an agent sees at that load (p50, p99).
The same two runs against /healthz (a database round trip and a Redis write through the same
middleware) are the baseline, so ratios mean something on a noisy shared machine. Prints JSON:
p50/p99 latency, requests/s, non-2xx responses and socket errors. The targets (p99 under 25 ms,
over 300 requests/s) are checked as: paced p99 under 25 ms, saturated throughput over 300/s.

`--reuse` keeps an existing benchmark database of the same size (skips the build).
SCREENPOP_DB names the database (default bench_screenpop).
"""

from __future__ import annotations

import argparse
import datetime
import functools
import json
import os
import platform
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import refresh  # noqa: E402
from bench.refresh import _admin_url, _setup_django, _url_for  # noqa: E402

# Its own database (SCREENPOP_DB to change it), so other benchmarks may run beside it.
BENCH_DB = os.environ.get("SCREENPOP_DB", "bench_screenpop")
BENCH_USER = "bench_agent"
KNOWN_SHARE = 0.8
# Distinct numbers in the request pool: enough that the hot set is not a handful of rows.
POOL_SIZE = 20_000
WARM_UP_SECONDS = 5
TARGET_P99_MS = 25
TARGET_RPS = 300


def known_number(customer_id: int) -> str:
    """The mobile number the build gives customer `customer_id`, as a caller id shows it."""
    return f"139{customer_id:08d}"


def unknown_number(rng: random.Random) -> str:
    """A valid mobile number no customer has (the build uses the 139 prefix only)."""
    return f"137{rng.randrange(10**8):08d}"


PHONES_SQL = """
INSERT INTO callcenter_contactpoint (customer_id, kind, system, value, raw_value, label,
    is_primary, is_active, created_at, updated_at)
SELECT g, 'phone', '', '+86139' || lpad(g::text, 8, '0'), '', 'mobile', true, true, now(), now()
FROM generate_series(1, %(customers)s) g
UNION ALL
SELECT g, 'email', '', 'customer' || g || '@example.com', '', '', true, true, now(), now()
FROM generate_series(1, %(customers)s) g WHERE mod(g, 3) = 0
"""


# The refresh benchmark's base (with fewer orders per customer) and a phone or email each.
GENERATE_SQL = [*refresh.GENERATE_SQL, PHONES_SQL]


def generate_params(customers: int) -> dict[str, object]:
    """GENERATE_SQL's parameters: the sizes, and the history ending now."""
    return {
        "customers": customers,
        "orders": customers * 3,
        "interactions": customers * 2,
        "tickets": customers // 10,
        "surveys": customers // 5,
        "at": datetime.datetime.now(datetime.UTC),
    }


def _database_url() -> str:
    return _url_for(BENCH_DB).replace("postgres://", "postgresql://", 1)


def _customers_in_database() -> int | None:
    import psycopg

    try:
        with psycopg.connect(_database_url()) as conn:
            return conn.execute(
                "SELECT count(*) FROM callcenter_contactpoint WHERE kind = 'phone'"
            ).fetchone()[0]
    except psycopg.Error:
        return None


def build(customers: int) -> dict[str, object]:
    """A fresh database with customers, history and phones, generated inside PostgreSQL."""
    import psycopg

    with psycopg.connect(_admin_url(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{BENCH_DB}"')
    env = {**os.environ, "DATABASE_URL": _url_for(BENCH_DB)}
    subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "migrate", "--noinput", "-v", "0"],
        env=env,
        check=True,
        cwd=ROOT,
    )
    params = generate_params(customers)
    started = time.perf_counter()
    with psycopg.connect(_database_url(), autocommit=True) as conn:
        conn.execute("SET work_mem = '256MB'")
        for statement in GENERATE_SQL:
            conn.execute(statement, params)
        conn.execute("VACUUM ANALYZE")
    sizes: dict[str, object] = {key: value for key, value in params.items() if key != "at"}
    sizes["generate_seconds"] = round(time.perf_counter() - started, 1)
    return sizes


def prepare() -> dict[str, object]:
    """Segment refresh (so the card has metrics and memberships) and the bench agent's token."""
    _setup_django(BENCH_DB)
    from django.contrib.auth.models import Group, User
    from rest_framework.authtoken.models import Token

    from callcenter.choices import Role
    from segments.services.refresh import segment_refresh

    started = time.perf_counter()
    run = segment_refresh()
    user, _created = User.objects.get_or_create(username=BENCH_USER)
    group, _created = Group.objects.get_or_create(name=Role.AGENT)
    user.groups.add(group)
    # A new token each run: one kept from an earlier run may have expired (API_TOKEN_TTL_DAYS).
    Token.objects.filter(user=user).delete()
    token = Token.objects.create(user=user)
    return {
        "token": token.key,
        "refresh_status": run.status,
        "refresh_seconds": round(time.perf_counter() - started, 1),
    }


def _token() -> str:
    """The bench agent's token of a database built earlier (--reuse)."""
    import psycopg

    with psycopg.connect(_database_url()) as conn:
        row = conn.execute(
            "SELECT t.key FROM authtoken_token t JOIN auth_user u ON u.id = t.user_id "
            "WHERE u.username = %s",
            [BENCH_USER],
        ).fetchone()
    if row is None:
        raise SystemExit("no bench token in the database; run without --reuse")
    return row[0]


LUA_SCRIPT = r"""
-- Each wrk thread runs this file in its own Lua state.
local path = os.getenv("BENCH_PATH")
local numbers = {}
local file = os.getenv("BENCH_NUMBERS")
if file and file ~= "" then
  for line in io.lines(file) do numbers[#numbers + 1] = line end
end
wrk.headers["Authorization"] = "Token " .. os.getenv("BENCH_TOKEN")
wrk.headers["Accept"] = "application/json"
-- Paced runs: a random pause before each request (mean BENCH_DELAY_MS per client).
local mean_delay = tonumber(os.getenv("BENCH_DELAY_MS") or "0")
if mean_delay > 0 then
  delay = function()
    return math.floor(-math.log(1 - math.random()) * mean_delay)
  end
end

local threads = {}
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end

function init(args)
  non_2xx = 0
  math.randomseed(os.time() * 1000 + id)
end

function request()
  if #numbers == 0 then
    return wrk.format("GET", path)
  end
  return wrk.format("GET", path .. numbers[math.random(#numbers)])
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non_2xx = non_2xx + 1
  end
end

function done(summary, latency, requests)
  local bad = 0
  for _, thread in ipairs(threads) do bad = bad + thread:get("non_2xx") end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, ' ..
    '"p99_us": %d, "max_us": %d, "mean_us": %.1f, "non_2xx": %d, "socket_errors": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean, bad,
    e.connect + e.read + e.write + e.timeout))
end
"""


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_errors(logs: Iterable[Path]) -> list[str]:
    """Each distinct exception line (`module.SomeError: ...`, chained ones included) in the
    servers' logs, with the log's name, at most 20: what a 5xx or a failed task hid."""
    errors = {
        f"{log.stem}: {line}"
        for log in logs
        for line in log.read_text(errors="replace").splitlines()
        if re.match(r"([a-z_]\w*\.)*[A-Z]\w*: ", line)
    }
    return sorted(errors)[:20]


def _gunicorn_env(port: int, database: str = BENCH_DB) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": _url_for(database),
        "DJANGO_SETTINGS_MODULE": "callcenter.settings.production",
        "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-only-secret-key-" + "x" * 40),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        # wrk speaks plain HTTP on loopback, as a TLS-terminating proxy in front would.
        "SECURE_SSL_REDIRECT": "false",
        "DEBUG": "false",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
    }


@functools.cache
def static_collect(cwd: Path = ROOT) -> None:
    """collectstatic under production settings, as the Dockerfile runs it, once per tree and
    process: without the manifest, any page naming a static file fails."""
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=cwd,
        env=_gunicorn_env(0),
        check=True,
    )


def start_gunicorn(port: int, log_path: Path, database: str = BENCH_DB) -> subprocess.Popen:
    """gunicorn with gunicorn.conf.py (production settings, static files collected), ready
    when /healthz answers."""
    static_collect()
    gunicorn = Path(sys.executable).parent / "gunicorn"
    log = log_path.open("w")
    process = subprocess.Popen(
        [str(gunicorn), "-c", str(ROOT / "gunicorn.conf.py"), "callcenter.wsgi:application"],
        cwd=ROOT,
        env=_gunicorn_env(port, database),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"gunicorn exited; see {log_path}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):  # noqa: S310
                return process
        except OSError:
            time.sleep(0.3)
    process.terminate()
    raise SystemExit(f"gunicorn did not answer within 60 s; see {log_path}")


def stop_gunicorn(process: subprocess.Popen) -> None:
    import signal

    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def run_wrk(
    *,
    port: int,
    path: str,
    numbers: Path | None,
    token: str,
    script: Path,
    seconds: int,
    connections: int,
    rate: float = 0,
) -> dict[str, float | int]:
    """One wrk run, saturated or paced at `rate` requests/s in all; latency in milliseconds,
    throughput in requests per second."""
    env = {
        **os.environ,
        "BENCH_PATH": path,
        "BENCH_NUMBERS": str(numbers) if numbers else "",
        "BENCH_TOKEN": token,
        "BENCH_DELAY_MS": str(1000 * connections / rate) if rate else "0",
    }
    command = [
        "wrk",
        "--threads",
        str(min(2, connections)),
        "--connections",
        str(connections),
        "--duration",
        f"{seconds}s",
        "--timeout",
        "5s",
        "--script",
        str(script),
        f"http://127.0.0.1:{port}",
    ]
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    line = next(x for x in result.stdout.splitlines() if x.startswith("BENCH_JSON "))
    raw = json.loads(line.removeprefix("BENCH_JSON "))
    seconds_run = raw["duration_us"] / 1e6
    return {
        "requests": raw["requests"],
        "requests_per_second": round(raw["requests"] / seconds_run, 1),
        "p50_ms": round(raw["p50_us"] / 1000, 2),
        "p90_ms": round(raw["p90_us"] / 1000, 2),
        "p99_ms": round(raw["p99_us"] / 1000, 2),
        "max_ms": round(raw["max_us"] / 1000, 2),
        "mean_ms": round(raw["mean_us"] / 1000, 2),
        "non_2xx": raw["non_2xx"],
        "socket_errors": raw["socket_errors"],
    }


def _numbers_file(customers: int, directory: Path, seed: int = 42) -> Path:
    rng = random.Random(seed)
    pool = [
        known_number(rng.randint(1, customers))
        if rng.random() < KNOWN_SHARE
        else unknown_number(rng)
        for _ in range(POOL_SIZE)
    ]
    path = directory / "numbers.txt"
    path.write_text("\n".join(pool) + "\n")
    return path


def _gunicorn_config() -> dict[str, object]:
    env = _gunicorn_env(0)
    code = (
        "import runpy, json; c = runpy.run_path('gunicorn.conf.py'); "
        "print(json.dumps({k: c[k] for k in ('workers', 'threads', 'keepalive', 'accesslog')}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    return json.loads(result.stdout) if result.returncode == 0 else {}


def measure(
    customers: int, token: str, seconds: int, connections: int, rate: float
) -> dict[str, object]:
    """Warm up, then the baseline and the screen-pop, saturated and paced at `rate`."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk)")
    with tempfile.TemporaryDirectory(prefix="bench-screenpop-") as tmp:
        directory = Path(tmp)
        script = directory / "screenpop.lua"
        script.write_text(LUA_SCRIPT)
        numbers = _numbers_file(customers, directory)
        port = _free_port()
        log_path = directory / "gunicorn.log"
        process = start_gunicorn(port, log_path)
        try:
            common = {"port": port, "token": token, "script": script, "connections": connections}
            pop = {**common, "path": "/api/screenpop/?phone=", "numbers": numbers}
            health = {**common, "path": "/healthz", "numbers": None, "seconds": seconds}
            run_wrk(**pop, seconds=WARM_UP_SECONDS)
            healthz = run_wrk(**health)
            screenpop = run_wrk(**pop, seconds=seconds)
            healthz_paced = run_wrk(**health, rate=rate)
            screenpop_paced = run_wrk(**pop, seconds=seconds, rate=rate)
        finally:
            stop_gunicorn(process)
            log_tail = log_path.read_text()[-2000:]
    if screenpop["requests"] == 0:
        raise SystemExit(f"no request answered; gunicorn log:\n{log_tail}")
    errors = sum(run["non_2xx"] + run["socket_errors"] for run in (screenpop, screenpop_paced))
    return {
        "healthz": healthz,
        "screenpop": screenpop,
        "healthz_paced": healthz_paced,
        "screenpop_paced": screenpop_paced,
        "screenpop_over_healthz": {
            "requests_per_second": round(
                screenpop["requests_per_second"] / max(healthz["requests_per_second"], 0.1), 2
            ),
            "paced_p99": round(screenpop_paced["p99_ms"] / max(healthz_paced["p99_ms"], 0.01), 2),
        },
        "targets": {
            "p99_ms": TARGET_P99_MS,
            "requests_per_second": TARGET_RPS,
            "met": screenpop_paced["p99_ms"] < TARGET_P99_MS
            and screenpop["requests_per_second"] > TARGET_RPS
            and errors == 0,
        },
    }


def _wrk_version() -> str:
    result = subprocess.run(["wrk", "--version"], capture_output=True, text=True)
    return (result.stdout or result.stderr).splitlines()[0] if result else "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rate", type=float, default=TARGET_RPS, help="paced runs: requests/s")
    parser.add_argument("--reuse", action="store_true", help="keep a database of this size")
    parser.add_argument("--phase", choices=["prepare"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase == "prepare":
        print(json.dumps(prepare()))
        return
    data: dict[str, object] = {"customers": args.customers, "reused": False}
    if args.reuse and _customers_in_database() == args.customers:
        data["reused"] = True
        token = _token()
    else:
        data.update(build(args.customers))
        result = subprocess.run(
            [sys.executable, __file__, "--phase", "prepare"],
            env=os.environ,
            check=True,
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        prepared = json.loads(result.stdout.strip().splitlines()[-1])
        token = prepared.pop("token")
        data.update(prepared)
    figures = measure(args.customers, token, args.seconds, args.connections, args.rate)
    print(
        json.dumps(
            {
                "benchmark": "screenpop",
                "scale": data,
                "load": {
                    "connections": args.connections,
                    "seconds": args.seconds,
                    "paced_rate_per_second": args.rate,
                    "known_share": KNOWN_SHARE,
                    "distinct_numbers": POOL_SIZE,
                    "generator": _wrk_version(),
                },
                "gunicorn": _gunicorn_config(),
                **figures,
                "machine": {
                    "cores": os.cpu_count(),
                    "python": platform.python_version(),
                    "load_average": [round(x, 2) for x in os.getloadavg()],
                },
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()

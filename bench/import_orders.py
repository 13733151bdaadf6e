"""Benchmark of the CSV import: 1,000,000 orders (after 100,000 customers) with `import_csv`.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/x python bench/import_orders.py --orders 1000000

Creates a fresh database (`bench_import` by default) on the server of DATABASE_URL, migrates
it, writes the CSV files to a temporary folder, and runs `manage.py import_csv` in a child
process for: the customers, the orders (all created), and the same orders again (all matched,
nothing changed); as a history load (`--no-events`) unless `--events` is given. For each it
measures the wall time, the importing process's CPU time and peak memory, and the CPU time of
its PostgreSQL backend (on a shared machine the CPU times show what the import costs whatever
else runs). The database is dropped at the end. `run()` returns the figures as a dict (for
`make bench`).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
TARGET_SECONDS = 60.0
CATEGORIES = ("electronics", "home", "beauty", "grocery", "apparel", "services")
CHANNELS = ("web", "app", "store", "phone", "wechat")
CITIES = ("上海", "北京", "广州", "深圳", "杭州", "成都")
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
HISTORY_START = dt.datetime(2024, 1, 1)  # noqa: DTZ001 - the file's local times (TIME_ZONE)
HISTORY_SECONDS = 540 * 86400


def _database_url(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def _admin(url: str, statement: sql.Composable) -> None:
    with psycopg.connect(_database_url(url, "postgres"), autocommit=True) as conn:
        conn.execute(statement)


def generate_customers(path: Path, count: int, rng: random.Random) -> None:
    """People and a few businesses, each with a unique valid mobile number."""
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(
            ["external_id", "name", "kind", "phone", "email", "city", "sms_opt_out",
             "company_name", "member_level"]
        )  # fmt: skip
        for n in range(count):
            business = n % 10 == 0
            writer.writerow(
                [
                    f"BC{n:07d}",
                    SURNAMES[rng.randrange(len(SURNAMES))] + "先生",
                    "business" if business else "person",
                    f"138{n:08d}",
                    f"c{n}@example.com" if rng.random() < 0.5 else "",
                    CITIES[rng.randrange(len(CITIES))],
                    "yes" if rng.random() < 0.05 else "",
                    f"公司{n}" if business else "",
                    rng.choice(("bronze", "silver", "gold")),
                ]
            )


def generate_orders(path: Path, count: int, customers: int, rng: random.Random) -> None:
    """Orders over 18 months: local times, some with offsets, some dates only."""
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(
            ["external_id", "customer_external_id", "placed_at", "amount", "currency",
             "category", "channel", "status"]
        )  # fmt: skip
        for n in range(count):
            moment = HISTORY_START + dt.timedelta(seconds=rng.randrange(HISTORY_SECONDS))
            roll = rng.random()
            if roll < 0.1:
                placed_at = moment.strftime("%Y-%m-%d")
            elif roll < 0.2:
                placed_at = moment.strftime("%Y-%m-%dT%H:%M:%S+08:00")
            else:
                placed_at = moment.strftime("%Y-%m-%d %H:%M:%S")
            status = rng.random()
            writer.writerow(
                [
                    f"BO{n:08d}",
                    f"BC{rng.randrange(customers):07d}",
                    placed_at,
                    f"{rng.lognormvariate(5.3, 0.8):.2f}",
                    "CNY",
                    CATEGORIES[rng.randrange(len(CATEGORIES))],
                    CHANNELS[rng.randrange(len(CHANNELS))],
                    "paid" if status < 0.9 else "refunded" if status < 0.96 else "cancelled",
                ]
            )


def _manage(env: dict[str, str], *args: str) -> None:
    """Run manage.py in a child process, failing loudly."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stdout}{result.stderr}")


class BackendCpu(threading.Thread):
    """CPU seconds of the PostgreSQL backend serving `application_name`, read from /proc while
    it runs (the machine may be shared: CPU seconds do not depend on the load, wall time does).
    """

    def __init__(self, admin_url: str, application_name: str) -> None:
        super().__init__(daemon=True)
        self.admin_url = admin_url
        self.application_name = application_name
        self.seconds: float | None = None
        self.done = threading.Event()

    def run(self) -> None:
        ticks = os.sysconf("SC_CLK_TCK")
        pid = None
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            while not self.done.is_set():
                if pid is None:
                    row = conn.execute(
                        "SELECT pid FROM pg_stat_activity WHERE application_name = %s",
                        [self.application_name],
                    ).fetchone()
                    pid = row[0] if row else None
                if pid is not None:
                    try:
                        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                    except OSError:
                        pid = None  # the backend ended (or /proc is not readable)
                    else:
                        self.seconds = (int(fields[11]) + int(fields[12])) / ticks
                time.sleep(0.2)


def _import(env: dict[str, str], kind: str, path: Path, *extra: str) -> dict[str, object]:
    """Time one import in a child process: wall seconds, the child's CPU seconds and peak
    memory (from wait4), and the CPU seconds of its PostgreSQL backend."""
    name = f"bench_import_{kind}_{os.getpid()}"
    child_env = {**env, "DATABASE_URL": f"{env['DATABASE_URL']}?application_name={name}"}
    backend = BackendCpu(_database_url(env["DATABASE_URL"], "postgres"), name)
    backend.start()
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "import_csv", kind, str(path), *extra],
        env=child_env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    _pid, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    backend.done.set()
    backend.join()
    process.returncode = os.waitstatus_to_exitcode(status)
    stdout = process.stdout.read().decode() if process.stdout else ""
    stderr = process.stderr.read().decode() if process.stderr else ""
    if process.returncode != 0:
        raise RuntimeError(f"import_csv {kind} failed:\n{stdout}\n{stderr[-4000:]}")
    return {
        "seconds": round(seconds, 2),
        "python_cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2),
        "postgres_cpu_seconds": round(backend.seconds, 2) if backend.seconds else None,
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),  # Linux reports KiB
        "output": stdout.strip(),
    }


def run(
    *,
    orders: int = 1_000_000,
    customers: int = 100_000,
    database: str = "bench_import",
    events: bool = False,
    keep: bool = False,
    seed: int = 20261123,
) -> dict[str, object]:
    """Create the database, import customers then orders (twice), return the figures."""
    base_url = os.environ["DATABASE_URL"]
    bench_url = _database_url(base_url, database)
    env = {
        **os.environ,
        "DATABASE_URL": bench_url,
        "DJANGO_SETTINGS_MODULE": "callcenter.settings.dev",
        "DEBUG": "false",
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        "LOG_LEVEL": "WARNING",
    }
    extra = () if events else ("--no-events",)
    _admin(base_url, sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(database)))
    _admin(base_url, sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    try:
        _manage(env, "migrate", "--verbosity", "0")
        rng = random.Random(seed)
        with tempfile.TemporaryDirectory(prefix="bench_import_") as folder:
            customers_csv = Path(folder) / "customers.csv"
            orders_csv = Path(folder) / "orders.csv"
            started = time.perf_counter()
            generate_customers(customers_csv, customers, rng)
            generate_orders(orders_csv, orders, customers, rng)
            generated = time.perf_counter() - started
            customer_run = _import(env, "customers", customers_csv, *extra)
            first = _import(env, "orders", orders_csv, *extra)
            again = _import(env, "orders", orders_csv, *extra)
            file_mb = orders_csv.stat().st_size / 1e6
    finally:
        if not keep:
            _admin(base_url, sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(database)))
    return {
        "customers": customers,
        "orders": orders,
        "events": events,
        "orders_file_mb": round(file_mb, 1),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "generate_seconds": round(generated, 2),
        "customers_seconds": customer_run["seconds"],
        "customers_python_cpu_seconds": customer_run["python_cpu_seconds"],
        "customers_postgres_cpu_seconds": customer_run["postgres_cpu_seconds"],
        "customers_peak_rss_mb": customer_run["peak_rss_mb"],
        "orders_seconds": first["seconds"],
        "orders_python_cpu_seconds": first["python_cpu_seconds"],
        "orders_postgres_cpu_seconds": first["postgres_cpu_seconds"],
        "orders_rows_per_second": round(orders / first["seconds"]) if first["seconds"] else 0,
        "orders_peak_rss_mb": first["peak_rss_mb"],
        "orders_again_seconds": again["seconds"],
        "orders_again_python_cpu_seconds": again["python_cpu_seconds"],
        "orders_again_postgres_cpu_seconds": again["postgres_cpu_seconds"],
        "orders_again_peak_rss_mb": again["peak_rss_mb"],
        "target_seconds": TARGET_SECONDS,
        "within_target": first["seconds"] < TARGET_SECONDS,
        "outputs": [customer_run["output"], first["output"], again["output"]],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--database", default="bench_import")
    parser.add_argument(
        "--events",
        action="store_true",
        help="Announce events (default: --no-events, a history load; with events the care "
        "outbox receiver writes one row per event).",
    )
    parser.add_argument("--keep", action="store_true", help="Keep the database afterwards.")
    args = parser.parse_args(argv)
    if "DATABASE_URL" not in os.environ:
        parser.error("set DATABASE_URL (the benchmark creates and drops its own database)")
    figures = run(
        orders=args.orders,
        customers=args.customers,
        database=args.database,
        events=args.events,
        keep=args.keep,
    )
    for key, value in figures.items():
        if key != "outputs":
            print(f"{key:28} {value}")
    for line in figures["outputs"]:
        print(f"  {line}")
    return 0 if figures["within_target"] else 1


if __name__ == "__main__":
    sys.exit(main())

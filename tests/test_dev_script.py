"""scripts/dev.py, the set-up behind `make`: `make stop` says what it stopped (a real embedded
Redis started here) or that nothing was running; the dev web server binds the address the
banner shows."""

import importlib.util
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _dev() -> ModuleType:
    spec = importlib.util.spec_from_file_location("dev_script", ROOT / "scripts" / "dev.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def dev(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The script with its data directory in tmp_path (never the checkout's .data/)."""
    module = _dev()
    monkeypatch.setattr(module, "DATA", tmp_path)
    monkeypatch.setattr(module, "PG_DATA", tmp_path / "postgres")
    monkeypatch.setattr(module, "REDIS_DATA", tmp_path / "redis")
    monkeypatch.setattr(module, "REDIS_PORT", _free_port())
    return module


def test_stop_says_nothing_was_running(dev: ModuleType, capsys: pytest.CaptureFixture) -> None:
    assert dev.cmd_stop() == 0

    assert "nothing was running" in capsys.readouterr().out


def test_stop_says_which_service_it_stopped(dev: ModuleType, capsys: pytest.CaptureFixture) -> None:
    # given an embedded Redis started as `make run` starts it
    dev.start_redis()
    assert dev._port_open(dev.REDIS_PORT)
    capsys.readouterr()

    assert dev.cmd_stop() == 0

    out = capsys.readouterr().out
    assert f"stopped Redis (port {dev.REDIS_PORT})" in out
    assert "nothing was running" not in out
    deadline = time.monotonic() + 10
    while dev._port_open(dev.REDIS_PORT) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not dev._port_open(dev.REDIS_PORT)


@pytest.mark.parametrize(
    ("host", "bind", "banner"),
    [
        ("127.0.0.1", "127.0.0.1:8123", "http://127.0.0.1:8123/"),
        ("0.0.0.0", "0.0.0.0:8123", "listening on 0.0.0.0:8123"),  # noqa: S104
        ("::1", "[::1]:8123", "http://[::1]:8123/"),
    ],
)
def test_the_banner_shows_the_address_the_web_server_binds(
    monkeypatch: pytest.MonkeyPatch, host: str, bind: str, banner: str
) -> None:
    dev = _dev()
    monkeypatch.setattr(dev, "WEB_HOST", host)
    monkeypatch.setattr(dev, "WEB_PORT", 8123)

    assert dev._web_address() == bind
    assert banner in dev._banner_address()


def test_the_dev_server_binds_this_machine_only_by_default() -> None:
    # the script as `make run` loads it, without HOST or PORT in the environment
    env = {k: v for k, v in os.environ.items() if k not in ("HOST", "PORT")}
    code = "import runpy; m = runpy.run_path('scripts/dev.py'); print(m['_banner_address']())"

    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )

    assert result.stdout.strip() == "http://127.0.0.1:8000/"

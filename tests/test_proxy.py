"""docker-compose's proxy service for real: Caddy with deploy/Caddyfile terminating TLS in
front of gunicorn run with the web service's environment (TRUSTED_PROXY_COUNT=1), and of the
desk's stream server (uvicorn) for /desk/events/. Clients come
from different loopback addresses, as different machines would.

Caddy is Debian's package (.ci/run installs it); the compose file uses the official image of
the same major version.
"""

import http.client
import json
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.test import Client
from rest_framework.authtoken.models import Token

from callcenter.choices import Role
from callcenter.services.cti import cti_publish
from tests.callcenter.factories import UserFactory
from tests.servers import free_port, gunicorn_server, production_env, uvicorn_server
from tests.test_deploy import ROOT, web_environment

CADDYFILE = ROOT / "deploy" / "Caddyfile"
SITE = "localhost"
START_TIMEOUT = 60
PASSWORD = "proxy-Passw0rd!"


def _caddy() -> str:
    path = shutil.which("caddy")
    if not path:
        pytest.fail("Caddy is not installed: apt-get install caddy (see .ci/run)")
    return path


@dataclass
class Proxy:
    port: int
    root_certificate: Path

    def client(self, source: str) -> Callable[..., http.client.HTTPResponse]:
        """Requests to the proxy from the loopback address `source`, verified against Caddy's
        local CA."""
        context = ssl.create_default_context(cafile=str(self.root_certificate))
        port = self.port

        class Connection(http.client.HTTPSConnection):
            def connect(self) -> None:
                sock = socket.create_connection(("127.0.0.1", port), 20, (source, 0))
                self.sock = context.wrap_socket(sock, server_hostname=SITE)

        def request(
            method: str, path: str, body: str | None = None, **headers: str
        ) -> http.client.HTTPResponse:
            connection = Connection(SITE, port, timeout=20, context=context)
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            response.body = response.read().decode()
            connection.close()
            return response

        return request


@pytest.fixture(scope="module")
def static_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Static files collected as the Dockerfile does (production pages need the manifest)."""
    root = tmp_path_factory.mktemp("static")
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=settings.BASE_DIR,
        env={**production_env(), "STATIC_ROOT": str(root)},
        check=True,
        timeout=300,
    )
    return root


@pytest.fixture(scope="module")
def proxy(
    committed_database: None, static_root: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Proxy]:
    directory = tmp_path_factory.mktemp("proxy")
    environment = web_environment(STATIC_ROOT=str(static_root), ALLOWED_HOSTS=SITE)
    with (
        gunicorn_server(directory / "gunicorn.log", env=environment) as web_port,
        uvicorn_server(directory / "uvicorn.log", env=environment) as (stream_port, _stream),
    ):
        https_port = free_port()
        caddy_env = {
            "PATH": "/usr/bin:/bin",
            "HOME": str(directory),
            "XDG_DATA_HOME": str(directory / "data"),
            "XDG_CONFIG_HOME": str(directory / "config"),
            "SITE_ADDRESS": SITE,
            "WEB_UPSTREAM": f"127.0.0.1:{web_port}",
            "STREAM_UPSTREAM": f"127.0.0.1:{stream_port}",
            "HTTPS_PORT": str(https_port),
            "HTTP_PORT": str(free_port()),
        }
        log_path = directory / "caddy.log"
        with log_path.open("w") as log:
            process = subprocess.Popen(
                [_caddy(), "run", "--config", str(CADDYFILE), "--adapter", "caddyfile"],
                env=caddy_env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            root = directory / "data" / "caddy" / "pki" / "authorities" / "local" / "root.crt"
            ready = Proxy(https_port, root)
            deadline = time.monotonic() + START_TIMEOUT
            while True:
                assert process.poll() is None, log_path.read_text()
                try:
                    if root.exists() and ready.client("127.0.0.1")("GET", "/healthz").status:
                        break
                except (OSError, ssl.SSLError):
                    pass
                assert time.monotonic() < deadline, "Caddy did not start:\n" + log_path.read_text()
                time.sleep(0.3)
            yield ready
        finally:
            # Caddy waits for open streams on SIGTERM; the test needs no grace.
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _login(proxy: Proxy, source: str, username: str, password: str) -> http.client.HTTPResponse:
    """Log in through the login page from `source` as a browser does (CSRF cookie and token,
    Origin)."""
    request = proxy.client(source)
    page = request("GET", "/accounts/login/")
    assert page.status == 200, page.body
    cookie = re.search(r"csrftoken=([^;]+)", page.headers["Set-Cookie"]).group(1)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.body).group(1)
    return request(
        "POST",
        "/accounts/login/",
        body=urlencode({"csrfmiddlewaretoken": token, "username": username, "password": password}),
        Cookie=f"csrftoken={cookie}",
        Origin=f"https://{SITE}:{proxy.port}",
        **{"Content-Type": "application/x-www-form-urlencoded"},
    )


def test_one_client_locked_out_through_the_proxy_does_not_lock_out_another(
    proxy: Proxy, committed_rows: None
) -> None:
    user = UserFactory(role=Role.AGENT, username="shared_name")
    # hashed as production checks it (the test settings' fast hasher is not among its hashers)
    user.password = PBKDF2PasswordHasher().encode(PASSWORD, "proxy-salt", iterations=1000)
    user.save(update_fields=["password"])
    attacker, colleague = "127.0.0.2", "127.0.0.3"

    # when one client fails the password as often as axes allows (the last failure locks)
    statuses = [
        _login(proxy, attacker, "shared_name", f"wrong-{n}").status
        for n in range(settings.AXES_FAILURE_LIMIT)
    ]
    assert statuses == [200] * (settings.AXES_FAILURE_LIMIT - 1) + [429]

    # then that client is locked out, and a colleague elsewhere logs in with the same name
    assert _login(proxy, attacker, "shared_name", PASSWORD).status == 429
    colleague_login = _login(proxy, colleague, "shared_name", PASSWORD)
    assert colleague_login.status == 302
    cookies = colleague_login.headers.get_all("Set-Cookie")
    assert any(cookie.startswith("sessionid=") for cookie in cookies)


def test_the_proxy_says_https_so_the_api_answers_without_a_redirect(
    proxy: Proxy, committed_rows: None
) -> None:
    token = Token.objects.create(user=UserFactory(role=Role.AGENT, username="proxy_pbx"))

    response = proxy.client("127.0.0.2")(
        "GET", "/api/screenpop/?phone=13800138000", Authorization=f"Token {token.key}"
    )

    assert response.status == 200
    assert json.loads(response.body)["known"] is False


def test_the_desk_stream_passes_the_proxy_unbuffered(proxy: Proxy, committed_rows: None) -> None:
    agent = UserFactory(role=Role.AGENT, username="proxy_desk")
    browser = Client()
    browser.force_login(agent)
    session = browser.cookies[settings.SESSION_COOKIE_NAME].value
    context = ssl.create_default_context(cafile=str(proxy.root_certificate))
    raw = socket.create_connection(("127.0.0.1", proxy.port), 10, ("127.0.0.4", 0))
    with context.wrap_socket(raw, server_hostname=SITE) as sock:
        sock.sendall(
            (
                f"GET /desk/events/ HTTP/1.1\r\nHost: {SITE}:{proxy.port}\r\n"
                f"Cookie: sessionid={session}\r\nAccept: text/event-stream\r\n\r\n"
            ).encode()
        )
        sock.settimeout(5)
        reader = sock.makefile("rb")

        def read_until(marker: bytes) -> float:
            started = time.monotonic()
            for line in reader:
                if marker in line:
                    return time.monotonic() - started
            raise AssertionError(f"stream ended before {marker!r}")

        # the first small chunks arrive at once, and so does a call published later
        assert reader.readline().startswith(b"HTTP/1.1 200")
        assert read_until(b"event: ready") < 2
        cti_publish(user_id=agent.pk, message={"event": "ringing", "call_id": "via-proxy"})
        assert read_until(b"via-proxy") < 2

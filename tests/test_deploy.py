"""The documented deployment (docker-compose.yml, README "Deploying with docker-compose"):
gunicorn with gunicorn.conf.py and the web service's own environment from the compose file.
Docker itself is not needed: the compose file is read as data, and its healthcheck command is
run as it is."""

import http.client
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token

from callcenter.choices import Role
from callcenter.redis_client import redis_client
from tests.callcenter.factories import UserFactory
from tests.servers import compose, compose_environment, gunicorn_server, production_env
from tests.workers import worker_env

ROOT = Path(__file__).resolve().parent.parent
# What the README tells a deployer to put in .env.
DOTENV = {"SECRET_KEY": "x" * 50, "ALLOWED_HOSTS": "crm.example.com"}
# The test's own database, Redis and key instead of the compose services'.
TEST_SERVICES = ("DATABASE_URL", "REDIS_URL", "SECRET_KEY")
HOST = "crm.example.com"


def web_environment(**extra: str) -> dict[str, str]:
    """The web service's environment from docker-compose.yml, on the test's services."""
    environment = compose_environment("web", DOTENV)
    own = production_env()
    return {**environment, **{name: own[name] for name in TEST_SERVICES}, **extra}


@pytest.fixture(scope="module")
def web(committed_database: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """gunicorn as the compose file's web service runs it."""
    log = tmp_path_factory.mktemp("web") / "gunicorn.log"
    with gunicorn_server(log, env=web_environment()) as port:
        yield port


def _get(port: int, path: str, **headers: str) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    connection.request("GET", path, headers={"Host": HOST, **headers})
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


def test_the_compose_healthcheck_passes_against_production_gunicorn(web: int) -> None:
    # given the exact command of the web service's healthcheck
    test = compose()["services"]["web"]["healthcheck"]["test"]
    assert test[:2] == ["CMD", "python"]
    command = [sys.executable, *test[2:]]

    # when docker runs it inside the container (its PORT, no proxy header, its own address)
    result = subprocess.run(
        command,
        env={**worker_env(), "PORT": str(web)},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    # then the container counts as healthy
    assert result.returncode == 0, result.stderr


def test_only_healthz_skips_the_https_redirect_and_the_host_check(web: int) -> None:
    health = _get(web, "/healthz", Host="127.0.0.1:8000")
    plain = _get(web, "/api/screenpop/?phone=1")
    foreign_host = _get(web, "/api/screenpop/?phone=1", Host="evil.example.net")

    assert health.status == 200
    assert plain.status == 301
    assert plain.headers["Location"].startswith(f"https://{HOST}/")
    assert foreign_host.status == 400


def test_api_schema_and_docs_need_a_call_center_login_in_production(
    web: int, committed_rows: None
) -> None:
    proxied = {"X-Forwarded-Proto": "https", "Accept": "application/json"}
    agent = UserFactory(role=Role.AGENT, username="schema_reader")
    token = Token.objects.create(user=agent)
    outsider = Token.objects.create(user=UserFactory(username="schema_outsider"))

    assert _get(web, "/api/schema/", **proxied).status == 403
    docs = _get(web, "/api/docs/", **proxied)
    assert docs.status == 302
    assert docs.headers["Location"].startswith("/accounts/login/?next=/api/docs/")
    assert _get(web, "/api/schema/", **proxied, Authorization=f"Token {outsider.key}").status == 403
    schema = _get(web, "/api/schema/", **proxied, Authorization=f"Token {token.key}")
    assert schema.status == 200


def test_compose_puts_a_tls_proxy_in_front_of_web_and_trusts_exactly_it() -> None:
    services = compose()["services"]
    proxy, web_service = services["proxy"], services["web"]
    environment = compose_environment("web", DOTENV)

    assert proxy["image"].split(":")[0] == "caddy"
    assert {"80:80", "443:443"} <= set(proxy["ports"])
    caddyfile = next(volume for volume in proxy["volumes"] if "Caddyfile" in volume)
    assert (ROOT / caddyfile.split(":")[0]).is_file()
    assert proxy["environment"]["WEB_UPSTREAM"] == "web:8000"
    assert proxy["environment"]["STREAM_UPSTREAM"] == "stream:8001"
    assert services["stream"]["expose"] == ["8001"]
    # web and stream are reached through the proxy only: nobody can forge X-Forwarded-For
    assert "ports" not in web_service
    assert "ports" not in services["stream"]
    assert environment["TRUSTED_PROXY_COUNT"] == "1"
    assert environment["SECURE_SSL_REDIRECT"] == "true"
    assert environment["DJANGO_SETTINGS_MODULE"] == "callcenter.settings.production"


def test_the_deployed_settings_trust_the_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in web_environment().items():
        monkeypatch.setenv(name, value)
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.TRUSTED_PROXY_COUNT, s.SECURE_SSL_REDIRECT, s.SECURE_PROXY_SSL_HEADER)"
    )

    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )

    assert result.stdout.split("\n")[-2] == "1 True ('HTTP_X_FORWARDED_PROTO', 'https')"


def test_sessions_live_in_postgresql_as_the_readme_says(db: None) -> None:
    # given a logged-in agent
    browser = Client()
    browser.force_login(UserFactory(role=Role.AGENT, username="session_keeper"))

    # when Redis loses everything (a restart without persistence)
    redis_client().flushdb()

    # then the agent is still logged in, and the README says where sessions are
    assert browser.get(reverse("home")).status_code == 200
    assert settings.SESSION_ENGINE == "django.contrib.sessions.backends.db"
    readme = (ROOT / "README.md").read_text()
    assert "sessions are in PostgreSQL" in readme
    assert "sessions and the live channel are in Redis" not in readme

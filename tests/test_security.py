"""Login rate limiting (django-axes), Content-Security-Policy and the production headers."""

import importlib
import re
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client, override_settings
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from callcenter.choices import Role
from callcenter.middleware import API_DOCS_CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY
from tests.callcenter.factories import UserFactory

PASSWORD = "right-pass-1234"


def _login(username: str, password: str, ip: str = "10.0.0.1") -> tuple[Client, Any]:
    client = Client(REMOTE_ADDR=ip)
    response = client.post(reverse("login"), {"username": username, "password": password})
    return client, response


def _logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


@pytest.fixture
def agent(db: None) -> Any:
    return UserFactory(username="lockme", role=Role.AGENT, password=PASSWORD)


def test_login_is_refused_after_the_failure_limit_even_with_the_right_password(
    agent: Any,
) -> None:
    assert settings.AXES_FAILURE_LIMIT == 5
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _login("lockme", "wrong-password")

    client, response = _login("lockme", PASSWORD)

    assert response.status_code == 429
    assert not _logged_in(client)
    # The lock is on the username and IP pair: the same user elsewhere still gets in.
    elsewhere, response = _login("lockme", PASSWORD, ip="10.0.0.2")
    assert response.status_code == 302
    assert _logged_in(elsewhere)


def test_fewer_failures_than_the_limit_do_not_lock(agent: Any) -> None:
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        client, response = _login("lockme", "wrong-password")
        assert response.status_code == 200
        assert not _logged_in(client)

    client, response = _login("lockme", PASSWORD)

    assert response.status_code == 302
    assert _logged_in(client)


def test_api_token_auth_is_not_affected_by_a_login_lockout(agent: Any) -> None:
    token = Token.objects.create(user=agent)
    for _ in range(settings.AXES_FAILURE_LIMIT + 1):
        _login("lockme", "wrong-password")
    client, _ = _login("lockme", PASSWORD)
    assert not _logged_in(client)

    api = APIClient(REMOTE_ADDR="10.0.0.1")
    response = api.get(reverse("api-customer-list"), HTTP_AUTHORIZATION=f"Token {token.key}")

    assert response.status_code == 200


def test_pages_carry_the_content_security_policy(agent: Any) -> None:
    anonymous = Client().get(reverse("login"))
    client = Client()
    client.force_login(agent)
    home = client.get(reverse("home"))

    for response in (anonymous, home):
        assert response.status_code == 200
        assert response["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "'unsafe-inline'" not in CONTENT_SECURITY_POLICY
    assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY
    assert "img-src 'self' data:" in CONTENT_SECURITY_POLICY


def test_api_docs_load_under_their_own_policy(agent: Any) -> None:
    client = Client()
    client.force_login(agent)
    response = client.get(reverse("api-docs"))

    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui-bundle.js" in html
    # drf-spectacular renders Swagger UI with an inline script: the relaxed policy allows it.
    assert re.search(r"<script>\s*\S", html)
    assert response["Content-Security-Policy"] == API_DOCS_CONTENT_SECURITY_POLICY


def _template_files() -> list[Path]:
    base = Path(settings.BASE_DIR)
    return sorted(
        path
        for path in base.glob("**/templates/**/*.html")
        if ".venv" not in path.parts and "node_modules" not in path.parts
    )


INLINE_CODE = re.compile(
    r"<script(?![^>]*\bsrc=)[^>]*>|<style\b|\sstyle=|\son[a-z]+=|javascript:|hx-on", re.IGNORECASE
)


def test_templates_need_no_inline_script_or_style() -> None:
    """The strict policy blocks inline code: keep scripts and styles in static files."""
    files = _template_files()
    assert files
    offenders = [
        f"{path.relative_to(settings.BASE_DIR)}: {match.group(0)}"
        for path in files
        for match in INLINE_CODE.finditer(path.read_text(encoding="utf-8"))
    ]
    assert not offenders, offenders


def test_production_settings_send_the_security_headers(
    monkeypatch: pytest.MonkeyPatch, db: None
) -> None:
    monkeypatch.setenv("SECRET_KEY", "production-test-key")
    monkeypatch.setenv("ALLOWED_HOSTS", "testserver")
    production = importlib.reload(importlib.import_module("callcenter.settings.production"))
    names = (
        "SECURE_HSTS_SECONDS",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS",
        "SECURE_HSTS_PRELOAD",
        "SECURE_CONTENT_TYPE_NOSNIFF",
        "SECURE_REFERRER_POLICY",
        "X_FRAME_OPTIONS",
        "SECURE_SSL_REDIRECT",
        "MIDDLEWARE",
    )
    with override_settings(**{name: getattr(production, name) for name in names}):
        response = Client().get(reverse("login"), secure=True)

    assert response.status_code == 200
    assert response["Strict-Transport-Security"] == ("max-age=31536000; includeSubDomains; preload")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Content-Security-Policy"] == CONTENT_SECURITY_POLICY


def test_behind_a_proxy_the_lock_keys_on_the_real_client(agent: Any, settings: Any) -> None:
    settings.TRUSTED_PROXY_COUNT = 1

    def login(forwarded: str, password: str) -> tuple[Client, Any]:
        client = Client(REMOTE_ADDR="172.18.0.5", HTTP_X_FORWARDED_FOR=forwarded)
        response = client.post(reverse("login"), {"username": "lockme", "password": password})
        return client, response

    for _ in range(settings.AXES_FAILURE_LIMIT):
        # the attacker writes a fake left-most address; the proxy appends the real one
        login("1.1.1.1, 203.0.113.9", "wrong-password")
    _client, response = login("9.9.9.9, 203.0.113.9", PASSWORD)
    assert response.status_code == 429
    # another client behind the same proxy is not locked out with them
    other, response = login("198.51.100.7", PASSWORD)
    assert response.status_code == 302
    assert _logged_in(other)

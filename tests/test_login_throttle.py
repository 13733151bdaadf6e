"""Login throttling per client address: failed logins from one address across many usernames
stop that address for a while (Redis), while django-axes locks a username and address pair."""

import logging
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import Client
from django.urls import reverse

from callcenter import auth_backends
from callcenter.choices import Role
from callcenter.redis_client import redis_client
from callcenter.services.login_throttle import KEY_PREFIX, login_throttle_rate
from tests.callcenter.factories import UserFactory

PASSWORD = "right-pass-1234"
SPRAYER = "203.0.113.66"


@pytest.fixture
def users(db: None, settings: Any) -> list[Any]:
    settings.LOGIN_THROTTLE_RATE = "5/h"
    return [
        UserFactory(username=f"sprayed{n}", role=Role.AGENT, password=PASSWORD) for n in range(8)
    ]


def _login(username: str, password: str, ip: str = SPRAYER, path: str = "") -> Any:
    client = Client(REMOTE_ADDR=ip)
    response = client.post(path or reverse("login"), {"username": username, "password": password})
    response.logged_in = "_auth_user_id" in client.session
    return response


def test_one_address_spraying_passwords_across_usernames_is_stopped(users: list[Any]) -> None:
    # given five wrong passwords from one address, each for another username (axes, which
    # counts per username and address, locks none of them)
    for user in users[:5]:
        response = _login(user.username, "Winter2026!")
        assert response.status_code == 200
        assert not response.logged_in

    # when that address tries again, even with a right password
    refused = _login(users[5].username, PASSWORD)

    # then it is refused unchecked, told why and for how long
    assert refused.status_code == 429
    assert not refused.logged_in
    assert "Too many failed logins from your network address" in refused.content.decode()
    assert "Try again in 60 minutes" in refused.content.decode()
    assert 0 < int(refused["Retry-After"]) <= 3600
    # the refusals do not extend the window, and other addresses are not affected
    assert int(redis_client().get(KEY_PREFIX + SPRAYER)) == 5
    assert _login(users[5].username, PASSWORD, ip="198.51.100.7").logged_in


def test_the_admin_login_is_throttled_too(users: list[Any]) -> None:
    for user in users[:5]:
        _login(user.username, "wrong")

    response = _login(users[6].username, PASSWORD, path="/admin/login/")

    assert response.status_code == 429
    assert not response.logged_in


def test_successful_logins_do_not_count(users: list[Any]) -> None:
    # a call center behind one NAT address signs its shift in
    for user in users:
        assert _login(user.username, PASSWORD).logged_in
    for user in users[:4]:
        _login(user.username, "typo")

    assert _login(users[7].username, PASSWORD).logged_in


def test_the_address_may_log_in_again_when_the_window_ends(users: list[Any], settings: Any) -> None:
    settings.LOGIN_THROTTLE_RATE = "2/2s"
    for user in users[:2]:
        _login(user.username, "wrong")
    assert _login(users[3].username, PASSWORD).status_code == 429

    redis_client().expire(KEY_PREFIX + SPRAYER, 0)  # the window's end, without waiting

    assert _login(users[3].username, PASSWORD).logged_in


def test_behind_the_proxy_the_throttle_keys_on_the_forwarded_client(
    users: list[Any], settings: Any
) -> None:
    settings.TRUSTED_PROXY_COUNT = 1

    def login(forwarded: str, username: str, password: str) -> Any:
        client = Client(REMOTE_ADDR="172.18.0.5", HTTP_X_FORWARDED_FOR=forwarded)
        response = client.post(reverse("login"), {"username": username, "password": password})
        response.logged_in = "_auth_user_id" in client.session
        return response

    for n, user in enumerate(users[:5]):
        # the sprayer forges a different left-most address each time; the proxy appends the real one
        login(f"10.9.9.{n}, {SPRAYER}", user.username, "wrong")

    assert login(f"10.9.9.9, {SPRAYER}", users[5].username, PASSWORD).status_code == 429
    assert login("198.51.100.7", users[5].username, PASSWORD).logged_in


@pytest.mark.parametrize(
    ("rate", "parsed"), [("30/h", (30, 3600)), ("10/15m", (10, 900)), ("100/day", (100, 86400))]
)
def test_the_rate_setting(settings: Any, rate: str, parsed: tuple[int, int]) -> None:
    settings.LOGIN_THROTTLE_RATE = rate

    assert login_throttle_rate() == parsed


@pytest.mark.parametrize("rate", ["30", "0/h", "x/h", "30/fortnight"])
def test_a_bad_rate_is_a_configuration_error(settings: Any, rate: str) -> None:
    settings.LOGIN_THROTTLE_RATE = rate

    with pytest.raises(ImproperlyConfigured):
        login_throttle_rate()


def test_the_default_rate_is_thirty_failures_an_hour() -> None:
    from django.conf import settings

    assert settings.LOGIN_THROTTLE_RATE == "30/h"


def test_forwarded_requests_without_a_trusted_proxy_are_logged_once(
    users: list[Any], caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(auth_backends, "_warned_unforwarded", False)
    client = Client(REMOTE_ADDR="172.18.0.5", HTTP_X_FORWARDED_FOR="198.51.100.7")

    with caplog.at_level(logging.WARNING, logger="callcenter.auth_backends"):
        for _ in range(2):
            client.post(reverse("login"), {"username": "sprayed0", "password": "wrong"})

    warnings = [r for r in caplog.records if "TRUSTED_PROXY_COUNT is 0" in r.getMessage()]
    assert len(warnings) == 1
    assert "172.18.0.5" in warnings[0].getMessage()

"""Persistent connections renew at spread-out moments (callcenter.db_connections)."""

import time

import pytest
from django.db import connections


def _lifetimes(max_age: int | None, count: int) -> list[float | None]:
    lifetimes = []
    for _ in range(count):
        wrapper = connections.create_connection("default")
        wrapper.settings_dict = {**wrapper.settings_dict, "CONN_MAX_AGE": max_age}
        opened = time.monotonic()
        wrapper.connect()
        try:
            lifetimes.append(None if wrapper.close_at is None else wrapper.close_at - opened)
        finally:
            wrapper.close()
    return lifetimes


@pytest.mark.django_db
def test_connections_opened_together_expire_between_half_and_all_of_their_maximum_age() -> None:
    lifetimes = _lifetimes(100, 12)

    assert all(lifetime is not None and 50 - 1 <= lifetime <= 100 for lifetime in lifetimes)
    # spread, not in step: twelve uniform draws over 50 s span under 10 s once in millions
    spread = [lifetime for lifetime in lifetimes if lifetime is not None]
    assert max(spread) - min(spread) > 10


@pytest.mark.django_db
@pytest.mark.parametrize(("max_age", "expected"), [(None, None), (0, 0)])
def test_unlimited_and_per_request_connections_are_left_as_configured(
    max_age: int | None, expected: int | None
) -> None:
    (lifetime,) = _lifetimes(max_age, 1)

    assert lifetime is None if expected is None else lifetime == pytest.approx(expected, abs=1)

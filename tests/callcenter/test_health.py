"""The health endpoint reports the database and Redis; the site icon is where browsers ask."""

import pytest
from django.contrib.staticfiles import finders

pytestmark = pytest.mark.django_db


def test_healthz_is_public_and_checks_both_services(client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "redis": "ok"}


def test_healthz_reports_redis_down(client, settings) -> None:
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        }
    }
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["redis"].startswith("error")


def test_favicon_is_public_and_points_at_the_icon_pages_link(client) -> None:
    response = client.get("/favicon.ico")

    # Temporary: a new icon gets a new hashed URL in production, and browsers keep a 301.
    assert response.status_code == 302
    assert response["Location"].endswith("img/favicon.ico")
    assert response["Cache-Control"] == "public, max-age=86400"
    icon = finders.find("img/favicon.ico")
    assert icon
    with open(icon, "rb") as file:
        assert file.read(4) == b"\x00\x00\x01\x00"  # the ICO header: a real icon file
    page = client.get("/accounts/login/").content.decode()
    for name in ("img/favicon.ico", "img/favicon.svg", "img/apple-touch-icon.png"):
        assert name in page
        assert finders.find(name)
    assert 'rel="icon"' in page
    assert 'rel="apple-touch-icon"' in page

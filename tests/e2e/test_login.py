"""Every role logs in through the real login form and lands on a page of its own."""

from collections.abc import Callable
from typing import Any

import pytest

from callcenter.choices import Role
from tests.e2e.conftest import shot


@pytest.mark.parametrize("role", [Role.AGENT, Role.SUPERVISOR, Role.ADMIN])
def test_each_role_logs_in_and_sees_its_navigation(
    logged_in: Callable[..., Any], role: str
) -> None:
    page = logged_in(role)

    nav = page.locator("nav.nav")
    assert nav.get_by_text("Customers").is_visible()
    assert nav.get_by_text("Import").is_visible() == (role != Role.AGENT)
    assert nav.get_by_text("Django admin").is_visible() == (role == Role.ADMIN)
    shot(page, f"home-{role}")


def test_a_user_without_a_role_is_refused_by_the_server(logged_in: Callable[..., Any]) -> None:
    page = logged_in(None)

    response = page.goto("/customers/")

    assert response is not None
    assert response.status == 403


def test_a_wrong_password_keeps_the_visitor_on_the_login_page(
    new_page: Callable[..., Any], e2e_user: Callable[..., Any]
) -> None:
    e2e_user(Role.AGENT, "e2e_wrong")
    page = new_page()
    page.goto("/accounts/login/")
    page.fill("input[name=username]", "e2e_wrong")
    page.fill("input[name=password]", "not-the-password")
    page.click("button[type=submit]")

    assert "/accounts/login/" in page.url
    assert page.locator(".flash-error, .form-error, .errorlist, [role=alert]").count() >= 1

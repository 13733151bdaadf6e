"""Admin area in the browser: settings saved and audited, a new agent logs in, role limits
enforced by the server."""

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from callcenter.choices import Role
from care.models import CareSettings
from tests.e2e.conftest import shot

NEW_PASSWORD = "Agent-Passw0rd-77"


@pytest.fixture
def care_settings_restored(e2e_db: None) -> Iterator[None]:
    """The guardrails row is a singleton the cleanup keeps: put its values back."""
    saved = CareSettings.load()
    try:
        yield
    finally:
        saved.save()


def _token(page: Any) -> str:
    """The CSRF token of the page's forms (the logout form is on every page)."""
    return page.locator("input[name=csrfmiddlewaretoken]").first.input_value()


def test_admin_changes_quiet_hours_and_sees_them_saved_and_audited(
    logged_in: Callable[..., Any], care_settings_restored: None
) -> None:
    page = logged_in(Role.ADMIN, "e2e_manage_admin")
    page.goto("/manage/settings/")
    guardrails = page.locator("#guardrails")

    guardrails.locator("input[name=quiet_start]").fill("22:30")
    guardrails.locator("input[name=frequency_cap]").fill("2")
    guardrails.get_by_role("button", name="Save guardrails").click()

    expect(page.locator(".flash-success")).to_contain_text("Settings saved.")
    expect(page.locator("#guardrails input[name=quiet_start]")).to_have_value("22:30")
    expect(page.locator("#guardrails input[name=frequency_cap]")).to_have_value("2")
    shot(page, "manage-settings")

    # a bad value is refused next to its field and nothing is saved
    guardrails = page.locator("#guardrails")
    guardrails.locator("input[name=frequency_cap]").fill("0")
    guardrails.get_by_role("button", name="Save guardrails").click()
    expect(page.locator("#guardrails .field-error").first).to_be_visible()
    assert CareSettings.load().frequency_cap == 2

    # the RFM grid preview follows the ranges as they are typed
    lost_fm_min = page.locator("input[name='lost-fm_min']")
    lost_fm_min.fill("2")
    expect(page.locator("[data-rfm-grid] td[data-r='1'][data-fm='1']")).to_have_text("?")

    page.goto("/manage/audit/?kind=settings")
    row = page.locator("#audit-table tr[data-action='care_settings.update']").first
    expect(row).to_contain_text("e2e_manage_admin")
    row.locator("summary").click()
    expect(row.locator(".dl")).to_contain_text("quiet_start")
    shot(page, "manage-audit")


def test_admin_creates_an_agent_who_can_then_log_in(
    logged_in: Callable[..., Any], new_page: Callable[..., Any]
) -> None:
    page = logged_in(Role.ADMIN, "e2e_manage_admin2")
    page.goto("/manage/users/new/")
    form = page.locator("#user-create-form")
    form.locator("input[name=username]").fill("e2e_new_agent")
    form.locator("input[name=first_name]").fill("Mei")
    form.locator("select[name=role]").select_option(Role.AGENT)
    form.locator("input[name=password]").fill(NEW_PASSWORD)
    form.locator("input[name=extension]").fill("8765")
    form.get_by_role("button", name="Create user").click()

    expect(page.locator(".flash-success")).to_contain_text("User e2e_new_agent created.")
    expect(page.locator("h1")).to_have_text("e2e_new_agent")
    shot(page, "manage-user-detail")

    page.goto("/manage/users/?q=e2e_")
    expect(page.locator("tr[data-username='e2e_new_agent']")).to_contain_text("8765")
    shot(page, "manage-users")

    agent = new_page()
    agent.goto("/accounts/login/")
    agent.fill("input[name=username]", "e2e_new_agent")
    agent.fill("input[name=password]", NEW_PASSWORD)
    agent.click("button[type=submit]")
    agent.wait_for_url(lambda url: "/accounts/login/" not in url)
    expect(agent.locator(".user-role")).to_have_text("Agent")


@pytest.mark.parametrize("role", [Role.SUPERVISOR, Role.AGENT])
def test_server_refuses_settings_changes_and_users_below_admin(
    logged_in: Callable[..., Any], role: str, care_settings_restored: None
) -> None:
    before = CareSettings.load().quiet_start
    page = logged_in(role, f"e2e_manage_{role}")
    page.goto("/")
    token = _token(page)

    post = page.request.post(
        "/manage/settings/",
        form={"csrfmiddlewaretoken": token, "section": "guardrails", "quiet_start": "23:00"},
    )
    users = page.goto("/manage/users/")

    assert post.status == 403
    assert users is not None
    assert users.status == 403
    assert CareSettings.load().quiet_start == before
    settings = page.goto("/manage/settings/")
    assert settings is not None
    assert settings.status == (200 if role == Role.SUPERVISOR else 403)

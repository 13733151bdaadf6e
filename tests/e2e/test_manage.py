"""Admin area in the browser: settings saved and audited, a new agent logs in, role limits
enforced by the server."""

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from playwright.sync_api import expect
from rest_framework.authtoken.models import Token

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


def test_a_password_reset_ends_the_api_token_and_an_admin_revokes_another(
    logged_in: Callable[..., Any], e2e_user: Callable[..., Any], live_url: str
) -> None:
    # given two integrations calling the API with tokens
    pbx = e2e_user(Role.AGENT, "e2e_token_pbx")
    erp = e2e_user(Role.ADMIN, "e2e_token_erp")
    pbx_token, erp_token = Token.objects.create(user=pbx), Token.objects.create(user=erp)

    def api_status(token: Token) -> int:
        return requests.get(
            f"{live_url}/api/screenpop/",
            params={"phone": "13900000000"},
            headers={"Authorization": f"Token {token.key}"},
            timeout=10,
        ).status_code

    assert (api_status(pbx_token), api_status(erp_token)) == (200, 200)

    # when an admin resets the first one's password on its page
    page = logged_in(Role.ADMIN, "e2e_token_admin")
    page.goto(f"/manage/users/{pbx.pk}/")
    password = page.locator("#password")
    password.locator("input[name=password]").fill(NEW_PASSWORD)
    password.locator("input[name=password_again]").fill(NEW_PASSWORD)
    password.get_by_role("button", name="Set new password").click()
    expect(page.locator(".flash-success")).to_contain_text("Password changed.")

    # then its token is refused at once; the tokens page lists the other one
    assert api_status(pbx_token) in (401, 403)
    page.goto("/manage/users/tokens/")
    expect(page.locator("#token-table tr[data-username=e2e_token_pbx]")).to_have_count(0)
    row = page.locator("#token-table tr[data-username=e2e_token_erp]")
    expect(row).to_be_visible()
    assert erp_token.key not in page.content()
    shot(page, "manage-tokens")

    # and revoking it there ends it too, audited
    row.get_by_role("button", name="Revoke").click()
    expect(page.locator(".flash-success")).to_contain_text("The API token of e2e_token_erp")
    assert api_status(erp_token) in (401, 403)
    page.goto("/manage/audit/?kind=users")
    expect(page.locator("body")).to_contain_text("API token revoked")
    expect(page.locator("body")).to_contain_text("API token ended by a password change")


def test_the_tokens_page_speaks_chinese(
    logged_in: Callable[..., Any], e2e_user: Callable[..., Any]
) -> None:
    Token.objects.create(user=e2e_user(Role.AGENT, "e2e_token_zh"))
    page = logged_in(Role.ADMIN, "e2e_token_admin_zh", locale="zh-CN")

    page.goto("/manage/users/tokens/")

    expect(page.locator("h1")).to_have_text("API 令牌")
    row = page.locator("#token-table tr[data-username=e2e_token_zh]")
    expect(row.get_by_role("button", name="吊销")).to_be_visible()
    shot(page, "manage-tokens-zh")

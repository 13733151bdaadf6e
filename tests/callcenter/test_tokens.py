"""API tokens end with any password change, expire, and admins list and revoke them.

After an admin reset a user's password, the user's API token once kept working."""

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import PasswordChangeForm
from django.contrib.auth.hashers import MD5PasswordHasher, make_password
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from callcenter.choices import Role
from callcenter.models import AuditLog
from tests.callcenter.factories import UserFactory

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "New-pass-9876"


class LegacyMD5PasswordHasher(MD5PasswordHasher):
    """A hasher Django replaces at the next login (a 'stronger' one is preferred)."""

    algorithm = "legacy_md5"


def _token_client(token: Token) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def _pop(client: APIClient) -> Any:
    return client.get(reverse("api-screenpop"), {"phone": "13900000000"})


@pytest.fixture
def agent(make_user: Callable[..., Any]) -> Any:
    user = make_user(Role.AGENT, username="token_agent")
    user.set_password("Old-pass-1234")
    user.save()
    return user


@pytest.fixture
def token(agent: Any) -> Token:
    return Token.objects.create(user=agent)


def _admin_page_reset(agent: Any) -> None:
    client = Client()
    client.force_login(UserFactory(role=Role.ADMIN, username="crm_admin"))
    response = client.post(
        reverse("manage-user", kwargs={"pk": agent.pk}),
        {"action": "password", "password": NEW_PASSWORD, "password_again": NEW_PASSWORD},
    )
    assert response.status_code == 302


def _django_admin_change(agent: Any) -> None:
    client = Client()
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    response = client.post(
        reverse("admin:auth_user_password_change", args=[agent.pk]),
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert response.status_code == 302, response.content


def _changepassword_command(agent: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("getpass.getpass", lambda prompt="": NEW_PASSWORD)
    call_command("changepassword", agent.username, stdout=None)


def _own_change(agent: Any) -> None:
    # The form of Django's own password-change view, filled in by the user.
    form = PasswordChangeForm(
        get_user_model().objects.get(pk=agent.pk),
        {
            "old_password": "Old-pass-1234",
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        },
    )
    assert form.is_valid(), form.errors
    form.save()


@pytest.mark.parametrize(
    "change",
    ["admin_page_reset", "django_admin", "changepassword_command", "own_change"],
)
def test_any_password_change_ends_the_api_token(
    agent: Any, token: Token, change: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = _token_client(token)
    assert _pop(client).status_code == 200

    {
        "admin_page_reset": lambda: _admin_page_reset(agent),
        "django_admin": lambda: _django_admin_change(agent),
        "changepassword_command": lambda: _changepassword_command(agent, monkeypatch),
        "own_change": lambda: _own_change(agent),
    }[change]()

    refused = _pop(client)
    assert refused.status_code in (401, 403)
    assert refused.json()["detail"] == "Invalid token."
    assert not Token.objects.filter(user=agent).exists()
    entry = AuditLog.objects.get(action="token.password_change")
    assert (entry.object_id, entry.data) == (str(agent.pk), {"username": "token_agent"})


def test_a_silent_rehash_at_login_is_no_password_change(
    make_user: Callable[..., Any], settings: Any
) -> None:
    # given a password stored with a hasher Django upgrades at the next login
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.MD5PasswordHasher",
        f"{__name__}.LegacyMD5PasswordHasher",
    ]
    user = make_user(Role.AGENT, username="rehashed")
    get_user_model().objects.filter(pk=user.pk).update(
        password=make_password("Old-pass-1234", hasher="legacy_md5")
    )
    token = Token.objects.create(user=user)

    assert Client().login(username="rehashed", password="Old-pass-1234")

    user.refresh_from_db()
    assert user.password.startswith("md5$")
    assert _pop(_token_client(token)).status_code == 200


def test_saving_a_user_without_a_new_password_keeps_the_token(agent: Any, token: Token) -> None:
    agent.first_name = "Ann"
    agent.save()

    assert _pop(_token_client(token)).status_code == 200


class TestExpiry:
    def test_a_token_works_until_its_ttl_then_answers_401_saying_it_expired(
        self, token: Token, settings: Any
    ) -> None:
        settings.API_TOKEN_TTL_DAYS = 30
        client = _token_client(token)
        issued = token.created

        with time_machine.travel(issued + dt.timedelta(days=30, seconds=-5), tick=False):
            still_valid = _pop(client)
        with time_machine.travel(issued + dt.timedelta(days=30, seconds=1), tick=False):
            expired = _pop(client)

        assert still_valid.status_code == 200
        assert expired.status_code == 401
        assert expired["WWW-Authenticate"] == "Token"
        assert expired.json()["detail"].startswith("This API token expired on ")
        assert "ask an admin for a new one" in expired.json()["detail"]

    def test_expiry_costs_no_extra_query(
        self, token: Token, django_assert_num_queries: Any
    ) -> None:
        # The token with its user and roles (1), the owner lookup of an unknown number (1).
        with django_assert_num_queries(2):
            assert _pop(_token_client(token)).status_code == 200


class TestAdminsListAndRevoke:
    @pytest.fixture
    def admin_client(self, make_user: Callable[..., Any]) -> Client:
        client = Client()
        client.force_login(make_user(Role.ADMIN, username="crm_admin"))
        return client

    def test_the_page_lists_tokens_with_their_expiry_never_their_keys(
        self, admin_client: Client, token: Token, settings: Any
    ) -> None:
        settings.API_TOKEN_TTL_DAYS = 30
        old = Token.objects.create(user=UserFactory(role=Role.ADMIN, username="old_erp"))
        Token.objects.filter(pk=old.pk).update(created=timezone.now() - dt.timedelta(days=31))

        page = admin_client.get(reverse("manage-tokens"))

        html = page.content.decode()
        assert page.status_code == 200
        assert 'data-username="token_agent"' in html
        assert 'data-username="old_erp"' in html
        assert "Expired" in html
        assert token.key not in html
        assert old.key not in html

    def test_the_page_is_in_chinese_too(self, admin_client: Client, token: Token) -> None:
        page = admin_client.get(reverse("manage-tokens"), HTTP_ACCEPT_LANGUAGE="zh-hans")

        html = page.content.decode()
        assert "API 令牌" in html
        assert "吊销" in html

    def test_the_page_costs_the_same_queries_for_more_tokens(
        self, admin_client: Client, token: Token
    ) -> None:
        admin_client.get(reverse("manage-tokens"))
        with CaptureQueriesContext(connection) as few:
            admin_client.get(reverse("manage-tokens"))
        for index in range(5):
            Token.objects.create(user=UserFactory(role=Role.AGENT, username=f"more{index}"))
        with CaptureQueriesContext(connection) as many:
            admin_client.get(reverse("manage-tokens"))

        assert len(many) == len(few)

    def test_revoking_ends_the_token_and_is_audited(
        self, admin_client: Client, agent: Any, token: Token
    ) -> None:
        response = admin_client.post(reverse("manage-token-revoke", kwargs={"pk": agent.pk}))
        again = admin_client.post(reverse("manage-token-revoke", kwargs={"pk": agent.pk}))

        assert response.status_code == 302
        assert again.status_code == 302
        assert _pop(_token_client(token)).json()["detail"] == "Invalid token."
        entry = AuditLog.objects.get(action="token.revoke")
        assert entry.actor.username == "crm_admin"
        assert entry.object_id == str(agent.pk)

    def test_a_get_revokes_nothing(self, admin_client: Client, agent: Any, token: Token) -> None:
        response = admin_client.get(reverse("manage-token-revoke", kwargs={"pk": agent.pk}))

        assert response.status_code == 405
        assert Token.objects.filter(user=agent).exists()

    def test_the_api_lists_and_revokes(
        self, make_user: Callable[..., Any], agent: Any, token: Token
    ) -> None:
        client = APIClient()
        client.force_authenticate(make_user(Role.ADMIN, username="api_admin"))

        listed = client.get(reverse("api-tokens"))
        revoked = client.delete(reverse("api-token", kwargs={"pk": agent.pk}))
        again = client.delete(reverse("api-token", kwargs={"pk": agent.pk}))

        assert listed.status_code == 200
        (row,) = listed.json()["results"]
        assert row["username"] == "token_agent"
        assert row["role"] == Role.AGENT
        assert row["expired"] is False
        assert token.key not in str(listed.json())
        assert revoked.status_code == 204
        assert again.status_code == 404
        assert AuditLog.objects.filter(action="token.revoke", object_id=str(agent.pk)).exists()

    @pytest.mark.parametrize("role", [Role.AGENT, Role.SUPERVISOR])
    def test_other_roles_may_not_revoke(
        self, make_user: Callable[..., Any], agent: Any, token: Token, role: str
    ) -> None:
        client = APIClient()
        client.force_authenticate(make_user(role, username="someone"))

        assert client.delete(reverse("api-token", kwargs={"pk": agent.pk})).status_code == 403
        assert Token.objects.filter(user=agent).exists()

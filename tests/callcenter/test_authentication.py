"""API tokens: one query brings the token, the user and its roles; nothing outlives a request.

A refused token answers 403 with DRF's message: the session scheme comes first in
DEFAULT_AUTHENTICATION_CLASSES, and DRF answers 401 only when the first scheme names a
WWW-Authenticate challenge (the session scheme has none).
"""

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from callcenter.choices import Role

pytestmark = pytest.mark.django_db


def _client(token: Token | str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {getattr(token, 'key', token)}")
    return client


def _pop(client: APIClient) -> Any:
    return client.get(reverse("api-screenpop"), {"phone": "13900000000"})


@pytest.fixture
def agent_token(make_user: Callable[..., Any]) -> Token:
    return Token.objects.create(user=make_user(Role.AGENT, username="token_agent"))


def test_a_token_authenticates_and_loads_the_roles_in_one_query(
    agent_token: Token, django_assert_num_queries: Any
) -> None:
    # The token with its user and roles (1), the owner lookup of an unknown number (1); the
    # view is outside ATOMIC_REQUESTS.
    with django_assert_num_queries(2):
        response = _pop(_client(agent_token))

    assert response.status_code == 200
    assert response.json()["known"] is False


@pytest.mark.parametrize("key", ["0" * 40, "not-a-token", "x"])
def test_an_unknown_token_is_refused(agent_token: Token, key: str) -> None:
    response = _pop(_client(key))

    assert response.status_code == 403
    assert response.json()["detail"] == "Invalid token."


def test_an_inactive_user_is_refused(agent_token: Token) -> None:
    agent_token.user.is_active = False
    agent_token.user.save()

    response = _pop(_client(agent_token))

    assert response.status_code == 403
    assert response.json()["detail"] == "User inactive or deleted."


def test_a_deleted_token_or_a_lost_role_counts_from_the_next_request(agent_token: Token) -> None:
    client = _client(agent_token)
    assert _pop(client).status_code == 200

    agent_token.user.groups.clear()
    assert _pop(client).json()["detail"] == "Your role does not allow this."

    agent_token.delete()
    assert _pop(client).json()["detail"] == "Invalid token."


def test_only_role_groups_count_and_superusers_hold_every_role(
    make_user: Callable[..., Any],
) -> None:
    outsider = make_user(None, username="outsider")
    outsider.groups.add(Group.objects.create(name="newsletter"))
    assert _pop(_client(Token.objects.create(user=outsider))).status_code == 403

    root = make_user(None, username="root", is_superuser=True)
    assert _pop(_client(Token.objects.create(user=root))).status_code == 200


def test_the_user_is_a_full_model_instance(agent_token: Token) -> None:
    from callcenter.authentication import TokenWithRolesAuthentication

    user, token = TokenWithRolesAuthentication().authenticate_credentials(agent_token.key)

    assert user.pk == agent_token.user.pk
    assert user.username == "token_agent"
    assert user.check_password("x") is False
    assert user._state.adding is False
    assert token.key == agent_token.key
    assert token.user is user
    assert user._role_names == frozenset({Role.AGENT})

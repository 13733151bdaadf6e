"""Shared fixtures: users for each role and API clients logged in as them."""

from collections.abc import Callable

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from callcenter.choices import Role
from tests.callcenter.factories import UserFactory


@pytest.fixture(autouse=True)
def _clear_cache() -> None:
    """Tests share one real Redis; start each with an empty cache."""
    cache.clear()


@pytest.fixture
def make_user(db: None) -> Callable[..., object]:
    def _make(role: str | None = None, **kwargs: object) -> object:
        return UserFactory(role=role, **kwargs)

    return _make


@pytest.fixture
def agent_user(make_user: Callable[..., object]) -> object:
    return make_user(Role.AGENT, username="agent1")


@pytest.fixture
def supervisor_user(make_user: Callable[..., object]) -> object:
    return make_user(Role.SUPERVISOR, username="supervisor")


@pytest.fixture
def crm_admin_user(make_user: Callable[..., object]) -> object:
    return make_user(Role.ADMIN, username="crm_admin")


@pytest.fixture
def role_user(request: pytest.FixtureRequest, make_user: Callable[..., object]) -> object | None:
    """Parametrize indirectly with a role name, or None for an anonymous caller."""
    role = request.param
    return make_user(role, username=f"{role}_user") if role else None


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def api_as(api_client: APIClient) -> Callable[[object | None], APIClient]:
    """Return an API client authenticated as the given user (or anonymous for None)."""

    def _as(user: object | None) -> APIClient:
        if user is not None:
            api_client.force_authenticate(user)
        return api_client

    return _as

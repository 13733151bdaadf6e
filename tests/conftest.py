"""Shared fixtures: users for each role, API clients logged in as them, and committed database
access for tests that share data with other processes."""

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from celery.result import _set_task_join_will_block
from django.core.cache import cache
from django.db import IntegrityError, connection, transaction
from django.db.models import Max, ProtectedError
from django.utils import translation
from rest_framework.test import APIClient

from callcenter.choices import Role
from tests.callcenter.factories import UserFactory


@pytest.fixture(autouse=True)
def _clear_cache() -> None:
    """Tests share one real Redis; start each with an empty cache."""
    cache.clear()


@pytest.fixture(autouse=True)
def _celery_join_allowed() -> None:
    """Eager tasks (the test settings) mark "inside a task" in a flag Celery keeps per process,
    set and restored around each one. Two threads of one test running eager tasks at once
    (simultaneous ticket openings, each enqueuing after its commit) can restore it in the
    wrong order and leave it set, and a later worker test's `result.get()` then refuses to
    wait ("Never call result.get() within a task"). No test starts inside a task."""
    _set_task_join_will_block(False)


@pytest.fixture(autouse=True)
def _default_language() -> Iterator[None]:
    """A request through the test client leaves its language active in the thread (the locale
    middleware activates it and nothing deactivates it after the response), so a test after a
    Chinese request would see Chinese messages. Each test starts and ends in the default."""
    translation.deactivate()
    yield
    translation.deactivate()


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


# Apps whose rows a committed test may add; cleaned up afterwards.
_CLEANED_APPS = (
    "callcenter",
    "segments",
    "care",
    "outreach",
    "service",
    "auth",
    "authtoken",
    "axes",
)


def _integer_pk_models() -> list[Any]:
    from django.apps import apps

    models = []
    for label in _CLEANED_APPS:
        for model in apps.get_app_config(label).get_models():
            if model._meta.pk.get_internal_type() in ("AutoField", "BigAutoField"):
                models.append(model)
    return models


def _delete_added(marks: dict[Any, int]) -> None:
    """Delete rows above the marks; repeat while protected references hold some back."""
    pending = dict(marks)
    for _ in range(len(pending) + 1):
        if not pending:
            return
        for model, mark in list(pending.items()):
            try:
                with transaction.atomic():
                    model.objects.filter(pk__gt=mark).delete()
                del pending[model]
            except (ProtectedError, IntegrityError):
                continue
    raise AssertionError(f"could not clean up rows of {sorted(m.__name__ for m in pending)}")


@pytest.fixture(scope="session")
def committed_database(
    request: pytest.FixtureRequest, django_db_setup: None, django_db_blocker: Any
) -> Iterator[None]:
    from django.test.utils import setup_databases

    with django_db_blocker.unblock():
        if not connection.settings_dict["NAME"].startswith("test_"):
            # pytest-django sets up the test database only when a collected test is marked
            # for the database; when only committed tests run, do it here (kept, as with
            # --reuse-db, unless --create-db asks for a fresh one).
            keep = not request.config.getoption("create_db")
            setup_databases(verbosity=0, interactive=False, keepdb=keep, aliases={"default"})
        assert connection.settings_dict["NAME"].startswith("test_")
        yield


@pytest.fixture
def committed_rows(committed_database: None, django_db_blocker: Any) -> Iterator[None]:
    """Database access with real commits, visible to other connections and processes (a
    live server, Celery workers). Unlike `transactional_db` nothing is flushed (which would
    also wipe the rows data migrations installed); the rows the test added are deleted after
    it. A test that changes a singleton settings row puts it back itself."""
    with django_db_blocker.unblock():
        models = _integer_pk_models()
        marks = {m: m.objects.aggregate(top=Max("pk"))["top"] or 0 for m in models}
        try:
            yield
        finally:
            connection.close()  # a test may have broken it on purpose
            _delete_added(marks)
            connection.close()

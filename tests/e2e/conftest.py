"""Browser tests: the app served from a live server on the test database, a real Celery
worker, and Debian's headless Chromium driven by Playwright.

Rows are committed (the server thread, the worker and the test all have their own database
connections) and the rows a test added are deleted afterwards. Unlike `transactional_db`
nothing is flushed, so the rows data migrations installed (roles, built-in segments,
schedules) stay. A test that changes a singleton settings row puts it back itself.

Screenshots go to `test-artifacts/screenshots/` (see `shot`).
"""

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Max, ProtectedError

from callcenter import celery_app
from tests.callcenter.factories import UserFactory

# Playwright's sync API runs an event loop in this thread; the ORM calls the tests make
# between browser steps are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

PASSWORD = "e2e-Passw0rd!"
ARTIFACTS = Path(django_settings.BASE_DIR) / "test-artifacts" / "screenshots"
WORKER_START_TIMEOUT = 90
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Apps whose rows a browser test may add; cleaned up afterwards.
_CLEANED_APPS = ("callcenter", "segments", "care", "outreach", "auth", "authtoken", "axes")


def chromium_path() -> str:
    path = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium")
    if not path:
        pytest.fail("Chromium is not installed: apt-get install chromium (see .ci/run)")
    return path


def database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


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
def _e2e_database(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    from django.test.utils import setup_databases

    with django_db_blocker.unblock():
        if not connection.settings_dict["NAME"].startswith("test_"):
            # pytest-django sets up the test database only when a collected test is marked
            # for the database; when only browser tests run, do it here (kept, as with
            # --reuse-db).
            setup_databases(verbosity=0, interactive=False, keepdb=True, aliases={"default"})
        assert connection.settings_dict["NAME"].startswith("test_")
        yield


@pytest.fixture
def e2e_db(_e2e_database: None, django_db_blocker: Any) -> Iterator[None]:
    """Committed database access for the test; the rows it added are deleted afterwards."""
    with django_db_blocker.unblock():
        models = _integer_pk_models()
        marks = {m: m.objects.aggregate(top=Max("pk"))["top"] or 0 for m in models}
        try:
            yield
        finally:
            _delete_added(marks)
            connection.close()


@pytest.fixture(scope="session")
def live_url(_e2e_database: None) -> Iterator[str]:
    """The app served by Django's threaded live server (with static files) on a free port."""
    from django.contrib.staticfiles.handlers import StaticFilesHandler
    from django.test.testcases import LiveServerThread

    thread = LiveServerThread("127.0.0.1", StaticFilesHandler, port=0)
    thread.daemon = True
    thread.start()
    thread.is_ready.wait()
    if thread.error:
        raise thread.error
    url = f"http://127.0.0.1:{thread.port}"
    # The first request imports views and compiles templates: on a loaded machine that can
    # outlast a browser step's timeout, so it is paid here, once.
    for path in ("/healthz", "/accounts/login/"):
        with urllib.request.urlopen(url + path, timeout=120) as response:  # noqa: S310
            response.read()
    try:
        yield url
    finally:
        thread.terminate()


@pytest.fixture(scope="session")
def celery_worker_process(_e2e_database: None, tmp_path_factory: Any) -> Iterator[str]:
    """A real `celery worker` on every queue, pointed at the test database. While it runs,
    tasks the live server sends go through Redis to it instead of running eagerly."""
    hostname = f"e2e-{os.getpid()}@localhost"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "callcenter.settings.test",
        "DATABASE_URL": database_url(),
        "REDIS_URL": django_settings.REDIS_URL,
        "CELERY_BROKER_URL": django_settings.CELERY_BROKER_URL,
        "CELERY_RESULT_BACKEND": django_settings.CELERY_RESULT_BACKEND,
        "DB_CONN_MAX_AGE": "0",
    }
    queues = "default,segments,outreach"
    with celery_app.connection_for_write() as conn:
        for queue in queues.split(","):
            conn.default_channel.queue_purge(queue)
    log_path = tmp_path_factory.mktemp("worker") / "worker.log"
    log = log_path.open("w")
    command = [sys.executable, "-m", "celery", "-A", "callcenter", "worker", "-Q", queues]
    command += ["--pool", "threads", "--concurrency", "2", "--loglevel", "info"]
    command += ["--without-gossip", "--without-mingle", "--hostname", hostname]
    process = subprocess.Popen(
        command,
        env=env,
        cwd=django_settings.BASE_DIR,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + WORKER_START_TIMEOUT
        while not celery_app.control.ping(destination=[hostname], timeout=1):
            assert process.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, "the worker did not start:\n" + log_path.read_text()
        yield hostname
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


@pytest.fixture
def real_worker(celery_worker_process: str) -> Iterator[str]:
    """Send tasks to the real worker for the duration of the test."""
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    try:
        yield celery_worker_process
    finally:
        celery_app.conf.task_always_eager = eager


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def new_page(browser: Any, live_url: str, e2e_db: None) -> Iterator[Callable[..., Any]]:
    """Open a page in a fresh browser context (own cookies); `locale` sets the browser
    language. Every context is closed after the test."""
    contexts: list[Any] = []

    def _open(*, locale: str = "en-US") -> Any:
        context = browser.new_context(
            base_url=live_url,
            locale=locale,
            timezone_id=django_settings.TIME_ZONE,
            viewport={"width": 1440, "height": 900},
        )
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    try:
        yield _open
    finally:
        for context in contexts:
            context.close()


@pytest.fixture
def e2e_user(e2e_db: None) -> Callable[..., Any]:
    """Create a user with a role and the shared test password."""

    def _make(role: str | None, username: str, **kwargs: Any) -> Any:
        return UserFactory(role=role, username=username, password=PASSWORD, **kwargs)

    return _make


@pytest.fixture
def logged_in(new_page: Callable[..., Any], e2e_user: Callable[..., Any]) -> Callable[..., Any]:
    """A page logged in through the login form as a new user with `role`."""

    def _login(role: str | None, username: str | None = None, *, locale: str = "en-US") -> Any:
        user = e2e_user(role, username or f"e2e_{role or 'norole'}")
        page = new_page(locale=locale)
        page.goto("/accounts/login/")
        page.fill("input[name=username]", user.username)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(lambda url: "/accounts/login/" not in url)
        page.user = user
        return page

    return _login


def shot(page: Any, name: str) -> Path:
    """Save a full-page screenshot as a test artifact and return its path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path

"""Browser tests: the app served from a live server on the test database, a real Celery
worker, and Debian's headless Chromium driven by Playwright.

Rows are committed (the server thread, the worker and the test all have their own database
connections) and the rows a test added are deleted afterwards. Unlike `transactional_db`
nothing is flushed, so the rows data migrations installed (roles, built-in segments,
schedules) stay. A test that changes a singleton settings row puts it back itself.

Screenshots go to `test-artifacts/screenshots/` (see `shot`); a test that tells a story step by
step writes them to a folder of its own (`shot(..., folder=...)`, e.g. the first hour's
`test-artifacts/first-hour/<language>/`).
"""

import os
import shutil
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from playwright.sync_api import expect

from callcenter import celery_app
from tests.callcenter.factories import UserFactory
from tests.workers import celery_worker, purge

# Playwright's sync API runs an event loop in this thread; the ORM calls the tests make
# between browser steps are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

# How long a browser action (ACTION_TIMEOUT_MS) and an `expect` (EXPECT_TIMEOUT_MS, Playwright's
# default is 5 s) wait. Each step usually takes well under a second, but the suite must pass on
# a shared machine twice as slow as a quiet one, where one request can take several seconds.
# Waiting longer costs nothing when the page is right; a step that waits on real background
# work (a refresh, a live stream) sets its own, longer timeout.
ACTION_TIMEOUT_MS = 30_000
EXPECT_TIMEOUT_MS = 20_000
expect.set_options(timeout=EXPECT_TIMEOUT_MS)

PASSWORD = "e2e-Passw0rd!"
WORKER_QUEUES = "default,segments,outreach"
ARTIFACTS = Path(django_settings.BASE_DIR) / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_path() -> str:
    path = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium")
    if not path:
        pytest.fail("Chromium is not installed: apt-get install chromium (see .ci/run)")
    return path


@pytest.fixture
def e2e_db(committed_rows: None) -> None:
    """Committed database access for the test; the rows it added are deleted afterwards."""


@pytest.fixture(scope="session")
def live_url(committed_database: None) -> Iterator[str]:
    """The app as `make run` serves it (`callcenter.asgi.front`: pages by the WSGI application
    in threads, with static files; the desk's live stream by the async view), under uvicorn
    in a thread of this process, on a free port."""
    import socket
    import threading

    import uvicorn
    from django.contrib.staticfiles.handlers import StaticFilesHandler
    from django.core.handlers.wsgi import WSGIHandler

    from callcenter.asgi import front

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    # On shutdown the open desk streams are cancelled after a second, so they unregister from
    # Redis (a later run's users have the same ids).
    config = uvicorn.Config(
        front(StaticFilesHandler(WSGIHandler())),
        lifespan="on",
        access_log=False,
        log_level="warning",
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive(), "uvicorn stopped"
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    # The first request imports views and compiles templates: on a loaded machine that can
    # outlast a browser step's timeout, so it is paid here, once.
    for path in ("/healthz", "/accounts/login/"):
        with urllib.request.urlopen(url + path, timeout=120) as response:  # noqa: S310
            response.read()
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture(scope="module")
def celery_worker_process(committed_database: None, tmp_path_factory: Any) -> Iterator[str]:
    """A real `celery worker` on every queue, pointed at the test database. While it runs,
    tasks the live server sends go through Redis to it instead of running eagerly. It stops
    after the module: left running, it would take other tests' tasks from the same queues."""
    hostname = f"e2e-{os.getpid()}@localhost"
    purge(WORKER_QUEUES)
    log_path = tmp_path_factory.mktemp("worker") / "worker.log"
    with celery_worker(
        hostname, queues=WORKER_QUEUES, log_path=log_path, pool="threads", concurrency=2
    ):
        yield hostname


@pytest.fixture
def real_worker(celery_worker_process: str) -> Iterator[str]:
    """Send tasks to the real worker for the duration of the test."""
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    try:
        yield celery_worker_process
    finally:
        celery_app.conf.task_always_eager = eager
        _drain(celery_worker_process)


def _drain(hostname: str, timeout: float = 120) -> None:
    """Drop the tasks the test left queued and wait for the worker to finish the one it runs,
    before the test's rows are cleaned up (a background churn training would otherwise write
    after the clean-up, into later tests)."""
    purge(WORKER_QUEUES)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        inspect = celery_app.control.inspect(destination=[hostname], timeout=1)
        busy = [*((inspect.active() or {}).get(hostname) or [])]
        busy += (inspect.reserved() or {}).get(hostname) or []
        if not busy:
            return
        time.sleep(0.5)


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
        context.set_default_timeout(ACTION_TIMEOUT_MS)
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


def shot(page: Any, name: str, *, folder: Path = ARTIFACTS) -> Path:
    """Save a full-page screenshot as a test artifact (in `folder`) and return its path.
    Animations are finished first: a card popping in is shown as it lands, not half faded."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=True, animations="disabled")
    return path

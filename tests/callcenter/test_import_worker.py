"""Integration: a large upload through the API goes to a real Celery worker process through
Redis; while the worker reads the file the API shows its live progress, then the result; a bad
file imports nothing and lists every bad line. The stored file is read by the worker from the
upload folder both processes share, and removed afterwards.

Rows are committed (the worker has its own database connection) and deleted afterwards by the
`committed_rows` fixture.
"""

import io
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from callcenter import celery_app
from callcenter.choices import ImportStatus, Role
from callcenter.models import ImportRun, Order
from callcenter.services.imports import csv_import
from tests.callcenter.factories import UserFactory
from tests.workers import celery_worker, purge

# Once the worker answers a ping, an import of ORDERS rows must end within this.
IMPORT_TIMEOUT = 120
ORDERS = 150_000
CUSTOMERS = 500
ORDER_HEADER = "external_id,customer_external_id,placed_at,amount,currency,category,channel,status"


@pytest.fixture
def upload_dir(tmp_path: Path, settings: Any) -> Path:
    settings.IMPORT_UPLOAD_DIR = tmp_path / "imports"
    return settings.IMPORT_UPLOAD_DIR


@pytest.fixture
def worker(committed_rows: None, tmp_path: Path, upload_dir: Path) -> Iterator[str]:
    """A `celery worker` on the default queue, reading uploads from the same folder."""
    purge("default")
    hostname = f"import-test-{os.getpid()}@localhost"
    with celery_worker(
        hostname,
        queues="default",
        log_path=tmp_path / "worker.log",
        env={"IMPORT_UPLOAD_DIR": str(upload_dir)},
    ):
        yield hostname


@pytest.fixture
def supervisor_api(committed_rows: None) -> APIClient:
    client = APIClient()
    client.force_authenticate(UserFactory(role=Role.SUPERVISOR, username=f"imp-{os.getpid()}"))
    return client


@pytest.fixture
def send_to_worker() -> Iterator[None]:
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    try:
        yield
    finally:
        celery_app.conf.task_always_eager = eager


def _customers() -> None:
    rows = "".join(f"WK{n},Worker customer {n}\n" for n in range(CUSTOMERS))
    run = csv_import(
        kind="customers",
        file=io.BytesIO(f"external_id,name\n{rows}".encode()),
        file_name="customers.csv",
        announce=False,
    )
    assert run.status == ImportStatus.SUCCEEDED, run.errors


def _orders(count: int, *bad: str) -> bytes:
    rows = "".join(
        f"WO{n},WK{n % CUSTOMERS},2024-01-01 10:00,{n % 997}.50,CNY,home,web,paid\n"
        for n in range(count)
    )
    return (ORDER_HEADER + "\n" + rows + "".join(f"{line}\n" for line in bad)).encode()


def _follow(client: APIClient, url: str) -> list[dict[str, Any]]:
    """Poll a run until it ends; every distinct state seen on the way."""
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + IMPORT_TIMEOUT
    while time.monotonic() < deadline:
        body = client.get(url).json()
        state = {"status": body["status"], **body["progress"]}
        if not seen or seen[-1] != state:
            seen.append(state)
        if body["status"] not in ("queued", "running"):
            return seen
        time.sleep(0.05)
    raise AssertionError(f"the import did not end within {IMPORT_TIMEOUT} s: {seen[-5:]}")


def test_a_large_upload_is_imported_by_a_worker_with_live_progress(
    worker: str, supervisor_api: APIClient, upload_dir: Path, send_to_worker: None, settings: Any
) -> None:
    # given: customers, and a file of orders far above the synchronous limit
    settings.IMPORT_SYNC_MAX_KB = 64
    _customers()
    content = _orders(ORDERS)

    # when
    response = supervisor_api.post(
        "/api/imports/",
        {"kind": "orders", "file": SimpleUploadedFile("orders.csv", content), "no_events": "true"},
        format="multipart",
    )

    # then: answered at once; the worker's progress is visible while it reads the file
    assert response.status_code == 202, response.content
    seen = _follow(supervisor_api, response["Location"])
    running = [state for state in seen if state["status"] == "running"]
    assert any(state["phase"] == "reading" and 0 < state["percent"] < 80 for state in running), seen
    # How many of the read states a poller catches depends on the machine's load; that rows
    # are counted while reading is checked without timing (test_import_background).
    percents = [state["percent"] for state in seen]
    assert percents == sorted(percents)
    rows = [state["rows"] for state in seen]
    assert rows == sorted(rows)
    assert seen[-1] == {"status": "succeeded", "phase": "done", "percent": 100, "rows": ORDERS}
    run = ImportRun.objects.get(pk=response.json()["id"])
    assert (run.created, run.updated) == (ORDERS, 0)
    assert Order.objects.filter(external_id__startswith="WO").count() == ORDERS
    assert list(upload_dir.iterdir()) == []


def test_a_bad_large_upload_imports_nothing_and_lists_every_bad_line(
    worker: str, supervisor_api: APIClient, upload_dir: Path, send_to_worker: None, settings: Any
) -> None:
    settings.IMPORT_SYNC_MAX_KB = 64
    _customers()
    content = _orders(20_000, "WX1,WK1,2024-13-01,1,,,,", "WX2,NOPE,2024-01-01,１２.5,,,,")

    response = supervisor_api.post(
        "/api/imports/",
        {"kind": "orders", "file": SimpleUploadedFile("orders.csv", content)},
        format="multipart",
    )

    assert response.status_code == 202, response.content
    seen = _follow(supervisor_api, response["Location"])
    assert seen[-1]["status"] == "rejected"
    detail = supervisor_api.get(response["Location"]).json()
    assert detail["errors"] == [
        'line 20002: placed_at: "2024-13-01" is not a date or time '
        "(use YYYY-MM-DD or YYYY-MM-DD HH:MM[:SS][+08:00])",
        'line 20003: customer_external_id: unknown customer "NOPE"',
    ]
    assert not Order.objects.filter(external_id__startswith="WO").exists()
    assert list(upload_dir.iterdir()) == []

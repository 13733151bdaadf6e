"""Background imports, with the task run eagerly after commit: a large upload is stored and
queued, a worker imports it all or nothing with live progress, the page and the API follow it,
the stored file is removed, and running a task twice (or after a dead worker) is safe.
The same through a real worker process: tests/callcenter/test_import_worker.py."""

import io
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from callcenter.choices import ImportStatus
from callcenter.models import AuditLog, Customer, ImportRun, Order
from callcenter.services.imports import (
    IMPORT_KINDS,
    background,
    import_progress,
    import_run_execute,
    import_runs_in_background,
    import_upload,
    staging,
)
from callcenter.services.imports import run as run_module
from callcenter.services.imports.base import ImportContext
from callcenter.services.imports.run import ImportProgress, import_file, progress_key
from tests.callcenter.factories import CustomerFactory

pytestmark = pytest.mark.django_db

ORDER_HEADER = "external_id,customer_external_id,placed_at,amount,currency,category,channel,status"


def _orders(count: int, *bad: str) -> bytes:
    rows = "".join(f"O{n},C1,2024-01-01,10,,,,\n" for n in range(count))
    return (ORDER_HEADER + "\n" + rows + "".join(f"{line}\n" for line in bad)).encode()


@pytest.fixture(autouse=True)
def upload_dir(settings: Any, tmp_path: Path) -> Path:
    """Uploads go to a folder of the test; files above 1 KB are imported in the background."""
    settings.IMPORT_UPLOAD_DIR = tmp_path / "imports"
    settings.IMPORT_SYNC_MAX_KB = 1
    return settings.IMPORT_UPLOAD_DIR


@pytest.fixture
def c1() -> Customer:
    return CustomerFactory(external_id="C1", name="王芳")


def _stored(upload_dir: Path) -> list[str]:
    return sorted(path.name for path in upload_dir.glob("*")) if upload_dir.exists() else []


def test_small_uploads_are_imported_at_once_and_larger_ones_in_the_background() -> None:
    assert not import_runs_in_background(size=1024)
    assert import_runs_in_background(size=1025)


def test_api_queues_a_large_file_and_the_worker_imports_it(
    api_as: Callable[[object | None], APIClient],
    supervisor_user: object,
    c1: Customer,
    upload_dir: Path,
    django_capture_on_commit_callbacks: Any,
) -> None:
    client = api_as(supervisor_user)
    upload = SimpleUploadedFile("orders.csv", _orders(200), content_type="text/csv")

    # when: the upload is answered before anything is imported
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post("/api/imports/", {"kind": "orders", "file": upload})

    # then: 202, the run queued with its URL, the file stored for the worker
    assert response.status_code == 202, response.content
    body = response.json()
    assert (body["status"], body["progress"]["phase"]) == ("queued", "queued")
    assert body["size"] == len(_orders(200))
    assert response["Location"] == f"/api/imports/{body['id']}/"
    assert len(_stored(upload_dir)) == 1
    assert not Order.objects.exists()

    # when: the task runs after commit
    for callback in callbacks:
        callback()

    # then: imported, the stored file removed, the outcome readable through the API
    detail = client.get(response["Location"]).json()
    assert (detail["status"], detail["rows"], detail["created"]) == ("succeeded", 200, 200)
    assert detail["progress"] == {"phase": "done", "percent": 100, "rows": 200}
    assert detail["finished_at"] is not None
    assert Order.objects.count() == 200
    assert _stored(upload_dir) == []
    run = ImportRun.objects.get()
    assert run.stored_file == ""
    assert AuditLog.objects.get(action="import.run").actor == supervisor_user


def test_a_bad_large_file_imports_nothing_and_lists_every_bad_line(
    api_as: Callable[[object | None], APIClient],
    supervisor_user: object,
    c1: Customer,
    upload_dir: Path,
    django_capture_on_commit_callbacks: Any,
) -> None:
    content = _orders(200, "X1,C1,2024-13-01,10,,,,", "X2,C404,2024-01-01,-1,,,,")
    upload = SimpleUploadedFile("orders.csv", content, content_type="text/csv")

    with django_capture_on_commit_callbacks(execute=True):
        response = api_as(supervisor_user).post("/api/imports/", {"kind": "orders", "file": upload})

    run = ImportRun.objects.get(pk=response.json()["id"])
    assert run.status == ImportStatus.REJECTED
    assert run.errors == [
        'line 202: placed_at: "2024-13-01" is not a date or time '
        "(use YYYY-MM-DD or YYYY-MM-DD HH:MM[:SS][+08:00])",
        'line 203: amount: "-1" is negative; customer_external_id: unknown customer "C404"',
    ]
    assert run.rows == 202
    assert not Order.objects.exists()
    assert _stored(upload_dir) == []


def test_error_lines_are_in_the_language_of_who_uploaded_the_file(
    api_as: Callable[[object | None], APIClient],
    supervisor_user: object,
    c1: Customer,
    django_capture_on_commit_callbacks: Any,
) -> None:
    upload = SimpleUploadedFile("orders.csv", _orders(200, "X1,C1,2024-01-01,-1,,,,"))

    with django_capture_on_commit_callbacks(execute=True):
        response = api_as(supervisor_user).post(
            "/api/imports/",
            {"kind": "orders", "file": upload},
            HTTP_ACCEPT_LANGUAGE="zh-hans",
        )

    run = ImportRun.objects.get(pk=response.json()["id"])
    assert run.language == "zh-hans"
    assert run.errors == ["第 202 行：amount: “-1”是负数"]


def test_the_page_shows_a_background_import_then_its_result(
    client: Any,
    supervisor_user: object,
    c1: Customer,
    django_capture_on_commit_callbacks: Any,
) -> None:
    client.force_login(supervisor_user)
    upload = SimpleUploadedFile("orders.csv", _orders(200), content_type="text/csv")

    with django_capture_on_commit_callbacks() as callbacks:
        posted = client.post("/import/", {"kind": "orders", "file": upload})

    run = ImportRun.objects.get()
    assert posted.status_code == 302
    assert posted["Location"] == f"/import/?run={run.pk}"

    page = client.get(posted["Location"]).content.decode()
    partial_url = reverse("import-run", args=[run.pk])
    assert f'hx-get="{partial_url}"' in page
    assert "Waiting for a worker" in page
    assert 'data-testid="import-progress"' in page

    # while the worker reads the file, the fragment the page polls shows phase, percent, rows
    ImportProgress(run.pk, size=1000).reading(500, 97)
    reading = client.get(partial_url).content.decode()
    assert "Reading and checking rows" in reading
    assert 'value="40"' in reading
    assert "97 rows read so far." in reading
    assert "hx-get" in reading

    for callback in callbacks:
        callback()

    done = client.get(partial_url).content.decode()
    assert "Imported Orders from orders.csv." in done
    assert "hx-get" not in done.split('id="import-history"')[0]  # polling stops
    assert 'id="import-history" hx-swap-oob="true"' in done  # the list of runs is refreshed
    assert Order.objects.count() == 200


def test_a_worker_publishes_phases_and_the_share_of_the_file_read(
    c1: Customer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: progress published after every 4 KB read, without waiting between reports
    monkeypatch.setattr(staging, "PROGRESS_READ_BYTES", 4096)
    monkeypatch.setattr(run_module, "PROGRESS_INTERVAL_SECONDS", 0)
    published: list[dict[str, Any]] = []

    class Recorded(ImportProgress):
        def _publish(self, phase: str, percent: int, rows: int) -> None:
            super()._publish(phase, percent, rows)
            published.append(cache.get(progress_key(self.run_id)))

    content = _orders(2000)
    ctx = ImportContext(now=timezone.now(), user_id=None, file_name="o.csv", announce=False)

    # when
    outcome = import_file(
        spec=IMPORT_KINDS["orders"],
        file=io.BytesIO(content),
        ctx=ctx,
        progress=Recorded(run_id=1, size=len(content)),
    )

    # then: reading from 0% to at most 80% with the rows read, then each later step
    assert outcome.status == ImportStatus.SUCCEEDED
    phases = [state["phase"] for state in published]
    reading = [state for state in published if state["phase"] == "reading"]
    assert phases[: len(reading)] == ["reading"] * len(reading)
    assert len(reading) > 10
    percents = [state["percent"] for state in reading]
    assert percents == sorted(percents)
    assert 0 == percents[0] < percents[-1] <= 80
    assert [state["rows"] for state in reading][-1] > 1500
    assert published[len(reading) :] == [
        {"phase": "checking", "percent": 80, "rows": 2000},
        {"phase": "writing", "percent": 88, "rows": 2000},
        {"phase": "done", "percent": 100, "rows": 2000},
    ]


def _queued_run(c1: Customer, **fields: Any) -> ImportRun:
    return import_upload(
        kind="orders", file=io.BytesIO(_orders(100)), file_name="orders.csv", **fields
    )


def test_running_a_task_twice_imports_once(c1: Customer, upload_dir: Path) -> None:
    run = _queued_run(c1)

    first = import_run_execute(run_id=run.pk)
    second = import_run_execute(run_id=run.pk)

    assert first is not None
    assert first.status == ImportStatus.SUCCEEDED
    assert second is None
    assert Order.objects.count() == 100


def test_a_run_left_running_by_a_dead_worker_is_imported_when_delivered_again(
    c1: Customer, upload_dir: Path
) -> None:
    # given: a worker marked the run running and died (its transaction rolled back)
    run = _queued_run(c1)
    ImportRun.objects.filter(pk=run.pk).update(status=ImportStatus.RUNNING, phase="reading")

    # when
    done = import_run_execute(run_id=run.pk)

    # then
    assert done is not None
    assert done.status == ImportStatus.SUCCEEDED
    assert Order.objects.count() == 100
    assert _stored(upload_dir) == []


def test_the_sweep_sends_stalled_runs_again_and_removes_orphan_files(
    c1: Customer, upload_dir: Path, django_capture_on_commit_callbacks: Any
) -> None:
    # given: a run whose message was lost three minutes ago, a fresh one, an orphan file
    stalled = _queued_run(c1)
    ImportRun.objects.filter(pk=stalled.pk).update(
        started_at=timezone.now() - timezone.timedelta(minutes=3)
    )
    fresh = import_upload(
        kind="orders",
        file=io.BytesIO(_orders(60).replace(b"O", b"P")),
        file_name="fresh.csv",
    )
    orphan = upload_dir / "orphan.csv"
    orphan.write_bytes(b"x")
    day_ago = time.time() - 25 * 3600
    os.utime(orphan, (day_ago, day_ago))
    os.utime(upload_dir / fresh.stored_file, (day_ago, day_ago))

    # when (the task runs eagerly here, after commit)
    with django_capture_on_commit_callbacks(execute=True):
        counts = background.import_runs_resume()

    # then
    assert counts == {"resent": 1, "removed": 1}
    stalled.refresh_from_db()
    fresh.refresh_from_db()
    assert stalled.status == ImportStatus.SUCCEEDED
    assert fresh.status == ImportStatus.QUEUED
    assert _stored(upload_dir) == [fresh.stored_file]


def test_a_missing_stored_file_fails_the_run_visibly(
    client: Any, supervisor_user: object, c1: Customer, upload_dir: Path
) -> None:
    run = _queued_run(c1)
    (upload_dir / run.stored_file).unlink()

    import_run_execute(run_id=run.pk)

    run.refresh_from_db()
    assert run.status == ImportStatus.FAILED
    assert run.errors == ["The uploaded file is gone; nothing was imported. Upload it again."]
    client.force_login(supervisor_user)
    html = client.get(reverse("import-run", args=[run.pk])).content.decode()
    assert "the import stopped with an error and nothing was changed" in html


def test_an_error_in_the_worker_fails_the_run_and_removes_its_file(
    c1: Customer, upload_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = _queued_run(c1)

    def broken(**kwargs: Any) -> None:
        Order.objects.create(external_id="half", customer=c1, placed_at=timezone.now(), amount=1)
        raise RuntimeError("the disk is on fire")

    monkeypatch.setattr(background, "import_file", broken)

    with pytest.raises(RuntimeError):
        import_run_execute(run_id=run.pk)

    run.refresh_from_db()
    assert run.status == ImportStatus.FAILED
    assert run.errors == [
        "The import stopped with an error; nothing was imported: RuntimeError: the disk is on fire"
    ]
    assert not Order.objects.exists()
    assert _stored(upload_dir) == []
    assert import_progress(run=run)["phase"] == "failed"

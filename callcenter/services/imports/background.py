"""Uploads: small files are imported within the request, large ones by a worker.

`import_upload` refuses a file above IMPORT_MAX_UPLOAD_MB, imports one up to
IMPORT_SYNC_MAX_KB at once, and otherwise stores it under IMPORT_UPLOAD_DIR (shared by web and
worker processes), records a `queued` run and has a worker run `import_run_execute` after
commit. The worker imports it exactly as `csv_import` would (all or nothing, every bad line
listed), publishing its phase and percent for the Import page, and removes the stored file.

Running twice is safe: the worker marks the run `running`, then imports inside a transaction
that holds the run's row lock (`SKIP LOCKED`), so a second delivery of the same task finds the
row locked or finished and returns. If a worker dies mid-import, the transaction rolls back,
the lock goes, and the redelivered task (or `import_runs_resume`) imports the file again.
"""

import datetime as dt
import secrets
import shutil
import time
from pathlib import Path
from typing import IO

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.core.cache import cache
from django.db import transaction
from django.template.defaultfilters import filesizeformat
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from callcenter.choices import IMPORT_PENDING_STATUSES, ImportStatus
from callcenter.errors import ApplicationError
from callcenter.jobs import enqueue_on_commit
from callcenter.models import ImportRun

from .base import ImportContext
from .run import (
    PHASE_PERCENT,
    ImportOutcome,
    ImportProgress,
    csv_import,
    file_size,
    import_file,
    import_run_record,
    import_spec,
    progress_key,
)

# Bytes copied at a time when an upload is stored for the worker.
UPLOAD_COPY_BYTES = 1024 * 1024
# A queued run older than this whose message may have been lost (broker down when it was
# sent) is sent again by the sweep; a second delivery of a live one returns at once.
RESUME_AFTER_SECONDS = 120
# Stored files no queued or running import refers to (their request was rolled back) are
# removed by the sweep once this old.
ORPHAN_AFTER_SECONDS = 24 * 3600
ERROR_TEXT_LENGTH = 500


def import_upload_limit() -> int:
    """The largest file accepted, in bytes (IMPORT_MAX_UPLOAD_MB)."""
    return settings.IMPORT_MAX_UPLOAD_MB * 1024 * 1024


def import_size_message(size: int) -> str:
    """Why a file of `size` bytes (above IMPORT_MAX_UPLOAD_MB) is refused."""
    return _(
        "The file is %(size)s; the largest file that can be imported is %(max)s. "
        "Split it into several files."
    ) % {"size": _file_size_text(size), "max": _file_size_text(import_upload_limit())}


def _file_size_text(size: int) -> str:
    # filesizeformat separates with a no-break space; error lines are read in terminals too.
    return filesizeformat(size).replace("\xa0", " ")


def import_size_check(*, size: int) -> None:
    """Refuse a file larger than IMPORT_MAX_UPLOAD_MB with ApplicationError."""
    if size > import_upload_limit():
        raise ApplicationError(import_size_message(size))


def import_runs_in_background(*, size: int) -> bool:
    """Whether an upload of `size` bytes is imported by a worker (above IMPORT_SYNC_MAX_KB)."""
    return size > settings.IMPORT_SYNC_MAX_KB * 1024


def import_upload(
    *,
    kind: str,
    file: IO[bytes],
    file_name: str,
    started_by: User | AnonymousUser | None = None,
    announce: bool = True,
) -> ImportRun:
    """Import an uploaded file: at once if it is small (the run is finished), else in the
    background (the run is `queued`; follow it with `import_progress`)."""
    spec = import_spec(kind)
    size = file_size(file)
    import_size_check(size=size)
    if not import_runs_in_background(size=size):
        return csv_import(
            kind=kind, file=file, file_name=file_name, started_by=started_by, announce=announce
        )
    directory = Path(settings.IMPORT_UPLOAD_DIR)
    directory.mkdir(parents=True, exist_ok=True)
    stored = f"{secrets.token_hex(16)}.csv"
    path = directory / stored
    with path.open("xb") as out:
        shutil.copyfileobj(file, out, UPLOAD_COPY_BYTES)
    try:
        run = ImportRun.objects.create(
            kind=spec.kind,
            file_name=file_name[:255],
            status=ImportStatus.QUEUED,
            phase="queued",
            size=size,
            announce=announce,
            language=translation.get_language() or "",
            stored_file=stored,
            started_by=started_by
            if started_by is not None and started_by.is_authenticated
            else None,
        )
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    _enqueue(run.pk)
    return run


def _enqueue(run_id: int) -> None:
    enqueue_on_commit("callcenter.tasks.import_run_execute_task", run_id)


def _upload_path(stored_file: str) -> Path:
    return Path(settings.IMPORT_UPLOAD_DIR) / stored_file


def _finished(run_id: int, stored_file: str) -> None:
    if stored_file:
        _upload_path(stored_file).unlink(missing_ok=True)
    cache.delete(progress_key(run_id))


def import_run_execute(*, run_id: int) -> ImportRun | None:
    """Import a queued run's stored file (the worker's side); None if another process has it
    or it is finished. An unexpected error fails the run (nothing imported) and is raised."""
    ImportRun.objects.filter(pk=run_id, status=ImportStatus.QUEUED).update(
        status=ImportStatus.RUNNING, phase="reading"
    )
    try:
        with transaction.atomic():
            run = (
                ImportRun.objects.select_for_update(skip_locked=True)
                .filter(pk=run_id, status__in=IMPORT_PENDING_STATUSES)
                .first()
            )
            if run is None:
                return None
            stored_file = run.stored_file
            with translation.override(run.language or settings.LANGUAGE_CODE):
                _execute_locked(run)
    except Exception as exc:
        import_run_fail(run_id=run_id, error=f"{exc.__class__.__name__}: {exc}")
        raise
    _finished(run.pk, stored_file)
    return run


def _execute_locked(run: ImportRun) -> None:
    started = time.perf_counter()
    spec = import_spec(run.kind)
    ctx = ImportContext(
        now=timezone.now(),
        user_id=run.started_by_id,
        file_name=run.file_name,
        announce=run.announce,
    )
    try:
        file = _upload_path(run.stored_file).open("rb")
    except FileNotFoundError:
        outcome = ImportOutcome(
            status=ImportStatus.FAILED,
            errors=[_("The uploaded file is gone; nothing was imported. Upload it again.")],
        )
    else:
        with file:
            outcome = import_file(
                spec=spec, file=file, ctx=ctx, progress=ImportProgress(run.pk, run.size)
            )
    import_run_record(run=run, outcome=outcome, seconds=time.perf_counter() - started)


def import_run_fail(*, run_id: int, error: str) -> None:
    """A worker stopped with an error: the run fails, visibly, and its file is removed (the
    import's own transaction was rolled back, so nothing was imported)."""
    with transaction.atomic():
        run = (
            ImportRun.objects.select_for_update()
            .filter(pk=run_id, status__in=IMPORT_PENDING_STATUSES)
            .first()
        )
        if run is None:
            return
        stored_file = run.stored_file
        with translation.override(run.language or settings.LANGUAGE_CODE):
            message = _("The import stopped with an error; nothing was imported: %(error)s") % {
                "error": error[:ERROR_TEXT_LENGTH]
            }
        import_run_record(
            run=run, outcome=ImportOutcome(status=ImportStatus.FAILED, errors=[message]), seconds=0
        )
    _finished(run_id, stored_file)


def import_progress(*, run: ImportRun) -> dict[str, object]:
    """A run's phase, percent and rows read: live while a worker imports it, else final."""
    if run.status in IMPORT_PENDING_STATUSES:
        live = cache.get(progress_key(run.pk))
        if live:
            return live
        return {"phase": run.phase or "queued", "percent": 0, "rows": 0}
    percent = PHASE_PERCENT["done"] if run.status == ImportStatus.SUCCEEDED else 0
    return {"phase": run.phase or run.status, "percent": percent, "rows": run.rows}


def import_runs_resume() -> dict[str, int]:
    """The periodic sweep: send again the queued runs whose message may have been lost and
    the running ones whose worker died (their row is no longer locked), and remove stored
    files that no pending run refers to."""
    cutoff = timezone.now() - dt.timedelta(seconds=RESUME_AFTER_SECONDS)
    with transaction.atomic():
        stalled = list(
            ImportRun.objects.select_for_update(skip_locked=True)
            .filter(status__in=IMPORT_PENDING_STATUSES, started_at__lt=cutoff)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        for run_id in stalled:
            _enqueue(run_id)
    removed = 0
    directory = Path(settings.IMPORT_UPLOAD_DIR)
    if directory.is_dir():
        pending = set(
            ImportRun.objects.filter(status__in=IMPORT_PENDING_STATUSES).values_list(
                "stored_file", flat=True
            )
        )
        too_old = time.time() - ORPHAN_AFTER_SECONDS
        for path in directory.glob("*.csv"):
            if path.name not in pending and path.stat().st_mtime < too_old:
                path.unlink(missing_ok=True)
                removed += 1
    return {"resent": len(stalled), "removed": removed}

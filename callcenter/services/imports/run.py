"""Running one CSV import: all or nothing, recorded in ImportRun and the audit log.

Inside one transaction: stream the file into the staging table (validating each row), run the
kind's SQL checks, and either roll everything back and report every bad line, or upsert with
set-based SQL and announce events in batches. Then the run is recorded (a rejected run too).
`csv_import` does this at once (the command, small uploads); `background.py` has a worker do it
for large uploads, publishing its progress through `ImportProgress`.
"""

import io
import time
from dataclasses import dataclass, field
from typing import IO

import psycopg
from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from psycopg import Cursor

from callcenter.choices import ImportStatus
from callcenter.errors import ApplicationError
from callcenter.models import ImportRun
from callcenter.services.audit import audit_log_record

from .activity import INTERACTIONS, ORDERS, SURVEYS, TICKETS
from .base import ERROR_REPORT_LIMIT, TEMP_TABLES, ImportContext, KindSpec, sql_messages
from .customers import CUSTOMERS
from .staging import StagingResult, create_stage, stage_rows

IMPORT_KINDS: dict[str, KindSpec] = {
    spec.kind: spec for spec in (CUSTOMERS, ORDERS, INTERACTIONS, TICKETS, SURVEYS)
}

# PostgreSQL memory for each sort or hash of the import's statements (duplicate check, joins
# of the staging table): enough to group a million ids in memory instead of spilling to disk.
# Set for the import's transaction only.
IMPORT_WORK_MEM = "256MB"


# Share of the progress bar each step reaches when it starts: reading and checking the rows
# (the COPY) is most of an import, so its share grows with the bytes read, up to "checking".
PHASE_PERCENT = {
    "queued": 0,
    "reading": 0,
    "checking": 80,
    "writing": 88,
    "events": 94,
    "done": 100,
}
# A background run's progress is published at most this often while its file is read.
PROGRESS_INTERVAL_SECONDS = 0.5
PROGRESS_TTL_SECONDS = 24 * 3600


def progress_key(run_id: int) -> str:
    """Cache key of a background run's live progress."""
    return f"imports:run:{run_id}:progress"


class ImportProgress:
    """Publishes a background run's phase, percent and rows read to the cache, where the
    Import page and the API read them while the run's transaction is open. Without a run id
    (a synchronous import) it publishes nothing."""

    def __init__(self, run_id: int | None = None, size: int = 0) -> None:
        self.run_id = run_id
        self.size = size
        self._next_report = 0.0

    @property
    def live(self) -> bool:
        return self.run_id is not None

    def phase(self, name: str, rows: int) -> None:
        if self.run_id is not None:
            self._publish(name, PHASE_PERCENT[name], rows)

    def reading(self, bytes_read: int, rows: int) -> None:
        """Called after each read of the file; publishes every PROGRESS_INTERVAL_SECONDS."""
        now = time.monotonic()
        if self.run_id is None or now < self._next_report:
            return
        self._next_report = now + PROGRESS_INTERVAL_SECONDS
        share = min(bytes_read / self.size, 1.0) if self.size else 0.0
        self._publish("reading", int(PHASE_PERCENT["checking"] * share), rows)

    def _publish(self, phase: str, percent: int, rows: int) -> None:
        assert self.run_id is not None  # callers publish only for a background run
        state = {"phase": phase, "percent": percent, "rows": rows}
        cache.set(progress_key(self.run_id), state, PROGRESS_TTL_SECONDS)


@dataclass
class ImportOutcome:
    """What importing a file came to: succeeded (with counts) or rejected (with errors)."""

    status: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    errors: list[str] = field(default_factory=list)


class _Rejected(Exception):
    """Raised inside the transaction to roll it back; carries the report."""

    def __init__(self, rows: int, errors: list[str]) -> None:
        super().__init__(errors[0] if errors else "")
        self.rows = rows
        self.errors = errors


def import_spec(kind: str) -> KindSpec:
    """The import kind named `kind`, or ApplicationError."""
    spec = IMPORT_KINDS.get(kind)
    if spec is None:
        raise ApplicationError(
            _("Unknown import kind %(kind)s; use one of: %(kinds)s")
            % {"kind": kind, "kinds": ", ".join(IMPORT_KINDS)}
        )
    return spec


def file_size(file: IO[bytes]) -> int:
    """Size in bytes of a seekable file, which is left at its start."""
    file.seek(0, io.SEEK_END)
    size = file.tell()
    file.seek(0)
    return size


def csv_import(
    *,
    kind: str,
    file: IO[bytes],
    file_name: str,
    started_by: User | AnonymousUser | None = None,
    announce: bool = True,
) -> ImportRun:
    """Import a CSV file of `kind` (customers, orders, interactions, tickets or surveys) now.

    `file` is a seekable binary file (UTF-8, or GB18030 as saved by Excel in Chinese). Either
    every row is imported (upserted by external_id) or, if any row is bad, nothing is and the
    returned run is `rejected` with its errors as `line N: column: reason`. With `announce`
    false no domain events are emitted (loading history without triggering care).
    """
    spec = import_spec(kind)
    started = time.perf_counter()
    user = started_by if started_by is not None and started_by.is_authenticated else None
    ctx = ImportContext(
        now=timezone.now(),
        user_id=user.pk if user is not None else None,
        file_name=file_name,
        announce=announce,
    )
    size = file_size(file)
    with transaction.atomic():
        outcome = import_file(spec=spec, file=file, ctx=ctx, progress=ImportProgress())
        run = ImportRun(
            kind=spec.kind,
            file_name=file_name[:255],
            size=size,
            announce=announce,
            language=translation.get_language() or "",
            started_by=user,
        )
        import_run_record(run=run, outcome=outcome, seconds=time.perf_counter() - started)
    return run


def import_file(
    *, spec: KindSpec, file: IO[bytes], ctx: ImportContext, progress: ImportProgress
) -> ImportOutcome:
    """Import `file` inside a savepoint: all of it, or (rolled back) nothing and the report."""
    try:
        with transaction.atomic():
            loaded = _load(spec, file, ctx, progress)
    except _Rejected as rejected:
        return ImportOutcome(
            status=ImportStatus.REJECTED, rows=rejected.rows, errors=rejected.errors
        )
    except (psycopg.IntegrityError, psycopg.DataError) as exc:
        # Every row was checked first, so this is a concurrent write (another import or an
        # API call created the same ids meanwhile) or a gap in the checks: refuse the file.
        return ImportOutcome(
            status=ImportStatus.REJECTED,
            errors=[
                _("The database refused the file, nothing was imported: %(error)s")
                % {"error": exc.diag.message_primary or exc}
            ],
        )
    progress.phase("done", loaded.rows)
    return loaded


def _load(
    spec: KindSpec, file: IO[bytes], ctx: ImportContext, progress: ImportProgress
) -> ImportOutcome:
    connection.ensure_connection()
    conn = connection.connection
    with conn.cursor() as cur:
        cur.execute("SELECT set_config('work_mem', %s, true)", [IMPORT_WORK_MEM])
        # Event batches are read through a server-side cursor to the last row: plan for the
        # whole result, not for a fast first row (the default fraction of 0.1 picks nested
        # loops that are disastrous on just-loaded tables whose statistics are stale).
        cur.execute("SELECT set_config('cursor_tuple_fraction', '1.0', true)")
        create_stage(cur, spec)
        # Date-times without an offset are staged as text; COPY reads them in TIME_ZONE.
        cur.execute("SELECT current_setting('TimeZone')")
        session_zone = cur.fetchone()[0]
        cur.execute("SELECT set_config('TimeZone', %s, true)", [settings.TIME_ZONE])
        progress.phase("reading", 0)
        staged = stage_rows(cur, spec, file, on_read=progress.reading if progress.live else None)
        cur.execute("SELECT set_config('TimeZone', %s, true)", [session_zone])
        progress.phase("checking", staged.rows)
        if staged.header_ok:
            cur.execute("ANALYZE import_stage")
            spec.check(cur, ctx)
        errors = _report(cur, staged)
        if errors:
            raise _Rejected(staged.rows, errors)
        progress.phase("writing", staged.rows)
        created, updated = spec.write(cur, ctx)
        # Django's foreign keys are checked at commit, one trigger per written row; check them
        # now so a violation refuses the file here and the run's seconds include the checks.
        cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cur.execute("SET CONSTRAINTS ALL DEFERRED")
        if ctx.announce:
            progress.phase("events", staged.rows)
            spec.announce(conn, ctx)
        cur.execute(f"DROP TABLE IF EXISTS {', '.join(TEMP_TABLES)}")
    return ImportOutcome(
        status=ImportStatus.SUCCEEDED, rows=staged.rows, created=created, updated=updated
    )


def _report(cur: Cursor, staged: StagingResult) -> list[str]:
    """`line N: reasons` for the first ERROR_REPORT_LIMIT bad lines, and how many more."""
    reasons = {line: list(problems) for line, problems in staged.messages.items()}
    total = staged.bad_lines
    if staged.header_ok:
        # Lines with bad cells are counted already; add lines only SQL checks found bad.
        cur.execute("SELECT count(DISTINCT line) FROM import_error WHERE ok")
        row = cur.fetchone()
        assert row is not None  # an aggregate's one row
        total += row[0]
        cur.execute(
            "SELECT line, column_name, code, value, detail FROM import_error "
            "WHERE line IN (SELECT DISTINCT line FROM import_error ORDER BY line LIMIT %s) "
            "ORDER BY line, id",
            [ERROR_REPORT_LIMIT],
        )
        texts = sql_messages()
        for line, column, code, value, detail in cur.fetchall():
            reasons.setdefault(line, []).append(f"{column}: {texts[code](value, detail)}")
    lines = sorted(reasons)[:ERROR_REPORT_LIMIT]
    report = [
        _("line %(line)s: %(reasons)s") % {"line": line, "reasons": "; ".join(reasons[line])}
        for line in lines
    ]
    more = total - len(lines)
    if more > 0:
        report.append(
            ngettext("... and %(count)s more bad line", "... and %(count)s more bad lines", more)
            % {"count": more}
        )
    return report


def import_run_record(*, run: ImportRun, outcome: ImportOutcome, seconds: float) -> None:
    """Save `run` with its outcome, finished now, and audit it (`import.run`)."""
    run.status = outcome.status
    run.rows = outcome.rows
    run.created = outcome.created
    run.updated = outcome.updated
    run.errors = outcome.errors
    run.seconds = round(seconds, 3)
    run.phase = "done" if outcome.status == ImportStatus.SUCCEEDED else outcome.status
    run.finished_at = timezone.now()
    run.stored_file = ""
    run.save()
    audit_log_record(
        actor=run.started_by,
        action="import.run",
        object_type="import_run",
        object_id=run.pk,
        data={
            "kind": run.kind,
            "file": run.file_name,
            "status": run.status,
            "rows": run.rows,
            "created": run.created,
            "updated": run.updated,
            "events": run.announce,
        },
    )

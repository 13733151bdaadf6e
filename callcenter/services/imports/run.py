"""Running one CSV import: all or nothing, recorded in ImportRun and the audit log.

Inside one transaction: stream the file into the staging table (validating each row), run the
kind's SQL checks, and either roll everything back and report every bad line, or upsert with
set-based SQL and announce events in batches. Then the run is recorded (a rejected run too).
"""

import time
from dataclasses import dataclass
from typing import IO

import psycopg
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import connection, transaction
from django.utils import timezone
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


@dataclass
class _Loaded:
    rows: int
    created: int
    updated: int


class _Rejected(Exception):
    """Raised inside the transaction to roll it back; carries the report."""

    def __init__(self, rows: int, errors: list[str]) -> None:
        super().__init__(errors[0] if errors else "")
        self.rows = rows
        self.errors = errors


def csv_import(
    *,
    kind: str,
    file: IO[bytes],
    file_name: str,
    started_by: AbstractBaseUser | AnonymousUser | None = None,
    announce: bool = True,
) -> ImportRun:
    """Import a CSV file of `kind` (customers, orders, interactions, tickets or surveys).

    `file` is a seekable binary file (UTF-8, or GB18030 as saved by Excel in Chinese). Either
    every row is imported (upserted by external_id) or, if any row is bad, nothing is and the
    returned run is `rejected` with its errors as `line N: column: reason`. With `announce`
    false no domain events are emitted (loading history without triggering care).
    """
    spec = IMPORT_KINDS.get(kind)
    if spec is None:
        raise ApplicationError(
            _("Unknown import kind %(kind)s; use one of: %(kinds)s")
            % {"kind": kind, "kinds": ", ".join(IMPORT_KINDS)}
        )
    started = time.perf_counter()
    user = started_by if started_by is not None and started_by.is_authenticated else None
    ctx = ImportContext(
        now=timezone.now(),
        user_id=user.pk if user is not None else None,
        file_name=file_name,
        announce=announce,
    )
    try:
        with transaction.atomic():
            loaded = _load(spec, file, ctx)
            return _record(
                spec=spec,
                ctx=ctx,
                user=user,
                status=ImportStatus.SUCCEEDED,
                rows=loaded.rows,
                created=loaded.created,
                updated=loaded.updated,
                errors=[],
                seconds=time.perf_counter() - started,
            )
    except _Rejected as rejected:
        rows, errors = rejected.rows, rejected.errors
    except (psycopg.IntegrityError, psycopg.DataError) as exc:
        # Every row was checked first, so this is a concurrent write (another import or an
        # API call created the same ids meanwhile) or a gap in the checks: refuse the file.
        rows = 0
        errors = [
            _("The database refused the file, nothing was imported: %(error)s")
            % {"error": exc.diag.message_primary or exc}
        ]
    with transaction.atomic():
        return _record(
            spec=spec,
            ctx=ctx,
            user=user,
            status=ImportStatus.REJECTED,
            rows=rows,
            created=0,
            updated=0,
            errors=errors,
            seconds=time.perf_counter() - started,
        )


def _load(spec: KindSpec, file: IO[bytes], ctx: ImportContext) -> _Loaded:
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
        staged = stage_rows(cur, spec, file)
        cur.execute("SELECT set_config('TimeZone', %s, true)", [session_zone])
        if staged.header_ok:
            cur.execute("ANALYZE import_stage")
            spec.check(cur, ctx)
        errors = _report(cur, staged)
        if errors:
            raise _Rejected(staged.rows, errors)
        created, updated = spec.write(cur, ctx)
        # Django's foreign keys are checked at commit, one trigger per written row; check them
        # now so a violation refuses the file here and the run's seconds include the checks.
        cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cur.execute("SET CONSTRAINTS ALL DEFERRED")
        if ctx.announce:
            spec.announce(conn, ctx)
        cur.execute(f"DROP TABLE IF EXISTS {', '.join(TEMP_TABLES)}")
    return _Loaded(rows=staged.rows, created=created, updated=updated)


def _report(cur: Cursor, staged: StagingResult) -> list[str]:
    """`line N: reasons` for the first ERROR_REPORT_LIMIT bad lines, and how many more."""
    reasons = {line: list(problems) for line, problems in staged.messages.items()}
    total = staged.bad_lines
    if staged.header_ok:
        # Lines with bad cells are counted already; add lines only SQL checks found bad.
        cur.execute("SELECT count(DISTINCT line) FROM import_error WHERE ok")
        total += cur.fetchone()[0]
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


def _record(
    *,
    spec: KindSpec,
    ctx: ImportContext,
    user: AbstractBaseUser | None,
    status: str,
    rows: int,
    created: int,
    updated: int,
    errors: list[str],
    seconds: float,
) -> ImportRun:
    run = ImportRun.objects.create(
        kind=spec.kind,
        file_name=ctx.file_name[:255],
        status=status,
        rows=rows,
        created=created,
        updated=updated,
        errors=errors,
        seconds=round(seconds, 3),
        started_by=user,
    )
    audit_log_record(
        actor=user,
        action="import.run",
        object_type="import_run",
        object_id=run.pk,
        data={
            "kind": spec.kind,
            "file": run.file_name,
            "status": status,
            "rows": rows,
            "created": created,
            "updated": updated,
            "events": ctx.announce,
        },
    )
    return run

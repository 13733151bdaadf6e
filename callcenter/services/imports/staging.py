"""One streaming pass over a CSV file: validate every row and COPY it into `import_stage`.

The file is read record by record with the csv module (never whole into memory). Each row is
parsed by the kind's column parsers; a row with bad cells is still staged (flagged `ok = false`,
with what did parse) so the SQL checks (duplicates, unknown customers, ...) report its other
problems too. Only the first ERROR_REPORT_LIMIT bad lines keep their messages in memory.
"""

import codecs
import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from django.utils.translation import gettext as _
from psycopg import Cursor, sql

from .base import ERROR_REPORT_LIMIT, KindSpec
from .cells import CellError, attributes_json

# Bytes looked at to tell UTF-8 from GB18030 (what Excel in Chinese saves "CSV" as).
ENCODING_SNIFF_BYTES = 64 * 1024


@dataclass
class StagingResult:
    """What the pass saw: data rows, bad lines, and the messages of the first bad lines."""

    rows: int = 0
    bad_lines: int = 0
    messages: dict[int, list[str]] = field(default_factory=dict)
    header_ok: bool = True

    def add(self, line: int, problems: list[str]) -> None:
        self.bad_lines += 1
        if len(self.messages) < ERROR_REPORT_LIMIT:
            self.messages[line] = problems


def detect_encoding(binary: IO[bytes]) -> str:
    """utf-8-sig for UTF-8 (with or without BOM), else gb18030 if the start decodes as it."""
    head = binary.read(ENCODING_SNIFF_BYTES)
    binary.seek(0)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        try:
            codecs.getincrementaldecoder("gb18030")().decode(head, final=False)
        except UnicodeDecodeError:
            return "utf-8-sig"
        return "gb18030"
    return "utf-8-sig"


def create_stage(cur: Cursor, spec: KindSpec) -> None:
    """The staging and error tables of one import (temporary, dropped at commit)."""
    columns = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(sql_type))
        for name, sql_type in spec.staging_fields
    )
    cur.execute(
        sql.SQL(
            "CREATE TEMP TABLE import_stage (line integer NOT NULL, ok boolean NOT NULL, {}) "
            "ON COMMIT DROP"
        ).format(columns)
    )
    cur.execute(
        "CREATE TEMP TABLE import_error (id serial, line integer NOT NULL, ok boolean NOT NULL, "
        "column_name text NOT NULL, code text NOT NULL, value text, detail text) ON COMMIT DROP"
    )


def _plan_header(
    spec: KindSpec, header: list[str], result: StagingResult
) -> tuple[list[tuple[int, int, Any, bool, str, int]], list[tuple[int, str]]]:
    """Map header positions to columns; header problems are bad line 1."""
    known = {column.name: column for column in spec.columns}
    plan: list[tuple[int, int, Any, bool, str, int]] = []
    extras: list[tuple[int, str]] = []
    problems: list[str] = []
    seen: set[str] = set()
    for position, raw_name in enumerate(header):
        name = raw_name.strip()
        key = name.lower()
        if key in seen:
            problems.append(_('column "%(name)s" appears more than once') % {"name": name})
            continue
        seen.add(key)
        column = known.get(key)
        if column is not None:
            width = len(column.fields)
            plan.append(
                (position, spec.index[column.name], column.parse, column.required, key, width)
            )
        elif not name:
            problems.append(_("column %(position)s has no name") % {"position": position + 1})
        elif spec.attributes_field:
            extras.append((position, name))
        else:
            problems.append(
                _('unknown column "%(name)s" (known columns: %(known)s)')
                % {"name": name, "known": ", ".join(known)}
            )
    missing = [name for name in spec.required_columns if name not in seen]
    if missing:
        problems.insert(0, _("missing column(s): %(names)s") % {"names": ", ".join(missing)})
    if problems:
        result.header_ok = False
        result.add(1, problems)
    return plan, extras


def _decoded_lines(binary: IO[bytes], encoding: str) -> Iterator[str]:
    """The file's lines as text, decoded one at a time so a decoding error has a line number
    (a newline byte never occurs inside a UTF-8 or GB18030 character)."""
    decode = codecs.getincrementaldecoder(encoding)().decode
    for raw in binary:
        yield decode(raw)


def stage_rows(cur: Cursor, spec: KindSpec, binary: IO[bytes]) -> StagingResult:
    """Read, validate and COPY every record of `binary` into `import_stage`."""
    result = StagingResult()
    encoding = detect_encoding(binary)
    reader = csv.reader(_decoded_lines(binary, encoding))
    try:
        header = next(reader)
    except StopIteration:
        result.header_ok = False
        result.add(1, [_("the file is empty (it needs a header line)")])
        return result
    except (csv.Error, UnicodeDecodeError) as exc:
        result.header_ok = False
        result.add(1, [_unreadable(exc, encoding)])
        return result
    plan, extras = _plan_header(spec, header, result)
    if result.header_ok:
        _copy_rows(cur, spec, reader, len(header), plan, extras, result, encoding)
    return result


def _unreadable(exc: Exception, encoding: str) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return _("the file is not %(encoding)s text from here on") % {
            "encoding": "UTF-8" if encoding.startswith("utf") else encoding.upper()
        }
    return _("the file cannot be read as CSV here: %(error)s") % {"error": exc}


def _copy_rows(
    cur: Cursor,
    spec: KindSpec,
    reader: Any,
    width: int,
    plan: list[tuple[int, int, Any, bool, str, int]],
    extras: list[tuple[int, str]],
    result: StagingResult,
    encoding: str,
) -> None:
    # The hot loop: one pass per record, no function call per row beyond the cell parsers.
    names = [name for name, _type in spec.staging_fields]
    copy_sql = sql.SQL("COPY import_stage (line, ok, {}) FROM STDIN").format(
        sql.SQL(", ").join(sql.Identifier(name) for name in names)
    )
    template: list[Any] = [None] * (len(names) + 2)
    hook = spec.row_hook(spec.index) if spec.row_hook else None
    attributes_at = spec.index.get(spec.attributes_field or "")
    required_message = _("a value is required")
    width_message = _("%(found)s values, but the header has %(expected)s columns")
    last = reader.line_num
    with cur.copy(copy_sql) as copy:
        write = copy.write_row
        try:
            for row in reader:
                line = last + 1
                last = reader.line_num
                if len(row) != width:
                    if not any(cell.strip() for cell in row):
                        continue  # a blank line
                    result.rows += 1
                    result.add(line, [width_message % {"found": len(row), "expected": width}])
                    continue
                if not row[0].strip() and not any(cell.strip() for cell in row):
                    continue  # a line of empty cells (the first test is the cheap one)
                result.rows += 1
                values = template.copy()
                values[0] = line
                problems: list[str] = []
                for position, out, parse, required, name, span in plan:
                    cell = row[position].strip()
                    if cell:
                        try:
                            if span == 1:
                                values[out] = parse(cell)
                            else:
                                values[out : out + span] = parse(cell)
                        except CellError as exc:
                            problems.append(f"{name}: {exc}")
                    elif required:
                        problems.append(f"{name}: {required_message}")
                if attributes_at is not None:
                    values[attributes_at] = attributes_json(
                        {key: row[pos].strip() for pos, key in extras if row[pos].strip()}
                    )
                if hook is not None:
                    problems.extend(hook(values, not problems and not result.bad_lines))
                values[1] = not problems
                if problems:
                    result.add(line, problems)
                write(values)
        except UnicodeDecodeError as exc:
            # The line that failed to decode was not counted yet.
            result.add(reader.line_num + 1, [_unreadable(exc, encoding)])
        except csv.Error as exc:
            result.add(last + 1, [_unreadable(exc, encoding)])

"""One streaming pass over a CSV file: validate every row and COPY it into `import_stage`.

The file is read record by record with the csv module (never whole into memory). Each row is
parsed by the kind's column parsers; a row with bad cells is still staged (flagged `ok = false`,
with what did parse) so the SQL checks (duplicates, unknown customers, ...) report its other
problems too. Only the first ERROR_REPORT_LIMIT bad lines keep their messages in memory.

The csv module reads strictly: a quoted cell whose closing quote is missing (which would
otherwise swallow the rest of the file into one cell) or that is followed by more text is a
bad line, reported on the line where that row starts, and reading goes on with the next line
so every other bad line is reported too. NUL characters, which PostgreSQL cannot store, make
their line bad (and are dropped before staging).
"""

import codecs
import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from django.utils.translation import gettext as _
from psycopg import Cursor, sql

from callcenter.limits import (
    attribute_key_message,
    attribute_limits,
    too_many_attributes_message,
)

from .base import ERROR_REPORT_LIMIT, KindSpec
from .cells import CellError, attributes_json

# Bytes looked at to tell UTF-8 from GB18030 (what Excel in Chinese saves "CSV" as).
ENCODING_SNIFF_BYTES = 64 * 1024
# Bytes read from the file at a time when its progress is followed (one report per read).
PROGRESS_READ_BYTES = 1024 * 1024
# Attribute names listed in a header problem when several are too long.
LISTED_BAD_NAMES = 5

# Called with the bytes and the rows read so far while the file is read (for a progress bar).
ReadCallback = Callable[[int, int], None]


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


class _CountingReader(io.RawIOBase):
    """Reads `binary` and reports the bytes read so far after each read."""

    def __init__(self, binary: IO[bytes], on_read: Callable[[int], None]) -> None:
        self._binary = binary
        self._on_read = on_read
        self._read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._binary.read(len(buffer))
        size = len(data)
        buffer[:size] = data
        self._read += size
        self._on_read(self._read)
        return size


def detect_encoding(binary: IO[bytes]) -> str:
    """utf-8-sig for UTF-8 (with or without BOM), else gb18030 if the start decodes as it;
    utf-16 for a file that starts with a UTF-16 byte-order mark (refused)."""
    head = binary.read(ENCODING_SNIFF_BYTES)
    binary.seek(0)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
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
    limits = attribute_limits()
    max_columns = len(spec.columns) + limits.max_keys
    if len(header) > max_columns:
        result.header_ok = False
        result.add(
            1,
            [
                _("the header has %(count)s columns; a %(kind)s file may have at most %(max)s")
                % {"count": len(header), "kind": spec.kind, "max": max_columns}
            ],
        )
        return plan, extras
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
    if len(extras) > limits.max_keys:
        problems.append(too_many_attributes_message(len(extras), limits))
    long_names = [name for _position, name in extras if len(name) > limits.key_max_length]
    problems.extend(attribute_key_message(name, limits) for name in long_names[:LISTED_BAD_NAMES])
    missing = [name for name in spec.required_columns if name not in seen]
    if missing:
        problems.insert(0, _("missing column(s): %(names)s") % {"names": ", ".join(missing)})
    if problems:
        result.header_ok = False
        result.add(1, problems)
    return plan, extras


def _decoded_lines(binary: IO[bytes], encoding: str, nul_lines: set[int]) -> Iterator[str]:
    """The file's lines as text, decoded one at a time so a decoding error has a line number
    (a newline byte never occurs inside a UTF-8 or GB18030 character). Lines with NUL
    characters are noted in `nul_lines` and yielded without them."""
    decode = codecs.getincrementaldecoder(encoding)().decode
    for number, raw in enumerate(binary, start=1):
        if b"\0" in raw:
            nul_lines.add(number)
            yield decode(raw).replace("\0", "")
        else:
            yield decode(raw)


def stage_rows(
    cur: Cursor, spec: KindSpec, binary: IO[bytes], on_read: ReadCallback | None = None
) -> StagingResult:
    """Read, validate and COPY every record of `binary` into `import_stage`; `on_read` is
    told how many bytes and rows have been read, after every PROGRESS_READ_BYTES."""
    result = StagingResult()
    encoding = detect_encoding(binary)
    if encoding == "utf-16":
        result.header_ok = False
        result.add(1, [_("the file is UTF-16 text; save it as CSV UTF-8")])
        return result
    if on_read is not None:
        counting = _CountingReader(binary, lambda read: on_read(read, result.rows))
        binary = io.BufferedReader(counting, buffer_size=PROGRESS_READ_BYTES)
    nul_lines: set[int] = set()
    reader = csv.reader(_decoded_lines(binary, encoding, nul_lines), strict=True)
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
    if nul_lines:
        result.header_ok = False
        result.add(1, [_nul_message()])
        return result
    plan, extras = _plan_header(spec, header, result)
    if result.header_ok:
        _copy_rows(cur, spec, reader, len(header), plan, extras, result, encoding, nul_lines)
    return result


def _nul_message() -> str:
    return _("contains a NUL character (is this a text file?)")


def _unreadable(exc: Exception, encoding: str) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return _("the file is not %(encoding)s text from here on") % {
            "encoding": "UTF-8" if encoding.startswith("utf") else encoding.upper()
        }
    reason = str(exc)
    if reason == "unexpected end of data":
        return _('a quoted cell starts in this row and its closing quote (") is missing')
    if reason.startswith("field larger than field limit"):
        return _(
            "a cell in this row is longer than %(max)s characters "
            '(is the closing quote (") of a quoted cell missing?)'
        ) % {"max": csv.field_size_limit()}
    if reason.endswith("expected after '\"'"):
        return _(
            "a quoted cell in this row has text after its closing quote "
            '(inside a quoted cell write a quote as "")'
        )
    return _("the file cannot be read as CSV here: %(error)s") % {"error": exc}


RowParser = Callable[[list[str], int, int], list[Any]]


def _row_parser(
    spec: KindSpec,
    plan: list[tuple[int, int, Any, bool, str, int]],
    extras: list[tuple[int, str]],
    result: StagingResult,
    nul_lines: set[int],
) -> RowParser:
    """A function turning one record (its cells, first line and last line) into the values
    staged for it, `ok` set and its problems added to `result`. Everything that does not
    change from row to row is looked up once, here."""
    template: list[Any] = [None] * (len(spec.staging_fields) + 2)
    hook = spec.row_hook(spec.index) if spec.row_hook else None
    attributes_at = spec.index.get(spec.attributes_field or "")
    value_max_length = attribute_limits().value_max_length
    too_long_message = _("longer than %(max)s characters") % {"max": value_max_length}
    required_message = _("a value is required")

    def parse_row(row: list[str], line: int, last: int) -> list[Any]:
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
            attributes = {}
            for pos, key in extras:
                cell = row[pos].strip()
                if len(cell) > value_max_length:
                    problems.append(f"{key}: {too_long_message}")
                elif cell:
                    attributes[key] = cell
            values[attributes_at] = attributes_json(attributes)
        if hook is not None:
            problems.extend(hook(values, not problems and not result.bad_lines))
        if nul_lines and not nul_lines.isdisjoint(range(line, last + 1)):
            problems.append(_nul_message())
        values[1] = not problems
        if problems:
            result.add(line, problems)
        return values

    return parse_row


def _copy_rows(
    cur: Cursor,
    spec: KindSpec,
    reader: Any,
    width: int,
    plan: list[tuple[int, int, Any, bool, str, int]],
    extras: list[tuple[int, str]],
    result: StagingResult,
    encoding: str,
    nul_lines: set[int],
) -> None:
    """COPY every record into `import_stage`, skipping blank lines; a record of the wrong width
    or one the csv module cannot read is a bad line, and reading goes on after it."""
    copy_sql = sql.SQL("COPY import_stage (line, ok, {}) FROM STDIN").format(
        sql.SQL(", ").join(sql.Identifier(name) for name, _type in spec.staging_fields)
    )
    parse_row = _row_parser(spec, plan, extras, result, nul_lines)
    width_message = _("%(found)s values, but the header has %(expected)s columns")
    last = reader.line_num
    with cur.copy(copy_sql) as copy:
        write = copy.write_row
        while True:
            try:
                # The hot loop: one pass per record, one call of the row parser per row.
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
                    write(parse_row(row, line, last))
            except UnicodeDecodeError as exc:
                # The line that failed to decode was not counted yet; nothing after it can be
                # read.
                result.add(reader.line_num + 1, [_unreadable(exc, encoding)])
            except csv.Error as exc:
                # A broken row (reported where it starts); reading goes on with the next line.
                result.rows += 1
                result.add(last + 1, [_unreadable(exc, encoding)])
                last = reader.line_num
                continue
            break

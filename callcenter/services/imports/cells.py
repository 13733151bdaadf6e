"""Parsers for single CSV cells: each takes the stripped, non-empty text of a cell and returns
the value to stage, or raises CellError with a reason for the `line N: column: reason` report.

These run once per cell of files with millions of rows, so they stay small: compiled regular
expressions, `datetime.fromisoformat` (C) and no Decimal arithmetic for amounts (the text is
checked and handed to PostgreSQL, which parses it into `numeric`).

Whatever a parser accepts, PostgreSQL stores (tests/callcenter/test_import_edge_cases.py checks
it with generated cells): a value PostgreSQL refused would fail the whole COPY without a line
number and hide every other bad line. So numbers, dates and phone numbers are read through
`ascii_digits` (full-width and other scripts' digits are the numbers they read as), and the
regular expressions match ASCII digits only.
"""

import json
import re
import unicodedata
import zoneinfo
from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone
from django.utils.translation import gettext as _

from callcenter.phones import InvalidPhoneNumber, normalize_email, normalize_phone

# Dates outside these years are typos (0024 for 2024) or placeholders (9999-12-31).
MIN_YEAR = 1900
MAX_YEAR = 2100
# Several phones, emails or WeChat ids in one cell are separated by ";" (or the full-width "；").
LIST_SEPARATORS = re.compile(r"[;；]")
# Amounts: up to 10 digits before the point and 2 after (the column is numeric(12, 2)).
# Patterns match ASCII digits only: other digits are turned into ASCII first (`ascii_digits`).
_AMOUNT = re.compile(r"\d{1,10}(?:\.\d{1,2})?", re.ASCII).fullmatch
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?", re.ASCII)
# Dates written as 2024/1/5 or 2024-1-5 (Excel), optionally with H:MM[:SS].
_LOOSE_DATE = re.compile(
    r"(\d{4})[-/](\d{1,2})[-/](\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?", re.ASCII
)
# ISO 8601 as PostgreSQL reads it too: date, optional time (with seconds and fraction) and
# optional offset. Matched before fromisoformat, which also takes forms PostgreSQL does not.
_ISO_MOMENT = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?)?",
    re.ASCII,
).fullmatch
# UTC offsets beyond this are typos: real ones span -12:00 to +14:00 (PostgreSQL refuses
# anything from 16:00 on, and would do so without saying which line).
MAX_UTC_OFFSET = timedelta(hours=14)
# Booleans: English words and digits, plus 是/否 as Chinese spreadsheets write them.
TRUE_WORDS = frozenset({"true", "1", "yes", "y", "t", "是"})
FALSE_WORDS = frozenset({"false", "0", "no", "n", "f", "否"})


class CellError(ValueError):
    """A cell that cannot be imported; the message is shown after the column name."""


class _AsciiForms(dict[int, str]):
    """A `str.translate` table, filled as characters are met: every decimal digit of any
    script (full-width １, Arabic-Indic ٣, Devanagari ३, ...) to its ASCII digit, and the
    full-width forms of ASCII (．－：／＋, as Chinese input methods type them) to ASCII."""

    def __missing__(self, code: int) -> str:
        char = chr(code)
        if code > 0x7F and char.isdecimal():
            char = str(unicodedata.decimal(char))
        elif 0xFF01 <= code <= 0xFF5E:
            char = chr(code - 0xFEE0)
        elif code == 0x3000:  # ideographic space
            char = " "
        elif code == 0x066B:  # Arabic decimal separator
            char = "."
        self[code] = char
        return char


_ASCII_FORMS = _AsciiForms()


def ascii_digits(value: str) -> str:
    """`value` with digits of other scripts and full-width forms as ASCII: numbers, dates and
    phone numbers typed with a Chinese input method or in Arabic digits are the numbers they
    read as (`１２.００` is 12.00)."""
    return value if value.isascii() else value.translate(_ASCII_FORMS)


def text(max_length: int) -> Callable[[str], str]:
    """Plain text, at most `max_length` characters."""

    def parse(value: str) -> str:
        if len(value) > max_length:
            raise CellError(_("longer than %(max)s characters") % {"max": max_length})
        return value

    return parse


def choice(values: Iterable[str]) -> Callable[[str], str]:
    """One of `values`, compared case-insensitively; stored lower-case."""
    allowed = frozenset(values)
    listed = ", ".join(values)

    def parse(value: str) -> str:
        lowered = value.lower()
        if lowered not in allowed:
            raise CellError(
                _('"%(value)s" is not one of %(choices)s') % {"value": value, "choices": listed}
            )
        return lowered

    return parse


def boolean(value: str) -> bool:
    """true/false, 1/0, yes/no, y/n, t/f, 是/否 (any case)."""
    lowered = value.lower()
    if lowered in TRUE_WORDS:
        return True
    if lowered in FALSE_WORDS:
        return False
    raise CellError(
        _('"%(value)s" is not a yes/no value (use true/false, 1/0, yes/no or y/n)')
        % {"value": value}
    )


def whole_number(maximum: int) -> Callable[[str], int]:
    """A non-negative integer up to `maximum`."""

    def parse(value: str) -> int:
        try:
            number = int(ascii_digits(value))
        except ValueError:
            raise CellError(_('"%(value)s" is not a whole number') % {"value": value}) from None
        if number < 0:
            raise CellError(_('"%(value)s" is negative') % {"value": value})
        if number > maximum:
            raise CellError(_('"%(value)s" is too large') % {"value": value})
        return number

    return parse


def amount(value: str) -> str:
    """A non-negative amount with at most 2 decimals; returned as text for `numeric`."""
    number = ascii_digits(value)
    if _AMOUNT(number):
        return number
    if _NUMBER.fullmatch(number):
        if number.startswith("-"):
            raise CellError(_('"%(value)s" is negative') % {"value": value})
        whole, _sep, fraction = number.partition(".")
        if len(fraction) > 2:
            raise CellError(_('"%(value)s" has more than 2 decimal places') % {"value": value})
        if len(whole) > 10:
            raise CellError(_('"%(value)s" is too large') % {"value": value})
    raise CellError(
        _('"%(value)s" is not an amount (use digits and a point, e.g. 199.90)') % {"value": value}
    )


def currency(value: str) -> str:
    """A 3-letter currency code, stored upper-case."""
    if len(value) != 3 or not value.isascii() or not value.isalpha():
        raise CellError(_('"%(value)s" is not a 3-letter currency code') % {"value": value})
    return value.upper()


@lru_cache(maxsize=8)
def _zone(name: str) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(name)


def _local_zone() -> zoneinfo.ZoneInfo:
    return _zone(settings.TIME_ZONE)


def _bad_datetime(value: str) -> CellError:
    return CellError(
        _('"%(value)s" is not a date or time (use YYYY-MM-DD or YYYY-MM-DD HH:MM[:SS][+08:00])')
        % {"value": value}
    )


def _loose_datetime(value: str) -> datetime | None:
    match = _LOOSE_DATE.fullmatch(value)
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(part or 0) for part in match.groups())
    try:
        return datetime(year, month, day, hour, minute, second)  # noqa: DTZ001 - made aware below
    except ValueError:
        return None


def moment(value: str) -> str | datetime:
    """A date-time; a date alone is the start of that day, and a time without an offset is
    read in settings.TIME_ZONE. Offsets (`+08:00`, `Z`) are respected.

    ISO 8601 text is checked here and returned as it is: the import's COPY reads it with the
    session time zone set to settings.TIME_ZONE, which saves building a datetime per cell.
    Other accepted forms (2024/1/5 10:00) are returned as aware datetimes.
    """
    text = ascii_digits(value)
    if _ISO_MOMENT(text):
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise _bad_datetime(value) from None
        if not MIN_YEAR <= parsed.year <= MAX_YEAR:
            raise _out_of_range(value)
        offset = parsed.utcoffset()
        if offset is not None and abs(offset) > MAX_UTC_OFFSET:
            raise CellError(_('"%(value)s" has a UTC offset beyond ±14:00') % {"value": value})
        return text
    loose = _loose_datetime(text)
    if loose is None:
        raise _bad_datetime(value)
    if not MIN_YEAR <= loose.year <= MAX_YEAR:
        raise _out_of_range(value)
    return loose.replace(tzinfo=_local_zone())


def aware(value: str | datetime) -> datetime:
    """The aware datetime of a value returned by `moment` (for comparisons in row checks)."""
    if isinstance(value, datetime):
        return value
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=_local_zone())


def _out_of_range(value: str) -> CellError:
    return CellError(
        _('"%(value)s" is outside the years %(min)s to %(max)s')
        % {"value": value, "min": MIN_YEAR, "max": MAX_YEAR}
    )


def day(value: str) -> date:
    """A calendar date (YYYY-MM-DD, also YYYY/MM/DD and YYYY-M-D), without a time."""
    match = _LOOSE_DATE.fullmatch(ascii_digits(value))
    parsed = None
    if match is not None and match.group(4) is None:
        try:
            parsed = date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
        except ValueError:
            parsed = None
    if parsed is None:
        raise CellError(_('"%(value)s" is not a date (use YYYY-MM-DD)') % {"value": value})
    if not MIN_YEAR <= parsed.year <= MAX_YEAR:
        raise _out_of_range(value)
    return parsed


def past_day(value: str) -> date:
    """A date that is not in the future (birthdays)."""
    parsed = day(value)
    if parsed > timezone.localdate():
        raise CellError(_('"%(value)s" is in the future') % {"value": value})
    return parsed


@lru_cache(maxsize=512)
def time_zone(value: str) -> str:
    """An IANA time zone name such as Asia/Shanghai."""
    # The length first: zoneinfo looks the name up as a file, and a very long one is an OSError.
    if len(value) > 64:
        raise CellError(_("longer than %(max)s characters") % {"max": 64})
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise CellError(
            _('"%(value)s" is not a known time zone (use e.g. Asia/Shanghai)') % {"value": value}
        ) from None
    return value


def _items(value: str) -> list[str]:
    seen: dict[str, None] = {}
    for part in LIST_SEPARATORS.split(value):
        part = part.strip()
        if part:
            seen[part] = None
    return list(seen)


def phones(value: str) -> tuple[list[str], list[str]]:
    """One or more phone numbers separated by ";", normalized to E.164.

    Returns the normalized numbers and the numbers as written, without repeats.
    """
    normalized: dict[str, str] = {}
    invalid = []
    for raw in _items(value):
        try:
            number = normalize_phone(ascii_digits(raw))
        except InvalidPhoneNumber:
            invalid.append(raw)
            continue
        normalized.setdefault(number, raw[:254])
    if invalid:
        raise CellError(
            _("not a valid phone number: %(values)s")
            % {"values": ", ".join(f'"{raw}"' for raw in invalid)}
        )
    return list(normalized), list(normalized.values())


def emails(value: str) -> tuple[list[str], list[str]]:
    """One or more email addresses separated by ";", lower-cased."""
    normalized: dict[str, str] = {}
    invalid = []
    for raw in _items(value):
        address = normalize_email(raw)
        try:
            validate_email(address)
        except ValidationError:
            invalid.append(raw)
            continue
        if len(address) > 254:
            invalid.append(raw)
            continue
        normalized.setdefault(address, raw)
    if invalid:
        raise CellError(
            _("not a valid email address: %(values)s")
            % {"values": ", ".join(f'"{raw}"' for raw in invalid)}
        )
    return list(normalized), list(normalized.values())


def identifiers(value: str) -> list[str]:
    """One or more ids (e.g. WeChat ids) separated by ";"."""
    items = _items(value)
    for item in items:
        if len(item) > 254:
            raise CellError(_("longer than %(max)s characters") % {"max": 254})
    return items


def attributes_json(values: dict[str, str]) -> str | None:
    """Custom attributes as JSON text for a `jsonb` column (None when there are none)."""
    if not values:
        return None
    return json.dumps(values, ensure_ascii=False)

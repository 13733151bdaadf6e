"""What every import kind is made of, and the SQL steps the kinds share.

A kind (customers, orders, ...) is a `KindSpec`: its CSV columns (each with a cell parser and
the staging fields it fills), an optional per-row hook for checks that need several cells, and
three set-based steps over the staging table: `check` (bad rows that need the database, such as
unknown customers), `write` (upsert into the real table) and `announce` (domain events).

Temporary tables of one import (dropped at commit, and explicitly once the import is done):
- `import_stage`: one row per CSV record: `line`, `ok` (the cells parsed) and the staged fields;
- `import_error`: bad rows found by SQL checks, rendered to `line N: column: reason` in Python;
- `import_customer`: customer external ids referenced by the file, resolved to active customers;
- `import_created` / `import_changed`: ids written by this import, for counting and events.
"""

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.utils.translation import gettext as _
from psycopg import Connection, Cursor

from callcenter.events import DomainEvent, emit_events
from callcenter.limits import attribute_limits, too_many_attributes_message

# Bad lines listed in a report; beyond this the report says how many more there are. A file
# with a wrong column order can make every line bad, and nobody reads a million error lines.
ERROR_REPORT_LIMIT = 1000
# Events per emit_events call, read from the database with a server-side cursor: about
# 5,000 x 0.5 KB = 2.5 MB of DomainEvent objects at a time, whatever the size of the file,
# and one bulk write per batch for the outbox receiver.
EVENT_BATCH_SIZE = 5000

STAGE = "import_stage"
ERRORS = "import_error"
TEMP_TABLES = (
    "import_stage",
    "import_error",
    "import_customer",
    "import_created",
    "import_changed",
    "import_contact",
    "import_account",
    "import_consent",
)

RowHook = Callable[[list[Any], bool], list[str]]


@dataclass(frozen=True)
class Column:
    """One CSV column: `parse` gets the stripped, non-empty cell and fills `fields` of the
    staging row (one value, or a tuple with one value per field)."""

    name: str
    parse: Callable[[str], Any]
    sql_type: str = "text"
    required: bool = False
    extra_fields: tuple[tuple[str, str], ...] = ()

    @property
    def fields(self) -> tuple[tuple[str, str], ...]:
        return ((self.name, self.sql_type), *self.extra_fields)


@dataclass(frozen=True)
class ImportContext:
    """What the set-based steps need besides the staging table."""

    now: datetime
    user_id: int | None
    file_name: str
    announce: bool


@dataclass(frozen=True)
class KindSpec:
    """An import kind: its columns and its set-based steps."""

    kind: str
    columns: tuple[Column, ...]
    check: Callable[[Cursor, ImportContext], None]
    write: Callable[[Cursor, ImportContext], tuple[int, int]]
    announce: Callable[[Connection, ImportContext], None]
    # Staging fields not read from a column, filled by `row_hook` (e.g. sentiment).
    derived_fields: tuple[tuple[str, str], ...] = ()
    # Checks that need several cells of a row, and derived values. Called with the staged
    # values and whether to compute derived values (skipped once the file has a bad row).
    row_hook: Callable[[dict[str, int]], RowHook] | None = None
    # Unknown columns become custom attributes in this staging field (else they are refused).
    attributes_field: str | None = None
    index: dict[str, int] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        # Position of each field in a staging row; 0 and 1 are `line` and `ok`.
        for position, (name, _type) in enumerate(self.staging_fields, start=2):
            self.index[name] = position

    @property
    def staging_fields(self) -> tuple[tuple[str, str], ...]:
        fields = [f for column in self.columns for f in column.fields]
        fields.extend(self.derived_fields)
        if self.attributes_field:
            fields.append((self.attributes_field, "jsonb"))
        return tuple(fields)

    @property
    def required_columns(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns if column.required)


def sql_messages() -> dict[str, Callable[[str, str], str]]:
    """Reasons for bad rows found by SQL checks, by error code (value, detail) -> text."""
    return {
        "duplicate": lambda value, detail: (
            _('"%(value)s" appears more than once in the file (first on line %(line)s)')
            % {"value": value, "line": detail}
        ),
        "unknown_customer": lambda value, detail: (
            _('unknown customer "%(value)s"') % {"value": value}
        ),
        "merged_customer": lambda value, detail: (
            _('customer "%(value)s" was merged into customer %(target)s; import into that one')
            % {"value": value, "target": detail}
        ),
        "name_required": lambda value, detail: _("a value is required for a new customer"),
        "company_required": lambda value, detail: _("a business customer needs a company name"),
        "contact_taken": lambda value, detail: (
            _('"%(value)s" already belongs to customer %(owner)s')
            % {"value": value, "owner": detail}
        ),
        "contact_repeated": lambda value, detail: (
            _('"%(value)s" is also on line %(line)s') % {"value": value, "line": detail}
        ),
        "unknown_account": lambda value, detail: (
            _('unknown business account "%(value)s"') % {"value": value}
        ),
        "account_self": lambda value, detail: _("a customer cannot be a contact of itself"),
        "account_merged": lambda value, detail: (
            _('account "%(value)s" was merged into customer %(target)s; name that one')
            % {"value": value, "target": detail}
        ),
        "account_not_business": lambda value, detail: (
            _('customer "%(value)s" is not a business account') % {"value": value}
        ),
        "contact_not_person": lambda value, detail: _(
            "only a person can be a contact of a business account"
        ),
        "role_needs_account": lambda value, detail: _("a role needs an account_external_id"),
        "unknown_user": lambda value, detail: _('unknown user "%(value)s"') % {"value": value},
        "unknown_ticket": lambda value, detail: _('unknown ticket "%(value)s"') % {"value": value},
        "ticket_other_customer": lambda value, detail: (
            _('ticket "%(value)s" belongs to another customer') % {"value": value}
        ),
        "resolved_before_opened": lambda value, detail: (
            _("the stored resolved_at %(resolved)s is before opened_at") % {"resolved": detail}
        ),
        "too_many_attributes": lambda value, detail: too_many_attributes_message(
            int(detail), attribute_limits()
        ),
    }


def check_duplicate_ids(cur: Cursor, column: str = "external_id") -> None:
    """Every line whose id already appeared earlier in the file is bad."""
    cur.execute(
        f"""
        INSERT INTO import_error (line, ok, column_name, code, value, detail)
        SELECT s.line, s.ok, %(column)s, 'duplicate', s.{column}, d.first_line::text
        FROM import_stage s
        JOIN (
            SELECT {column} AS id, min(line) AS first_line
            FROM import_stage WHERE {column} IS NOT NULL
            GROUP BY {column} HAVING count(*) > 1
        ) d ON d.id = s.{column}
        WHERE s.line > d.first_line
        """,  # noqa: S608 - `column` is a constant of this module's callers
        {"column": column},
    )


def resolve_customers(cur: Cursor) -> None:
    """Resolve `customer_external_id` to active customers (a merged customer's rows go to the
    customer it was merged into) into `import_customer`, and flag unknown ones."""
    cur.execute(
        """
        CREATE TEMP TABLE import_customer ON COMMIT DROP AS
        SELECT c.external_id,
               CASE WHEN c.status = 'active' THEN c.id
                    WHEN m.status = 'active' THEN m.id END AS customer_id
        FROM callcenter_customer c
        LEFT JOIN callcenter_customer m ON m.id = c.merged_into_id
        WHERE c.external_id IN (SELECT DISTINCT customer_external_id FROM import_stage)
        """
    )
    cur.execute("DELETE FROM import_customer WHERE customer_id IS NULL")
    cur.execute("ALTER TABLE import_customer ADD PRIMARY KEY (external_id)")
    cur.execute("ANALYZE import_customer")
    cur.execute(
        """
        INSERT INTO import_error (line, ok, column_name, code, value, detail)
        SELECT s.line, s.ok, 'customer_external_id', 'unknown_customer',
               s.customer_external_id, ''
        FROM import_stage s
        WHERE s.customer_external_id IS NOT NULL
          AND NOT EXISTS (
              SELECT 1 FROM import_customer r WHERE r.external_id = s.customer_external_id
          )
        """
    )


def record_created(
    cur: Cursor, insert_sql: str, params: dict[str, Any], customer_column: str = "customer_id"
) -> int:
    """Run an `INSERT ... SELECT` and keep the new ids (with their customer) in
    `import_created`, for events; returns how many rows it created."""
    cur.execute(
        "CREATE TEMP TABLE import_created (id bigint PRIMARY KEY, customer_id bigint) "
        "ON COMMIT DROP"
    )
    cur.execute(
        f"WITH written AS ({insert_sql} RETURNING id, {customer_column} AS customer_id) "  # noqa: S608 - module constants
        "INSERT INTO import_created (id, customer_id) SELECT id, customer_id FROM written",
        params,
    )
    created = cur.rowcount
    cur.execute("ANALYZE import_created")
    return created


def fetch_batches(conn: Connection, sql: str, params: dict[str, Any]) -> Iterator[Sequence[Any]]:
    """Rows of `sql` in batches of EVENT_BATCH_SIZE from a server-side cursor."""
    with conn.cursor(name="import_events") as cur:
        cur.execute(sql, params)
        while rows := cur.fetchmany(EVENT_BATCH_SIZE):
            yield rows


def emit_batches(
    conn: Connection,
    sql: str,
    params: dict[str, Any],
    build: Callable[[Sequence[Any]], list[DomainEvent]],
) -> None:
    """Announce the events built from each batch of rows of `sql`, one emit per batch."""
    for rows in fetch_batches(conn, sql, params):
        events = [event for row in rows for event in build(row)]
        emit_events(events)

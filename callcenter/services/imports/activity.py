"""Importing what happens with customers: orders, interactions, tickets and survey answers.

Each kind references its customer by `customer_external_id` (resolved once, set-based, into
`import_customer`), upserts by `external_id` with one UPDATE ... FROM and one INSERT ... SELECT
from the staging table, and announces events for what it created in batches read from SQL.
An empty optional cell means the default for a new row and keeps the stored value otherwise.
"""

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils.translation import gettext as _
from psycopg import Connection, Cursor, sql

from callcenter.choices import (
    Direction,
    ImportKind,
    InteractionChannel,
    OrderStatus,
    SurveyKind,
    TicketKind,
    TicketPriority,
    TicketStatus,
)
from callcenter.events import (
    FIRST_ORDER,
    INTERACTION_LOGGED,
    ORDER_PLACED,
    ORDER_REFUNDED,
    SURVEY_SUBMITTED,
    TICKET_OPENED,
    TICKET_RESOLVED,
    DomainEvent,
)
from callcenter.limits import FREE_TEXT_MAX_LENGTH
from callcenter.sentiment import sentiment_score

from . import cells
from .base import (
    Column,
    ImportContext,
    KindSpec,
    RowHook,
    check_duplicate_ids,
    emit_batches,
    record_created,
    resolve_customers,
)

MAX_INTEGER = 2_147_483_647
# Distinct note texts whose sentiment is remembered during an import: call-center notes repeat
# a lot ("no answer", templates), and SnowNLP takes milliseconds per Chinese text.
SENTIMENT_CACHE_SIZE = 20_000

ID = Column("external_id", cells.text(64), required=True)
CUSTOMER_ID = Column("customer_external_id", cells.text(64), required=True)


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _check_references(cur: Cursor, ctx: ImportContext) -> None:
    check_duplicate_ids(cur)
    resolve_customers(cur)


# ---------------------------------------------------------------------------------- orders

ORDER_COLUMNS = (
    ID,
    CUSTOMER_ID,
    Column("placed_at", cells.moment, "timestamptz", required=True),
    Column("amount", cells.amount, "numeric(12, 2)", required=True),
    Column("currency", cells.currency),
    Column("category", cells.text(100)),
    Column("product", cells.text(200)),
    Column("channel", cells.text(50)),
    Column("status", cells.choice(OrderStatus.values)),
)

# Existing orders the file turns into refunds (for order_refunded), taken before the update.
ORDERS_TURNING_REFUNDED = """
INSERT INTO import_changed (id)
SELECT o.id FROM callcenter_order o JOIN import_stage s ON s.external_id = o.external_id
WHERE s.status = 'refunded' AND o.status <> 'refunded'
"""

UPDATE_ORDERS = """
UPDATE callcenter_order o SET
    customer_id = r.customer_id,
    placed_at = s.placed_at,
    amount = s.amount,
    currency = coalesce(s.currency, o.currency),
    category = coalesce(s.category, o.category),
    product = coalesce(s.product, o.product),
    channel = coalesce(s.channel, o.channel),
    status = coalesce(s.status, o.status),
    updated_at = %(now)s
FROM import_stage s
JOIN import_customer r ON r.external_id = s.customer_external_id
WHERE o.external_id = s.external_id
  AND (o.customer_id, o.placed_at, o.amount, o.currency, o.category, o.product, o.channel,
       o.status)
      IS DISTINCT FROM
      (r.customer_id, s.placed_at, s.amount, coalesce(s.currency, o.currency),
       coalesce(s.category, o.category), coalesce(s.product, o.product),
       coalesce(s.channel, o.channel), coalesce(s.status, o.status))
"""

INSERT_ORDERS = """
INSERT INTO callcenter_order (
    created_at, updated_at, external_id, customer_id, placed_at, amount, currency, category,
    product, channel, status)
SELECT %(now)s, %(now)s, s.external_id, r.customer_id, s.placed_at, s.amount,
       coalesce(s.currency, 'CNY'), coalesce(s.category, ''), coalesce(s.product, ''),
       coalesce(s.channel, ''), coalesce(s.status, 'paid')
FROM import_stage s
JOIN import_customer r ON r.external_id = s.customer_external_id
WHERE NOT EXISTS (SELECT 1 FROM callcenter_order o WHERE o.external_id = s.external_id)
"""

# Created orders with a flag for each customer's first paid order (when the customer has no
# paid order this import did not create: those carry another created_at than the import's
# `now`), then existing orders that became refunds.
ORDER_EVENTS = """
WITH firsts AS (
    SELECT DISTINCT ON (o.customer_id) o.id, o.created_at = %(now)s AS is_new
    FROM callcenter_order o
    WHERE o.status = 'paid' AND o.customer_id IN (SELECT customer_id FROM import_created)
    ORDER BY o.customer_id, o.created_at = %(now)s, o.placed_at, o.id
)
SELECT o.id, o.customer_id, o.amount::text, o.category, o.status, o.placed_at,
       coalesce(f.is_new, false), false
FROM import_created c
JOIN callcenter_order o ON o.id = c.id
LEFT JOIN firsts f ON f.id = o.id
UNION ALL
SELECT o.id, o.customer_id, o.amount::text, o.category, o.status, o.placed_at, false, true
FROM import_changed ch
JOIN callcenter_order o ON o.id = ch.id
"""


def _write_orders(cur: Cursor, ctx: ImportContext) -> tuple[int, int]:
    params = {"now": ctx.now}
    cur.execute("CREATE TEMP TABLE import_changed (id bigint) ON COMMIT DROP")
    if ctx.announce:
        cur.execute(ORDERS_TURNING_REFUNDED)
    cur.execute(UPDATE_ORDERS, params)
    updated = cur.rowcount
    if not ctx.announce:
        # Without events nothing needs the new ids: skip keeping them aside.
        cur.execute(INSERT_ORDERS, params)
        return cur.rowcount, updated
    return record_created(cur, INSERT_ORDERS, params), updated


def _order_events(row: Sequence[Any]) -> list[DomainEvent]:
    order_id, customer_id, amount, category, status, placed_at, first, changed = row
    payload = {"order_id": order_id, "amount": amount, "category": category}
    if changed or status == OrderStatus.REFUNDED:
        occurred = None if changed else _iso(placed_at)
        return [DomainEvent(ORDER_REFUNDED, customer_id, payload, occurred)]
    if status != OrderStatus.PAID:
        return []
    events = [DomainEvent(ORDER_PLACED, customer_id, payload, _iso(placed_at))]
    if first:
        events.append(DomainEvent(FIRST_ORDER, customer_id, payload, _iso(placed_at)))
    return events


def _announce_orders(conn: Connection, ctx: ImportContext) -> None:
    emit_batches(conn, ORDER_EVENTS, {"now": ctx.now}, _order_events)


ORDERS = KindSpec(
    kind=ImportKind.ORDERS,
    columns=ORDER_COLUMNS,
    check=_check_references,
    write=_write_orders,
    announce=_announce_orders,
)

# ---------------------------------------------------------------------------- interactions

INTERACTION_COLUMNS = (
    ID,
    CUSTOMER_ID,
    Column("channel", cells.choice(InteractionChannel.values), required=True),
    Column("direction", cells.choice(Direction.values)),
    Column("occurred_at", cells.moment, "timestamptz", required=True),
    Column("duration_seconds", cells.whole_number(MAX_INTEGER), "integer"),
    Column("agent", cells.text(150)),
    Column("reason", cells.text(200)),
    Column("notes", cells.text(FREE_TEXT_MAX_LENGTH)),
    Column("outcome", cells.text(100)),
)


@lru_cache(maxsize=SENTIMENT_CACHE_SIZE)
def _sentiment(notes: str) -> float | None:
    return sentiment_score(notes)


def _interaction_hook(index: dict[str, int]) -> RowHook:
    notes_at, sentiment_at = index["notes"], index["sentiment"]

    def hook(values: list[Any], derive: bool) -> list[str]:
        if derive and values[notes_at] is not None:
            values[sentiment_at] = _sentiment(values[notes_at])
        return []

    return hook


def _user_table() -> sql.Identifier:
    return sql.Identifier(get_user_model()._meta.db_table)


def _check_interactions(cur: Cursor, ctx: ImportContext) -> None:
    _check_references(cur, ctx)
    cur.execute(
        sql.SQL(
            """
            INSERT INTO import_error (line, ok, column_name, code, value, detail)
            SELECT s.line, s.ok, 'agent', 'unknown_user', s.agent, ''
            FROM import_stage s
            WHERE s.agent IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM {users} u WHERE u.username = s.agent)
            """
        ).format(users=_user_table())
    )


UPDATE_INTERACTIONS = """
UPDATE callcenter_interaction i SET
    customer_id = r.customer_id,
    channel = s.channel,
    direction = coalesce(s.direction, i.direction),
    occurred_at = s.occurred_at,
    duration_seconds = coalesce(s.duration_seconds, i.duration_seconds),
    agent_id = coalesce(u.id, i.agent_id),
    reason = coalesce(s.reason, i.reason),
    notes = coalesce(s.notes, i.notes),
    outcome = coalesce(s.outcome, i.outcome),
    sentiment = CASE WHEN s.notes IS NULL THEN i.sentiment ELSE s.sentiment END,
    updated_at = %(now)s
FROM import_stage s
JOIN import_customer r ON r.external_id = s.customer_external_id
LEFT JOIN {users} u ON u.username = s.agent
WHERE i.external_id = s.external_id
  AND (i.customer_id, i.channel, i.direction, i.occurred_at, i.duration_seconds, i.agent_id,
       i.reason, i.notes, i.outcome)
      IS DISTINCT FROM
      (r.customer_id, s.channel, coalesce(s.direction, i.direction), s.occurred_at,
       coalesce(s.duration_seconds, i.duration_seconds), coalesce(u.id, i.agent_id),
       coalesce(s.reason, i.reason), coalesce(s.notes, i.notes),
       coalesce(s.outcome, i.outcome))
"""

INSERT_INTERACTIONS = """
INSERT INTO callcenter_interaction (
    created_at, updated_at, external_id, customer_id, channel, direction, occurred_at,
    duration_seconds, agent_id, reason, notes, outcome, sentiment)
SELECT %(now)s, %(now)s, s.external_id, r.customer_id, s.channel,
       coalesce(s.direction, 'inbound'), s.occurred_at, coalesce(s.duration_seconds, 0), u.id,
       coalesce(s.reason, ''), coalesce(s.notes, ''), coalesce(s.outcome, ''), s.sentiment
FROM import_stage s
JOIN import_customer r ON r.external_id = s.customer_external_id
LEFT JOIN {users} u ON u.username = s.agent
WHERE NOT EXISTS (SELECT 1 FROM callcenter_interaction i WHERE i.external_id = s.external_id)
"""


def _write_interactions(cur: Cursor, ctx: ImportContext) -> tuple[int, int]:
    params = {"now": ctx.now}
    users = _user_table()
    cur.execute(sql.SQL(UPDATE_INTERACTIONS).format(users=users), params)
    updated = cur.rowcount
    insert = sql.SQL(INSERT_INTERACTIONS).format(users=users).as_string(cur)
    created = record_created(cur, insert, params)
    return created, updated


def _interaction_events(row: Sequence[Any]) -> list[DomainEvent]:
    interaction_id, customer_id, channel, sentiment, occurred_at = row
    payload = {"interaction_id": interaction_id, "channel": channel, "sentiment": sentiment}
    return [DomainEvent(INTERACTION_LOGGED, customer_id, payload, _iso(occurred_at))]


def _announce_interactions(conn: Connection, ctx: ImportContext) -> None:
    emit_batches(
        conn,
        "SELECT i.id, i.customer_id, i.channel, i.sentiment, i.occurred_at "
        "FROM import_created c JOIN callcenter_interaction i ON i.id = c.id ORDER BY i.id",
        {},
        _interaction_events,
    )


INTERACTIONS = KindSpec(
    kind=ImportKind.INTERACTIONS,
    columns=INTERACTION_COLUMNS,
    check=_check_interactions,
    write=_write_interactions,
    announce=_announce_interactions,
    derived_fields=(("sentiment", "double precision"),),
    row_hook=_interaction_hook,
)

# --------------------------------------------------------------------------------- tickets

TICKET_COLUMNS = (
    ID,
    CUSTOMER_ID,
    Column("kind", cells.choice(TicketKind.values), required=True),
    Column("status", cells.choice(TicketStatus.values)),
    Column("priority", cells.choice(TicketPriority.values)),
    Column("subject", cells.text(200), required=True),
    Column("description", cells.text(FREE_TEXT_MAX_LENGTH)),
    Column("opened_at", cells.moment, "timestamptz", required=True),
    Column("resolved_at", cells.moment, "timestamptz"),
)


def _ticket_hook(index: dict[str, int]) -> RowHook:
    opened_at, resolved_at = index["opened_at"], index["resolved_at"]

    def hook(values: list[Any], derive: bool) -> list[str]:
        opened, resolved = values[opened_at], values[resolved_at]
        if (
            opened is not None
            and resolved is not None
            and cells.aware(resolved) < cells.aware(opened)
        ):
            return [f"resolved_at: {_('is before opened_at')}"]
        return []

    return hook


def _check_tickets(cur: Cursor, ctx: ImportContext) -> None:
    _check_references(cur, ctx)
    cur.execute(
        """
        INSERT INTO import_error (line, ok, column_name, code, value, detail)
        SELECT s.line, s.ok, 'opened_at', 'resolved_before_opened', '',
               to_char(t.resolved_at AT TIME ZONE %(tz)s, 'YYYY-MM-DD HH24:MI')
        FROM import_stage s
        JOIN callcenter_ticket t ON t.external_id = s.external_id
        WHERE s.ok AND s.resolved_at IS NULL AND t.resolved_at < s.opened_at
        """,
        {"tz": settings.TIME_ZONE},
    )


# Existing open tickets the file resolves (for ticket_resolved), taken before the update.
TICKETS_TURNING_RESOLVED = """
INSERT INTO import_changed (id)
SELECT t.id FROM callcenter_ticket t JOIN import_stage s ON s.external_id = t.external_id
WHERE s.status = 'resolved' AND t.status IN ('open', 'in_progress')
"""

UPDATE_TICKETS = """
UPDATE callcenter_ticket t SET
    customer_id = r.customer_id,
    kind = s.kind,
    status = coalesce(s.status, t.status),
    priority = coalesce(s.priority, t.priority),
    subject = s.subject,
    description = coalesce(s.description, t.description),
    opened_at = s.opened_at,
    resolved_at = coalesce(s.resolved_at, t.resolved_at),
    updated_at = %(now)s
FROM import_stage s
JOIN import_customer r ON r.external_id = s.customer_external_id
WHERE t.external_id = s.external_id
  AND (t.customer_id, t.kind, t.status, t.priority, t.subject, t.description, t.opened_at,
       t.resolved_at)
      IS DISTINCT FROM
      (r.customer_id, s.kind, coalesce(s.status, t.status), coalesce(s.priority, t.priority),
       s.subject, coalesce(s.description, t.description), s.opened_at,
       coalesce(s.resolved_at, t.resolved_at))
"""

INSERT_TICKETS = """
INSERT INTO callcenter_ticket (
    created_at, updated_at, external_id, customer_id, kind, status, priority, subject,
    description, opened_at, resolved_at)
SELECT %(now)s, %(now)s, s.external_id, r.customer_id, s.kind, coalesce(s.status, 'open'),
       coalesce(s.priority, 'normal'), s.subject, coalesce(s.description, ''), s.opened_at,
       s.resolved_at
FROM import_stage s
JOIN import_customer r ON r.external_id = s.customer_external_id
WHERE NOT EXISTS (SELECT 1 FROM callcenter_ticket t WHERE t.external_id = s.external_id)
"""

TICKET_EVENTS = """
SELECT t.id, t.customer_id, t.kind, t.priority, t.status, t.opened_at, t.resolved_at, true
FROM import_created c JOIN callcenter_ticket t ON t.id = c.id
UNION ALL
SELECT t.id, t.customer_id, t.kind, t.priority, t.status, t.opened_at, t.resolved_at, false
FROM import_changed ch JOIN callcenter_ticket t ON t.id = ch.id
"""


def _write_tickets(cur: Cursor, ctx: ImportContext) -> tuple[int, int]:
    params = {"now": ctx.now}
    cur.execute("CREATE TEMP TABLE import_changed (id bigint) ON COMMIT DROP")
    cur.execute(TICKETS_TURNING_RESOLVED)
    cur.execute(UPDATE_TICKETS, params)
    updated = cur.rowcount
    created = record_created(cur, INSERT_TICKETS, params)
    return created, updated


def _ticket_events(row: Sequence[Any]) -> list[DomainEvent]:
    ticket_id, customer_id, kind, priority, status, opened_at, resolved_at, created = row
    events = []
    if created:
        payload = {"ticket_id": ticket_id, "kind": kind, "priority": priority}
        events.append(DomainEvent(TICKET_OPENED, customer_id, payload, _iso(opened_at)))
    if status == TicketStatus.RESOLVED:
        payload = {"ticket_id": ticket_id, "kind": kind}
        events.append(DomainEvent(TICKET_RESOLVED, customer_id, payload, _iso(resolved_at)))
    return events


def _announce_tickets(conn: Connection, ctx: ImportContext) -> None:
    emit_batches(conn, TICKET_EVENTS, {}, _ticket_events)


TICKETS = KindSpec(
    kind=ImportKind.TICKETS,
    columns=TICKET_COLUMNS,
    check=_check_tickets,
    write=_write_tickets,
    announce=_announce_tickets,
    row_hook=_ticket_hook,
)

# --------------------------------------------------------------------------------- surveys

SURVEY_RANGES = {SurveyKind.NPS.value: (0, 10), SurveyKind.CSAT.value: (1, 5)}

SURVEY_COLUMNS = (
    ID,
    CUSTOMER_ID,
    Column("kind", cells.choice(SurveyKind.values), required=True),
    Column("score", cells.whole_number(32767), "smallint", required=True),
    Column("comment", cells.text(FREE_TEXT_MAX_LENGTH)),
    Column("responded_at", cells.moment, "timestamptz", required=True),
    Column("ticket_external_id", cells.text(64)),
)


def _survey_hook(index: dict[str, int]) -> RowHook:
    kind_at, score_at = index["kind"], index["score"]

    def hook(values: list[Any], derive: bool) -> list[str]:
        kind, score = values[kind_at], values[score_at]
        if kind is None or score is None:
            return []
        low, high = SURVEY_RANGES[kind]
        if low <= score <= high:
            return []
        message = _("%(score)s is outside %(low)s to %(high)s for %(kind)s") % {
            "score": score,
            "low": low,
            "high": high,
            "kind": kind.upper(),
        }
        return [f"score: {message}"]

    return hook


def _check_surveys(cur: Cursor, ctx: ImportContext) -> None:
    _check_references(cur, ctx)
    cur.execute(
        """
        INSERT INTO import_error (line, ok, column_name, code, value, detail)
        SELECT s.line, s.ok, 'ticket_external_id', 'unknown_ticket', s.ticket_external_id, ''
        FROM import_stage s
        WHERE s.ticket_external_id IS NOT NULL
          AND NOT EXISTS (
              SELECT 1 FROM callcenter_ticket t WHERE t.external_id = s.ticket_external_id
          );

        INSERT INTO import_error (line, ok, column_name, code, value, detail)
        SELECT s.line, s.ok, 'ticket_external_id', 'ticket_other_customer',
               s.ticket_external_id, ''
        FROM import_stage s
        JOIN import_customer r ON r.external_id = s.customer_external_id
        JOIN callcenter_ticket t ON t.external_id = s.ticket_external_id
        WHERE t.customer_id <> r.customer_id;
        """
    )


UPDATE_SURVEYS = """
UPDATE callcenter_surveyresponse sr SET
    customer_id = r.customer_id,
    kind = s.kind,
    score = s.score,
    comment = coalesce(s.comment, sr.comment),
    responded_at = s.responded_at,
    ticket_id = coalesce(t.id, sr.ticket_id),
    updated_at = %(now)s
FROM import_stage s
JOIN import_customer r ON r.external_id = s.customer_external_id
LEFT JOIN callcenter_ticket t ON t.external_id = s.ticket_external_id
WHERE sr.external_id = s.external_id
  AND (sr.customer_id, sr.kind, sr.score, sr.comment, sr.responded_at, sr.ticket_id)
      IS DISTINCT FROM
      (r.customer_id, s.kind, s.score, coalesce(s.comment, sr.comment), s.responded_at,
       coalesce(t.id, sr.ticket_id))
"""

INSERT_SURVEYS = """
INSERT INTO callcenter_surveyresponse (
    created_at, updated_at, external_id, customer_id, kind, score, comment, responded_at,
    ticket_id)
SELECT %(now)s, %(now)s, s.external_id, r.customer_id, s.kind, s.score, coalesce(s.comment, ''),
       s.responded_at, t.id
FROM import_stage s
JOIN import_customer r ON r.external_id = s.customer_external_id
LEFT JOIN callcenter_ticket t ON t.external_id = s.ticket_external_id
WHERE NOT EXISTS (
    SELECT 1 FROM callcenter_surveyresponse sr WHERE sr.external_id = s.external_id
)
"""


def _write_surveys(cur: Cursor, ctx: ImportContext) -> tuple[int, int]:
    params = {"now": ctx.now}
    cur.execute(UPDATE_SURVEYS, params)
    updated = cur.rowcount
    created = record_created(cur, INSERT_SURVEYS, params)
    return created, updated


def _survey_events(row: Sequence[Any]) -> list[DomainEvent]:
    survey_id, customer_id, kind, score, responded_at = row
    payload = {"survey_id": survey_id, "kind": kind, "score": score}
    return [DomainEvent(SURVEY_SUBMITTED, customer_id, payload, _iso(responded_at))]


def _announce_surveys(conn: Connection, ctx: ImportContext) -> None:
    emit_batches(
        conn,
        "SELECT sr.id, sr.customer_id, sr.kind, sr.score, sr.responded_at "
        "FROM import_created c JOIN callcenter_surveyresponse sr ON sr.id = c.id ORDER BY sr.id",
        {},
        _survey_events,
    )


SURVEYS = KindSpec(
    kind=ImportKind.SURVEYS,
    columns=SURVEY_COLUMNS,
    check=_check_surveys,
    write=_write_surveys,
    announce=_announce_surveys,
    row_hook=_survey_hook,
)

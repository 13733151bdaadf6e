"""Screen-pop: the card an agent sees when a call rings, found by the caller's number.

The card is one indexed lookup (active phone contact point by kind and normalized value,
joined to its customer and advisor), then every SQL section at once: their statements go to
PostgreSQL in one round trip, as prepared statements in one pipeline (callcenter.prepared:
planning them on every call cost more server CPU than running them), and come back as one
result set each. Statements are written out, not compiled from querysets: on this path, which
runs on every call, compiling eight querysets and waiting for eight round trips cost more than
the queries themselves (bench/screenpop.py measures it). Reads go to `read_alias()`: the
replica when one is configured, a little lag being harmless on a card.

The card is assembled from sections, each a function of the customer dict returning plain
JSON values. Apps that know more about a customer (segments, tasks, a suggested script) add
their own section with `screenpop_section_register` in their `AppConfig.ready()`, so this
module never imports them; a section that is an `SqlSection` joins the single round trip.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _

from callcenter.choices import OPEN_TICKET_STATUSES, ContactKind, CustomerStatus, OrderStatus
from callcenter.phones import try_normalize_phone
from callcenter.prepared import fetch_prepared
from callcenter.replica import read_alias

RECENT_INTERACTIONS = 5
OPEN_TICKETS_SHOWN = 10
RECENT_ORDERS = 3
# A merged customer points at its survivor; chains are short, this bounds a corrupt cycle.
MAX_MERGE_HOPS = 5

ScreenpopSection = Callable[[dict[str, Any]], Any]
Rows = list[dict[str, Any]]

# Plain SQL on the tables of callcenter.models (Customer, ContactPoint, Interaction, Ticket,
# Order) and Django's auth_user; tests/callcenter/test_screenpop.py checks the card field by field.
_CUSTOMER_SELECT = """
SELECT c.id, c.external_id, c.name, c.kind, c.company_name, c.city, c.language, c.timezone,
       c.birthday, c.status, c.merged_into_id, c.sms_opt_out, c.call_opt_out,
       c.email_opt_out, c.do_not_contact, c.advisor_id, a.username AS advisor_username,
       a.first_name AS advisor_first_name, a.last_name AS advisor_last_name
FROM callcenter_customer c
LEFT JOIN auth_user a ON a.id = c.advisor_id
"""
_OWNER_SQL = (
    _CUSTOMER_SELECT
    + """JOIN callcenter_contactpoint p ON p.customer_id = c.id
WHERE p.kind = %(kind)s AND p.value = %(phone)s AND p.is_active
LIMIT 1"""
)
_CUSTOMER_SQL = _CUSTOMER_SELECT + "WHERE c.id = %(id)s"


@dataclass(frozen=True)
class SqlSection:
    """A card section made of SQL statements on `%(customer)s` (the customer id), one statement
    per string, run in the card's single round trip; `build` turns their rows (one list of
    dicts per statement) into the section's JSON value. Called on its own, it runs its
    statements like any section."""

    statements: Sequence[str]
    build: Callable[..., Any]
    params: dict[str, Any] | None = None

    def __call__(self, customer: dict[str, Any]) -> Any:
        return _run_sql_sections([self], customer["id"], read_alias())[0]


def _run_sql_sections(sections: Sequence[SqlSection], customer_id: int, alias: str) -> list[Any]:
    """The values of `sections`, all their statements sent in one round trip as prepared
    statements (callcenter.prepared)."""
    result_sets = fetch_prepared(
        alias,
        [
            (statement, {**(section.params or {}), "customer": customer_id})
            for section in sections
            for statement in section.statements
        ],
    )
    values = []
    for section in sections:
        count = len(section.statements)
        values.append(section.build(*result_sets[:count]))
        result_sets = result_sets[count:]
    return values


def _person(user_id: int | None, username: str | None, first: str, last: str) -> dict | None:
    if user_id is None:
        return None
    return {
        "id": user_id,
        "username": username,
        "name": f"{first or ''} {last or ''}".strip() or username,
    }


def _customer_card(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "external_id": row["external_id"],
        "name": row["name"],
        "kind": row["kind"],
        "company_name": row["company_name"],
        "city": row["city"],
        "language": row["language"],
        "timezone": row["timezone"],
        "birthday": row["birthday"],
        "consent": {
            "sms_opt_out": row["sms_opt_out"],
            "call_opt_out": row["call_opt_out"],
            "email_opt_out": row["email_opt_out"],
            "do_not_contact": row["do_not_contact"],
        },
        "advisor": _person(
            row["advisor_id"],
            row["advisor_username"],
            row["advisor_first_name"],
            row["advisor_last_name"],
        ),
    }


def _owner_row(phone: str, alias: str) -> dict[str, Any] | None:
    rows = fetch_prepared(alias, [(_OWNER_SQL, {"kind": ContactKind.PHONE.value, "phone": phone})])
    row = rows[0][0] if rows[0] else None
    hops = 0
    while row is not None and row["status"] == CustomerStatus.MERGED:
        hops += 1
        if hops > MAX_MERGE_HOPS:
            return None
        rows = fetch_prepared(alias, [(_CUSTOMER_SQL, {"id": row["merged_into_id"]})])
        row = rows[0][0] if rows[0] else None
    return row


def screenpop_owner(*, phone: str) -> dict[str, Any] | None:
    """The active customer owning the normalized `phone`, as a card dict, or None.

    One query on the (kind, value) index of active contact points. If the number still sits
    on a customer that was merged, the survivor is returned instead (one query per hop).
    """
    row = _owner_row(phone, read_alias())
    return _customer_card(row) if row is not None else None


def _as_is(rows: Rows) -> Rows:
    return rows


contact_points_section = SqlSection(
    statements=[
        "SELECT kind, system, value, label, is_primary FROM callcenter_contactpoint "
        "WHERE customer_id = %(customer)s AND is_active ORDER BY kind, is_primary DESC, id"
    ],
    build=_as_is,
)
"""Active phones, emails and ids of the customer, primary first per kind."""


def _recent_interactions(rows: Rows) -> Rows:
    return [
        {
            "id": row["id"],
            "occurred_at": row["occurred_at"],
            "channel": row["channel"],
            "direction": row["direction"],
            "reason": row["reason"],
            "outcome": row["outcome"],
            "sentiment": row["sentiment"],
            "agent": _person(
                row["agent_id"],
                row["agent_username"],
                row["agent_first_name"],
                row["agent_last_name"],
            ),
        }
        for row in rows
    ]


recent_interactions_section = SqlSection(
    statements=[
        """SELECT i.id, i.occurred_at, i.channel, i.direction, i.reason, i.outcome,
       i.sentiment, i.agent_id, u.username AS agent_username,
       u.first_name AS agent_first_name, u.last_name AS agent_last_name
FROM callcenter_interaction i LEFT JOIN auth_user u ON u.id = i.agent_id
WHERE i.customer_id = %(customer)s
ORDER BY i.occurred_at DESC, i.id DESC LIMIT %(recent_interactions)s"""
    ],
    build=_recent_interactions,
    params={"recent_interactions": RECENT_INTERACTIONS},
)
"""The last few contacts, newest first, with their sentiment and agent."""


open_tickets_section = SqlSection(
    statements=[
        """SELECT id, kind, status, priority, subject, opened_at FROM callcenter_ticket
WHERE customer_id = %(customer)s AND status = ANY(%(open_ticket_statuses)s)
ORDER BY opened_at DESC, id DESC LIMIT %(open_tickets)s"""
    ],
    build=_as_is,
    params={
        "open_ticket_statuses": [str(value) for value in OPEN_TICKET_STATUSES],
        "open_tickets": OPEN_TICKETS_SHOWN,
    },
)
"""Open and in-progress tickets, newest first."""


def _orders(totals: Rows, recent: Rows) -> dict[str, Any]:
    return {
        "paid_count": totals[0]["paid_count"],
        "total_spend": str(totals[0]["total_spend"] or Decimal("0.00")),
        "last_order_at": totals[0]["last_order_at"],
        "recent": [{**row, "amount": str(row["amount"])} for row in recent],
    }


orders_section = SqlSection(
    statements=[
        """SELECT count(id) AS paid_count, sum(amount) AS total_spend,
       max(placed_at) AS last_order_at
FROM callcenter_order WHERE customer_id = %(customer)s AND status = %(paid)s""",
        """SELECT id, external_id, placed_at, amount, currency, category, status
FROM callcenter_order WHERE customer_id = %(customer)s
ORDER BY placed_at DESC, id DESC LIMIT %(recent_orders)s""",
    ],
    build=_orders,
    params={"paid": OrderStatus.PAID.value, "recent_orders": RECENT_ORDERS},
)
"""Paid-order count, total spend and last order date, plus the last few orders."""


_SECTIONS: dict[str, ScreenpopSection] = {
    "contact_points": contact_points_section,
    "recent_interactions": recent_interactions_section,
    "open_tickets": open_tickets_section,
    "orders": orders_section,
}
_RESERVED_KEYS = frozenset({"known", "phone", "customer", "message"})


def screenpop_section_register(name: str, section: ScreenpopSection) -> None:
    """Add (or replace) a card section; call it from an AppConfig.ready()."""
    if name in _RESERVED_KEYS:
        raise ValueError(f"{name!r} is a reserved screen-pop key")
    _SECTIONS[name] = section


def screenpop_sections() -> tuple[str, ...]:
    """Names of the sections a known caller's card carries, in order."""
    return tuple(_SECTIONS)


def screenpop_for_phone(*, phone: str) -> dict[str, Any]:
    """The screen-pop card for a caller number in any format.

    Known caller: `{"known": true, "phone", "customer", <one key per section>}`. Unknown or
    invalid number: `{"known": false, "phone": <normalized or as given>, "message"}`; an
    invalid number costs no query. A known caller costs the owner lookup and one round trip
    for every SqlSection, plus whatever other sections ask.
    """
    normalized = try_normalize_phone(phone)
    alias = read_alias()
    row = _owner_row(normalized, alias) if normalized else None
    if row is None:
        return {
            "known": False,
            "phone": normalized or phone.strip(),
            "message": _("unknown caller"),
        }
    customer = _customer_card(row)
    card: dict[str, Any] = {"known": True, "phone": normalized, "customer": customer}
    batched = {name: s for name, s in _SECTIONS.items() if isinstance(s, SqlSection)}
    values = dict(
        zip(batched, _run_sql_sections(list(batched.values()), customer["id"], alias), strict=True)
    )
    for name, section in _SECTIONS.items():
        card[name] = values[name] if name in batched else section(customer)
    return card

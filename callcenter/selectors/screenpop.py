"""Screen-pop: the card an agent sees when a call rings, found by the caller's number.

The card is one statement and one round trip: PostgreSQL finds the owner of the number (the
active phone contact point by kind and normalized value, following a merged customer to its
survivor), reads every section with small indexed queries, and builds the whole card as one
JSON text, which the API sends on as it is. Built in Python from section rows, the same card
costs several times the Python CPU per call, on the path that runs for every ringing call,
while PostgreSQL does the same work either way (docs/performance.md). The statement is
prepared (callcenter.prepared) and read through `read_alias()`: the replica when one is
configured, a little lag being harmless on a card.

The card is assembled from sections. Apps that know more about a customer (segments, tasks, a
suggested script) add their own with `screenpop_section_register` in their
`AppConfig.ready()`, so this module never imports them. A `SqlSection` is a SQL expression
that joins the card's statement; any other callable gets the customer dict after it and
returns a JSON value.
Values follow the API's JSON conventions: timestamps in UTC as `2025-03-01T02:15:00Z`
(`sql_timestamp`), decimals as strings, people as `{id, username, name}` (`sql_person`).

Contact details follow `callcenter.masking`: the statement masks the caller's number and the
contact points itself, driven by the bound boolean `%(full_contacts)s`, so its text is the same
for every role and stays one prepared statement. A section that shows contact details masks
them with `sql_contact_for(FULL_CONTACTS, ...)`.
"""

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.utils.translation import gettext as _
from psycopg.rows import tuple_row

from callcenter.choices import (
    OPEN_TICKET_STATUSES,
    ContactKind,
    CustomerKind,
    CustomerStatus,
    OrderStatus,
)
from callcenter.masking import sql_contact_for, sql_mask_phone
from callcenter.phones import try_normalize_phone
from callcenter.prepared import fetch_prepared
from callcenter.replica import read_alias

RECENT_INTERACTIONS = 5
OPEN_TICKETS_SHOWN = 10
RECENT_ORDERS = 3
# A merged customer points at its survivor; chains are short, this bounds a corrupt cycle.
MAX_MERGE_HOPS = 5

# The bound parameter saying whether the caller may see contact details in full.
FULL_CONTACTS = "%(full_contacts)s"

ScreenpopSection = Callable[[dict[str, Any]], Any]
# Section names become JSON keys inside the statement: plain identifiers only.
_SECTION_NAME = re.compile(r"[a-z][a-z0-9_]*")


def sql_timestamp(expression: str) -> str:
    """SQL turning a timestamptz `expression` into the API's text for it: UTC, `Z`, and
    microseconds only when there are any (as DRF's encoder writes a datetime); NULL stays
    NULL."""
    return (
        f"to_char(({expression}) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS') || "
        f"CASE WHEN mod(date_part('microseconds', {expression})::int, 1000000) = 0 THEN '' "
        f"ELSE to_char({expression}, '.US') END || 'Z'"
    )


def sql_person(alias: str) -> str:
    """SQL for the user row `alias` (an outer-joined auth_user) as `{id, username, name}`:
    the full name, else the username; NULL when there is no user."""
    return (
        f"CASE WHEN {alias}.id IS NOT NULL THEN json_build_object('id', {alias}.id, "
        f"'username', {alias}.username, 'name', coalesce(nullif(btrim({alias}.first_name "
        f"|| ' ' || {alias}.last_name), ''), {alias}.username)) END"
    )


@dataclass(frozen=True, eq=False)
class SqlSection:
    """A card section PostgreSQL builds inside the card's statement: `sql` is an expression
    of type json (a scalar subquery with `json_agg`, say) over the card's customer row `c`
    (the columns of callcenter_customer, `c.id` its id). `params` are the `%(name)s`
    parameters it uses; their names must not clash with another section's."""

    sql: str
    params: Mapping[str, Any] | None = None


# The caller's customer: the owner of the active number, or, when the number still sits on a
# merged customer, the end of its merge chain (at most MAX_MERGE_HOPS hops).
_OWNER_CTE = f"""WITH RECURSIVE chain AS (
    (SELECT c.*, 0 AS hops FROM callcenter_customer c
     JOIN callcenter_contactpoint p ON p.customer_id = c.id
     WHERE p.kind = %(kind)s AND p.value = %(phone)s AND p.is_active LIMIT 1)
    UNION ALL
    SELECT c.*, chain.hops + 1 FROM callcenter_customer c JOIN chain ON c.id = chain.merged_into_id
    WHERE chain.status = %(merged)s AND chain.hops < {MAX_MERGE_HOPS}
)
"""  # noqa: S608 - module constants
_OWNER_FROM = """
FROM chain c LEFT JOIN auth_user a ON a.id = c.advisor_id
WHERE c.status <> %(merged)s"""
_CUSTOMER_JSON = f"""json_build_object(
    'id', c.id, 'external_id', c.external_id, 'name', c.name, 'kind', c.kind,
    'company_name', c.company_name, 'city', c.city, 'language', c.language,
    'timezone', c.timezone, 'birthday', c.birthday,
    'consent', json_build_object('sms_opt_out', c.sms_opt_out, 'call_opt_out', c.call_opt_out,
        'email_opt_out', c.email_opt_out, 'do_not_contact', c.do_not_contact,
        'wechat_opt_out', c.wechat_opt_out, 'wecom_opt_out', c.wecom_opt_out),
    'advisor', {sql_person("a")})"""
_OWNER_SQL = f"{_OWNER_CTE}SELECT {_CUSTOMER_JSON}::text{_OWNER_FROM}"
# The owner lookup's fixed parameters; the caller adds the normalized phone.
_OWNER_PARAMS = {"kind": ContactKind.PHONE.value, "merged": CustomerStatus.MERGED.value}


contact_points_section = SqlSection(
    sql=f"""(SELECT coalesce(json_agg(json_build_object('id', id, 'kind', kind,
        'system', system, 'value', {sql_contact_for(FULL_CONTACTS, "kind", "value")},
        'label', label, 'is_primary', is_primary)
        ORDER BY kind, is_primary DESC, id), '[]')
    FROM callcenter_contactpoint WHERE customer_id = c.id AND is_active)"""  # noqa: S608 - module constants
)
"""Active phones, emails and ids of the customer, primary first per kind; values masked for
roles that do not see contact details in full (as ContactPointSerializer does)."""


recent_interactions_section = SqlSection(
    sql=f"""(SELECT coalesce(json_agg(json_build_object('id', i.id,
        'occurred_at', {sql_timestamp("i.occurred_at")}, 'channel', i.channel,
        'direction', i.direction, 'reason', i.reason, 'outcome', i.outcome,
        'sentiment', i.sentiment, 'agent', {sql_person("u")})
        ORDER BY i.occurred_at DESC, i.id DESC), '[]')
    FROM (SELECT * FROM callcenter_interaction WHERE customer_id = c.id
          ORDER BY occurred_at DESC, id DESC LIMIT %(recent_interactions)s) i
    LEFT JOIN auth_user u ON u.id = i.agent_id)""",  # noqa: S608 - module constants
    params={"recent_interactions": RECENT_INTERACTIONS},
)
"""The last few contacts, newest first, with their sentiment and agent."""


open_tickets_section = SqlSection(
    sql=f"""(SELECT coalesce(json_agg(json_build_object('id', id, 'kind', kind,
        'status', status, 'priority', priority, 'subject', subject,
        'opened_at', {sql_timestamp("opened_at")}) ORDER BY opened_at DESC, id DESC), '[]')
    FROM (SELECT * FROM callcenter_ticket
          WHERE customer_id = c.id AND status = ANY(%(open_ticket_statuses)s)
          ORDER BY opened_at DESC, id DESC LIMIT %(open_tickets)s) t)""",  # noqa: S608 - module constants
    params={
        "open_ticket_statuses": [str(value) for value in OPEN_TICKET_STATUSES],
        "open_tickets": OPEN_TICKETS_SHOWN,
    },
)
"""Open and in-progress tickets, newest first."""


orders_section = SqlSection(
    sql=f"""(SELECT json_build_object('paid_count', count(id),
        'total_spend', coalesce(sum(amount), 0.00)::text,
        'last_order_at', {sql_timestamp("max(placed_at)")},
        'recent', (SELECT coalesce(json_agg(json_build_object('id', id,
                'external_id', external_id, 'placed_at', {sql_timestamp("placed_at")},
                'amount', amount::text, 'currency', currency, 'category', category,
                'status', status) ORDER BY placed_at DESC, id DESC), '[]')
            FROM (SELECT * FROM callcenter_order WHERE customer_id = c.id
                  ORDER BY placed_at DESC, id DESC LIMIT %(recent_orders)s) o))
    FROM callcenter_order WHERE customer_id = c.id AND status = %(paid)s)""",  # noqa: S608 - module constants
    params={"paid": OrderStatus.PAID.value, "recent_orders": RECENT_ORDERS},
)
"""Paid-order count, total spend and last order date, plus the last few orders."""


ACCOUNT_OPEN_TICKETS_SHOWN = 10
STAKEHOLDERS_SHOWN = 20

account_section = SqlSection(
    sql=f"""(SELECT json_build_object('id', ac.id, 'name', ac.name,
        'company_name', ac.company_name, 'industry', ac.industry,
        'advisor', {sql_person("aa")}, 'caller_role', c.account_role,
        'open_tickets', (SELECT coalesce(json_agg(json_build_object('id', t.id,
                'kind', t.kind, 'status', t.status, 'priority', t.priority,
                'subject', t.subject, 'opened_at', {sql_timestamp("t.opened_at")},
                'customer', json_build_object('id', t.customer_id, 'name', t.customer_name))
                ORDER BY t.opened_at DESC, t.id DESC), '[]')
            FROM (SELECT t.*, m.name AS customer_name FROM callcenter_ticket t
                  JOIN callcenter_customer m ON m.id = t.customer_id
                  WHERE t.customer_id IN (SELECT ac.id UNION ALL SELECT k.id
                        FROM callcenter_customer k
                        WHERE k.account_id = ac.id AND k.status = %(account_active)s)
                    AND t.status = ANY(%(account_open_statuses)s)
                  ORDER BY t.opened_at DESC, t.id DESC LIMIT %(account_open_tickets)s) t),
        'stakeholders', (SELECT coalesce(json_agg(json_build_object('id', k.id,
                'name', k.name, 'role', k.account_role, 'phone', k.phone)
                ORDER BY k.account_role, k.name, k.id), '[]')
            FROM (SELECT k.id, k.name, k.account_role,
                    (SELECT {sql_contact_for(FULL_CONTACTS, "p.kind", "p.value")}
                     FROM callcenter_contactpoint p
                     WHERE p.customer_id = k.id AND p.is_active AND p.kind = %(account_phone)s
                     ORDER BY p.is_primary DESC, p.id LIMIT 1) AS phone
                  FROM callcenter_customer k
                  WHERE k.account_id = ac.id AND k.status = %(account_active)s AND k.id <> c.id
                  ORDER BY k.account_role, k.name, k.id LIMIT %(stakeholders)s) k))
    FROM callcenter_customer ac LEFT JOIN auth_user aa ON aa.id = ac.advisor_id
    WHERE ac.id = coalesce(c.account_id, CASE WHEN c.kind = %(account_business)s THEN c.id END)
      AND ac.kind = %(account_business)s AND ac.status = %(account_active)s
      AND (ac.id <> c.id OR EXISTS (SELECT 1 FROM callcenter_customer k
                                    WHERE k.account_id = c.id AND k.status = %(account_active)s)))
""",  # noqa: S608 - module constants
    params={
        "account_active": CustomerStatus.ACTIVE.value,
        "account_business": CustomerKind.BUSINESS.value,
        "account_phone": ContactKind.PHONE.value,
        "account_open_statuses": [str(value) for value in OPEN_TICKET_STATUSES],
        "account_open_tickets": ACCOUNT_OPEN_TICKETS_SHOWN,
        "stakeholders": STAKEHOLDERS_SHOWN,
    },
)
"""The business account of a caller who is one of its contacts (or of a business caller with
contacts): its name, industry and advisor, the caller's role, the open tickets of the account
and all its contacts (whose, newest first), and the other contacts with their role and primary
phone (masked as the contact points are). Null for anybody else."""


_SECTIONS: dict[str, ScreenpopSection | SqlSection] = {
    "contact_points": contact_points_section,
    "recent_interactions": recent_interactions_section,
    "open_tickets": open_tickets_section,
    "orders": orders_section,
    "account": account_section,
}
_RESERVED_KEYS = frozenset({"known", "phone", "customer", "message"})


def screenpop_section_register(name: str, section: ScreenpopSection | SqlSection) -> None:
    """Add (or replace) a card section; call it from an AppConfig.ready()."""
    if name in _RESERVED_KEYS:
        raise ValueError(f"{name!r} is a reserved screen-pop key")
    if not _SECTION_NAME.fullmatch(name):
        raise ValueError(f"{name!r} is not a section name (lowercase letters, digits, _)")
    _SECTIONS[name] = section


def screenpop_sections() -> tuple[str, ...]:
    """Names of the sections a known caller's card carries, in order."""
    return tuple(_SECTIONS)


# The caller's number on a known caller's card: masked unless the role sees it in full.
_CALLER_PHONE = (
    f"CASE WHEN {FULL_CONTACTS} THEN %(phone)s::text ELSE {sql_mask_phone('%(phone)s::text')} END"
)


@lru_cache(maxsize=8)
def _card_statement(sections: tuple[tuple[str, SqlSection], ...]) -> tuple[str, dict[str, Any]]:
    """The card's statement and fixed parameters for these SQL sections (cached: the
    registry only changes at start-up, and in tests)."""
    pairs = [f"'{name}', {section.sql}" for name, section in sections]
    params: dict[str, Any] = dict(_OWNER_PARAMS)
    for _name, section in sections:
        params.update(section.params or {})
    sql = (
        f"{_OWNER_CTE}SELECT json_build_object('known', true, 'phone', {_CALLER_PHONE}, "
        f"'customer', {_CUSTOMER_JSON}, {', '.join(pairs)})::text{_OWNER_FROM}"
    )
    return sql, params


def _fetch_text(sql: str, params: Mapping[str, Any]) -> str | None:
    rows = fetch_prepared(read_alias(), sql, params, row_factory=tuple_row)
    return rows[0][0] if rows else None


def screenpop_owner(*, phone: str) -> dict[str, Any] | None:
    """The active customer owning the normalized `phone`, as the card's customer dict, or
    None. If the number still sits on a customer that was merged, the survivor is returned
    instead. One statement on the (kind, value) index of active contact points."""
    text = _fetch_text(_OWNER_SQL, {**_OWNER_PARAMS, "phone": phone})
    return json.loads(text) if text is not None else None


def screenpop_card_json(*, phone: str, full_contacts: bool) -> str:
    """The screen-pop card for a caller number in any format, as JSON text.

    Known caller: `{"known": true, "phone", "customer", <one key per section>}`; the caller's
    number and the contact points are masked unless `full_contacts` (see
    `callcenter.masking.contacts_visible_in_full`). Unknown or invalid number: `{"known":
    false, "phone": <the number asked about, normalized or as given>, "message"}`; an invalid
    number costs no query. A known caller costs one statement, plus whatever sections that
    are not SqlSections ask.
    """
    normalized = try_normalize_phone(phone)
    sql_sections = tuple((n, s) for n, s in _SECTIONS.items() if isinstance(s, SqlSection))
    text = None
    if normalized:
        sql, params = _card_statement(sql_sections)
        text = _fetch_text(sql, {**params, "phone": normalized, "full_contacts": full_contacts})
    if text is None:
        unknown = {
            "known": False,
            "phone": normalized or phone.strip(),
            "message": _("unknown caller"),
        }
        return json.dumps(unknown, ensure_ascii=False, separators=(",", ":"))
    if len(sql_sections) == len(_SECTIONS):
        return text
    card = json.loads(text)
    for name, section in _SECTIONS.items():
        if not isinstance(section, SqlSection):
            card[name] = section(card["customer"])
    return json.dumps(card, ensure_ascii=False, separators=(",", ":"), cls=DjangoJSONEncoder)


def screenpop_for_phone(*, phone: str, full_contacts: bool) -> dict[str, Any]:
    """The card of `screenpop_card_json` as a dict (JSON values: timestamps are strings)."""
    return json.loads(screenpop_card_json(phone=phone, full_contacts=full_contacts))

"""The figures of business accounts' monthly reports, for many accounts at once.

An account's figures cover the account itself and every customer whose `account` is it (its
contacts): their paid orders per month over the last REPORT_MONTHS months and by category in
the month, their tickets opened and resolved in the month by kind with the share of SLA targets
met (service.TicketSla), the custom attributes the admin chose to show
(`settings.ACCOUNT_REPORT_FIGURES`) and the contacts. Months are calendar months on the
account's own clock. A chunk of accounts costs four statements, whatever its size.

SLA met %: of the tickets opened in the month that carry a target, those answered (resolved) by
the due moment, over those plus the ones that missed it (breached, answered late, or still
unanswered past the due moment when the report is made). Targets not yet due are left out.
"""

import datetime as dt
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection
from psycopg import sql

from callcenter.choices import OrderStatus
from callcenter.models import Customer, Order, Ticket
from service.models import TicketSla

# Months shown in the orders trend, the report's month the last of them.
REPORT_MONTHS = 12
# Categories listed by amount in the month; contacts listed in the report.
TOP_CATEGORIES = 5
CONTACTS_SHOWN = 30
# Contacts listed first, in this order (the rest by name).
ROLE_ORDER = ("decision_maker", "finance", "hr", "user", "other", "")

_CUSTOMER = sql.Identifier(Customer._meta.db_table)
_ORDER = sql.Identifier(Order._meta.db_table)
_TICKET = sql.Identifier(Ticket._meta.db_table)
_SLA = sql.Identifier(TicketSla._meta.db_table)

# Each account with its bounds: `ids`, `zones`, `window_starts` (REPORT_MONTHS back),
# `starts` and `ends` of the month, bound as parallel arrays.
_BOUNDS = sql.SQL("""
WITH bounds AS (
    SELECT * FROM unnest(
        %(ids)s::bigint[], %(zones)s::text[], %(window_starts)s::timestamptz[],
        %(starts)s::timestamptz[], %(ends)s::timestamptz[]
    ) AS b(account_id, zone, window_start, month_start, month_end)
), members AS (
    SELECT b.account_id, b.account_id AS customer_id FROM bounds b
    UNION ALL
    SELECT b.account_id, c.id FROM bounds b JOIN {customer} c ON c.account_id = b.account_id
)
""").format(customer=_CUSTOMER)

ORDERS_BY_MONTH_SQL = sql.SQL(
    """{bounds}
SELECT m.account_id,
       to_char(date_trunc('month', o.placed_at AT TIME ZONE b.zone), 'YYYY-MM') AS month,
       count(*) AS orders,
       sum(o.amount) AS amount,
       count(*) FILTER (WHERE o.customer_id = m.account_id) AS own_orders,
       coalesce(sum(o.amount) FILTER (WHERE o.customer_id = m.account_id), 0) AS own_amount
FROM members m
JOIN bounds b ON b.account_id = m.account_id
JOIN {order} o ON o.customer_id = m.customer_id
WHERE o.status = %(paid)s AND o.placed_at >= b.window_start AND o.placed_at < b.month_end
GROUP BY 1, 2
"""
).format(bounds=_BOUNDS, order=_ORDER)

CATEGORIES_SQL = sql.SQL(
    """{bounds}
SELECT account_id, category, orders, amount FROM (
    SELECT m.account_id, o.category, count(*) AS orders, sum(o.amount) AS amount,
           row_number() OVER (
               PARTITION BY m.account_id ORDER BY sum(o.amount) DESC, o.category
           ) AS rank
    FROM members m
    JOIN bounds b ON b.account_id = m.account_id
    JOIN {order} o ON o.customer_id = m.customer_id
    WHERE o.status = %(paid)s AND o.placed_at >= b.month_start AND o.placed_at < b.month_end
    GROUP BY 1, 2
) ranked
WHERE rank <= %(top)s
ORDER BY account_id, rank
"""
).format(bounds=_BOUNDS, order=_ORDER)

TICKETS_SQL = sql.SQL(
    """{bounds}
, tickets AS (
    SELECT m.account_id, t.kind,
           t.opened_at >= b.month_start AND t.opened_at < b.month_end AS opened,
           t.resolved_at >= b.month_start AND t.resolved_at < b.month_end AS resolved,
           s.first_response_due_at AS fr_due,
           coalesce(s.first_response_at, t.first_responded_at) AS fr_at,
           s.first_response_breached_at AS fr_breached,
           s.resolution_due_at AS res_due,
           coalesce(s.resolved_at, t.resolved_at) AS res_at,
           s.resolution_breached_at AS res_breached
    FROM members m
    JOIN bounds b ON b.account_id = m.account_id
    JOIN {ticket} t ON t.customer_id = m.customer_id
    LEFT JOIN {sla} s ON s.ticket_id = t.id
    WHERE (t.opened_at >= b.month_start AND t.opened_at < b.month_end)
       OR (t.resolved_at >= b.month_start AND t.resolved_at < b.month_end)
)
SELECT account_id, kind,
       count(*) FILTER (WHERE opened) AS opened,
       count(*) FILTER (WHERE resolved) AS resolved,
       count(*) FILTER (WHERE opened AND fr_due IS NOT NULL AND fr_breached IS NULL
                        AND fr_at <= fr_due) AS fr_met,
       count(*) FILTER (WHERE opened AND fr_due IS NOT NULL AND (fr_breached IS NOT NULL
                        OR fr_at > fr_due OR (fr_at IS NULL AND fr_due < %(now)s))) AS fr_missed,
       count(*) FILTER (WHERE opened AND res_due IS NOT NULL AND res_breached IS NULL
                        AND res_at <= res_due) AS res_met,
       count(*) FILTER (WHERE opened AND res_due IS NOT NULL AND (res_breached IS NOT NULL
                        OR res_at > res_due OR (res_at IS NULL AND res_due < %(now)s)))
           AS res_missed
FROM tickets
GROUP BY 1, 2
ORDER BY 1, 2
"""
).format(bounds=_BOUNDS, ticket=_TICKET, sla=_SLA)


@dataclass(frozen=True)
class MonthBounds:
    """A calendar month on one clock: its first day and the moments it starts and ends, and the
    start of the trend window (REPORT_MONTHS months ending with it)."""

    month: dt.date
    start: dt.datetime
    end: dt.datetime
    window_start: dt.datetime


def add_months(day: dt.date, months: int) -> dt.date:
    """The first day of the month `months` after (or before) `day`'s month."""
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def account_zone(name: str) -> zoneinfo.ZoneInfo:
    """The account's time zone, or the call center's when unknown."""
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def month_bounds(month: dt.date, zone_name: str) -> MonthBounds:
    zone = account_zone(zone_name)
    first = month.replace(day=1)

    def moment(day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, dt.time.min, zone)

    return MonthBounds(
        month=first,
        start=moment(first),
        end=moment(add_months(first, 1)),
        window_start=moment(add_months(first, 1 - REPORT_MONTHS)),
    )


def _money(value: Decimal | int | None) -> str:
    return str(Decimal(value or 0).quantize(Decimal("0.01")))


def _percent(met: int, missed: int) -> float | None:
    total = met + missed
    return round(100 * met / total, 1) if total else None


def figure_value(attributes: Any, key: str, month: dt.date) -> Any:
    """An attribute's figure for the month: a number or text as stored, or, when the
    attribute holds one value per month ({"2026-11": 1200, ...}), the month's."""
    if not isinstance(attributes, dict) or key not in attributes:
        return None
    value = attributes[key]
    if isinstance(value, dict):
        value = value.get(f"{month:%Y-%m}")
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    return value


def _fetch(statement: sql.Composed, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall()


def _role_rank(role: str) -> int:
    return ROLE_ORDER.index(role) if role in ROLE_ORDER else len(ROLE_ORDER)


def account_reports_data(
    *, account_ids: Iterable[int], month: dt.date, now: dt.datetime
) -> dict[int, dict[str, Any]]:
    """The report figures (JSON-ready) of each business account of `account_ids` for `month`,
    as of `now`; ids that are not business accounts are absent."""
    accounts: dict[int, dict[str, Any]] = {
        row["id"]: dict(row)
        for row in Customer.objects.filter(pk__in=list(account_ids), kind="business").values(
            "id",
            "name",
            "company_name",
            "industry",
            "employee_count",
            "language",
            "timezone",
            "attributes",
            "advisor_id",
            "advisor__username",
            "advisor__first_name",
            "advisor__last_name",
        )
    }
    if not accounts:
        return {}
    ids = sorted(accounts)
    bounds = {pk: month_bounds(month, accounts[pk]["timezone"]) for pk in ids}
    params = {
        "ids": ids,
        "zones": [str(account_zone(accounts[pk]["timezone"])) for pk in ids],
        "window_starts": [bounds[pk].window_start for pk in ids],
        "starts": [bounds[pk].start for pk in ids],
        "ends": [bounds[pk].end for pk in ids],
        "paid": OrderStatus.PAID,
        "top": TOP_CATEGORIES,
        "now": now,
    }
    report = {pk: _empty(accounts[pk], bounds[pk]) for pk in ids}
    for pk, label, orders, amount, own_orders, own_amount in _fetch(ORDERS_BY_MONTH_SQL, params):
        for point in report[pk]["orders"]["by_month"]:
            if point["month"] == label:
                point.update(count=orders, amount=_money(amount))
        if label == f"{month:%Y-%m}":
            report[pk]["orders"].update(
                count=orders,
                amount=_money(amount),
                own_count=own_orders,
                own_amount=_money(own_amount),
                contacts_count=orders - own_orders,
                contacts_amount=_money(amount - own_amount),
            )
    for pk, category, orders, amount in _fetch(CATEGORIES_SQL, params):
        report[pk]["orders"]["categories"].append(
            {"category": category, "count": orders, "amount": _money(amount)}
        )
    for pk, kind, opened, resolved, fr_met, fr_missed, res_met, res_missed in _fetch(
        TICKETS_SQL, params
    ):
        tickets = report[pk]["tickets"]
        tickets["opened"] += opened
        tickets["resolved"] += resolved
        if opened or resolved:
            tickets["by_kind"].append({"kind": kind, "opened": opened, "resolved": resolved})
        for name, met, missed in (
            ("first_response", fr_met, fr_missed),
            ("resolution", res_met, res_missed),
        ):
            tickets[name]["met"] += met
            tickets[name]["missed"] += missed
    for tickets in (report[pk]["tickets"] for pk in ids):
        for name in ("first_response", "resolution"):
            target = tickets[name]
            target["percent"] = _percent(target["met"], target["missed"])
    contacts = Customer.objects.filter(account_id__in=ids).values_list(
        "account_id", "name", "account_role"
    )
    for pk, name, role in sorted(contacts, key=lambda c: (c[0], _role_rank(c[2]), c[1])):
        report[pk]["contacts_total"] += 1
        if len(report[pk]["contacts"]) < CONTACTS_SHOWN:
            report[pk]["contacts"].append({"name": name, "role": role})
    return report


def _empty(account: dict[str, Any], bounds: MonthBounds) -> dict[str, Any]:
    advisor = " ".join(
        part for part in (account["advisor__first_name"], account["advisor__last_name"]) if part
    )
    months = [add_months(bounds.month, offset) for offset in range(1 - REPORT_MONTHS, 1)]
    return {
        "account": {
            "id": account["id"],
            "name": account["name"],
            "company_name": account["company_name"],
            "industry": account["industry"],
            "employee_count": account["employee_count"],
            "advisor": advisor or account["advisor__username"] or "",
        },
        "month": f"{bounds.month:%Y-%m}",
        "orders": {
            "count": 0,
            "amount": _money(0),
            "own_count": 0,
            "own_amount": _money(0),
            "contacts_count": 0,
            "contacts_amount": _money(0),
            "by_month": [{"month": f"{m:%Y-%m}", "count": 0, "amount": _money(0)} for m in months],
            "categories": [],
        },
        "tickets": {
            "opened": 0,
            "resolved": 0,
            "by_kind": [],
            "first_response": {"met": 0, "missed": 0, "percent": None},
            "resolution": {"met": 0, "missed": 0, "percent": None},
        },
        "figures": [
            {
                "key": figure["key"],
                "value": figure_value(account["attributes"], figure["key"], bounds.month),
            }
            for figure in settings.ACCOUNT_REPORT_FIGURES
        ],
        "contacts": [],
        "contacts_total": 0,
    }

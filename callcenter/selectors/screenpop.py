"""Screen-pop: the card an agent sees when a call rings, found by the caller's number.

The card is one indexed lookup (active phone contact point by kind and normalized value,
joined to its customer and advisor) plus one small indexed query per section. Rows are read
with `.values()` into plain dicts: this path runs on every call and must stay cheap.

The card is assembled from sections, each a function of the customer dict returning plain
JSON values. Apps that know more about a customer (segments, tasks, a suggested script) add
their own section with `screenpop_section_register` in their `AppConfig.ready()`, so this
module never imports them.
"""

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.db.models import Count, Max, Sum
from django.utils.translation import gettext as _

from callcenter.choices import OPEN_TICKET_STATUSES, ContactKind, CustomerStatus, OrderStatus
from callcenter.models import ContactPoint, Customer, Interaction, Order, Ticket
from callcenter.phones import try_normalize_phone

RECENT_INTERACTIONS = 5
OPEN_TICKETS_SHOWN = 10
RECENT_ORDERS = 3
# A merged customer points at its survivor; chains are short, this bounds a corrupt cycle.
MAX_MERGE_HOPS = 5

ScreenpopSection = Callable[[dict[str, Any]], Any]

_CUSTOMER_VALUES = (
    "id",
    "external_id",
    "name",
    "kind",
    "company_name",
    "city",
    "language",
    "timezone",
    "birthday",
    "status",
    "merged_into_id",
    "sms_opt_out",
    "call_opt_out",
    "email_opt_out",
    "do_not_contact",
    "advisor_id",
    "advisor__username",
    "advisor__first_name",
    "advisor__last_name",
)


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
            row["advisor__username"],
            row["advisor__first_name"],
            row["advisor__last_name"],
        ),
    }


def screenpop_owner(*, phone: str) -> dict[str, Any] | None:
    """The active customer owning the normalized `phone`, as a card dict, or None.

    One query on the (kind, value) index of active contact points. If the number still sits
    on a customer that was merged, the survivor is returned instead (one query per hop).
    """
    rows = list(
        Customer.objects.filter(
            contact_points__kind=ContactKind.PHONE,
            contact_points__value=phone,
            contact_points__is_active=True,
        )
        .order_by()
        .values(*_CUSTOMER_VALUES)[:1]
    )
    row = rows[0] if rows else None
    hops = 0
    while row is not None and row["status"] == CustomerStatus.MERGED:
        hops += 1
        if hops > MAX_MERGE_HOPS:
            return None
        row = (
            Customer.objects.filter(pk=row["merged_into_id"])
            .order_by()
            .values(*_CUSTOMER_VALUES)
            .first()
        )
    return _customer_card(row) if row is not None else None


def contact_points_section(customer: dict[str, Any]) -> list[dict[str, Any]]:
    """Active phones, emails and ids of the customer, primary first per kind."""
    return list(
        ContactPoint.objects.filter(customer_id=customer["id"], is_active=True)
        .order_by("kind", "-is_primary", "id")
        .values("kind", "system", "value", "label", "is_primary")
    )


def recent_interactions_section(customer: dict[str, Any]) -> list[dict[str, Any]]:
    """The last few contacts, newest first, with their sentiment and agent."""
    rows = (
        Interaction.objects.filter(customer_id=customer["id"])
        .order_by("-occurred_at", "-id")
        .values(
            "id",
            "occurred_at",
            "channel",
            "direction",
            "reason",
            "outcome",
            "sentiment",
            "agent_id",
            "agent__username",
            "agent__first_name",
            "agent__last_name",
        )[:RECENT_INTERACTIONS]
    )
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
                row["agent__username"],
                row["agent__first_name"],
                row["agent__last_name"],
            ),
        }
        for row in rows
    ]


def open_tickets_section(customer: dict[str, Any]) -> list[dict[str, Any]]:
    """Open and in-progress tickets, newest first."""
    return list(
        Ticket.objects.filter(customer_id=customer["id"], status__in=OPEN_TICKET_STATUSES)
        .order_by("-opened_at", "-id")
        .values("id", "kind", "status", "priority", "subject", "opened_at")[:OPEN_TICKETS_SHOWN]
    )


def orders_section(customer: dict[str, Any]) -> dict[str, Any]:
    """Paid-order count, total spend and last order date, plus the last few orders."""
    totals = Order.objects.filter(customer_id=customer["id"], status=OrderStatus.PAID).aggregate(
        paid_count=Count("id"), total_spend=Sum("amount"), last_order_at=Max("placed_at")
    )
    recent = (
        Order.objects.filter(customer_id=customer["id"])
        .order_by("-placed_at", "-id")
        .values("id", "external_id", "placed_at", "amount", "currency", "category", "status")[
            :RECENT_ORDERS
        ]
    )
    return {
        "paid_count": totals["paid_count"],
        "total_spend": str(totals["total_spend"] or Decimal("0.00")),
        "last_order_at": totals["last_order_at"],
        "recent": [{**row, "amount": str(row["amount"])} for row in recent],
    }


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
    invalid number costs no query.
    """
    normalized = try_normalize_phone(phone)
    customer = screenpop_owner(phone=normalized) if normalized else None
    if customer is None:
        return {
            "known": False,
            "phone": normalized or phone.strip(),
            "message": _("unknown caller"),
        }
    card: dict[str, Any] = {"known": True, "phone": normalized, "customer": customer}
    for name, section in _SECTIONS.items():
        card[name] = section(customer)
    return card

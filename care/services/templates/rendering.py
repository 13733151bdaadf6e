"""Rendering message texts at send time, for one customer or for many at once.

The context is built from plain dicts and strings (never model instances), so neither a
placeholder nor a filter argument can reach a model attribute, a method or a setting. Email
bodies are rendered with autoescape on (a customer named `<script>` stays inert in the HTML);
SMS texts and call scripts are plain text, escaped by whatever page later shows them.
"""

import zoneinfo
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection
from django.template import Context, TemplateSyntaxError
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from callcenter.choices import (
    OPEN_TICKET_STATUSES,
    Direction,
    InteractionChannel,
    Language,
    OrderStatus,
)
from callcenter.errors import ApplicationError
from callcenter.models import Customer, Order, Ticket
from care.choices import TemplateChannel
from care.models import MessageTemplate
from care.services.templates.checks import (
    ENGINE,
    MAX_BODY_LENGTH,
    MAX_SUBJECT_LENGTH,
    PLACEHOLDERS,
    template_placeholders,
    template_variants_check,
    template_variants_normalized,
)
from care.services.templates.links import survey_link_sample
from segments.choices import SegmentKind, ValueTier
from segments.models import SegmentMembership

# Part of the message content rather than of the interface, so kept with the templates.
OPT_OUT_HINTS: dict[str, str] = {
    Language.ZH_HANS: "回复TD退订",
    Language.EN: "Reply STOP to opt out",
}

# A rendered body longer than this is not sent: the text is at most MAX_BODY_LENGTH characters
# and its placeholders hold short values, so only a filter gone wrong gets there (a second line
# of defence behind the filter argument checks made when a template is saved).
MAX_RENDERED_BODY_LENGTH = 2 * MAX_BODY_LENGTH


@dataclass(frozen=True)
class RenderedMessage:
    """A message rendered in one language: the subject (emails only) and the body."""

    subject: str
    body: str
    language: str
    # Previews only: the records shown as samples because the customer has none ("ticket",
    # "order").
    samples: tuple[str, ...] = ()


def customer_timezone(name: str) -> zoneinfo.ZoneInfo:
    """The customer's time zone, or the site's when the stored name is not a valid zone."""
    try:
        return zoneinfo.ZoneInfo(name)
    except (ValueError, zoneinfo.ZoneInfoNotFoundError, OSError):
        return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def _first_name(name: str) -> str:
    parts = name.split()
    return parts[0] if len(parts) > 1 else name


@dataclass(frozen=True)
class ContextRows:
    """What the messages to many customers draw on, loaded together (`template_context_rows`):
    rows by customer id (latest open ticket, latest paid order, top category, preferred
    channel, segment) and by record id (the tickets and orders events named)."""

    customers: dict[int, dict[str, Any]]
    open_tickets: dict[int, dict[str, Any]]
    tickets: dict[int, dict[str, Any]]
    paid_orders: dict[int, dict[str, Any]]
    orders: dict[int, dict[str, Any]]
    top_categories: dict[int, str] = field(default_factory=dict)
    preferred_channels: dict[int, str] = field(default_factory=dict)
    segments: dict[int, str] = field(default_factory=dict)
    # Previews only: which records are samples (template_preview).
    samples: tuple[str, ...] = ()


_CUSTOMER_FIELDS = (
    "pk",
    "name",
    "company_name",
    "city",
    "timezone",
    "language",
    "advisor__username",
    "advisor__first_name",
    "advisor__last_name",
)
_TICKET_FIELDS = ("pk", "customer_id", "external_id", "subject")
_ORDER_FIELDS = (
    "pk",
    "customer_id",
    "external_id",
    "amount",
    "currency",
    "placed_at",
    "category",
    "product",
)

# The category each customer bought most often (paid orders; ties: the one bought last).
TOP_CATEGORY_SQL = """
SELECT DISTINCT ON (customer_id) customer_id, category
  FROM (SELECT customer_id, category, count(*) AS n, max(placed_at) AS latest
          FROM callcenter_order
         WHERE customer_id = ANY(%(ids)s) AND status = %(paid)s AND category <> ''
         GROUP BY customer_id, category) AS bought
 ORDER BY customer_id, n DESC, latest DESC, category
"""
# The channel each customer contacted us by most often (inbound interactions; ties: the one
# used last).
PREFERRED_CHANNEL_SQL = """
SELECT DISTINCT ON (customer_id) customer_id, channel
  FROM (SELECT customer_id, channel, count(*) AS n, max(occurred_at) AS latest
          FROM callcenter_interaction
         WHERE customer_id = ANY(%(ids)s) AND direction = %(inbound)s
         GROUP BY customer_id, channel) AS used
 ORDER BY customer_id, n DESC, latest DESC, channel
"""


def _named_id(extra: dict[str, Any] | None, key: str) -> int | None:
    value = (extra or {}).get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def templates_placeholders(templates: Iterable[MessageTemplate]) -> set[str]:
    """The placeholders the texts of `templates` use (their variants prefetched, or one query
    each)."""
    return {
        name
        for template in templates
        for variant in template.variants.all()
        for text in (variant.subject, variant.body)
        for name in template_placeholders(text)
    }


def _by_customer(sql: str, ids: set[int], params: dict[str, Any]) -> dict[int, str]:
    if not ids:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(sql, {"ids": sorted(ids), **params})
        return {customer_id: value for customer_id, value in cursor.fetchall()}


def _segments(ids: set[int]) -> dict[int, str]:
    """The name of the active rule segment each customer joined most recently."""
    if not ids:
        return {}
    rows = (
        SegmentMembership.objects.filter(
            customer_id__in=ids,
            exited_at__isnull=True,
            segment__kind=SegmentKind.RULE,
            segment__is_active=True,
        )
        .order_by("customer_id", "-entered_at", "segment__name")
        .distinct("customer_id")
        .values_list("customer_id", "segment__name")
    )
    return dict(rows)


def template_context_rows(
    requests: Iterable[tuple[int, dict[str, Any] | None]],
    *,
    placeholders: Collection[str] | None = None,
) -> ContextRows:
    """The rows behind the contexts of messages to (customer id, extra) pairs, in at most eight
    queries however many messages: a dispatcher pass renders hundreds at once. `placeholders`
    (default: all) says what the texts use, so nothing else is loaded: custom attributes,
    value tier, top category, preferred channel and segment only when a text shows them."""
    requests = list(requests)
    needed = set(PLACEHOLDERS if placeholders is None else placeholders)
    customer_ids = {customer_id for customer_id, _extra in requests}
    named_tickets = {_named_id(extra, "ticket_id") for _c, extra in requests} - {None}
    named_orders = {_named_id(extra, "order_id") for _c, extra in requests} - {None}
    latest_ticket_for = {c for c, extra in requests if _named_id(extra, "ticket_id") is None}
    latest_order_for = {c for c, extra in requests if _named_id(extra, "order_id") is None}
    customer_fields = list(_CUSTOMER_FIELDS)
    if "customer.attr.NAME" in needed:
        customer_fields.append("attributes")
    if "customer.value_tier" in needed:
        customer_fields.append("metrics__value_tier")

    def latest(queryset: Any, ids: set[int], order: str, fields: tuple[str, ...]) -> dict:
        if not ids:
            return {}
        rows = (
            queryset.filter(customer_id__in=ids)
            .order_by("customer_id", order, "-id")
            .distinct("customer_id")
            .values(*fields)
        )
        return {row["customer_id"]: row for row in rows}

    def by_id(model: Any, ids: set[Any], fields: tuple[str, ...]) -> dict:
        return {row["pk"]: row for row in model.objects.filter(pk__in=ids).values(*fields)}

    def wanted(name: str) -> set[int]:
        return customer_ids if name in needed else set()

    return ContextRows(
        customers={
            row["pk"]: row
            for row in Customer.objects.filter(pk__in=customer_ids).values(*customer_fields)
        },
        open_tickets=latest(
            Ticket.objects.filter(status__in=OPEN_TICKET_STATUSES),
            latest_ticket_for,
            "-opened_at",
            _TICKET_FIELDS,
        ),
        tickets=by_id(Ticket, named_tickets, _TICKET_FIELDS) if named_tickets else {},
        paid_orders=latest(
            Order.objects.filter(status=OrderStatus.PAID),
            latest_order_for,
            "-placed_at",
            _ORDER_FIELDS,
        ),
        orders=by_id(Order, named_orders, _ORDER_FIELDS) if named_orders else {},
        top_categories=_by_customer(
            TOP_CATEGORY_SQL, wanted("customer.top_category"), {"paid": OrderStatus.PAID}
        ),
        preferred_channels=_by_customer(
            PREFERRED_CHANNEL_SQL,
            wanted("customer.preferred_channel"),
            {"inbound": Direction.INBOUND},
        ),
        segments=_segments(wanted("customer.segment")),
    )


def _record(
    rows: ContextRows, kind: str, customer_id: int, extra: dict[str, Any] | None
) -> dict[str, Any] | None:
    """The ticket or order a message is about: the one the event named (ignored when it is
    another customer's), else the customer's latest open ticket or paid order."""
    named = _named_id(extra, f"{kind}_id")
    if named is None:
        latest = rows.open_tickets if kind == "ticket" else rows.paid_orders
        return latest.get(customer_id)
    row = (rows.tickets if kind == "ticket" else rows.orders).get(named)
    return row if row is not None and row["customer_id"] == customer_id else None


def template_context(
    *,
    customer_id: int,
    language: str,
    extra: dict[str, Any] | None,
    rows: ContextRows,
) -> dict[str, Any]:
    """The allow-listed context of a message to `customer_id`, as plain dicts of strings.

    `extra` may name the ticket and order the message is about (`ticket_id`, `order_id`, e.g.
    from the triggering event's payload); otherwise the latest open ticket and the latest paid
    order are used. Ids of another customer's records are ignored. `rows` (from
    `template_context_rows`) holds what the context draws on, loaded for many messages at once.
    """
    row = rows.customers.get(customer_id)
    if row is None:
        raise ApplicationError(_("Unknown customer %(id)s") % {"id": customer_id})
    advisor = " ".join(
        part for part in (row["advisor__first_name"], row["advisor__last_name"]) if part
    )
    ticket = _record(rows, "ticket", customer_id, extra)
    order = _record(rows, "order", customer_id, extra)
    order_date = ""
    if order is not None:
        placed = order["placed_at"].astimezone(customer_timezone(row["timezone"]))
        order_date = placed.date().isoformat()
    with translation.override(language):
        channel = rows.preferred_channels.get(customer_id)
        tier = row.get("metrics__value_tier")
        preferred_channel = (
            str(InteractionChannel(channel).label) if channel in InteractionChannel.values else ""
        )
        value_tier = str(ValueTier(tier).label) if tier in ValueTier.values else ""
    return {
        "customer": {
            "name": row["name"],
            "first_name": _first_name(row["name"]),
            "company_name": row["company_name"],
            "city": row["city"],
            "attr": TemplateAttributes(row.get("attributes")),
            "top_category": rows.top_categories.get(customer_id, ""),
            "preferred_channel": preferred_channel,
            "segment": rows.segments.get(customer_id, ""),
            "value_tier": value_tier,
        },
        "advisor": {"name": advisor or row["advisor__username"] or ""},
        "ticket": {
            "number": (ticket["external_id"] or str(ticket["pk"])) if ticket else "",
            "subject": ticket["subject"] if ticket else "",
        },
        "order": {
            "number": order["external_id"] if order else "",
            "amount": f"{order['amount']:.2f}" if order else "",
            "currency": order["currency"] if order else "",
            "date": order_date,
            "category": order.get("category", "") if order else "",
            "product": order.get("product", "") if order else "",
        },
        "opt_out_hint": OPT_OUT_HINTS.get(language, OPT_OUT_HINTS[Language.EN]),
        # Outreach puts the ask's own token in it when it sends (outreach.services.surveys).
        "survey_link": survey_link_sample(),
    }


class TemplateAttributes:
    """A customer's custom attributes as a text reads them (`customer.attr.points`): a text or
    number is shown as written; a missing name, an empty text and anything else (true/false,
    a list, an object) read as missing, so the text's fallback shows. Any name looks up an
    attribute and nothing else: no method or attribute of a Python object is reachable."""

    __slots__ = ("_values",)

    def __init__(self, values: Any) -> None:
        self._values = values if isinstance(values, dict) else {}

    def __getitem__(self, name: str) -> str:
        value = self._values.get(name)
        if isinstance(value, str):
            return value.strip()
        if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
            return str(value)
        return ""


def _render_text(text: str, context: dict[str, Any], *, autoescape: bool) -> str:
    """Render a checked text; a text that fails (one saved before a check existed) or renders
    longer than MAX_RENDERED_BODY_LENGTH is refused with an ApplicationError, which fails the
    send visibly."""
    try:
        rendered = ENGINE.from_string(text).render(Context(context, autoescape=autoescape))
    except (TemplateSyntaxError, ArithmeticError, ValueError) as exc:
        raise ApplicationError(
            _("The text cannot be rendered: %(error)s") % {"error": type(exc).__name__}
        ) from exc
    if len(rendered) > MAX_RENDERED_BODY_LENGTH:
        raise ApplicationError(
            _("The rendered text has %(length)d characters, more than the %(max)d allowed.")
            % {"length": len(rendered), "max": MAX_RENDERED_BODY_LENGTH}
        )
    return rendered


def _pick_language(available: list[str], wanted: str) -> str:
    if wanted in available:
        return wanted
    for language in Language.values:
        if language in available:
            return language
    return available[0]


def _render(
    *,
    channel: str,
    texts: dict[str, dict[str, str]],
    customer_id: int,
    language: str | None,
    extra: dict[str, Any] | None,
    rows: ContextRows | None = None,
) -> RenderedMessage:
    if not texts:
        raise ApplicationError(_("The template has no text."))
    if rows is None:
        # Only what the texts show is loaded (a desk card renders one script per call).
        used = {
            name
            for text in texts.values()
            for part in ("subject", "body")
            for name in template_placeholders(text.get(part) or "")
        }
        rows = template_context_rows([(customer_id, extra)], placeholders=used)
    if language is None:
        customer = rows.customers.get(customer_id)
        language = (customer["language"] if customer else "") or Language.ZH_HANS
    chosen = _pick_language(list(texts), language)
    context = template_context(customer_id=customer_id, language=chosen, extra=extra, rows=rows)
    is_email = channel == TemplateChannel.EMAIL
    body = _render_text(texts[chosen]["body"], context, autoescape=is_email)
    subject = ""
    if is_email and texts[chosen].get("subject"):
        # A header: plain text on one line.
        subject = _render_text(texts[chosen]["subject"], context, autoescape=False)
        subject = " ".join(subject.split())[:MAX_SUBJECT_LENGTH]
    return RenderedMessage(
        subject=subject, body=body.strip(), language=chosen, samples=rows.samples
    )


def template_render(
    *,
    template: MessageTemplate,
    customer_id: int,
    language: str | None = None,
    extra: dict[str, Any] | None = None,
    rows: ContextRows | None = None,
) -> RenderedMessage:
    """Render `template` for a customer in `language` (default: the customer's), falling back
    to the other language when the template has no text in it. `rows`: see template_context."""
    texts = {
        variant.language: {"subject": variant.subject, "body": variant.body}
        for variant in template.variants.all()
    }
    return _render(
        channel=template.channel,
        texts=texts,
        customer_id=customer_id,
        language=language,
        extra=extra,
        rows=rows,
    )


def template_preview(
    *,
    customer_id: int,
    template: MessageTemplate | None = None,
    channel: str | None = None,
    variants: dict[str, dict[str, str]] | None = None,
    language: str | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, RenderedMessage]:
    """Render a saved template, or unsaved texts (checked first), for a real customer: one
    rendering per language, so both texts can be read before saving."""
    if variants is not None:
        channel = channel or (template.channel if template is not None else None)
        if channel is None:
            raise ApplicationError(_("Say which channel the texts are for."))
        texts = template_variants_normalized(variants)
        template_variants_check(channel=channel, variants=texts)
    elif template is not None:
        channel = template.channel
        texts = {
            variant.language: {"subject": variant.subject, "body": variant.body}
            for variant in template.variants.all()
        }
    else:
        raise ApplicationError(_("Give a template or texts to preview."))
    languages = [language] if language else list(texts)
    used = {
        name.split(".")[0]
        for text in texts.values()
        for part in ("subject", "body")
        for name in template_placeholders(text.get(part) or "")
    }
    rows = _with_samples(
        template_context_rows([(customer_id, extra)]), customer_id, extra, used=used
    )
    return {
        lang: _render(
            channel=channel,
            texts=texts,
            customer_id=customer_id,
            language=lang,
            extra=extra,
            rows=rows,
        )
        for lang in languages
    }


def _with_samples(
    rows: ContextRows, customer_id: int, extra: dict[str, Any] | None, *, used: set[str]
) -> ContextRows:
    """`rows` with a sample ticket and order, where the texts use them (`used`: "ticket",
    "order"), for a customer who has no open ticket or paid order (and whose preview names
    none), so a preview shows how those texts read."""
    samples: list[str] = []
    open_tickets, paid_orders = dict(rows.open_tickets), dict(rows.paid_orders)
    if "ticket" in used and _missing(rows, "ticket", customer_id, extra):
        open_tickets[customer_id] = {
            "pk": 0,
            "customer_id": customer_id,
            "external_id": "T-10086",
            "subject": _("Sample: a parcel arrived damaged"),
        }
        samples.append("ticket")
    if "order" in used and _missing(rows, "order", customer_id, extra):
        paid_orders[customer_id] = {
            "pk": 0,
            "customer_id": customer_id,
            "external_id": "SO-20260001",
            "amount": Decimal("199.00"),
            "currency": "CNY",
            "placed_at": timezone.now(),
            "category": _("Sample category"),
            "product": _("Sample product"),
        }
        samples.append("order")
    return replace(rows, open_tickets=open_tickets, paid_orders=paid_orders, samples=tuple(samples))


def _missing(rows: ContextRows, kind: str, customer_id: int, extra: dict[str, Any] | None) -> bool:
    """Whether the customer has no record of `kind` for the message and `extra` names none (a
    preview naming one shows it, or nothing)."""
    return (
        _record(rows, kind, customer_id, extra) is None and _named_id(extra, f"{kind}_id") is None
    )

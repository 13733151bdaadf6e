"""Message templates: per-language texts checked when saved, rendered safely at send time.

Texts are Django templates parsed by a dedicated engine (`ENGINE`) that knows only `{% if %}`
and a few harmless filters (care/template_filters.py). Every placeholder must name one of
`PLACEHOLDERS`; the context is built from plain dicts and strings (never model instances), so
neither a placeholder nor a filter argument can reach a model attribute, a method or a setting.
Email bodies are rendered with autoescape on (a customer named `<script>` stays inert in the
HTML); SMS texts and call scripts are plain text, escaped by whatever page later shows them.
"""

import zoneinfo
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import ProtectedError
from django.template import Context, Engine, TemplateSyntaxError
from django.template.base import FilterExpression, Node, TextNode, Variable, VariableNode
from django.template.defaulttags import IfNode
from django.utils.text import slugify
from django.utils.translation import gettext as _

from callcenter.choices import OPEN_TICKET_STATUSES, Language, OrderStatus
from callcenter.errors import ApplicationError
from callcenter.models import Customer, Order, Ticket
from callcenter.services.audit import audit_log_record
from care.choices import TemplateChannel
from care.models import MessageTemplate, TemplateVariant
from care.template_filters import filter_argument_error


class _MessageEngine(Engine):
    """An engine without Django's default tags and filters (see care/template_filters.py)."""

    default_builtins: ClassVar[list[str]] = []


ENGINE = _MessageEngine(
    loaders=[],
    libraries={},
    builtins=["care.template_filters"],
    autoescape=True,
    string_if_invalid="",
)

# Every placeholder a text may use, with what it holds.
PLACEHOLDERS: dict[str, str] = {
    "customer.name": "the customer's name",
    "customer.first_name": "the first word of the name (the whole name when it has no space)",
    "customer.company_name": "the company of a business customer",
    "customer.city": "the customer's city",
    "advisor.name": "the dedicated advisor's name",
    "ticket.number": "the ticket number (its external id, else its id)",
    "ticket.subject": "the ticket subject",
    "order.number": "the order number (its external id)",
    "order.amount": "the order amount, e.g. 199.00",
    "order.currency": "the order currency, e.g. CNY",
    "order.date": "the order date in the customer's time zone, e.g. 2025-03-01",
    "opt_out_hint": "how to opt out, in the text's language",
}

# Part of the message content rather than of the interface, so kept with the templates.
OPT_OUT_HINTS: dict[str, str] = {
    Language.ZH_HANS: "回复TD退订",
    Language.EN: "Reply STOP to opt out",
}

MAX_BODY_LENGTH = 5000
MAX_SUBJECT_LENGTH = 200
# A rendered body longer than this is not sent: the text is at most MAX_BODY_LENGTH characters
# and its placeholders hold short values, so only a filter gone wrong gets there (a second line
# of defence behind the filter argument checks made when a template is saved).
MAX_RENDERED_BODY_LENGTH = 2 * MAX_BODY_LENGTH


@dataclass(frozen=True)
class RenderedMessage:
    subject: str
    body: str
    language: str


# ---------------------------------------------------------------------------------------------
# Checking texts


def _condition_expressions(condition: Any) -> Iterator[FilterExpression]:
    if condition is None:
        return
    if isinstance(condition.value, FilterExpression):
        yield condition.value
        return
    for part in (condition.first, condition.second):
        if part is not None:
            yield from _condition_expressions(part)


def _variables(expression: FilterExpression) -> Iterator[Variable]:
    if isinstance(expression.var, Variable):
        yield expression.var
    for _func, args in expression.filters:
        for is_variable, arg in args:
            if is_variable:
                yield arg


def _walk(nodes: list[Node]) -> Iterator[Node]:
    for node in nodes:
        yield node
        if isinstance(node, IfNode):
            for _condition, nodelist in node.conditions_nodelists:
                yield from _walk(list(nodelist))


def template_text_check(*, text: str, label: str) -> None:
    """Parse `text` and refuse it (ApplicationError naming the problem) unless every tag is
    allowed and every placeholder is one of PLACEHOLDERS. `label` says which text it is."""
    try:
        compiled = ENGINE.from_string(text)
    except TemplateSyntaxError as exc:
        raise ApplicationError(
            _("%(label)s: %(error)s") % {"label": label, "error": exc},
            extra={"field": label},
        ) from exc
    for node in _walk(list(compiled.nodelist)):
        if isinstance(node, VariableNode):
            _check_expression(node.filter_expression, label)
        elif isinstance(node, IfNode):
            for condition, _nodelist in node.conditions_nodelists:
                for expression in _condition_expressions(condition):
                    _check_expression(expression, label)
        elif isinstance(node, TextNode):
            if any(mark in node.s for mark in ("{{", "}}", "{%", "%}")):
                raise ApplicationError(
                    _("%(label)s: unclosed or stray {{ }} or {%% %%} in %(text)s")
                    % {"label": label, "text": node.s.strip()[:60]},
                    extra={"field": label},
                )
        else:
            raise ApplicationError(
                _("%(label)s: this tag is not allowed in a message") % {"label": label},
                extra={"field": label},
            )


def _check_expression(expression: FilterExpression, label: str) -> None:
    """Refuse filter arguments out of bounds and placeholders not in PLACEHOLDERS."""
    for function, args in expression.filters:
        for is_variable, argument in args:
            error = filter_argument_error(function, argument, is_variable=is_variable)
            if error is not None:
                raise ApplicationError(
                    _("%(label)s: %(error)s") % {"label": label, "error": error},
                    extra={"field": label},
                )
    for variable in _variables(expression):
        if variable.lookups is None:
            continue
        name = ".".join(variable.lookups)
        if name not in PLACEHOLDERS:
            raise ApplicationError(
                _('%(label)s: unknown placeholder "{{ %(name)s }}"; allowed are %(allowed)s')
                % {"label": label, "name": name, "allowed": ", ".join(PLACEHOLDERS)},
                extra={"field": label, "placeholder": name},
            )


def _label(language: str, part: str) -> str:
    return f"{language} {part}"


def template_variants_check(*, channel: str, variants: dict[str, dict[str, str]]) -> None:
    """Check every text of a template; `variants` maps a language to {"subject", "body"}."""
    if channel not in TemplateChannel.values:
        raise ApplicationError(_("Unknown template channel: %(value)s") % {"value": channel})
    if not variants:
        raise ApplicationError(_("A template needs a text in at least one language."))
    for language, texts in variants.items():
        if language not in Language.values:
            raise ApplicationError(_("Unknown language: %(lang)s") % {"lang": language})
        body = (texts.get("body") or "").strip()
        subject = (texts.get("subject") or "").strip()
        if not body:
            raise ApplicationError(
                _("%(label)s: the text must not be empty") % {"label": _label(language, "body")}
            )
        if len(body) > MAX_BODY_LENGTH:
            raise ApplicationError(
                _("%(label)s: at most %(max)d characters")
                % {"label": _label(language, "body"), "max": MAX_BODY_LENGTH}
            )
        if channel == TemplateChannel.EMAIL:
            if not subject:
                raise ApplicationError(
                    _("%(label)s: an email needs a subject")
                    % {"label": _label(language, "subject")}
                )
            if len(subject) > MAX_SUBJECT_LENGTH:
                raise ApplicationError(
                    _("%(label)s: at most %(max)d characters")
                    % {"label": _label(language, "subject"), "max": MAX_SUBJECT_LENGTH}
                )
            template_text_check(text=subject, label=_label(language, "subject"))
        elif subject:
            raise ApplicationError(
                _("%(label)s: only emails have a subject") % {"label": _label(language, "subject")}
            )
        template_text_check(text=body, label=_label(language, "body"))


# ---------------------------------------------------------------------------------------------
# Writing templates


def _normalized_variants(variants: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    return {
        language: {
            "subject": (texts.get("subject") or "").strip(),
            "body": (texts.get("body") or "").strip(),
        }
        for language, texts in variants.items()
    }


def _unique_slug(name: str, slug: str | None) -> str:
    if slug:
        if MessageTemplate.objects.filter(slug=slug).exists():
            raise ApplicationError(_("A template with slug %(slug)s exists.") % {"slug": slug})
        return slug
    base = slugify(name)[:100] or "template"
    candidate, counter = base, 2
    while MessageTemplate.objects.filter(slug=candidate).exists():
        candidate, counter = f"{base}-{counter}", counter + 1
    return candidate


@transaction.atomic
def template_create(
    *,
    name: str,
    channel: str,
    variants: dict[str, dict[str, str]],
    slug: str | None = None,
    description: str = "",
    created_by: User | None = None,
) -> MessageTemplate:
    """Create a template with its texts, each checked first."""
    if not (name or "").strip():
        raise ApplicationError(_("The name must not be empty."))
    variants = _normalized_variants(variants)
    template_variants_check(channel=channel, variants=variants)
    template = MessageTemplate.objects.create(
        name=name.strip(),
        slug=_unique_slug(name, slug),
        channel=channel,
        description=description,
    )
    TemplateVariant.objects.bulk_create(
        TemplateVariant(template=template, language=language, **texts)
        for language, texts in variants.items()
    )
    audit_log_record(
        actor=created_by,
        action="care_template.create",
        object_type="message_template",
        object_id=template.pk,
        data={"slug": template.slug, "languages": sorted(variants)},
    )
    return template


@transaction.atomic
def template_update(
    *,
    template: MessageTemplate,
    updated_by: User | None = None,
    name: str | None = None,
    description: str | None = None,
    variants: dict[str, dict[str, str]] | None = None,
) -> MessageTemplate:
    """Change a template; `variants`, when given, becomes its complete set of texts.

    The channel is fixed once created: steps rely on it (an SMS step needs an SMS template).
    """
    template = MessageTemplate.objects.select_for_update().get(pk=template.pk)
    changed: list[str] = []
    if name is not None:
        if not name.strip():
            raise ApplicationError(_("The name must not be empty."))
        template.name = name.strip()
        changed.append("name")
    if description is not None:
        template.description = description
        changed.append("description")
    if variants is not None:
        variants = _normalized_variants(variants)
        template_variants_check(channel=template.channel, variants=variants)
        template.variants.exclude(language__in=list(variants)).delete()
        for language, texts in variants.items():
            TemplateVariant.objects.update_or_create(
                template=template, language=language, defaults=texts
            )
        changed.append("variants")
    template.save()
    audit_log_record(
        actor=updated_by,
        action="care_template.update",
        object_type="message_template",
        object_id=template.pk,
        data={"changed": changed},
    )
    return template


@transaction.atomic
def template_delete(*, template: MessageTemplate, deleted_by: User | None) -> None:
    """Delete a template that no rule step uses."""
    try:
        with transaction.atomic():
            template.delete()
    except ProtectedError as exc:
        raise ApplicationError(
            _("Template %(slug)s is used by care rule steps; change those first.")
            % {"slug": template.slug}
        ) from exc
    audit_log_record(
        actor=deleted_by,
        action="care_template.delete",
        object_type="message_template",
        object_id=template.pk,
        data={"slug": template.slug},
    )


# ---------------------------------------------------------------------------------------------
# Rendering


def customer_timezone(name: str) -> zoneinfo.ZoneInfo:
    """The customer's time zone, or the site's when the stored name is not a valid zone."""
    try:
        return zoneinfo.ZoneInfo(name)
    except (ValueError, zoneinfo.ZoneInfoNotFoundError):
        return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def _first_name(name: str) -> str:
    parts = name.split()
    return parts[0] if len(parts) > 1 else name


@dataclass(frozen=True)
class ContextRows:
    """What the messages to many customers draw on, loaded together (`template_context_rows`):
    rows by customer id (latest open ticket, latest paid order) and by record id (the tickets
    and orders events named)."""

    customers: dict[int, dict[str, Any]]
    open_tickets: dict[int, dict[str, Any]]
    tickets: dict[int, dict[str, Any]]
    paid_orders: dict[int, dict[str, Any]]
    orders: dict[int, dict[str, Any]]


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
_ORDER_FIELDS = ("pk", "customer_id", "external_id", "amount", "currency", "placed_at")


def _named_id(extra: dict[str, Any] | None, key: str) -> int | None:
    value = (extra or {}).get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def template_context_rows(requests: Iterable[tuple[int, dict[str, Any] | None]]) -> ContextRows:
    """The rows behind the contexts of messages to (customer id, extra) pairs, in at most five
    queries however many messages: a dispatcher pass renders hundreds at once."""
    requests = list(requests)
    customer_ids = {customer_id for customer_id, _extra in requests}
    named_tickets = {_named_id(extra, "ticket_id") for _c, extra in requests} - {None}
    named_orders = {_named_id(extra, "order_id") for _c, extra in requests} - {None}
    latest_ticket_for = {c for c, extra in requests if _named_id(extra, "ticket_id") is None}
    latest_order_for = {c for c, extra in requests if _named_id(extra, "order_id") is None}

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

    return ContextRows(
        customers={
            row["pk"]: row
            for row in Customer.objects.filter(pk__in=customer_ids).values(*_CUSTOMER_FIELDS)
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
    return {
        "customer": {
            "name": row["name"],
            "first_name": _first_name(row["name"]),
            "company_name": row["company_name"],
            "city": row["city"],
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
        },
        "opt_out_hint": OPT_OUT_HINTS.get(language, OPT_OUT_HINTS[Language.EN]),
    }


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
        rows = template_context_rows([(customer_id, extra)])
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
    return RenderedMessage(subject=subject, body=body.strip(), language=chosen)


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
        texts = _normalized_variants(variants)
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
    return {
        lang: _render(
            channel=channel, texts=texts, customer_id=customer_id, language=lang, extra=extra
        )
        for lang in languages
    }

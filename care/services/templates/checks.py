"""Checking message texts when saved: only allowed tags and filters, only known placeholders.

Texts are Django templates parsed by a dedicated engine (`ENGINE`) that knows only `{% if %}`
and a few harmless filters (care/template_filters.py). Every placeholder must name one of
`PLACEHOLDERS`, and every filter argument must stay within its bounds.
"""

import functools
import re
from collections.abc import Iterator
from typing import Any, ClassVar

from django.conf import settings
from django.template import Engine, TemplateSyntaxError
from django.template.base import FilterExpression, Node, TextNode, Variable, VariableNode
from django.template.defaulttags import IfNode
from django.utils.translation import gettext as _

from callcenter.choices import Language
from callcenter.errors import ApplicationError
from care.choices import TemplateChannel
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
    "customer.attr.NAME": "a custom attribute of the customer (NAME: its name, e.g. points)",
    "customer.top_category": "the category the customer bought most often (paid orders)",
    "customer.preferred_channel": "the channel the customer contacts us by most, e.g. WeChat",
    "customer.segment": "the rule segment the customer joined most recently",
    "customer.value_tier": "the customer's value tier, in the text's language",
    "order.category": "the order's category",
    "order.product": "the order's product",
    "survey_link": "the customer's own one-question satisfaction (CSAT) link about the ticket "
    "or call; a message with it is a survey ask, and a reply of a digit 1-5 answers it",
}
# Placeholders a customer may well have no value for: a text shows them only with a fallback
# (`{{ customer.top_category|default:"our shop" }}`) or inside `{% if %}` on them, so a
# message never has an empty gap where the value was missing.
NEEDS_FALLBACK = frozenset(
    {
        "customer.attr.NAME",
        "customer.top_category",
        "customer.preferred_channel",
        "customer.segment",
        "customer.value_tier",
        "order.category",
        "order.product",
    }
)
# `customer.attr.<name>`: the names custom attributes may have in a text (a word, as Django's
# template variables allow: letters of any script, digits, underscores; not a leading `_`).
ATTRIBUTE_PREFIX = ("customer", "attr")
_ATTRIBUTE_NAME = re.compile(r"[^\W_]\w*")

MAX_BODY_LENGTH = 5000
MAX_SUBJECT_LENGTH = 200


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


def _walk(
    nodes: list[Node], guarded: frozenset[str] = frozenset()
) -> Iterator[tuple[Node, frozenset[str]]]:
    """Every node with the placeholders known to have a value where it stands (in the branch
    of `{% if x %}`, `{% elif x %}` or `{% if x and y %}`; not in `{% else %}`)."""
    for node in nodes:
        yield node, guarded
        if isinstance(node, IfNode):
            for condition, nodelist in node.conditions_nodelists:
                yield from _walk(list(nodelist), guarded | _guards(condition))


def _guards(condition: Any) -> frozenset[str]:
    """The placeholders a condition proves have a value: a plain `x`, or `x and y`."""
    if condition is None:
        return frozenset()
    if isinstance(getattr(condition, "value", None), FilterExpression):
        return frozenset(".".join(v.lookups) for v in _variables(condition.value) if v.lookups)
    if getattr(condition, "id", None) == "and":
        return _guards(condition.first) | _guards(condition.second)
    return frozenset()


def placeholder_name(variable: Variable) -> str:
    """The PLACEHOLDERS entry a variable stands for: its dotted name, with a custom
    attribute's name as NAME (`customer.attr.points` -> `customer.attr.NAME`)."""
    lookups = tuple(variable.lookups or ())
    if len(lookups) == 3 and lookups[:2] == ATTRIBUTE_PREFIX:
        name = lookups[2]
        if _ATTRIBUTE_NAME.fullmatch(name) and len(name) <= (
            settings.CUSTOMER_ATTRIBUTE_KEY_MAX_LENGTH
        ):
            return "customer.attr.NAME"
    return ".".join(lookups)


def template_placeholders(text: str) -> set[str]:
    """The PLACEHOLDERS entries a checked text uses (none for a text that does not parse)."""
    return set(_placeholders(text))


# A dispatcher pass asks for the same few texts again and again: parsed once each.
@functools.lru_cache(maxsize=512)
def _placeholders(text: str) -> frozenset[str]:
    try:
        compiled = ENGINE.from_string(text)
    except TemplateSyntaxError:
        return frozenset()
    found: set[str] = set()
    for node, _guarded in _walk(list(compiled.nodelist)):
        expressions: list[FilterExpression] = []
        if isinstance(node, VariableNode):
            expressions = [node.filter_expression]
        elif isinstance(node, IfNode):
            for condition, _nodelist in node.conditions_nodelists:
                expressions.extend(_condition_expressions(condition))
        for expression in expressions:
            found.update(placeholder_name(v) for v in _variables(expression) if v.lookups)
    return frozenset(found)


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
    for node, guarded in _walk(list(compiled.nodelist)):
        if isinstance(node, VariableNode):
            _check_expression(node.filter_expression, label)
            _check_fallback(node.filter_expression, label, guarded)
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
        name = placeholder_name(variable)
        if name not in PLACEHOLDERS:
            shown = ".".join(variable.lookups)
            raise ApplicationError(
                _('%(label)s: unknown placeholder "{{ %(name)s }}"; allowed are %(allowed)s')
                % {"label": label, "name": shown, "allowed": ", ".join(PLACEHOLDERS)},
                extra={"field": label, "placeholder": shown},
            )


def _check_fallback(expression: FilterExpression, label: str, guarded: frozenset[str]) -> None:
    """Refuse a placeholder of NEEDS_FALLBACK shown without `|default:"..."` outside an
    `{% if %}` on it: a customer without the value would read an empty gap."""
    variable = expression.var
    if not isinstance(variable, Variable) or variable.lookups is None:
        return
    name = placeholder_name(variable)
    shown = ".".join(variable.lookups)
    if name not in NEEDS_FALLBACK or shown in guarded:
        return
    for function, args in expression.filters:
        if getattr(function, "__name__", "") != "default":
            continue
        if any(_fills_gap(is_variable, argument) for is_variable, argument in args):
            return
        raise ApplicationError(
            _(
                '%(label)s: the fallback of "{{ %(name)s }}" must be a text that is not blank '
                "(or a placeholder every customer has)"
            )
            % {"label": label, "name": shown},
            extra={"field": label, "placeholder": shown},
        )
    raise ApplicationError(
        _(
            '%(label)s: "{{ %(name)s }}" may be missing for a customer; give a fallback, e.g. '
            '{{ %(name)s|default:"…" }}, or show it inside {%% if %(name)s %%}…{%% endif %%}'
        )
        % {"label": label, "name": shown},
        extra={"field": label, "placeholder": shown},
    )


def _fills_gap(is_variable: bool, argument: Any) -> bool:
    """Whether a fallback always shows something: a text that is not blank, or a placeholder
    that every customer has a value for."""
    if not is_variable:
        return bool(str(argument).strip())
    if isinstance(argument, Variable) and argument.lookups is not None:
        return placeholder_name(argument) not in NEEDS_FALLBACK
    return True


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


def template_variants_normalized(
    variants: dict[str, dict[str, str]],
) -> dict[str, dict[str, str]]:
    """The texts as stored: subject and body of each language, stripped."""
    return {
        language: {
            "subject": (texts.get("subject") or "").strip(),
            "body": (texts.get("body") or "").strip(),
        }
        for language, texts in variants.items()
    }

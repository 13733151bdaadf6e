"""Checking message texts when saved: only allowed tags and filters, only known placeholders.

Texts are Django templates parsed by a dedicated engine (`ENGINE`) that knows only `{% if %}`
and a few harmless filters (care/template_filters.py). Every placeholder must name one of
`PLACEHOLDERS`, and every filter argument must stay within its bounds.
"""

from collections.abc import Iterator
from typing import Any, ClassVar

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
}

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

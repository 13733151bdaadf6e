"""A short human-readable rendering of a rule: the "why" of a rule segment's membership."""

from datetime import date
from typing import Any

from .tree import Condition, Node, parse_tree

# Symbols and words are kept language-neutral: the text is stored with memberships and read by
# people of either language.
_SYMBOLS = {
    "eq": "=",
    "ne": "≠",
    "lt": "<",
    "lte": "≤",
    "gt": ">",
    "gte": "≥",
    "in": "in",
    "not_in": "not in",
    "contains": "contains",
    "startswith": "starts with",
    "is_set": "is set",
    "is_empty": "is empty",
    "is_true": "is true",
    "is_false": "is false",
}


def rule_describe(*, tree: Any, max_length: int | None = None) -> str:
    """Render `tree`, e.g. "monetary ≥ 1000 AND (city = 上海 OR segment in [rfm-champions])".

    Raises RuleError for an invalid tree. With `max_length` (e.g. 255 for a membership's reason)
    a longer text is cut and ends with "…".
    """
    text = _render(parse_tree(tree), nested=False)
    if max_length is not None and len(text) > max_length:
        return text[: max_length - 1] + "…"
    return text


def _render(node: Node, *, nested: bool) -> str:
    if isinstance(node, Condition):
        return _condition(node)
    joiner = " AND " if node.op == "and" else " OR "
    inner = joiner.join(_render(child, nested=True) for child in node.children)
    if node.negate:
        return f"NOT ({inner})"
    return f"({inner})" if nested and len(node.children) > 1 else inner


def _condition(node: Condition) -> str:
    name = f"{node.field}[{node.days}d]" if node.days is not None else node.field
    if node.value is None:
        return f"{name} {_SYMBOLS[node.cmp]}"
    if node.cmp == "between":
        low, high = node.value
        return f"{name} between {_value(low)} and {_value(high)}"
    if isinstance(node.value, tuple):
        return f"{name} {_SYMBOLS[node.cmp]} [{', '.join(_value(v) for v in node.value)}]"
    return f"{name} {_SYMBOLS[node.cmp]} {_value(node.value)}"


def _value(value: Any) -> str:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)

"""Reading a JSON rule tree into checked nodes; every refusal names the bad node's path."""

import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _

from callcenter.errors import ApplicationError

from .fields import (
    ATTRIBUTE,
    ATTRIBUTE_KEY_PATTERN,
    ATTRIBUTE_PREFIX,
    ATTRIBUTE_SPEC,
    CHOICE,
    COUNT,
    DATE,
    FIELDS,
    LIST_OPERATORS,
    MEMBERSHIP,
    NO_VALUE_OPERATORS,
    NUMBER,
    OPERATORS,
    ORDER_OPERATORS,
    TYPE_LABELS,
    FieldSpec,
)

# Limits that keep a rule readable and its SQL small.
MAX_GROUP_DEPTH = 6
MAX_NODES = 100
MAX_LIST_ITEMS = 500
MAX_TEXT_LENGTH = 200
MAX_DAYS = 3650
# Larger numbers are surely typing mistakes; the bound also keeps values inside bigint.
MAX_NUMBER = 10**12

ATTRIBUTE_KEY_RE = re.compile(ATTRIBUTE_KEY_PATTERN)
SLUG_RE = re.compile(r"[-a-zA-Z0-9_]{1,120}")
DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
GROUP_KEYS = frozenset({"op", "children", "not"})
CONDITION_KEYS = frozenset({"field", "cmp", "value", "days"})


class RuleError(ApplicationError):
    """A rule tree refused; `path` locates the bad node ("" for the root, else e.g.
    "children[2].children[0]") and the message starts with it."""

    def __init__(self, message: str, *, path: str = "") -> None:
        super().__init__(message, extra={"path": path})
        self.path = path


def node_error(path: str, detail: str) -> RuleError:
    return RuleError(f"{path or 'root'}: {detail}", path=path)


@dataclass(frozen=True)
class Group:
    path: str
    op: str
    negate: bool
    children: tuple["Group | Condition", ...]


@dataclass(frozen=True)
class Condition:
    """A checked condition; `value` is normalized (Decimal for money, date for dates, a tuple
    for lists and for `between`), `key` is the custom attribute key for attribute fields."""

    path: str
    field: str
    spec: FieldSpec
    cmp: str
    value: Any = None
    days: int | None = None
    key: str = ""


Node = Group | Condition


def parse_tree(tree: Any) -> Node:
    """Check `tree` against the allow-list without touching the database."""
    return _Parser().node(tree, path="", depth=0)


def iter_conditions(node: Node) -> Iterator[Condition]:
    stack: list[Node] = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, Condition):
            yield current
        else:
            stack.extend(reversed(current.children))


def _shown(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 40 else text[:39] + "…"


class _Parser:
    def __init__(self) -> None:
        self.count = 0

    def node(self, raw: Any, *, path: str, depth: int) -> Node:
        if not isinstance(raw, dict):
            raise node_error(
                path, _("a node must be a JSON object, not %(value)s") % {"value": _shown(raw)}
            )
        self.count += 1
        if self.count > MAX_NODES:
            raise node_error(
                path,
                _("a rule may have at most %(max)d groups and conditions") % {"max": MAX_NODES},
            )
        if "op" in raw or "children" in raw:
            return self.group(raw, path=path, depth=depth + 1)
        if "field" in raw:
            return self.condition(raw, path=path)
        raise node_error(
            path,
            _('a node is either a group ("op" and "children") or a condition ("field", "cmp")'),
        )

    def group(self, raw: dict[Any, Any], *, path: str, depth: int) -> Group:
        _refuse_unexpected(raw, GROUP_KEYS, path)
        op = raw.get("op")
        if op not in ("and", "or"):
            raise node_error(
                path, _('unknown group operator %(op)s (use "and" or "or")') % {"op": _shown(op)}
            )
        negate = raw.get("not", False)
        if not isinstance(negate, bool):
            raise node_error(path, _('"not" must be true or false'))
        if depth > MAX_GROUP_DEPTH:
            raise node_error(
                path, _("groups may be nested at most %(max)d deep") % {"max": MAX_GROUP_DEPTH}
            )
        children = raw.get("children")
        if not isinstance(children, list) or not children:
            raise node_error(path, _("a group needs a non-empty list of children"))
        prefix = f"{path}." if path else ""
        return Group(
            path=path,
            op=op,
            negate=negate,
            children=tuple(
                self.node(child, path=f"{prefix}children[{index}]", depth=depth)
                for index, child in enumerate(children)
            ),
        )

    def condition(self, raw: dict[Any, Any], *, path: str) -> Condition:
        _refuse_unexpected(raw, CONDITION_KEYS, path)
        field = raw["field"]
        if not isinstance(field, str):
            raise node_error(path, _("unknown field %(field)s") % {"field": _shown(field)})
        spec, key = _field_spec(field, path)
        cmp = raw.get("cmp")
        if not isinstance(cmp, str) or cmp not in OPERATORS:
            raise node_error(path, _("unknown operator %(cmp)s") % {"cmp": _shown(cmp)})
        if cmp not in spec.operators:
            raise node_error(
                path,
                _('operator "%(cmp)s" is not allowed for %(type)s field "%(field)s"')
                % {"cmp": cmp, "type": TYPE_LABELS[spec.type], "field": field},
            )
        days = _days(raw, spec, field, path)
        value = _value(raw, spec, cmp, field, path)
        return Condition(
            path=path, field=field, spec=spec, cmp=cmp, value=value, days=days, key=key
        )


def _refuse_unexpected(raw: dict[Any, Any], allowed: frozenset[str], path: str) -> None:
    unexpected = sorted(str(key) for key in raw if key not in allowed)
    if unexpected:
        raise node_error(path, _('unexpected key "%(key)s"') % {"key": unexpected[0]})


def _field_spec(field: str, path: str) -> tuple[FieldSpec, str]:
    if field.startswith(ATTRIBUTE_PREFIX):
        key = field[len(ATTRIBUTE_PREFIX) :]
        if not ATTRIBUTE_KEY_RE.fullmatch(key):
            raise node_error(
                path,
                _(
                    'invalid custom attribute key "%(key)s" '
                    "(use 1 to 64 letters, digits or underscores)"
                )
                % {"key": key},
            )
        return ATTRIBUTE_SPEC, key
    spec = FIELDS.get(field)
    if spec is None:
        raise node_error(path, _('unknown field "%(field)s"') % {"field": field})
    return spec, ""


def _days(raw: dict[Any, Any], spec: FieldSpec, field: str, path: str) -> int | None:
    if spec.type != COUNT:
        if "days" in raw:
            raise node_error(
                path,
                _('"days" only applies to event counts, not to "%(field)s"') % {"field": field},
            )
        return None
    days = raw.get("days")
    if days is None:
        raise node_error(
            path,
            _('"%(field)s" needs "days": count over the last 1 to %(max)d days')
            % {"field": field, "max": MAX_DAYS},
        )
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise node_error(
            path,
            _('"days" must be a whole number from 1 to %(max)d, not %(value)s')
            % {"max": MAX_DAYS, "value": _shown(days)},
        )
    return days


def _value(raw: dict[Any, Any], spec: FieldSpec, cmp: str, field: str, path: str) -> Any:
    value = raw.get("value")
    if cmp in NO_VALUE_OPERATORS:
        if value is not None:
            raise node_error(path, _('operator "%(cmp)s" takes no value') % {"cmp": cmp})
        return None
    if value is None:
        raise node_error(path, _('operator "%(cmp)s" needs a value') % {"cmp": cmp})
    if cmp == "between":
        if not isinstance(value, list) or len(value) != 2:
            raise node_error(path, _('"between" needs a list of two values: [low, high]'))
        low, high = (_scalar(item, spec, cmp, field, path) for item in value)
        if low > high:
            raise node_error(path, _('"between" needs the low value first'))
        return (low, high)
    if cmp in LIST_OPERATORS:
        if not isinstance(value, list) or not 1 <= len(value) <= MAX_LIST_ITEMS:
            raise node_error(
                path,
                _('operator "%(cmp)s" needs a list of 1 to %(max)d values')
                % {"cmp": cmp, "max": MAX_LIST_ITEMS},
            )
        items = [_scalar(item, spec, cmp, field, path) for item in value]
        if len({isinstance(item, str) for item in items}) > 1:
            raise node_error(path, _("a list must hold only texts or only numbers"))
        return tuple(dict.fromkeys(items))
    return _scalar(value, spec, cmp, field, path)


def _bad_value(path: str, field: str, expected: str, value: Any) -> RuleError:
    return node_error(
        path,
        _('"%(field)s" needs %(expected)s, not %(value)s')
        % {"field": field, "expected": expected, "value": _shown(value)},
    )


def _scalar(value: Any, spec: FieldSpec, cmp: str, field: str, path: str) -> Any:
    kind = spec.type
    if kind == ATTRIBUTE:
        # Order comparisons are numeric; equality and lists compare numbers or texts as given.
        if cmp in ORDER_OPERATORS or (cmp not in ("contains", "startswith") and _is_number(value)):
            return _number(value, spec, field, path)
        if cmp in ("contains", "startswith") or isinstance(value, str):
            return _text(value, field, path)
        raise _bad_value(path, field, _("a text or a number"), value)
    if kind in (NUMBER, COUNT):
        return _number(value, spec, field, path)
    if kind == DATE:
        if not isinstance(value, str) or not DATE_RE.fullmatch(value):
            raise _bad_value(path, field, _("a date as YYYY-MM-DD"), value)
        try:
            return date.fromisoformat(value)
        except ValueError as exc:
            raise _bad_value(path, field, _("a date as YYYY-MM-DD"), value) from exc
    if kind == CHOICE:
        assert spec.choices is not None
        if not isinstance(value, str) or value not in spec.choices.values:
            raise node_error(
                path,
                _('invalid choice %(value)s for "%(field)s" (choose from: %(choices)s)')
                % {
                    "value": _shown(value),
                    "field": field,
                    "choices": ", ".join(spec.choices.values),
                },
            )
        return value
    if kind == MEMBERSHIP:
        if not isinstance(value, str) or not SLUG_RE.fullmatch(value):
            raise _bad_value(path, field, _("segment slugs"), value)
        return value
    return _text(value, field, path)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _text(value: Any, field: str, path: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_TEXT_LENGTH:
        raise _bad_value(
            path,
            field,
            _("a non-empty text of at most %(max)d characters") % {"max": MAX_TEXT_LENGTH},
            value,
        )
    return value


def _number(value: Any, spec: FieldSpec, field: str, path: str) -> int | float | Decimal:
    if not _is_number(value) or not math.isfinite(value) or abs(value) > MAX_NUMBER:
        raise _bad_value(path, field, _("a number"), value)
    number: int | float | Decimal
    if spec.number == "int":
        if isinstance(value, float) and not value.is_integer():
            raise _bad_value(path, field, _("a whole number"), value)
        number = int(value)
    elif spec.number == "decimal":
        number = Decimal(str(value))
    else:
        number = float(value)
    low, high = spec.minimum, spec.maximum
    if (low is not None and number < low) or (high is not None and number > high):
        bounds = (
            _("from %(min)s to %(max)s") % {"min": low, "max": high}
            if high is not None
            else _("at least %(min)s") % {"min": low}
        )
        raise _bad_value(path, field, _("a number %(bounds)s") % {"bounds": bounds}, value)
    return number

"""Why a customer is in a segment, in words and with the customer's own values, in the active
language: "Spend in window 5,671 is more than 1,000 · Lifecycle stage is Dormant".

A rule segment's why is read from its rule and the customer's values, computed as the rule's
conditions compute them (`compiler.condition_value`), for any number of segments and
customers in one query. Of an OR group only the branches the customer meets are told; a negated
group is told as the conditions that do not hold. A built-in segment's why comes from the
customer's metrics row (its lifecycle stage, value tier, RFM segment with its scores...).

The stored `SegmentMembership.reason` stays as it was (language-neutral, recorded at entry);
this is what people read.
"""

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import BooleanField, ExpressionWrapper
from django.utils.formats import number_format
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from callcenter.models import Customer
from segments.choices import SegmentKind
from segments.models import CustomerMetrics, Segment

from .compiler import compile_node, condition_value
from .fields import ATTRIBUTE, BOOL, CHOICE, COUNT, DATE, FIELDS, MEMBERSHIP, OPERATORS
from .tree import Condition, Group, Node, RuleError, iter_conditions, parse_tree


@dataclass(frozen=True)
class WhyPart:
    """One reason: the field tested, the customer's value and the rule's, and the sentence."""

    field: str
    label: str
    cmp: str
    value: Any
    limit: Any
    text: str


@dataclass(frozen=True)
class Why:
    """The reasons a customer is in a segment, and all of them as one line."""

    parts: list[WhyPart] = field(default_factory=list)

    @property
    def text(self) -> str:
        return " · ".join(part.text for part in self.parts)

    def as_data(self) -> dict[str, Any]:
        """For the API: the text and each reason's field, operator, values (JSON-ready)."""
        return {
            "text": self.text,
            "parts": [
                {
                    "name": part.field,
                    "field_label": part.label,
                    "cmp": part.cmp,
                    "value": _json(part.value),
                    "limit": _json(part.limit),
                    "text": part.text,
                }
                for part in self.parts
            ],
        }


def _json(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_json(item) for item in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def format_number(value: int | float | Decimal) -> str:
    """A number as people read it in the active language: grouped thousands, whole numbers
    without decimals, others with two."""
    whole = value == int(value)
    return number_format(value, decimal_pos=0 if whole else 2, force_grouping=True)


def _shown(condition: Condition, value: Any) -> str:
    """A value of the condition's field in words: a choice's label, a grouped number, a date."""
    spec = condition.spec
    if value is None:
        return "—"
    if isinstance(value, tuple | list):
        return pgettext("list separator", ", ").join(_shown(condition, item) for item in value)
    if spec.type == CHOICE and spec.choices is not None:
        try:
            return str(spec.choices(str(value)).label)
        except ValueError:
            return str(value)
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, int | float | Decimal):
        return format_number(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _label(condition: Condition) -> str:
    spec = condition.spec
    if spec.type == ATTRIBUTE:
        return _("custom attribute %(key)s") % {"key": condition.key}
    if spec.type == COUNT:
        return _("%(field)s in the last %(days)s days") % {
            "field": spec.label,
            "days": format_number(condition.days or 0),
        }
    return str(spec.label)


# Sentences of a condition that holds, by operator; dates say before/after.
def _templates(is_date: bool) -> dict[str, str]:
    if is_date:
        order = {
            "gt": _("%(field)s %(value)s is after %(limit)s"),
            "gte": _("%(field)s %(value)s is on or after %(limit)s"),
            "lt": _("%(field)s %(value)s is before %(limit)s"),
            "lte": _("%(field)s %(value)s is on or before %(limit)s"),
        }
    else:
        order = {
            "gt": _("%(field)s %(value)s is more than %(limit)s"),
            "gte": _("%(field)s %(value)s is at least %(limit)s"),
            "lt": _("%(field)s %(value)s is less than %(limit)s"),
            "lte": _("%(field)s %(value)s is at most %(limit)s"),
        }
    return {
        **order,
        "eq": _("%(field)s is %(value)s"),
        "in": _("%(field)s is %(value)s"),
        "is_set": _("%(field)s is %(value)s"),
        "is_true": _("%(field)s is %(value)s"),
        "is_false": _("%(field)s is %(value)s"),
        "ne": _("%(field)s is %(value)s, not %(limit)s"),
        "not_in": _("%(field)s is %(value)s, none of %(limit)s"),
        "contains": _("%(field)s %(value)s contains %(limit)s"),
        "startswith": _("%(field)s %(value)s starts with %(limit)s"),
    }


def _sentence(condition: Condition, value: Any, segment_names: Mapping[str, str]) -> str:
    label = capfirst(_label(condition))
    spec, cmp = condition.spec, condition.cmp
    if spec.type == MEMBERSHIP:
        names = pgettext("list separator", ", ").join(
            segment_names.get(slug, slug) for slug in condition.value
        )
        if cmp == "in":
            return _("Member of %(segments)s") % {"segments": names}
        return _("Not a member of %(segments)s") % {"segments": names}
    if spec.type == BOOL:
        yes = _("%(field)s: yes") if cmp == "is_true" else _("%(field)s: no")
        return yes % {"field": label}
    if cmp == "is_empty" or value is None:
        return _("%(field)s is not set") % {"field": label}
    if cmp == "between":
        low, high = condition.value
        return _("%(field)s %(value)s is between %(low)s and %(high)s") % {
            "field": label,
            "value": _shown(condition, value),
            "low": _shown(condition, low),
            "high": _shown(condition, high),
        }
    template = _templates(spec.type == DATE)[cmp]
    return template % {
        "field": label,
        "value": _shown(condition, value),
        "limit": _shown(condition, condition.value),
    }


def _bare(condition: Condition, segment_names: Mapping[str, str]) -> str:
    """A condition in words without the customer's value (inside a negated group)."""
    if condition.spec.type == MEMBERSHIP:
        return _sentence(condition, None, segment_names)
    text = f"{capfirst(_label(condition))} {OPERATORS[condition.cmp]}"
    if condition.value is None:
        return text
    if condition.cmp == "between":
        low, high = condition.value
        return f"{text} {_shown(condition, low)} – {_shown(condition, high)}"
    return f"{text} {_shown(condition, condition.value)}"


def _bare_group(node: Node, segment_names: Mapping[str, str]) -> str:
    if isinstance(node, Condition):
        return _bare(node, segment_names)
    joiner = f" {pgettext('rule', 'and')} " if node.op == "and" else f" {pgettext('rule', 'or')} "
    inner = joiner.join(_bare_group(child, segment_names) for child in node.children)
    return _("not (%(conditions)s)") % {"conditions": inner} if node.negate else inner


def rule_words(*, tree: Any) -> str:
    """A rule tree in words, without any customer's values (e.g. in a rule's version history):
    "Spend in window at least 1,000 and Lifecycle stage equals Dormant". Empty for a tree that
    no longer checks."""
    try:
        node = parse_tree(tree)
    except RuleError:
        return ""
    slugs = {
        slug
        for condition in iter_conditions(node)
        if condition.spec.type == MEMBERSHIP
        for slug in condition.value
    }
    names = (
        {s.slug: s.display_name for s in Segment.objects.filter(slug__in=slugs)} if slugs else {}
    )
    return _bare_group(node, names)


def _nodes(node: Node) -> Iterable[Node]:
    yield node
    if isinstance(node, Group):
        for child in node.children:
            yield from _nodes(child)


@dataclass
class _Plan:
    """The annotations of one query: per tree, the name of each node's truth and value."""

    annotations: dict[str, Any] = field(default_factory=dict)
    names: dict[tuple[int, int], tuple[str, str | None]] = field(default_factory=dict)

    def add(self, key: int, node: Node, as_of: dt.datetime) -> None:
        index = len(self.annotations)
        holds = f"why_h{index}"
        self.annotations[holds] = ExpressionWrapper(
            compile_node(node, as_of=as_of), output_field=BooleanField()
        )
        value_name = None
        if isinstance(node, Condition):
            expression = condition_value(node, as_of=as_of)
            if expression is not None:
                value_name = f"why_v{index}"
                self.annotations[value_name] = expression
        self.names[(key, id(node))] = (holds, value_name)


def _explain_node(
    node: Node,
    row: Mapping[str, Any],
    names: Mapping[int, tuple[str, str | None]],
    segment_names: Mapping[str, str],
) -> list[WhyPart]:
    if isinstance(node, Condition):
        value_name = names[id(node)][1]
        value = row[value_name] if value_name else None
        return [
            WhyPart(
                field=node.field,
                label=capfirst(_label(node)),
                cmp=node.cmp,
                value=value,
                limit=node.value,
                text=_sentence(node, value, segment_names),
            )
        ]
    if node.negate:
        text = _("None of: %(conditions)s") % {
            "conditions": _bare_group(
                Group(path=node.path, op=node.op, negate=False, children=node.children),
                segment_names,
            )
        }
        return [WhyPart(field="", label="", cmp="not", value=None, limit=None, text=text)]
    parts: list[WhyPart] = []
    for child in node.children:
        if node.op == "and" or row[names[id(child)][0]]:
            parts.extend(_explain_node(child, row, names, segment_names))
    return parts


def rules_explain(
    *, rules: Mapping[int, Any], customer_ids: Iterable[int], as_of: dt.datetime
) -> dict[tuple[int, int], Why]:
    """The why of each customer in each rule segment (`rules`: segment id -> rule tree), keyed
    by (segment id, customer id), in one query. A tree that no longer checks is left out."""
    ids = list(customer_ids)
    trees: dict[int, Node] = {}
    for segment_id, tree in rules.items():
        try:
            trees[segment_id] = parse_tree(tree)
        except RuleError:
            continue
    if not ids or not trees:
        return {}
    plan = _Plan()
    slugs: set[str] = set()
    for segment_id, root in trees.items():
        for node in _nodes(root):
            plan.add(segment_id, node, as_of)
            if isinstance(node, Condition) and node.spec.type == MEMBERSHIP:
                slugs.update(node.value)
    segment_names = (
        {s.slug: s.display_name for s in Segment.objects.filter(slug__in=slugs)} if slugs else {}
    )
    rows = Customer.objects.filter(pk__in=ids).values("pk", **plan.annotations)
    whys: dict[tuple[int, int], Why] = {}
    for row in rows:
        for segment_id, root in trees.items():
            names = {
                node_id: plan.names[(segment_id, node_id)]
                for node_id in (id(node) for node in _nodes(root))
            }
            whys[(segment_id, row["pk"])] = Why(_explain_node(root, row, names, segment_names))
    return whys


def builtin_explain(*, kind: str, metrics: CustomerMetrics | None, segment_name: str = "") -> Why:
    """The why of a built-in segment from the customer's metrics row."""
    columns = {
        SegmentKind.LIFECYCLE: "lifecycle_stage",
        SegmentKind.TIER: "value_tier",
        SegmentKind.POTENTIAL: "value_potential",
        SegmentKind.RFM: "rfm_segment",
    }
    if metrics is None:
        return Why()
    if kind == SegmentKind.CLUSTER:
        spec = FIELDS["cluster"]
        text = _("%(field)s is %(value)s") % {
            "field": capfirst(str(spec.label)),
            "value": segment_name or metrics.cluster,
        }
        return Why(
            [WhyPart("cluster", capfirst(str(spec.label)), "eq", metrics.cluster, None, text)]
        )
    column = columns.get(SegmentKind(kind))
    if column is None:
        return Why()
    spec = FIELDS[column]
    value = getattr(metrics, column)
    condition = Condition(path="", field=column, spec=spec, cmp="eq", value=value)
    text = _sentence(condition, value, {})
    if kind == SegmentKind.RFM and metrics.r_score is not None:
        text += (
            " ("
            + _("R %(r)s · F %(f)s · M %(m)s")
            % {
                "r": metrics.r_score,
                "f": metrics.f_score,
                "m": metrics.m_score,
            }
            + ")"
        )
    return Why([WhyPart(column, capfirst(str(spec.label)), "eq", value, None, text)])

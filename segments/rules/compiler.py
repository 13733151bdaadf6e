"""Compiling checked rule nodes to Django Q objects over `Customer`.

Values always travel as query parameters. Null semantics: every operator except `is_empty`
matches only customers for whom the field has a value (not null; for text, not blank), so
"recency_days gt 60" or "recency_days ne 60" never match a customer without metrics. Every
compiled condition is two-valued (never SQL NULL), so a negated group is the exact complement
of its content.
"""

import operator
from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from functools import reduce
from typing import Any

from django.db.models import (
    CharField,
    DateField,
    DateTimeField,
    DecimalField,
    Exists,
    Expression,
    F,
    FloatField,
    Func,
    IntegerField,
    OuterRef,
    Q,
    Subquery,
    Value,
)
from django.db.models.aggregates import Count, Sum
from django.db.models.expressions import Case, When
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Coalesce, Lower, NullIf, Trim
from django.db.models.lookups import (
    Exact,
    GreaterThan,
    GreaterThanOrEqual,
    IContains,
    In,
    IsNull,
    IStartsWith,
    LessThan,
    LessThanOrEqual,
    Lookup,
    Range,
    Regex,
)
from django.utils import timezone

from segments.choices import AGE_BAND_UPPER_BOUNDS, AgeBand
from segments.models import SegmentMembership

from .fields import ATTRIBUTE, BOOL, CHOICE, COUNT, MEMBERSHIP, STRING, EventSpec, FieldSpec
from .tree import Condition, Node

# Custom attributes are JSON, often text from CSV imports ("35"). A value counts as a number
# only when its text reads as one; the bound on digits keeps the cast inside double precision.
NUMERIC_TEXT = r"^\s*-?[0-9]{1,15}(\.[0-9]{1,10})?\s*$"
TRUE_WORDS = ["true", "yes", "y", "1", "是"]
FALSE_WORDS = ["false", "no", "n", "0", "否"]

_PATH_LOOKUPS = {
    "eq": "exact",
    "lt": "lt",
    "lte": "lte",
    "gt": "gt",
    "gte": "gte",
    "between": "range",
    "in": "in",
    "contains": "icontains",
    "startswith": "istartswith",
}
_EXPRESSION_LOOKUPS: dict[str, type[Lookup]] = {
    "eq": Exact,
    "lt": LessThan,
    "lte": LessThanOrEqual,
    "gt": GreaterThan,
    "gte": GreaterThanOrEqual,
    "between": Range,
    "in": In,
    "contains": IContains,
    "startswith": IStartsWith,
}


def compile_node(node: Node, *, as_of: datetime, segment_ids: Mapping[str, int] | None = None) -> Q:
    """The Q object selecting the customers `node` describes (on `Customer`).

    `segment_ids` (slug -> id, every referenced slug) lets membership conditions filter on
    literal segment ids, which PostgreSQL can estimate; without it they join on the slug.
    """
    if isinstance(node, Condition):
        return _condition_q(node, as_of=as_of, segment_ids=segment_ids)
    combine = operator.and_ if node.op == "and" else operator.or_
    combined = reduce(
        combine,
        (compile_node(child, as_of=as_of, segment_ids=segment_ids) for child in node.children),
    )
    return ~combined if node.negate else combined


def _condition_q(node: Condition, *, as_of: datetime, segment_ids: Mapping[str, int] | None) -> Q:
    spec = node.spec
    if spec.type == MEMBERSHIP:
        # Stored open memberships, not the other segment's rule: segments refresh in dependency
        # order. EXISTS rather than IN: a semi/anti join inside AND, an index probe inside OR.
        which: dict[str, Any] = (
            {"segment__slug__in": list(node.value)}
            if segment_ids is None
            else {"segment_id__in": [segment_ids[slug] for slug in node.value]}
        )
        open_stays = SegmentMembership.objects.filter(
            customer_id=OuterRef("pk"), exited_at__isnull=True, **which
        )
        member = Q(Exists(open_stays))
        return member if node.cmp == "in" else ~member
    if spec.type == COUNT:
        assert spec.event is not None
        assert node.days is not None
        counted = _event_total(spec.event, days=node.days, as_of=as_of)
        return _expression_q(counted, node.cmp, node.value, is_set=Q())
    if spec.type == ATTRIBUTE:
        return _attribute_q(node)
    if spec.type == BOOL:
        expected = (node.cmp == "is_true") != spec.invert
        if not expected and spec.missing_is_false:
            # A customer without the row (no phone, nothing counted) is "false" too.
            return ~Q(**{spec.path: True})
        return Q(**{spec.path: expected})
    if spec.days_since:
        return _days_since_q(spec.path, node.cmp, node.value, as_of=as_of)
    if spec.derived:
        return _derived_q(spec, node.cmp, node.value, as_of=as_of)
    if spec.numeric_choices:
        value = tuple(map(int, node.value)) if isinstance(node.value, tuple) else node.value
        return _path_q(spec.path, node.cmp, value, text=False)
    return _path_q(spec.path, node.cmp, node.value, text=spec.type in (STRING, CHOICE))


def _path_q(path: str, cmp: str, value: Any, *, text: bool) -> Q:
    """A condition on a model field (or a transform of one) through Django's own lookups."""
    is_set = Q(**{f"{path}__isnull": False})
    if text:
        is_set &= ~Q(**{path: ""})
    if cmp == "is_set":
        return is_set
    if cmp == "is_empty":
        return ~is_set
    if cmp == "ne":
        return is_set & ~Q(**{path: value})
    if cmp == "not_in":
        return is_set & ~Q(**{f"{path}__in": list(value)})
    return Q(**{f"{path}__{_PATH_LOOKUPS[cmp]}": list(value) if cmp == "in" else value})


def _days_since_q(path: str, cmp: str, value: Any, *, as_of: datetime) -> Q:
    """A condition on the whole days from the date at `path` to `as_of` (floored, as the
    refresh computes them)."""
    is_set = Q(**{f"{path}__isnull": False})
    if cmp == "is_set":
        return is_set
    if cmp == "is_empty":
        return ~is_set
    return _expression_q(_whole_days_to(as_of, path), cmp, value, is_set=is_set)


def _whole_days_to(as_of: datetime, path: str) -> Expression:
    """Whole days from the moment at `path` to `as_of`, floored as the refresh counts them."""
    return Func(
        Value(as_of, output_field=DateTimeField()),
        F(path),
        arg_joiner=" - ",
        template="floor(extract(epoch from (%(expressions)s)) / 86400)::integer",
        output_field=IntegerField(),
    )


def _age(as_of: datetime) -> Expression:
    """Whole years from the birthday to the as-of day (in TIME_ZONE)."""
    return Func(
        Value(timezone.localtime(as_of).date(), output_field=DateField()),
        F("birthday"),
        template="extract(year from age(%(expressions)s))::integer",
        output_field=IntegerField(),
    )


def _age_band(as_of: datetime) -> Expression:
    age = _age(as_of)
    bands = [
        When(LessThan(age, upper), then=Value(str(band))) for upper, band in AGE_BAND_UPPER_BOUNDS
    ]
    return Case(*bands, default=Value(str(AgeBand.FROM_65)), output_field=CharField())


def _overdue_ratio(as_of: datetime) -> Expression:
    """Days since the last paid order over the median days between orders: 1 is when the next
    order would usually come, 2 twice as late."""
    return Func(
        _whole_days_to(as_of, "metrics__last_order_at"),
        NullIf(F("behaviour__median_gap_days"), Value(0.0)),
        arg_joiner=" / ",
        template="(%(expressions)s)",
        output_field=FloatField(),
    )


def _derived_q(spec: FieldSpec, cmp: str, value: Any, *, as_of: datetime) -> Q:
    """A condition on a value derived against `as_of` (not stored: it moves with the clock)."""
    is_set = Q(**{f"{spec.path}__isnull": False})
    if spec.derived == "overdue_ratio":
        is_set &= Q(metrics__last_order_at__isnull=False, behaviour__median_gap_days__gt=0)
    if cmp == "is_set":
        return is_set
    if cmp == "is_empty":
        return ~is_set
    expression = {"age": _age, "age_band": _age_band, "overdue_ratio": _overdue_ratio}[
        spec.derived
    ](as_of)
    return _expression_q(expression, cmp, value, is_set=is_set)


def _holds(lookup: Lookup) -> Q:
    """`lookup` as a filter that is false, never NULL, where its input is NULL."""
    return Q(Coalesce(lookup, Value(False)))


def _expression_q(lhs: Expression, cmp: str, value: Any, *, is_set: Q) -> Q:
    """A condition on a computed value; `is_set` says when the value exists at all."""
    if cmp == "ne":
        return is_set & ~_holds(Exact(lhs, value))
    if cmp == "not_in":
        return is_set & ~_holds(In(lhs, list(value)))
    rhs = list(value) if cmp == "in" else value
    return _holds(_EXPRESSION_LOOKUPS[cmp](lhs, rhs))


def _attribute_q(node: Condition) -> Q:
    text = KeyTextTransform(node.key, "attributes")
    is_set = Q(IsNull(text, False)) & ~_holds(Exact(text, ""))
    if node.cmp == "is_set":
        return is_set
    if node.cmp == "is_empty":
        return ~is_set
    if node.cmp in ("is_true", "is_false"):
        words = TRUE_WORDS if node.cmp == "is_true" else FALSE_WORDS
        return _holds(In(Lower(Trim(text)), words))
    sample = node.value[0] if isinstance(node.value, tuple) else node.value
    if isinstance(sample, str):
        return _expression_q(text, node.cmp, node.value, is_set=is_set)
    as_number = Case(
        When(Regex(text, NUMERIC_TEXT), then=Cast(text, FloatField())),
        default=None,
        output_field=FloatField(),
    )
    return _expression_q(as_number, node.cmp, node.value, is_set=is_set)


def _event_total(event: EventSpec, *, days: int, as_of: datetime) -> Expression:
    """The customer's count (or sum) of events in (as_of - days, as_of], 0 when there are none.

    A correlated subquery: one probe of the (customer, time) index per customer, equally cheap
    for one customer (care conditions) and, inside OR groups, for a whole refresh.
    """
    rows = (
        event.model._default_manager.filter(
            customer_id=OuterRef("pk"),
            **{
                f"{event.time_field}__gt": as_of - timedelta(days=days),
                f"{event.time_field}__lte": as_of,
            },
            **dict(event.filters),
        )
        .order_by()
        .values("customer_id")
    )
    if event.sum_field:
        money = DecimalField(max_digits=16, decimal_places=2)
        total = rows.annotate(total=Sum(event.sum_field)).values("total")
        return Coalesce(Subquery(total, output_field=money), Value(Decimal(0)), output_field=money)
    counted = rows.annotate(total=Count("pk")).values("total")
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def condition_value(node: Condition, *, as_of: datetime) -> Expression | F | None:
    """The customer's own value of the field `node` tests (what the "why" of a membership
    shows), computed as the condition computes it; None where the condition has no single value
    (segment membership, yes/no fields: holding says it all)."""
    spec = node.spec
    if spec.type in (MEMBERSHIP, BOOL):
        return None
    if spec.type == COUNT:
        assert spec.event is not None
        assert node.days is not None
        return _event_total(spec.event, days=node.days, as_of=as_of)
    if spec.type == ATTRIBUTE:
        return KeyTextTransform(node.key, "attributes")
    if spec.days_since:
        return _whole_days_to(as_of, spec.path)
    if spec.derived:
        return {"age": _age, "age_band": _age_band, "overdue_ratio": _overdue_ratio}[spec.derived](
            as_of
        )
    return F(spec.path)

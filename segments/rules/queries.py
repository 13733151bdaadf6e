"""Reading customers through a rule tree: validation with the database, the matching queryset,
the per-customer check, the preview, and the order in which rule segments must refresh."""

import graphlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from callcenter.choices import CustomerStatus
from callcenter.models import Customer
from segments.choices import SegmentKind
from segments.models import Segment

from .compiler import compile_node
from .fields import MEMBERSHIP
from .tree import Node, RuleError, iter_conditions, node_error, parse_tree

MAX_SAMPLE_SIZE = 100
SAMPLE_FIELDS = ("id", "external_id", "name", "city")


def rule_validate(*, tree: Any, segment_slug: str | None = None) -> None:
    """Raise RuleError naming the first bad node of `tree`, or return if the tree is valid.

    Checks the allow-list and, in one query when the tree names segments, that they exist.
    With `segment_slug` (the rule segment being saved) it also refuses a tree that includes
    its own segment, directly or through other rule segments.
    """
    _checked(tree, segment_slug=segment_slug)


def rule_dependencies(*, tree: Any) -> set[str]:
    """The slugs of the segments whose membership `tree` reads (RuleError if invalid)."""
    return _slugs(parse_tree(tree))


def segment_dependency_order(*, segments: Mapping[str, Any]) -> list[str]:
    """Order rule segments (slug -> tree) so each comes after the rule segments it reads.

    References to segments outside `segments` (built-in ones, refreshed first) are ignored, and
    trees are read leniently so one broken rule cannot stop the others from being ordered.
    Raises RuleError naming the cycle when segments depend on each other.
    """
    sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
    for slug in sorted(segments):
        sorter.add(slug, *sorted(_raw_segment_refs(segments[slug]) & segments.keys()))
    try:
        return list(sorter.static_order())
    except graphlib.CycleError as exc:
        cycle = list(reversed(exc.args[1]))
        raise RuleError(
            _("segments include each other in a cycle: %(cycle)s") % {"cycle": " → ".join(cycle)},
            path="",
        ) from exc


def rule_queryset(*, tree: Any, as_of: datetime | None = None) -> QuerySet[Customer]:
    """The active customers `tree` matches as of `as_of` (default now). Validates first."""
    node, segment_ids = _checked(tree)
    return _active().filter(compile_node(node, as_of=_moment(as_of), segment_ids=segment_ids))


def rule_matches(*, tree: Any, customer_id: int, as_of: datetime | None = None) -> bool:
    """Whether the active customer `customer_id` matches `tree`, in one query.

    The tree is checked against the allow-list but segment slugs are not looked up (that would
    be a second query): a segment that does not exist simply has no members.
    """
    node = parse_tree(tree)
    return _active().filter(compile_node(node, as_of=_moment(as_of)), pk=customer_id).exists()


def rule_preview(
    *, tree: Any, sample_size: int = 20, as_of: datetime | None = None
) -> dict[str, Any]:
    """How many active customers `tree` matches and the first `sample_size` of them (by id),
    as {"count": n, "sample": [{"id", "external_id", "name", "city"}, ...]}."""
    if not 0 <= sample_size <= MAX_SAMPLE_SIZE:
        raise RuleError(
            _("the sample size must be from 0 to %(max)d") % {"max": MAX_SAMPLE_SIZE}, path=""
        )
    customers = rule_queryset(tree=tree, as_of=as_of)
    sample = list(customers.order_by("pk").values(*SAMPLE_FIELDS)[:sample_size])
    return {"count": customers.count(), "sample": sample}


def _active() -> QuerySet[Customer]:
    return Customer.objects.filter(status=CustomerStatus.ACTIVE)


def _moment(as_of: datetime | None) -> datetime:
    if as_of is None:
        return timezone.now()
    if timezone.is_naive(as_of):
        raise ValueError("as_of must be timezone-aware")
    return as_of


def _slugs(node: Node) -> set[str]:
    return {
        slug
        for condition in iter_conditions(node)
        if condition.spec.type == MEMBERSHIP
        for slug in condition.value
    }


def _checked(tree: Any, *, segment_slug: str | None = None) -> tuple[Node, dict[str, int]]:
    """The parsed tree and the ids of the segments it names, all checked to exist."""
    node = parse_tree(tree)
    references = [
        condition for condition in iter_conditions(node) if condition.spec.type == MEMBERSHIP
    ]
    if not references:
        return node, {}
    wanted = {slug for condition in references for slug in condition.value}
    known = dict(Segment.objects.filter(slug__in=wanted).values_list("slug", "pk"))
    for condition in references:
        for slug in condition.value:
            if slug == segment_slug:
                raise node_error(condition.path, _("a segment cannot include itself"))
            if slug not in known:
                raise node_error(condition.path, _('unknown segment "%(slug)s"') % {"slug": slug})
    if segment_slug is not None:
        stored = dict(
            Segment.objects.filter(kind=SegmentKind.RULE)
            .exclude(slug=segment_slug)
            .values_list("slug", "rule")
        )
        segment_dependency_order(segments={**stored, segment_slug: tree})
    return node, known


def _raw_segment_refs(tree: Any) -> set[str]:
    """Segment slugs named anywhere in a possibly invalid stored tree."""
    found: set[str] = set()
    stack = [tree]
    while stack:
        node = stack.pop()
        if not isinstance(node, dict):
            continue
        children = node.get("children")
        if isinstance(children, list):
            stack.extend(children)
        value = node.get("value")
        if node.get("field") == "segment" and isinstance(value, list):
            found.update(item for item in value if isinstance(item, str))
    return found

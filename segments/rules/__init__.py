"""Rule segments: a JSON tree of AND/OR conditions that supervisors define, validated against an
allow-list of fields and operators and compiled to ORM filters (never SQL text).

A group is {"op": "and" | "or", "children": [node, ...], "not": false}; a condition is
{"field": "monetary", "cmp": "gte", "value": 1000}, and an event count also takes
{"days": 30}. Fields, types and operators are listed in `fields.FIELDS` and by
`rule_fields_catalog()`; custom attributes are named "attributes.<key>".

The same checked tree serves rule segments (`rule_queryset`, `segment_dependency_order`), the
rule builder (`rule_preview`, `rule_fields_catalog`, `rule_describe`) and care-rule conditions
(`rule_matches`, one query for one customer).
"""

from .describe import rule_describe
from .fields import FIELDS, OPERATORS, FieldSpec, rule_fields_catalog
from .queries import (
    rule_dependencies,
    rule_matches,
    rule_preview,
    rule_queryset,
    rule_validate,
    segment_dependency_order,
)
from .tree import (
    MAX_DAYS,
    MAX_GROUP_DEPTH,
    MAX_LIST_ITEMS,
    MAX_NODES,
    RuleError,
)

__all__ = [
    "FIELDS",
    "MAX_DAYS",
    "MAX_GROUP_DEPTH",
    "MAX_LIST_ITEMS",
    "MAX_NODES",
    "OPERATORS",
    "FieldSpec",
    "RuleError",
    "rule_dependencies",
    "rule_describe",
    "rule_fields_catalog",
    "rule_matches",
    "rule_preview",
    "rule_queryset",
    "rule_validate",
    "segment_dependency_order",
]

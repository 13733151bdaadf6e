"""Threshold events, set-based: one statement per active "threshold crossed" rule and pass.

A rule watches a number (a custom attribute, or a column of the customer metrics) and a line
("above" or "below" a value). Its ThresholdState rows remember which side each customer was
on at the last pass, so the rule fires once per crossing: an event only for a customer whose
row flips from not past the line to past it. A customer seen for the first time (every
customer on a new rule's first pass) is recorded without an event: being past the line
already is not a crossing. An attribute that is missing or not a plain number is unknown: the
customer is skipped (the statement never fails on it) and keeps their last state. Falling
back behind the line updates the row, so a later rise fires again; the event's key counts
the crossings ("threshold:<rule>:<customer>:<n>"), so a retried pass cannot fire twice.
"""

import datetime as dt
from typing import Any

from callcenter.choices import CustomerStatus
from care.choices import EventSource, EventType
from care.models import CareRule
from care.services.triggers import (
    ATTRIBUTE_PREFIX,
    THRESHOLD_METRIC_PREFIX,
    THRESHOLD_METRICS,
)

# The customers whose value is known, and which side of the line they are on now; the new
# sides of those whose side changed or who have no row yet; rows inserted or updated; events
# for the rows that flipped to past the line.
_THRESHOLD_CROSSED = """
WITH observed AS (
    SELECT c.id AS customer_id, {value} AS observed
    FROM callcenter_customer c
    {join}
    WHERE c.status = %(active)s
), side AS (
    SELECT o.customer_id, o.observed, {compare} AS is_over, s.id AS state_id
    FROM observed o
    LEFT JOIN care_thresholdstate s ON s.rule_id = %(rule)s AND s.customer_id = o.customer_id
    WHERE o.observed IS NOT NULL AND (s.id IS NULL OR s.is_over <> ({compare}))
), seen AS (
    INSERT INTO care_thresholdstate (rule_id, customer_id, is_over, crossings, changed_at)
    SELECT %(rule)s, customer_id, is_over, 0, %(now)s FROM side WHERE state_id IS NULL
    ON CONFLICT (rule_id, customer_id) DO NOTHING
), flipped AS (
    UPDATE care_thresholdstate s
    SET is_over = side.is_over, changed_at = %(now)s,
        crossings = s.crossings + CASE WHEN side.is_over THEN 1 ELSE 0 END
    FROM side
    -- Checked again on the row as it is now, so a concurrent pass cannot count a flip twice.
    WHERE s.id = side.state_id AND s.is_over <> side.is_over
    RETURNING s.customer_id, s.is_over, s.crossings, side.observed
)
INSERT INTO care_event
    (type, customer_id, payload, source, occurred_at, created_at, idempotency_key,
     attempts, last_error)
SELECT %(type)s, customer_id,
       jsonb_build_object('rule', %(rule)s::int, 'field', %(field)s::text,
                          'direction', %(direction)s::text, 'value', %(threshold)s::numeric,
                          'observed', observed),
       %(source)s, %(now)s, %(now)s,
       'threshold:' || %(rule)s::int || ':' || customer_id || ':' || crossings, 0, ''
FROM flipped
WHERE is_over
ON CONFLICT (client, idempotency_key) DO NOTHING
RETURNING id
"""
# Only a plain decimal number is cast; anything else is unknown (NULL), never an error.
_NUMERIC_ATTRIBUTE = (
    "CASE WHEN c.attributes ->> %(attribute)s ~ '^\\s*-?[0-9]{1,15}(\\.[0-9]{1,15})?\\s*$' "
    "THEN trim(c.attributes ->> %(attribute)s)::numeric END"
)
_COMPARE = {
    "above": "o.observed > %(threshold)s::numeric",
    "below": "o.observed < %(threshold)s::numeric",
}


def _sql(*, field: str, direction: str) -> str:
    """The statement of a rule watching `field` (an attribute, or a metric of the allow-list)
    in `direction`."""
    if field.startswith(ATTRIBUTE_PREFIX):
        value, join = _NUMERIC_ATTRIBUTE, ""
    else:
        metric = field.removeprefix(THRESHOLD_METRIC_PREFIX)
        if metric not in THRESHOLD_METRICS:
            raise ValueError(f"not a threshold metric: {field}")
        value = f"m.{metric}::numeric"
        join = "JOIN segments_customermetrics m ON m.customer_id = c.id"
    return _THRESHOLD_CROSSED.format(value=value, join=join, compare=_COMPARE[direction])


def threshold_events_emit(cursor: Any, *, now: dt.datetime) -> list[int] | None:
    """Update the states of every active threshold rule and emit an event per crossing, one
    statement per rule; the new events' ids, or None when no threshold rule is active."""
    rules = list(
        CareRule.objects.filter(is_active=True, trigger_type=EventType.THRESHOLD_CROSSED)
        .order_by("pk")
        .values_list("pk", "trigger_params")
    )
    if not rules:
        return None
    ids: list[int] = []
    for rule_id, params in rules:
        field = params["field"]
        cursor.execute(
            _sql(field=field, direction=params["direction"]),
            {
                "type": EventType.THRESHOLD_CROSSED,
                "rule": rule_id,
                "field": field,
                "attribute": field.removeprefix(ATTRIBUTE_PREFIX),
                "direction": params["direction"],
                "threshold": params["value"],
                "now": now,
                "active": CustomerStatus.ACTIVE,
                "source": EventSource.SCHEDULE,
            },
        )
        ids.extend(row[0] for row in cursor.fetchall())
    return ids

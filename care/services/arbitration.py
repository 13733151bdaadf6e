"""One customer, one plan per category: which triggered plans start, which are held back and
which running plans they preempt.

Rules have a category (care.choices.RuleCategory) and a priority. Proactive categories
(retention, marketing, collections) compete only within their own category: per customer, at
most one plan of such a category is active at a time. A triggered plan of higher priority than
the active one preempts it (stopped, reason `preempted`, `outranked_by` the new enrollment,
its open work ended through the plan listeners); one of equal or lower priority is recorded as
a `held` enrollment (reason `held_back`, `outranked_by` the plan that kept the customer), so the
customer page and the desk can say why. Several plans of one category triggered by the same
event: the highest priority (then the lowest rule id) is the candidate, the rest are held back
by it. Service plans (about the customer's own complaint) never compete: they are never held
back or preempted and preempt nothing, so no marketing plan can end a complaint's follow-up.

Control-group enrollments count as being in the plan: they hold back and are preempted like
treated ones, so the control group and the treated group are exposed to the same competition
and the measured uplift stays honest.

The incumbents' category and priority are their rule's current ones. Decisions are taken under
a transaction-scoped advisory lock per customer (`customer_plans_lock`), taken before any other
lock of the event (the stop pass takes it too), so two events of one customer processed at once
decide one after the other and the second sees the first's plans.
"""

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Protocol

from django.db import connection

from care.choices import ArbitrationReason, EnrollmentStatus, RuleCategory
from care.models import Enrollment
from care.services.plans import plan_stops_announce

# Categories whose plans never compete with any other.
INDEPENDENT_CATEGORIES = frozenset({RuleCategory.SERVICE})


class Contender(Protocol):
    """What arbitration reads of a triggered rule (care.services.enrollment.ActiveRule)."""

    @property
    def rule_id(self) -> int: ...

    @property
    def category(self) -> str: ...

    @property
    def priority(self) -> int: ...


@dataclass
class Arbitration:
    """The decision for one customer and one event.

    `held`: rule id -> the rule id of the new plan that holds it back, or None when a running
    plan holds it back (its enrollment id is in `held_by_enrollment`). `preempted`: rule id of
    the winning new plan -> enrollment ids of the running plans it preempts.
    """

    held: dict[int, int | None] = field(default_factory=dict)
    held_by_enrollment: dict[int, int] = field(default_factory=dict)
    preempted: dict[int, list[int]] = field(default_factory=dict)


def competes(category: str) -> bool:
    return category not in INDEPENDENT_CATEGORIES


def customer_plans_lock(customer_id: int) -> None:
    """Serialise plan decisions of one customer until the transaction ends."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [f"care-plans:{customer_id}"]
        )


def plans_arbitrate(*, customer_id: int, contenders: list[Contender]) -> Arbitration:
    """Decide which of the triggered rules (`contenders`, highest priority first) start, which
    are held back and which running plans are preempted. Reads and locks the customer's active
    plans of the contenders' competing categories (one query, none when no contender
    competes); the caller holds `customer_plans_lock`."""
    decision = Arbitration()
    by_category: dict[str, list[Contender]] = {}
    for rule in contenders:
        if competes(rule.category):
            by_category.setdefault(rule.category, []).append(rule)
    if not by_category:
        return decision
    running = (
        Enrollment.objects.filter(
            customer_id=customer_id,
            status=EnrollmentStatus.ACTIVE,
            rule__category__in=list(by_category),
        )
        .select_for_update(of=("self",))
        .order_by("pk")
        .values_list("pk", "rule__category", "rule__priority")
    )
    incumbents: dict[str, list[tuple[int, int]]] = {}
    for enrollment_id, category, priority in running:
        incumbents.setdefault(category, []).append((enrollment_id, priority))
    for category, rules in by_category.items():
        best = max(rules, key=lambda rule: (rule.priority, -rule.rule_id))
        holders = incumbents.get(category, [])
        # The running plan that keeps the customer: the highest priority, then the oldest.
        keeper = max(holders, key=lambda row: (row[1], -row[0]), default=None)
        if keeper is None or best.priority > keeper[1]:
            if holders:
                decision.preempted[best.rule_id] = [enrollment_id for enrollment_id, _p in holders]
            for rule in rules:
                if rule.rule_id != best.rule_id:
                    decision.held[rule.rule_id] = best.rule_id
        else:
            for rule in rules:
                decision.held[rule.rule_id] = None
                decision.held_by_enrollment[rule.rule_id] = keeper[0]
    return decision


def plans_preempt(
    *, decision: Arbitration, enrollment_by_rule: dict[int, int], now: dt.datetime
) -> int:
    """Stop the running plans the decision preempts, each `outranked_by` the new enrollment of
    its winning rule (`enrollment_by_rule`), and announce it so their open work ends. One
    UPDATE per winning rule (one per category at most). Returns how many."""
    stopped: list[int] = []
    for rule_id, enrollment_ids in decision.preempted.items():
        winner = enrollment_by_rule.get(rule_id)
        if winner is None:
            # The winner was enrolled by an earlier run of this very event, which preempted.
            continue
        Enrollment.objects.filter(pk__in=enrollment_ids, status=EnrollmentStatus.ACTIVE).update(
            status=EnrollmentStatus.STOPPED,
            stop_reason=ArbitrationReason.PREEMPTED,
            outranked_by_id=winner,
            finished_at=now,
        )
        stopped.extend(enrollment_ids)
    if stopped:
        plan_stops_announce(enrollment_ids=stopped, reason=ArbitrationReason.PREEMPTED)
    return len(stopped)


def held_fields(
    *, decision: Arbitration, rule_id: int, enrollment_by_rule: dict[int, int], now: dt.datetime
) -> dict[str, Any]:
    """The fields of a held rule's enrollment: held back, and by which plan (a running one, or
    the new one of the rule that won its category in this event)."""
    if rule_id in decision.held_by_enrollment:
        outranked_by: int | None = decision.held_by_enrollment[rule_id]
    else:
        winner_rule = decision.held.get(rule_id)
        outranked_by = enrollment_by_rule.get(winner_rule) if winner_rule is not None else None
    return {
        "status": EnrollmentStatus.HELD,
        "stop_reason": ArbitrationReason.HELD_BACK,
        "outranked_by_id": outranked_by,
        "finished_at": now,
    }


# ---------------------------------------------------------------------------------------------
# Set-based: many customers enrolled into one rule at once (a campaign run)

LOCK_CUSTOMERS_SQL = """
SELECT count(pg_advisory_xact_lock(hashtextextended('care-plans:' || c.customer_id, 0)))
FROM (
    SELECT DISTINCT customer_id FROM care_enrollment WHERE id IN ({new}) ORDER BY customer_id
) c
"""

HOLD_SQL = """
UPDATE care_enrollment n
SET status = %(arb_held)s, stop_reason = %(arb_held_back)s, outranked_by_id = k.id,
    finished_at = %(arb_now)s
FROM (
    SELECT DISTINCT ON (o.customer_id) o.customer_id, o.id
    FROM care_enrollment o
    JOIN care_carerule r ON r.id = o.rule_id
    WHERE o.status = %(arb_active)s AND r.category = %(arb_category)s
      AND r.priority >= %(arb_priority)s
      AND o.customer_id IN (SELECT customer_id FROM care_enrollment WHERE id IN ({new}))
      AND o.id NOT IN ({new})
    ORDER BY o.customer_id, r.priority DESC, o.id
) k
WHERE n.id IN ({new}) AND n.status = %(arb_active)s AND n.customer_id = k.customer_id
"""

PREEMPT_SQL = """
UPDATE care_enrollment o
SET status = %(arb_stopped)s, stop_reason = %(arb_preempted)s, outranked_by_id = n.id,
    finished_at = %(arb_now)s
FROM care_enrollment n, care_carerule r
WHERE n.id IN ({new}) AND n.status = %(arb_active)s
  AND o.customer_id = n.customer_id AND o.id NOT IN ({new}) AND o.status = %(arb_active)s
  AND r.id = o.rule_id AND r.category = %(arb_category)s AND r.priority < %(arb_priority)s
RETURNING o.id
"""


def plans_arbitrate_enrolled(
    *,
    category: str,
    priority: int,
    enrollments_sql: str,
    params: dict[str, Any],
    now: dt.datetime,
) -> dict[str, int]:
    """Arbitrate enrollments just inserted set-based, all into one rule of this category and
    priority (a campaign run), by the rules above: a new one is held back where the customer
    has a running plan of the category of equal or higher priority, and otherwise preempts the
    running ones. `enrollments_sql` selects the new enrollments' ids (named parameters in
    `params`, not starting with "arb_"). Plan only the new enrollments still active afterwards.
    Three statements (the customers' locks, in customer order; hold; preempt) and the
    announcement of the preempted plans; none for a service rule. Returns
    {"held": n, "preempted": m}."""
    if not competes(category):
        return {"held": 0, "preempted": 0}
    values = {
        **params,
        "arb_active": EnrollmentStatus.ACTIVE,
        "arb_held": EnrollmentStatus.HELD,
        "arb_stopped": EnrollmentStatus.STOPPED,
        "arb_held_back": ArbitrationReason.HELD_BACK,
        "arb_preempted": ArbitrationReason.PREEMPTED,
        "arb_category": category,
        "arb_priority": priority,
        "arb_now": now,
    }
    with connection.cursor() as cursor:
        cursor.execute(LOCK_CUSTOMERS_SQL.format(new=enrollments_sql), values)
        cursor.execute(HOLD_SQL.format(new=enrollments_sql), values)
        held = cursor.rowcount
        cursor.execute(PREEMPT_SQL.format(new=enrollments_sql), values)
        preempted = [row[0] for row in cursor.fetchall()]
    if preempted:
        plan_stops_announce(enrollment_ids=preempted, reason=ArbitrationReason.PREEMPTED)
    return {"held": held, "preempted": len(preempted)}

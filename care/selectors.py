"""Reads of care plans: rules with steps, versions and their differences, templates, events,
enrollments. Each list selector joins or prefetches what its serializer shows."""

from typing import Any

from django.db.models import Case, Exists, IntegerField, OuterRef, Prefetch, QuerySet, Value, When
from django.utils.translation import gettext as _

from callcenter.choices import OPEN_TICKET_STATUSES, CustomerStatus, OrderStatus
from callcenter.errors import ApplicationError
from callcenter.models import Customer, Order, Ticket
from care.choices import ArbitrationReason, EnrollmentStatus, StopCondition
from care.models import (
    STEP_FIELDS,
    CareRule,
    CareRuleVersion,
    CareStep,
    Enrollment,
    Event,
    MessageTemplate,
)

# Fields of a version snapshot compared by `rule_version_diff` (derived ones left out).
DIFF_FIELDS = (
    "name",
    "description",
    "trigger_type",
    "trigger_params",
    "conditions",
    "category",
    "priority",
    "cooldown_days",
    "holdout_share",
    "stop_conditions",
    "is_active",
)
DIFF_STEP_FIELDS = ("position", *STEP_FIELDS)


def rule_list() -> QuerySet[CareRule]:
    """Rules, highest priority first, with their steps (and the steps' templates)."""
    steps = CareStep.objects.select_related("template").order_by("position")
    return CareRule.objects.select_related("created_by").prefetch_related(
        Prefetch("steps", queryset=steps)
    )


def rule_versions(*, rule: CareRule) -> QuerySet[CareRuleVersion]:
    """A rule's versions, newest first, with who made each."""
    return rule.versions.select_related("changed_by").order_by("-version")


def rule_version_diff(*, rule: CareRule, from_version: int, to_version: int) -> dict[str, Any]:
    """What changed between two versions of a rule:
    {"from": n, "to": m, "fields": {name: {"from", "to"}},
     "steps": {"added": [step], "removed": [step], "changed": [{"id", "position", "fields"}]}}.
    Steps are matched by id, so a reordered step shows as a changed position."""
    snapshots = dict(
        rule.versions.filter(version__in=[from_version, to_version]).values_list(
            "version", "snapshot"
        )
    )
    for number in (from_version, to_version):
        if number not in snapshots:
            raise ApplicationError(
                _("Rule %(rule)s has no version %(version)s.")
                % {"rule": rule.slug, "version": number},
                extra={"code": "unknown_version"},
            )
    old, new = snapshots[from_version], snapshots[to_version]
    fields = {
        name: {"from": old.get(name), "to": new.get(name)}
        for name in DIFF_FIELDS
        if old.get(name) != new.get(name)
    }
    old_steps = {step["id"]: step for step in old.get("steps", [])}
    new_steps = {step["id"]: step for step in new.get("steps", [])}
    changed = []
    for step_id in sorted(
        old_steps.keys() & new_steps.keys(), key=lambda i: new_steps[i]["position"]
    ):
        before, after = old_steps[step_id], new_steps[step_id]
        differences = {
            name: {"from": before.get(name), "to": after.get(name)}
            for name in DIFF_STEP_FIELDS
            if before.get(name) != after.get(name)
        }
        if differences:
            changed.append({"id": step_id, "position": after["position"], "fields": differences})
    return {
        "from": from_version,
        "to": to_version,
        "fields": fields,
        "steps": {
            "added": [s for i, s in new_steps.items() if i not in old_steps],
            "removed": [s for i, s in old_steps.items() if i not in new_steps],
            "changed": changed,
        },
    }


def template_list() -> QuerySet[MessageTemplate]:
    """Templates with their texts."""
    return MessageTemplate.objects.prefetch_related("variants")


def event_list() -> QuerySet[Event]:
    """Outbox events, newest first (filtered by care.filters.EventFilter)."""
    return Event.objects.order_by("-id")


def enrollment_list() -> QuerySet[Enrollment]:
    """Enrollments with their rule, version number, customer name, event type and the plan
    that outranked them (preempted or held back)."""
    return Enrollment.objects.select_related(
        "rule", "rule_version", "customer", "event", "outranked_by__rule"
    ).order_by("-id")


def customer_plans(*, customer_id: int) -> QuerySet[Enrollment]:
    """A customer's enrollments, running ones first (then newest), with their rule and the plan
    that outranked them (preempted or held back): what the customer page and the desk show."""
    running_first = Case(
        When(status=EnrollmentStatus.ACTIVE, then=Value(0)),
        default=Value(1),
        output_field=IntegerField(),
    )
    return (
        Enrollment.objects.filter(customer_id=customer_id)
        .select_related("rule", "outranked_by__rule")
        .order_by(running_first, "-enrolled_at", "-id")
    )


def plan_reason(enrollment: Enrollment) -> str:
    """Why a plan stopped or never started, in the interface language ("" for none); the
    enrollment comes with `outranked_by__rule` (customer_plans)."""
    reason = enrollment.stop_reason
    outranked = enrollment.outranked_by
    if reason in (ArbitrationReason.PREEMPTED, ArbitrationReason.HELD_BACK) and outranked:
        values = {"rule": outranked.rule.name}
        if outranked.is_control:
            text = (
                _("Preempted by %(rule)s (control group)")
                if reason == ArbitrationReason.PREEMPTED
                else _("Held back by %(rule)s (control group)")
            )
        else:
            text = (
                _("Preempted by %(rule)s")
                if reason == ArbitrationReason.PREEMPTED
                else _("Held back by %(rule)s")
            )
        return text % values
    for choices in (ArbitrationReason, StopCondition):
        if reason in choices.values:
            return str(choices(reason).label)
    return reason


def preview_customer_sample() -> Customer | None:
    """A customer to preview templates with when none is chosen: the one behind the latest open
    ticket who also has a paid order (so ticket and order placeholders read real records), else
    the latest paid order's, else the newest active customer. Each read stops at the first row
    in time order."""
    active = {"customer__status": CustomerStatus.ACTIVE}
    paid = Order.objects.filter(customer_id=OuterRef("customer_id"), status=OrderStatus.PAID)
    customer_id = (
        Ticket.objects.filter(status__in=OPEN_TICKET_STATUSES, **active)
        .filter(Exists(paid))
        .order_by("-opened_at", "-pk")
        .values_list("customer_id", flat=True)
        .first()
    )
    if customer_id is None:
        customer_id = (
            Order.objects.filter(status=OrderStatus.PAID, **active)
            .order_by("-placed_at", "-pk")
            .values_list("customer_id", flat=True)
            .first()
        )
    customers = Customer.objects.filter(status=CustomerStatus.ACTIVE)
    if customer_id is not None:
        return customers.filter(pk=customer_id).first()
    return customers.order_by("-pk").first()

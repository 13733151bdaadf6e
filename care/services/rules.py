"""Care rules: triggers with parameters, conditions, ordered steps; every change versioned and
audited.

A rule's definition is frozen in a CareRuleVersion on every change (`care_rule_version_record`);
enrollments point at the version they started with, so editing a rule never changes the plan
of a customer already in it.
"""

import re
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import F
from django.utils.text import slugify
from django.utils.translation import gettext as _

from callcenter.errors import ApplicationError
from callcenter.services.audit import audit_log_record
from care.choices import EXTERNAL_STOP_PREFIX, DelayUnit, RuleCategory, StopCondition
from care.models import STEP_FIELDS, CareRule, CareRuleVersion, CareStep, MessageTemplate
from care.services.step_serializers import (
    DELAY_MINUTES,
    conditions_clean,
    steps_clean,
)
from care.services.triggers import trigger_params_validate

MAX_COOLDOWN_DAYS = 3650
# A stop condition met by an external event of that name ("external:payment_received").
EXTERNAL_STOP = re.compile(rf"^{EXTERNAL_STOP_PREFIX}[A-Za-z0-9_.-]{{1,64}}$")
MAX_HOLDOUT_SHARE = 0.9

# The fields of a rule a change may set (steps come as a list, see `steps_clean`).
RULE_FIELDS = (
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
)


def _error(message: str, field: str) -> ApplicationError:
    return ApplicationError(message, extra={"field": field})


# ---------------------------------------------------------------------------------------------
# Stop conditions and steps


def _stop_conditions_clean(values: Any) -> list[str]:
    """Known stop conditions first (in their order), then "external:<name>" ones by name."""
    if values is None:
        return []
    if not isinstance(values, list):
        raise _error(_("Stop conditions must be a list."), "stop_conditions")
    for value in values:
        if value not in StopCondition.values and not (
            isinstance(value, str) and EXTERNAL_STOP.match(value)
        ):
            raise _error(
                _(
                    "Unknown stop condition: %(value)s; use %(allowed)s, or "
                    '"external:<name>" for an event another system posts'
                )
                % {"value": value, "allowed": ", ".join(StopCondition.values)},
                "stop_conditions",
            )
    known = sorted({v for v in values if v in StopCondition.values}, key=StopCondition.values.index)
    return known + sorted({v for v in values if v not in StopCondition.values})


def _int_in(value: Any, low: int, high: int, message: str, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _error(message, field)
    return value


def _steps_write(rule: CareRule, steps: list[dict[str, Any]]) -> None:
    """Make the rule's steps exactly `steps`: keep (and update) listed ids, create the new ones,
    delete the rest. Positions move out of the way first (they are unique per rule)."""
    kept = [s["id"] for s in steps if s["id"] is not None]
    rule.steps.exclude(pk__in=kept).delete()
    rule.steps.update(position=F("position") + 1000)
    by_id = {step.pk: step for step in rule.steps.all()}
    for data in steps:
        values = {key: data[key] for key in ("position", *STEP_FIELDS)}
        if data["id"] is not None:
            step = by_id[data["id"]]
            for key, value in values.items():
                setattr(step, key, value)
            step.save()
        else:
            CareStep.objects.create(rule=rule, **values)


# ---------------------------------------------------------------------------------------------
# Versions


def step_delay_minutes(step: dict[str, Any]) -> int:
    return step["delay_value"] * DELAY_MINUTES[DelayUnit(step["delay_unit"])]


def rule_snapshot(rule: CareRule) -> dict[str, Any]:
    """The complete definition of a rule and its steps as JSON, as a version stores it.

    Outreach reads each step's `conditions` and `only_if_no_response` from here when the
    step's task falls due. `span_minutes` (the longest delay) tells when an enrollment has no
    step left to come.
    """
    slugs: dict[int | None, str] = dict(
        MessageTemplate.objects.filter(steps__rule=rule).values_list("pk", "slug")
    )
    steps = [
        {
            "id": step.pk,
            "position": step.position,
            **{key: getattr(step, key) for key in STEP_FIELDS},
            "template_slug": slugs.get(step.template_id),
        }
        for step in rule.steps.order_by("position")
    ]
    delays = [step_delay_minutes(step) for step in steps]
    return {
        "name": rule.name,
        "slug": rule.slug,
        "description": rule.description,
        "trigger_type": rule.trigger_type,
        "trigger_params": rule.trigger_params,
        "conditions": rule.conditions,
        "category": rule.category,
        "priority": rule.priority,
        "cooldown_days": rule.cooldown_days,
        "holdout_share": rule.holdout_share,
        "stop_conditions": rule.stop_conditions,
        "is_active": rule.is_active,
        "steps": steps,
        "span_minutes": max(delays, default=0),
    }


def care_rule_version_record(
    *,
    rule: CareRule,
    changed_by: User | None,
    action: str,
    note: str = "",
    force: bool = False,
) -> CareRuleVersion | None:
    """Freeze the rule's current definition as its next version and audit it; returns None
    (and changes nothing) when the definition equals the latest version's, unless `force`."""
    snapshot = rule_snapshot(rule)
    latest = rule.versions.order_by("-version").first()
    if latest is not None and not force and latest.snapshot == snapshot:
        return None
    number = latest.version + 1 if latest is not None else 1
    CareRule.objects.filter(pk=rule.pk).update(version=number)
    rule.version = number
    version = CareRuleVersion.objects.create(
        rule=rule,
        version=number,
        snapshot=snapshot,
        changed_by=changed_by if changed_by is not None and changed_by.is_authenticated else None,
        note=note[:255],
    )
    audit_log_record(
        actor=changed_by,
        action=action,
        object_type="care_rule",
        object_id=rule.pk,
        data={"version": number, "slug": rule.slug, "note": note[:255]},
    )
    return version


# ---------------------------------------------------------------------------------------------
# Writes


def _rule_fields_clean(values: dict[str, Any], rule: CareRule | None) -> dict[str, Any]:
    unknown = set(values) - set(RULE_FIELDS)
    if unknown:
        raise ApplicationError(
            _("Unknown fields: %(fields)s") % {"fields": ", ".join(sorted(unknown))}
        )
    cleaned = dict(values)
    if "name" in cleaned:
        cleaned["name"] = (cleaned["name"] or "").strip()
        if not cleaned["name"]:
            raise _error(_("The name must not be empty."), "name")
    trigger_type = cleaned.get("trigger_type", rule.trigger_type if rule else None)
    if "trigger_type" in cleaned or "trigger_params" in cleaned:
        params = cleaned.get("trigger_params", rule.trigger_params if rule else {})
        cleaned["trigger_type"] = trigger_type
        cleaned["trigger_params"] = trigger_params_validate(
            trigger_type=trigger_type, params=params
        )
    if "conditions" in cleaned:
        cleaned["conditions"] = conditions_clean(cleaned["conditions"], "conditions")
    if "category" in cleaned and cleaned["category"] not in RuleCategory.values:
        raise _error(
            _("Unknown category: %(value)s; use %(allowed)s")
            % {"value": cleaned["category"], "allowed": ", ".join(RuleCategory.values)},
            "category",
        )
    if "priority" in cleaned:
        _int_in(
            cleaned["priority"],
            -1000,
            1000,
            _("The priority must be a whole number from -1000 to 1000."),
            "priority",
        )
    if "cooldown_days" in cleaned:
        _int_in(
            cleaned["cooldown_days"],
            0,
            MAX_COOLDOWN_DAYS,
            _("The cooldown must be from 0 to %(max)d days.") % {"max": MAX_COOLDOWN_DAYS},
            "cooldown_days",
        )
    if "holdout_share" in cleaned:
        share = cleaned["holdout_share"]
        if (
            isinstance(share, bool)
            or not isinstance(share, int | float)
            or not 0 <= share <= MAX_HOLDOUT_SHARE
        ):
            raise _error(
                _("The control group share must be from 0 to %(max)s.")
                % {"max": MAX_HOLDOUT_SHARE},
                "holdout_share",
            )
        cleaned["holdout_share"] = float(share)
    if "stop_conditions" in cleaned:
        cleaned["stop_conditions"] = _stop_conditions_clean(cleaned["stop_conditions"])
    return cleaned


def _unique_slug(name: str, slug: str | None) -> str:
    if slug:
        if CareRule.objects.filter(slug=slug).exists():
            raise _error(_("A rule with slug %(slug)s exists.") % {"slug": slug}, "slug")
        return slug
    base = slugify(name)[:100] or "rule"
    candidate, counter = base, 2
    while CareRule.objects.filter(slug=candidate).exists():
        candidate, counter = f"{base}-{counter}", counter + 1
    return candidate


@transaction.atomic
def care_rule_create(
    *,
    name: str,
    trigger_type: str,
    steps: list[dict[str, Any]],
    trigger_params: dict[str, Any] | None = None,
    conditions: Any = None,
    category: str = RuleCategory.MARKETING,
    priority: int = 0,
    cooldown_days: int = 0,
    holdout_share: float = 0.0,
    stop_conditions: list[str] | None = None,
    description: str = "",
    slug: str | None = None,
    playbook_key: str = "",
    created_by: User | None = None,
) -> CareRule:
    """Create an inactive rule with its steps (version 1); activate it separately."""
    cleaned = _rule_fields_clean(
        {
            "name": name,
            "description": description,
            "trigger_type": trigger_type,
            "trigger_params": trigger_params or {},
            "conditions": conditions,
            "category": category,
            "priority": priority,
            "cooldown_days": cooldown_days,
            "holdout_share": holdout_share,
            "stop_conditions": stop_conditions or [],
        },
        None,
    )
    step_rows = steps_clean(steps, None)
    rule = CareRule.objects.create(
        slug=_unique_slug(cleaned["name"], slug),
        playbook_key=playbook_key,
        created_by=created_by if created_by is not None and created_by.is_authenticated else None,
        is_active=False,
        version=1,
        **cleaned,
    )
    _steps_write(rule, step_rows)
    care_rule_version_record(
        rule=rule, changed_by=created_by, action="care_rule.create", note="created", force=True
    )
    return rule


@transaction.atomic
def care_rule_update(
    *,
    rule: CareRule,
    updated_by: User | None = None,
    steps: list[dict[str, Any]] | None = None,
    note: str = "",
    **fields: Any,
) -> CareRule:
    """Change a rule; `steps`, when given, is the complete new list of steps in order (a step
    that keeps its `id` keeps its identity). A real change makes a new version."""
    rule = CareRule.objects.select_for_update().get(pk=rule.pk)
    cleaned = _rule_fields_clean(fields, rule)
    step_rows = steps_clean(steps, rule) if steps is not None else None
    if rule.is_active and step_rows == []:
        raise _error(_("An active rule needs at least one step."), "steps")
    for key, value in cleaned.items():
        setattr(rule, key, value)
    rule.save()
    if step_rows is not None:
        _steps_write(rule, step_rows)
    care_rule_version_record(rule=rule, changed_by=updated_by, action="care_rule.update", note=note)
    return rule


@transaction.atomic
def care_rule_activate(*, rule: CareRule, activated_by: User | None = None) -> CareRule:
    """Switch a rule on (it needs at least one step)."""
    rule = CareRule.objects.select_for_update().get(pk=rule.pk)
    if rule.is_active:
        return rule
    if not rule.steps.exists():
        raise _error(_("A rule needs at least one step before it is switched on."), "steps")
    rule.is_active = True
    rule.save(update_fields=["is_active", "updated_at"])
    care_rule_version_record(
        rule=rule, changed_by=activated_by, action="care_rule.activate", note="activated"
    )
    return rule


@transaction.atomic
def care_rule_deactivate(*, rule: CareRule, deactivated_by: User | None = None) -> CareRule:
    """Switch a rule off; customers already enrolled keep their plans."""
    rule = CareRule.objects.select_for_update().get(pk=rule.pk)
    if not rule.is_active:
        return rule
    rule.is_active = False
    rule.save(update_fields=["is_active", "updated_at"])
    care_rule_version_record(
        rule=rule, changed_by=deactivated_by, action="care_rule.deactivate", note="deactivated"
    )
    return rule

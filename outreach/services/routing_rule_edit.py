"""Admins' edits of routing rules: checked here for the page and the API alike, audited."""

from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.forms.models import model_to_dict
from django.utils.translation import gettext as _

from callcenter.choices import CustomerKind, Language, TicketKind
from callcenter.services.audit import audit_log_record
from outreach.models import Queue, RoutingRule
from outreach.services.routing_rules import skills_clean
from segments.choices import ValueTier

MAX_POSITION = 10_000
MAX_INDUSTRIES = 50
# Condition fields and the values each accepts.
CONDITION_CHOICES = {
    "ticket_kinds": TicketKind,
    "customer_kinds": CustomerKind,
    "value_tiers": ValueTier,
    "languages": Language,
}
AUDITED_FIELDS = (
    "name",
    "position",
    "is_active",
    "ticket_kinds",
    "customer_kinds",
    "industries",
    "value_tiers",
    "languages",
    "queue",
    "required_skills",
    "derive_skills",
)


@dataclass(frozen=True)
class RuleInput:
    """A routing rule as an admin wrote it (lists: values accepted; empty: any)."""

    name: str
    queue: Queue
    position: int = 0
    is_active: bool = True
    ticket_kinds: list[str] = field(default_factory=list)
    customer_kinds: list[str] = field(default_factory=list)
    industries: list[str] = field(default_factory=list)
    value_tiers: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)
    required_skills: list[str] = field(default_factory=list)
    derive_skills: bool = True


RULE_INPUT_FIELDS = AUDITED_FIELDS


def _checked(data: RuleInput) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    name = data.name.strip()
    if not name or len(name) > 100:
        errors["name"] = [_("Enter a name of at most 100 characters.")]
    if not 0 <= data.position <= MAX_POSITION:
        errors["position"] = [_("Choose a position from 0 to %(n)d.") % {"n": MAX_POSITION}]
    values: dict[str, Any] = {}
    for name_, choices in CONDITION_CHOICES.items():
        chosen = list(dict.fromkeys(getattr(data, name_)))
        unknown = [value for value in chosen if value not in choices.values]
        if unknown:
            errors[name_] = [_("Unknown value: %(values)s") % {"values": ", ".join(unknown)}]
        values[name_] = chosen
    industries = list(dict.fromkeys(text.strip() for text in data.industries if text.strip()))
    if len(industries) > MAX_INDUSTRIES or any(len(text) > 100 for text in industries):
        errors["industries"] = [
            _("At most %(n)d industries of at most 100 characters.") % {"n": MAX_INDUSTRIES}
        ]
    try:
        skills = skills_clean(data.required_skills)
    except ValidationError as error:
        errors["required_skills"] = list(error.messages)
        skills = []
    if errors:
        raise ValidationError(errors)
    return {
        **values,
        "name": name,
        "position": data.position,
        "is_active": data.is_active,
        "industries": industries,
        "queue": data.queue,
        "required_skills": skills,
        "derive_skills": data.derive_skills,
    }


def _snapshot(rule: RoutingRule) -> dict[str, Any]:
    return model_to_dict(rule, fields=AUDITED_FIELDS)


@transaction.atomic
def routing_rule_save(
    *, data: RuleInput, by: User | None, rule: RoutingRule | None = None
) -> RoutingRule:
    """Create a rule (`rule` None) or change one; audited with what changed."""
    values = _checked(data)
    before = _snapshot(rule) if rule is not None else None
    rule = rule or RoutingRule()
    for name, value in values.items():
        setattr(rule, name, value)
    rule.save()
    audit_log_record(
        actor=by,
        action="routing_rule.create" if before is None else "routing_rule.update",
        object_type="routing_rule",
        object_id=rule.pk,
        data={"before": before, "after": _snapshot(rule)},
    )
    return rule


@transaction.atomic
def routing_rule_delete(*, rule: RoutingRule, by: User | None) -> None:
    """Delete a rule; tickets it routed keep their queue (their route forgets the rule)."""
    audit_log_record(
        actor=by,
        action="routing_rule.delete",
        object_type="routing_rule",
        object_id=rule.pk,
        data={"before": _snapshot(rule)},
    )
    rule.delete()

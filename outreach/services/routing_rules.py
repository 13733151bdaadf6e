"""Routing rules read: agents' skills checked, customers' routing facts, the first matching
rule and the skills it requires (used by ticket routing, outreach.services.routing, and by the
assignment of call tasks in both paths, outreach.services.tasks and parts/care_campaigns)."""

import re
from collections.abc import Iterable
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.utils.text import slugify
from django.utils.translation import gettext as _

from callcenter.choices import CustomerKind
from callcenter.models import Customer
from outreach.models import RoutingRule

SKILL_PREFIXES = ("industry", "product")
SKILL_MAX_LENGTH = 50
MAX_SKILLS = 50
# A token: word characters and dashes (Chinese industry names included), optionally prefixed.
SKILL_PATTERN = re.compile(r"^[\w-]+(:[\w-]+)?$")
VIP_SKILL = "vip"
HIGH_TIER = "high"


def skill_token(text: str) -> str:
    """A free text (an industry, a product) as a skill value: lowercase, dashes for spaces."""
    return slugify(text, allow_unicode=True)[: SKILL_MAX_LENGTH - len("industry:")]


def skills_clean(values: Iterable[str]) -> list[str]:
    """Check skills (lowercase tokens; `prefix:value` only with a known prefix); returns them
    unique and sorted. Raises ValidationError naming the bad ones."""
    skills = sorted({value.strip() for value in values if value.strip()})
    bad = [
        skill
        for skill in skills
        if len(skill) > SKILL_MAX_LENGTH
        or skill != skill.lower()
        or not SKILL_PATTERN.match(skill)
        or (":" in skill and skill.split(":", 1)[0] not in SKILL_PREFIXES)
    ]
    if bad:
        raise ValidationError(
            _(
                "Not a skill: %(skills)s. Use lowercase words without spaces (en, vip), or "
                "%(prefixes)s followed by a colon and a value (industry:retail)."
            )
            % {"skills": ", ".join(bad), "prefixes": ", ".join(SKILL_PREFIXES)}
        )
    if len(skills) > MAX_SKILLS:
        raise ValidationError(_("At most %(n)d skills.") % {"n": MAX_SKILLS})
    return skills


@dataclass(frozen=True)
class CustomerFacts:
    """What routing rules look at of a customer."""

    kind: str
    industry: str
    language: str
    tier: str


def customer_facts(customer_ids: Iterable[int]) -> dict[int, CustomerFacts]:
    """The routing facts of these customers (one query; tier empty before the first refresh)."""
    rows = Customer.objects.filter(pk__in=set(customer_ids)).values(
        "pk", "kind", "industry", "language", "metrics__value_tier"
    )
    return {
        row["pk"]: CustomerFacts(
            kind=row["kind"],
            industry=row["industry"] or "",
            language=row["language"] or "",
            tier=row["metrics__value_tier"] or "",
        )
        for row in rows
    }


def derived_skills(facts: CustomerFacts) -> set[str]:
    """The skills a customer asks of whoever serves them: their language, vip for the top
    tier, their industry for a business (the To B practice: an industry specialist)."""
    skills = {facts.language} if facts.language else set()
    if facts.tier == HIGH_TIER:
        skills.add(VIP_SKILL)
    if facts.kind == CustomerKind.BUSINESS and skill_token(facts.industry):
        skills.add(f"industry:{skill_token(facts.industry)}")
    return skills


def rule_matches(rule: RoutingRule, facts: CustomerFacts, ticket_kind: str | None) -> bool:
    """Whether every condition of `rule` accepts the customer (and the ticket kind; a call task
    has none, so only rules without a ticket-kind condition match it)."""
    industries = {skill_token(industry) for industry in rule.industries}
    return (
        (not rule.ticket_kinds or (ticket_kind is not None and ticket_kind in rule.ticket_kinds))
        and (not rule.customer_kinds or facts.kind in rule.customer_kinds)
        and (not industries or skill_token(facts.industry) in industries)
        and (not rule.value_tiers or facts.tier in rule.value_tiers)
        and (not rule.languages or facts.language in rule.languages)
    )


def rule_skills(rule: RoutingRule, facts: CustomerFacts) -> list[str]:
    skills = set(rule.required_skills)
    if rule.derive_skills:
        skills |= derived_skills(facts)
    return sorted(skills)


def active_rules() -> list[RoutingRule]:
    return list(RoutingRule.objects.filter(is_active=True).order_by("position", "id"))


def route_choose(
    rules: list[RoutingRule], facts: CustomerFacts, ticket_kind: str | None
) -> tuple[RoutingRule | None, list[str]]:
    """The first matching rule and the skills it requires (None, []: no rule matched)."""
    for rule in rules:
        if rule_matches(rule, facts, ticket_kind):
            return rule, rule_skills(rule, facts)
    return None, []


FactsKey = tuple[str, str, str, str]


def _call_prefer(rules: list[RoutingRule], facts: CustomerFacts) -> frozenset[str]:
    _rule, skills = route_choose(rules, facts, None)
    return frozenset(skills) | ({facts.language} - {""})


def call_skills(customer_ids: Iterable[int]) -> dict[int, frozenset[str]]:
    """Skills to prefer for each customer's call tasks: the first matching rule's (rules with a
    ticket-kind condition are for tickets), and always the customer's language."""
    ids = set(customer_ids)
    if not ids:
        return {}
    rules = [rule for rule in active_rules() if not rule.ticket_kinds]
    return {
        customer_id: _call_prefer(rules, facts)
        for customer_id, facts in customer_facts(ids).items()
    }


def call_skills_for_facts(keys: Iterable[FactsKey]) -> dict[FactsKey, frozenset[str]]:
    """`call_skills` for distinct (kind, industry, language, value tier) tuples, as the
    set-based campaign path reads them grouped."""
    wanted = set(keys)
    if not wanted:
        return {}
    rules = [rule for rule in active_rules() if not rule.ticket_kinds]
    return {
        key: _call_prefer(
            rules, CustomerFacts(kind=key[0], industry=key[1], language=key[2], tier=key[3])
        )
        for key in wanted
    }

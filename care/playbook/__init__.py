"""The default care playbook: the rules call-center practice recommends, with their templates.

`playbook_install()` (command `install_playbook`) creates what is missing and never overwrites
an admin's edits: templates are found by slug, rules by `playbook_key`. Rules are installed
switched off; the keys listed in the setting CARE_PLAYBOOK_ACTIVE are switched on. What the
rules name in other apps (the queues "general", "senior" and "supervisors") is installed first
by the setups those apps register in `playbook_setups` (outreach/parts/care_playbook.py).

Categories (care.services.arbitration: proactive plans compete per customer within their
category, the higher priority winning; service plans never compete): the complaint rules,
ticket-resolved-csat,
nps-detractor and negative-call-sentiment are service; churn-risk-high-value (70),
business-first-order (65), first-order (60) and dormant-wake-up (50) are retention;
nps-promoter (40), birthday (30) and business-monthly-report (20) are marketing.

Delays and deadlines (due = trigger + delay, deadline = due + SLA):
- complaint-opened: apology SMS with the ticket number (due at once, within 1 h) and a phone
  follow-up (due at once, within 24 h), both service touches; stop when the ticket is resolved.
- complaint-resolved: satisfaction survey SMS 2 days after resolution (within 24 h).
- ticket-resolved-csat: satisfaction question SMS (reply a digit 1-5 or the survey link) 1 h
  after any ticket is resolved (within 24 h). Both survey rules ask through `{{ survey_link }}`,
  so the survey interval guardrail (one per customer per N days) lets only the first go out.
- After a logged call, the satisfaction question and the summary are set per call reason
  (outreach.CallReasonSetting, page "After-call follow-ups"), not by a rule; a rule may still
  ask after calls of a reason with the trigger interaction_logged and its parameter "reason".
- first-order (people): welcome / how-to guide SMS (within 24 h); courtesy call on day 3 in
  business hours (within 24 h).
- business-first-order: welcome pack email (within 24 h); advisor call after 3 days and review
  call after 7 days, in business hours (within 24 h each).
- dormant-wake-up (60 days without an order): personalised wake-up offer SMS (within 24 h);
  7 days later a call task (within 24 h) for high-value customers only, and only if they did
  not respond; 10% hold-out.
- nps-detractor (0-6): supervisor call within 24 h (queue "supervisors").
- nps-promoter (9-10): referral invitation SMS (within 24 h).
- negative-call-sentiment (below -0.6 on a call): priority callback within 2 h by a senior
  agent (queue "senior").
- birthday: greeting SMS at 10:00 on the day in the customer's time zone (within 8 h).
- churn-risk-high-value (entering lifecycle-churn-risk, value tier high): dedicated advisor call
  within 48 h.
- business-monthly-report (first of the month, business customers): value report task for the
  advisor from the first business hour, within 3 days.
- repayment-reminder (external event "repayment_due"; installed switched off like the others
  unless listed): a journey. An automated call (within 1 h) waits up to 24 h for its result:
  "transfer to human" (or key 0) -> a person's call due at once, within 2 h; "promise to pay"
  (or key 1) -> a confirmation SMS; not reached or no result -> a second automated call 3 h
  later, whose not reached or no result -> the person's call; answered -> the end. Stops (open
  tasks cancelled) on the external event "payment_received", or an opt-out.
"""

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction

from callcenter.extensions import Registry
from care.models import CareRule, MessageTemplate
from care.playbook.rules import RULES, PlaybookRule
from care.playbook.texts import TEMPLATES, PlaybookTemplate
from care.services.rules import care_rule_activate, care_rule_create
from care.services.templates import template_create

__all__ = [
    "PLAYBOOK_KEYS",
    "RULES",
    "TEMPLATES",
    "PlaybookRule",
    "PlaybookTemplate",
    "playbook_active_keys",
    "playbook_install",
    "playbook_setups",
]

PLAYBOOK_KEYS = [rule.key for rule in RULES]

# name -> setup(installed_by=...) that creates what the playbook's rules name in an app above
# care, idempotently, and returns its counts (merged into the install's result).
playbook_setups: Registry[Callable[..., dict[str, Any]]] = Registry("care playbook setups")


def playbook_active_keys() -> list[str]:
    """The playbook rules to switch on at install (setting CARE_PLAYBOOK_ACTIVE, a list)."""
    return list(getattr(settings, "CARE_PLAYBOOK_ACTIVE", []) or [])


@transaction.atomic
def playbook_install(*, installed_by: User | None = None) -> dict[str, Any]:
    """Run the registered setups (outreach: the queues), then create the playbook's templates
    and rules that do not exist yet, and switch on the rules CARE_PLAYBOOK_ACTIVE lists.
    Running it again changes nothing else."""
    setup_counts: dict[str, Any] = {}
    for setup in playbook_setups:
        setup_counts.update(setup(installed_by=installed_by))
    existing_templates = set(
        MessageTemplate.objects.filter(slug__in=[t.slug for t in TEMPLATES]).values_list(
            "slug", flat=True
        )
    )
    templates_created = 0
    for template in TEMPLATES:
        if template.slug in existing_templates:
            continue
        template_create(
            name=template.name,
            slug=template.slug,
            channel=template.channel,
            variants={
                language: {"subject": subject, "body": body}
                for language, (subject, body) in template.texts.items()
            },
            created_by=installed_by,
        )
        templates_created += 1
    installed = {
        rule.playbook_key: rule for rule in CareRule.objects.filter(playbook_key__in=PLAYBOOK_KEYS)
    }
    taken_slugs = set(
        CareRule.objects.filter(slug__in=PLAYBOOK_KEYS).values_list("slug", flat=True)
    )
    rules_created = 0
    for spec in RULES:
        if spec.key in installed:
            continue
        installed[spec.key] = care_rule_create(
            name=spec.name,
            slug=None if spec.key in taken_slugs else spec.key,
            description=spec.description,
            trigger_type=spec.trigger_type,
            trigger_params=spec.trigger_params,
            conditions=spec.conditions,
            category=spec.category,
            priority=spec.priority,
            cooldown_days=spec.cooldown_days,
            holdout_share=spec.holdout_share,
            stop_conditions=spec.stop_conditions,
            steps=spec.steps,
            playbook_key=spec.key,
            created_by=installed_by,
        )
        rules_created += 1
    wanted = playbook_active_keys()
    activated = []
    for key in wanted:
        rule = installed.get(key)
        if rule is not None and not rule.is_active:
            care_rule_activate(rule=rule, activated_by=installed_by)
            activated.append(key)
    return {
        **setup_counts,
        "templates_created": templates_created,
        "rules_created": rules_created,
        "rules_activated": activated,
        "unknown_keys": sorted(set(wanted) - set(PLAYBOOK_KEYS)),
    }

"""After a call: what a call reason's settings ask for (outreach.CallReasonSetting).

When an agent logs a call (callcenter.services.interaction_listeners, in the logging
transaction), a call reason with settings gets:
- the summary: the agent's notes sent to the customer by SMS or email, a service touch due at
  once and within the hour (SUMMARY_SLA), in the customer's language;
- a satisfaction question: the reason's survey template, a proactive touch due at once, its
  ask (outreach.services.surveys) made with the task so the answer is about this call and
  its agent.
Both are ordinary outreach tasks, so the dispatcher's guardrails (consent, quiet hours, the
frequency cap, the survey interval) decide at send time whether and when they go. Each is keyed
by the interaction: logging is one transaction and the keys are unique, so nothing is created
twice.
"""

import datetime as dt

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from callcenter.choices import Language
from callcenter.errors import ApplicationError
from callcenter.jobs import enqueue_on_commit
from callcenter.models import Interaction
from callcenter.services.audit import audit_log_record
from care.choices import TemplateChannel, TouchKind
from care.models import MessageTemplate
from care.services.templates import customer_timezone, templates_placeholders
from outreach.choices import SummaryChannel
from outreach.models import CallReasonSetting, OutreachTask
from outreach.services.surveys import SURVEY_PLACEHOLDER, survey_ask_create
from outreach.services.tasks import TaskSpec, outreach_tasks_create

SUMMARY_SLA = dt.timedelta(hours=1)
SURVEY_SLA = dt.timedelta(hours=1)
SUMMARY_KEY = "call-summary:{id}"
SURVEY_KEY = "call-survey:{id}"
# As long as the desk's reason field (callcenter.views.desk.LogCallForm).
REASON_MAX_LENGTH = 100


def call_reason_setting(reason: str) -> CallReasonSetting | None:
    """The settings of a call reason as agents log it (case does not matter), or None."""
    reason = reason.strip()
    if not reason:
        return None
    return (
        CallReasonSetting.objects.select_related("csat_template")
        .filter(reason__iexact=reason)
        .first()
    )


def call_summary_text(interaction: Interaction, *, language: str, zone: str) -> tuple[str, str]:
    """Subject (for email) and text of a call's summary, in `language`."""
    day = interaction.occurred_at.astimezone(customer_timezone(zone)).date().isoformat()
    with translation.override(language or Language.ZH_HANS):
        subject = _("Summary of your call with us")
        body = _("Summary of your call on %(date)s:\n%(notes)s") % {
            "date": day,
            "notes": interaction.notes.strip(),
        }
    return subject, body


def call_followups_create(interaction: Interaction) -> list[OutreachTask]:
    """The summary and satisfaction tasks the call's reason asks for (none for a contact no
    agent logged, or a reason without settings)."""
    if interaction.agent_id is None:
        return []
    setting = call_reason_setting(interaction.reason)
    if setting is None:
        return []
    now = timezone.now()
    customer = interaction.customer
    specs: list[TaskSpec] = []
    subject = ""
    if setting.summary_channel != SummaryChannel.NONE and interaction.notes.strip():
        subject, body = call_summary_text(
            interaction, language=customer.language, zone=customer.timezone
        )
        specs.append(
            TaskSpec(
                customer_id=customer.pk,
                channel=setting.summary_channel,
                due_at=now,
                deadline_at=now + SUMMARY_SLA,
                idempotency_key=SUMMARY_KEY.format(id=interaction.pk),
                touch_kind=TouchKind.SERVICE,
                body=body,
                created_by_id=interaction.agent_id,
            )
        )
    template = setting.csat_template
    if template is not None:
        specs.append(
            TaskSpec(
                customer_id=customer.pk,
                channel=template.channel,
                due_at=now,
                deadline_at=now + SURVEY_SLA,
                idempotency_key=SURVEY_KEY.format(id=interaction.pk),
                touch_kind=TouchKind.PROACTIVE,
                template_id=template.pk,
                created_by_id=interaction.agent_id,
            )
        )
    if not specs:
        return []
    tasks = outreach_tasks_create(specs=specs)
    for task in tasks:
        if task.idempotency_key == SURVEY_KEY.format(id=interaction.pk):
            survey_ask_create(task=task, interaction_id=interaction.pk)
        elif subject and task.channel == SummaryChannel.EMAIL and not task.subject:
            OutreachTask.objects.filter(pk=task.pk).update(subject=subject)
    enqueue_on_commit("outreach.tasks.dispatch_due_task")
    return tasks


def _check_survey_template(template: MessageTemplate | None) -> None:
    if template is None:
        return
    if template.channel not in (TemplateChannel.SMS, TemplateChannel.EMAIL):
        raise ApplicationError(
            _("The satisfaction question must be an SMS or email template."),
            extra={"field": "csat_template"},
        )
    if SURVEY_PLACEHOLDER not in templates_placeholders([template]):
        raise ApplicationError(
            _("The satisfaction question's template must contain {{ survey_link }}."),
            extra={"field": "csat_template"},
        )


@transaction.atomic
def call_reason_setting_save(
    *,
    setting: CallReasonSetting | None = None,
    reason: str,
    summary_channel: str,
    csat_template: MessageTemplate | None,
    saved_by: User | None = None,
) -> CallReasonSetting:
    """Create (`setting` None) or change a call reason's follow-ups, checked and audited."""
    reason = " ".join(reason.split())
    if not reason or len(reason) > REASON_MAX_LENGTH:
        raise ApplicationError(
            _("A call reason needs a name of at most %(max)d characters.")
            % {"max": REASON_MAX_LENGTH},
            extra={"field": "reason"},
        )
    if summary_channel not in SummaryChannel.values:
        raise ApplicationError(
            _("Unknown summary channel: %(value)s") % {"value": summary_channel},
            extra={"field": "summary_channel"},
        )
    _check_survey_template(csat_template)
    taken = CallReasonSetting.objects.filter(reason__iexact=reason)
    if setting is not None:
        taken = taken.exclude(pk=setting.pk)
    if taken.exists():
        raise ApplicationError(
            _("The call reason %(reason)s has settings already.") % {"reason": reason},
            extra={"field": "reason"},
        )
    created = setting is None
    setting = setting or CallReasonSetting()
    setting.reason = reason
    setting.summary_channel = summary_channel
    setting.csat_template = csat_template
    setting.save()
    audit_log_record(
        actor=saved_by,
        action="call_reason_setting.create" if created else "call_reason_setting.update",
        object_type="call_reason_setting",
        object_id=setting.pk,
        data={
            "reason": reason,
            "summary_channel": summary_channel,
            "csat_template": csat_template.pk if csat_template else None,
        },
    )
    return setting


@transaction.atomic
def call_reason_setting_delete(*, setting: CallReasonSetting, deleted_by: User | None) -> None:
    """Remove a call reason's follow-ups (tasks already made stay), audited."""
    audit_log_record(
        actor=deleted_by,
        action="call_reason_setting.delete",
        object_type="call_reason_setting",
        object_id=setting.pk,
        data={"reason": setting.reason},
    )
    setting.delete()

"""Satisfaction (CSAT) asks: made when a survey message is sent, answered by link or SMS digit.

A task whose template uses `{{ survey_link }}` asks the customer how satisfied they are (1-5)
with a ticket or a call. Care renders the placeholder as a sample link of the right length;
when the dispatcher sends, it makes the task's `SurveyAsk` (a random token, the ticket or call
it is about and the agent the answer is about: the ticket's assignee, else the call's agent)
and puts the ask's own link in the text. A retried send reuses the ask, so the link never
changes. Guardrails (outreach.services.dispatch) apply as to every send, plus one of its own:
a customer gets at most one survey per `CareSettings.csat_interval_days` (SkipReason
SURVEY_RECENT).

The customer answers on the public page `/s/<token>` (outreach.views.surveys) or by replying
to the SMS with a digit 1-5 ("5", "５", "5分"), which the inbound-SMS webhook gives to
`survey_sms_reply` before treating the text as a reply. An answer is recorded once, within
`CareSettings.csat_reply_hours` of the send, as a CSAT `SurveyResponse` with the ask's ticket,
call and agent (the scorecards and the ticket's CSAT read it); a second answer changes nothing.
"""

import datetime as dt
import re
import secrets
import unicodedata
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import TextChoices
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from callcenter.choices import CustomerStatus, SurveyKind
from callcenter.errors import ApplicationError
from callcenter.models import Customer, Interaction, Ticket
from callcenter.services.activity import survey_record
from care.choices import StepChannel
from care.models import CareSettings
from care.services.templates import templates_placeholders
from outreach.models import OutreachTask, SurveyAsk

# The placeholder that makes a message a survey ask.
SURVEY_PLACEHOLDER = "survey_link"
# Random bytes of a token: 16 give 22 URL-safe characters (care's SURVEY_TOKEN_LENGTH).
TOKEN_BYTES = 16
TOKEN_ATTEMPTS = 3
# Longer than any token (the column's length): refused without a query.
MAX_TOKEN_LENGTH = 32
MAX_COMMENT_LENGTH = 1000
CSAT_LOW, CSAT_HIGH = 1, 5
# A reply that is only a score: a digit 1-5 (full-width digits are folded by NFKC), maybe
# with a unit ("5分", "4 stars") and closing punctuation.
_SCORE_REPLY = re.compile(r"([1-5])\s*(?:分|星|颗星|points?|pts?|stars?)?\s*[.!。！]*")


class AnswerOutcome(TextChoices):
    RECORDED = "recorded", gettext_lazy("Recorded")
    ALREADY_ANSWERED = "already_answered", gettext_lazy("Already answered")
    EXPIRED = "expired", gettext_lazy("Closed")


def csat_reply_score(text: str) -> int | None:
    """The score of an SMS reply that is only a CSAT score ("4", "４", "4分"), else None."""
    folded = unicodedata.normalize("NFKC", text).strip().casefold()
    match = _SCORE_REPLY.fullmatch(folded)
    return int(match.group(1)) if match else None


def template_asks_survey(task: OutreachTask) -> bool:
    """Whether the task's template uses the survey link (variants prefetched: no query)."""
    return task.template is not None and SURVEY_PLACEHOLDER in templates_placeholders(
        [task.template]
    )


def survey_recent_customers(
    *, customer_ids: set[int], now: dt.datetime, settings: CareSettings, task_ids: set[int]
) -> set[int]:
    """Of `customer_ids`, those sent a survey within the survey interval by a task other than
    `task_ids` (one query)."""
    if not customer_ids:
        return set()
    since = now - dt.timedelta(days=settings.csat_interval_days)
    return set(
        SurveyAsk.objects.filter(customer_id__in=customer_ids, sent_at__gte=since)
        .exclude(task_id__in=task_ids)
        .values_list("customer_id", flat=True)
    )


def _named(extra: dict[str, Any] | None, key: str) -> int | None:
    value = (extra or {}).get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def survey_ask_create(
    *,
    task: OutreachTask,
    ticket_id: int | None = None,
    interaction_id: int | None = None,
) -> SurveyAsk:
    """The ask of `task`, made now if it has none: about the ticket or call named (ignored when
    it is another customer's), its agent the ticket's assignee, else the call's agent."""
    existing = SurveyAsk.objects.filter(task_id=task.pk).first()
    if existing is not None:
        return existing
    ticket = (
        Ticket.objects.filter(pk=ticket_id, customer_id=task.customer_id)
        .values_list("pk", "assignee_id")
        .first()
        if ticket_id is not None
        else None
    )
    interaction = (
        Interaction.objects.filter(pk=interaction_id, customer_id=task.customer_id)
        .values_list("pk", "agent_id")
        .first()
        if interaction_id is not None
        else None
    )
    agent_id = (ticket[1] if ticket else None) or (interaction[1] if interaction else None)
    for _attempt in range(TOKEN_ATTEMPTS):
        try:
            with transaction.atomic():
                return SurveyAsk.objects.create(
                    token=secrets.token_urlsafe(TOKEN_BYTES),
                    task_id=task.pk,
                    customer_id=task.customer_id,
                    ticket_id=ticket[0] if ticket else None,
                    interaction_id=interaction[0] if interaction else None,
                    agent_id=agent_id,
                )
        except IntegrityError:
            # A token taken (never at 2**128) or the task's ask made meanwhile.
            existing = SurveyAsk.objects.filter(task_id=task.pk).first()
            if existing is not None:
                return existing
    raise ApplicationError(_("Could not create the survey link of this message."))


def survey_ask_for_send(*, task: OutreachTask, extra: dict[str, Any] | None) -> SurveyAsk:
    """The ask a survey message carries, about what its triggering event names."""
    return survey_ask_create(
        task=task,
        ticket_id=_named(extra, "ticket_id"),
        interaction_id=_named(extra, "interaction_id"),
    )


def survey_ask_mark_sent(*, task_id: int, now: dt.datetime, settings: CareSettings) -> None:
    """The ask went out: answers are taken from now for the care settings' reply window."""
    SurveyAsk.objects.filter(task_id=task_id, answered_at__isnull=True).update(
        sent_at=now, expires_at=now + dt.timedelta(hours=settings.csat_reply_hours)
    )


def survey_ask_open(ask: SurveyAsk, *, now: dt.datetime) -> bool:
    """Whether the ask was sent and still takes an answer."""
    return (
        ask.answered_at is None
        and ask.sent_at is not None
        and ask.expires_at is not None
        and now < ask.expires_at
    )


def _answering_customer(ask: SurveyAsk) -> Customer:
    customer = ask.customer
    if customer.status == CustomerStatus.MERGED and customer.merged_into_id:
        return Customer.objects.get(pk=customer.merged_into_id)
    return customer


@transaction.atomic
def survey_ask_answer(
    *, ask_id: int, score: int, comment: str = "", now: dt.datetime
) -> AnswerOutcome:
    """Record the customer's answer to an ask once: a CSAT response with the ask's ticket, call
    and agent. A second answer, or one after the ask closed, changes nothing."""
    if isinstance(score, bool) or not isinstance(score, int) or not CSAT_LOW <= score <= CSAT_HIGH:
        raise ApplicationError(
            _("A satisfaction score must be a whole number from 1 to 5."), extra={"field": "score"}
        )
    ask = (
        SurveyAsk.objects.select_for_update(of=("self",))
        .select_related("customer", "ticket", "interaction", "agent")
        .get(pk=ask_id)
    )
    if ask.answered_at is not None:
        return AnswerOutcome.ALREADY_ANSWERED
    if not survey_ask_open(ask, now=now):
        return AnswerOutcome.EXPIRED
    customer = _answering_customer(ask)
    ticket = ask.ticket if ask.ticket and ask.ticket.customer_id == customer.pk else None
    interaction = (
        ask.interaction if ask.interaction and ask.interaction.customer_id == customer.pk else None
    )
    response = survey_record(
        customer=customer,
        kind=SurveyKind.CSAT,
        score=score,
        comment=comment.strip()[:MAX_COMMENT_LENGTH],
        responded_at=now,
        ticket=ticket,
        interaction=interaction,
        agent=ask.agent,
    )
    SurveyAsk.objects.filter(pk=ask.pk).update(answered_at=now, response=response)
    return AnswerOutcome.RECORDED


def survey_ask_by_token(token: str) -> SurveyAsk | None:
    """The ask of a public link's token, with what its page shows; None for an unknown one."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    return SurveyAsk.objects.select_related("customer", "ticket").filter(token=token).first()


def survey_sms_reply(*, customer: Customer, text: str, now: dt.datetime) -> SurveyAsk | None:
    """Answer the customer's newest open SMS survey with a reply that is only a score; the ask
    answered, or None when the text is no score or no SMS survey of theirs is open (then the
    text is an ordinary reply)."""
    score = csat_reply_score(text)
    if score is None:
        return None
    ask = (
        SurveyAsk.objects.filter(
            customer=customer,
            sent_at__isnull=False,
            answered_at__isnull=True,
            expires_at__gt=now,
            task__channel=StepChannel.SMS,
        )
        .order_by("-sent_at", "-id")
        .first()
    )
    if ask is None:
        return None
    survey_ask_answer(ask_id=ask.pk, score=score, now=now)
    return ask

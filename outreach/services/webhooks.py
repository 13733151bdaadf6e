"""What the SMS gateway tells us: delivery receipts and inbound messages.

The gateway signs its webhooks with SMS_WEBHOOK_SECRETS (callcenter.signatures checks them
before anything here runs).
"""

import datetime as dt
import unicodedata
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from callcenter.choices import ConsentChannel, ConsentSource, ContactKind, CustomerStatus
from callcenter.errors import ApplicationError
from callcenter.jobs import enqueue_on_commit
from callcenter.models import ConsentChange, ContactPoint, Customer
from callcenter.phones import try_normalize_phone
from callcenter.services.customers import customer_consent_set
from care.choices import StepChannel, TouchKind
from care.models import CareSettings
from outreach.choices import InboundAction, TaskStatus
from outreach.models import InboundMessage, OutreachTask
from outreach.services.dispatch import OPT_OUT_CONFIRMATION_PREFIX
from outreach.services.replies import customer_reply_announce
from outreach.services.surveys import survey_sms_reply
from outreach.services.tasks import TaskSpec, outreach_tasks_create

DEFAULT_STOP_WORDS = ("STOP", "UNSUBSCRIBE", "退订", "TD")
RECEIPT_STATUSES = ("delivered", "failed")
# The opt-out confirmation must go out promptly; its deadline says so.
CONFIRMATION_SLA = dt.timedelta(minutes=10)


def delivery_receipt_record(
    *, provider_message_id: str, status: str, error: str = "", now: dt.datetime | None = None
) -> int:
    """Apply a delivery receipt to the task sent with this provider id; returns how many
    tasks changed (a receipt received twice changes nothing the second time)."""
    if status not in RECEIPT_STATUSES:
        raise ApplicationError(_("Unknown delivery status: %(status)s") % {"status": status})
    if not provider_message_id:
        raise ApplicationError(_("A receipt needs the provider message id."))
    now = now or timezone.now()
    tasks = OutreachTask.objects.filter(provider_message_id=provider_message_id)
    if status == "delivered":
        # A late "delivered" after a "failed" wins: the handset got it.
        return tasks.filter(
            status__in=[TaskStatus.SENT, TaskStatus.FAILED], delivered_at__isnull=True
        ).update(status=TaskStatus.DELIVERED, delivered_at=now, last_error="", updated_at=now)
    return tasks.filter(status=TaskStatus.SENT).update(
        status=TaskStatus.FAILED,
        last_error=(_("Delivery failed: %(error)s") % {"error": error or "-"})[:2000],
        updated_at=now,
    )


def stop_words(care_settings: CareSettings) -> frozenset[str]:
    words = [*DEFAULT_STOP_WORDS, *(care_settings.stop_words or [])]
    return frozenset(fold_text(str(word)) for word in words if str(word).strip())


def fold_text(text: str) -> str:
    """A message text as opt-out words are compared: NFKC-folded, trimmed, case-folded."""
    # NFKC folds full-width letters (ＳＴＯＰ) typed on Chinese keyboards.
    return unicodedata.normalize("NFKC", text).strip().casefold()


@dataclass(frozen=True)
class InboundResult:
    message: InboundMessage
    duplicate: bool
    confirmation: OutreachTask | None = None


def _sender(number: str | None) -> Customer | None:
    if number is None:
        return None
    point = (
        ContactPoint.objects.filter(kind=ContactKind.PHONE, value=number, is_active=True)
        .select_related("customer")
        .order_by("-is_primary", "id")
        .first()
    )
    if point is None:
        return None
    customer = point.customer
    if customer.status == CustomerStatus.MERGED and customer.merged_into_id:
        return Customer.objects.get(pk=customer.merged_into_id)
    return customer


def opt_out_confirmation_text(customer: Customer) -> str:
    with translation.override(customer.language):
        return _("You have been unsubscribed and will receive no more text messages from us.")


@transaction.atomic
def inbound_sms_receive(
    *, from_number: str, body: str, provider_message_id: str, now: dt.datetime | None = None
) -> InboundResult:
    """Record an inbound SMS once per provider id; an opt-out word opts the sender out of SMS
    (with one confirmation message), a score 1-5 answers the sender's open SMS satisfaction
    survey (outreach.services.surveys), any other text from a customer is announced as
    "customer_replied"."""
    if not provider_message_id:
        raise ApplicationError(_("An inbound message needs the provider message id."))
    now = now or timezone.now()
    number = try_normalize_phone(from_number)
    customer = _sender(number)
    is_stop = fold_text(body) in stop_words(CareSettings.load())
    if customer is None:
        action = InboundAction.UNKNOWN_SENDER
    else:
        action = InboundAction.OPTED_OUT if is_stop else InboundAction.REPLY
    try:
        with transaction.atomic():
            message = InboundMessage.objects.create(
                from_number=number or from_number[:32],
                body=body,
                received_at=now,
                customer=customer,
                action=action,
                provider_message_id=provider_message_id,
            )
    except IntegrityError:
        existing = InboundMessage.objects.get(provider_message_id=provider_message_id)
        return InboundResult(message=existing, duplicate=True)
    if customer is None:
        return InboundResult(message=message, duplicate=False)
    if action == InboundAction.REPLY and survey_sms_reply(customer=customer, text=body, now=now):
        # A survey answer, not a reply: it starts no "customer replied" plan.
        message.action = InboundAction.SURVEY_ANSWER
        message.save(update_fields=["action"])
        return InboundResult(message=message, duplicate=False)
    if action == InboundAction.REPLY:
        customer_reply_announce(
            customer=customer, message=message, channel=StepChannel.SMS, now=now
        )
        return InboundResult(message=message, duplicate=False)
    return InboundResult(
        message=message, duplicate=False, confirmation=_opt_out(customer, message, now)
    )


def _opt_out(customer: Customer, message: InboundMessage, now: dt.datetime) -> OutreachTask | None:
    changed = customer_consent_set(
        customer=customer,
        channel=ConsentChannel.SMS,
        opted_out=True,
        source=ConsentSource.INBOUND_SMS,
        note=f"inbound SMS {message.provider_message_id}: {message.body[:100]}",
    )
    if not changed:
        # Already opted out: a second STOP gets no second confirmation.
        return None
    change_id = (
        ConsentChange.objects.filter(customer=customer, channel=ConsentChannel.SMS)
        .order_by("-changed_at", "-id")
        .values_list("pk", flat=True)
        .first()
    )
    (task,) = outreach_tasks_create(
        specs=[
            TaskSpec(
                customer_id=customer.pk,
                channel=StepChannel.SMS,
                due_at=now,
                deadline_at=now + CONFIRMATION_SLA,
                idempotency_key=f"{OPT_OUT_CONFIRMATION_PREFIX}{customer.pk}:{change_id}",
                touch_kind=TouchKind.SERVICE,
                body=opt_out_confirmation_text(customer),
            )
        ]
    )
    _dispatch_soon()
    return task


def _dispatch_soon() -> None:
    """Send the confirmation right after commit instead of waiting for the next beat."""
    enqueue_on_commit("outreach.tasks.dispatch_due_task")

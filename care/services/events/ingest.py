"""Ingesting events other systems post to the API, idempotently.

The poster must be allowed the type (care.services.events.posters); the same idempotency key
from the same poster returns the event already recorded.
"""

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework import status

from callcenter.choices import ContactKind, CustomerStatus
from callcenter.errors import ApplicationError
from callcenter.models import ContactPoint, Customer
from callcenter.phones import try_normalize_phone
from care.choices import EventSource, EventType
from care.models import Event
from care.services.events.outbox import events_enqueue
from care.services.events.posters import EventPoster, event_post_check

MAX_KEY_LENGTH = 120
MAX_PAYLOAD_BYTES = 16 * 1024


def _resolve_customer(
    *, customer_id: int | None, external_id: str | None, phone: str | None
) -> int:
    given = [value for value in (customer_id, external_id, phone) if value not in (None, "")]
    if len(given) != 1:
        raise ApplicationError(
            _("Identify the customer by exactly one of customer_id, external_id or phone.")
        )
    row: Mapping[str, Any] | None
    if customer_id is not None:
        row = Customer.objects.filter(pk=customer_id).values("pk", "merged_into_id").first()
    elif external_id:
        row = (
            Customer.objects.filter(external_id=external_id).values("pk", "merged_into_id").first()
        )
    else:
        number = try_normalize_phone(phone or "")
        if number is None:
            raise ApplicationError(_("Invalid phone number: %(value)s") % {"value": phone})
        owner = (
            ContactPoint.objects.filter(
                kind=ContactKind.PHONE,
                value=number,
                is_active=True,
                customer__status=CustomerStatus.ACTIVE,
            )
            .values_list("customer_id", flat=True)
            .first()
        )
        row = {"pk": owner, "merged_into_id": None} if owner is not None else None
    if row is None:
        raise ApplicationError(_("Unknown customer."), extra={"code": "unknown_customer"})
    # A merged customer's events belong to the survivor (merges may chain).
    seen = 0
    while row["merged_into_id"] is not None and seen < 10:
        seen += 1
        row = Customer.objects.filter(pk=row["merged_into_id"]).values("pk", "merged_into_id")[0]
    return row["pk"]


class IdempotencyConflict(ApplicationError):
    """The idempotency key was already used for another event (409)."""

    status_code = status.HTTP_409_CONFLICT


@transaction.atomic
def event_ingest(
    *,
    poster: EventPoster,
    event_type: str,
    idempotency_key: str,
    customer_id: int | None = None,
    external_id: str | None = None,
    phone: str | None = None,
    payload: dict[str, Any] | None = None,
    occurred_at: dt.datetime | None = None,
    source: str = EventSource.API,
) -> tuple[Event, bool]:
    """Record an event another system reports; (event, created). The poster must be allowed
    the type (EVENT_POSTERS, else 403). The same idempotency key again from the same poster
    returns the event already recorded (and creates nothing); another poster's keys are its
    own."""
    if event_type not in EventType.values:
        raise ApplicationError(
            _("Unknown event type: %(type)s") % {"type": event_type}, extra={"field": "type"}
        )
    event_post_check(poster=poster, event_type=event_type)
    key = (idempotency_key or "").strip()
    if not key or len(key) > MAX_KEY_LENGTH:
        raise ApplicationError(
            _("An idempotency key of 1 to %(max)d characters is required.")
            % {"max": MAX_KEY_LENGTH},
            extra={"field": "idempotency_key"},
        )
    payload = payload if payload is not None else {}
    if not isinstance(payload, dict):
        raise ApplicationError(_("The payload must be a JSON object."), extra={"field": "payload"})
    if len(json.dumps(payload, default=str).encode()) > MAX_PAYLOAD_BYTES:
        raise ApplicationError(_("The payload is too large."), extra={"field": "payload"})
    now = timezone.now()
    if occurred_at is not None:
        if timezone.is_naive(occurred_at):
            raise ApplicationError(_("occurred_at needs a time zone."))
        if occurred_at > now + dt.timedelta(minutes=5):
            raise ApplicationError(
                _("occurred_at is in the future."), extra={"field": "occurred_at"}
            )
    customer = _resolve_customer(customer_id=customer_id, external_id=external_id, phone=phone)
    try:
        with transaction.atomic():
            event = Event.objects.create(
                type=event_type,
                customer_id=customer,
                payload=payload,
                source=source,
                occurred_at=occurred_at or now,
                client=poster.client,
                idempotency_key=key,
            )
    except IntegrityError:
        event = Event.objects.get(client=poster.client, idempotency_key=key)
        if event.type != event_type or event.customer_id != customer:
            raise IdempotencyConflict(
                _("This idempotency key was already used for another event (#%(id)s).")
                % {"id": event.pk},
                extra={"event_id": event.pk},
            ) from None
        return event, False
    events_enqueue([event.pk])
    return event, True

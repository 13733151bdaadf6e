"""The event outbox: recording events, ingesting them from other systems, processing them.

Events are rows before they are messages. Domain writes record their events in their own
transaction (`events_record`, through the `domain_events` signal); after commit one Celery task
per batch processes them (`events_process`). If the message is lost (broker down, worker
killed), `events_sweep` finds the rows still unprocessed a few seconds later. Processing is
idempotent: the event row is locked (SKIP LOCKED), a processed event is left alone, and an
enrollment is unique per rule, customer and event.

Other systems post events to the API (`event_ingest`). Who may post which type is one table,
EVENT_POSTERS; an idempotency key belongs to the client that sent it (a user, or the signed
events integration), so one client cannot take a key another will use.

Bulk producers are set-based: a segment refresh announces entries and exits with one
INSERT ... SELECT per kind, limited to the segments active rules listen to, and the daily time
events (birthday, anniversary, inactivity, monthly) are one INSERT ... SELECT each, made
idempotent by keys such as "birthday:<customer>:<date>".
"""

import datetime as dt
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from rest_framework import status

from callcenter.choices import (
    ContactKind,
    CustomerKind,
    CustomerStatus,
    Integration,
    OrderStatus,
    Role,
)
from callcenter.errors import ApplicationError, ApplicationForbidden
from callcenter.events import DomainEvent
from callcenter.jobs import enqueue_on_commit
from callcenter.models import ContactPoint, Customer
from callcenter.phones import try_normalize_phone
from callcenter.roles import user_roles
from care.choices import EnrollmentStatus, EventSource, EventType
from care.models import CareRule, CareSettings, Enrollment, Event
from care.services.enrollment import (
    STOP_EVENTS,
    ActiveRule,
    active_rules,
    enrollments_create,
    enrollments_stop_for_event,
    rules_triggered,
)

logger = logging.getLogger(__name__)

# Event ids per Celery message: small messages, and a redelivered one redoes little.
ENQUEUE_BATCH = 500
# The sweep leaves younger events to the task enqueued at their commit.
SWEEP_GRACE = dt.timedelta(seconds=10)
# Events per sweep pass (each is processed in its own short transaction).
SWEEP_BATCH = 2000
# An event failing this often is left alone (visible with its last error) for a person.
MAX_EVENT_ATTEMPTS = 5
# Time events are emitted for inactivity that began at most this long ago, so a missed day is
# caught up but the first run on an old database does not wake every long-lost customer.
INACTIVITY_CATCH_UP_DAYS = 7
MAX_KEY_LENGTH = 120
MAX_PAYLOAD_BYTES = 16 * 1024

# The events integration's signed requests (no user), as a poster in EVENT_POSTERS.
SIGNED_INTEGRATION = "integration"
_SYSTEMS = frozenset({Role.ADMIN.value, SIGNED_INTEGRATION})
# Who may post each event type to POST /api/events/ (roles, or the signed events integration).
# Agents post none: what they do (interactions, tickets, consent, customers) goes through its
# own API, which records the event with the record. Facts another system owns (tickets opened
# and resolved there, orders, refunds, surveys, replies on other channels, external triggers)
# come from that system, signed or with an admin's token. Supervisors may only report a reply a
# customer gave on another channel (it ends plans that stop on a reply). Types this product
# derives from its own data (interactions, consent, new customers, segment moves, birthdays,
# anniversaries, inactivity, the monthly report) are refused for everyone: posting one would
# contradict the data it is computed from.
EVENT_POSTERS: dict[str, frozenset[str]] = {
    EventType.TICKET_OPENED: _SYSTEMS,
    EventType.TICKET_RESOLVED: _SYSTEMS,
    EventType.FIRST_ORDER: _SYSTEMS,
    EventType.ORDER_PLACED: _SYSTEMS,
    EventType.ORDER_REFUNDED: _SYSTEMS,
    EventType.SURVEY_SUBMITTED: _SYSTEMS,
    EventType.CUSTOMER_REPLIED: _SYSTEMS | {Role.SUPERVISOR.value},
    EventType.EXTERNAL: _SYSTEMS,
    EventType.INTERACTION_LOGGED: frozenset(),
    EventType.CONSENT_CHANGED: frozenset(),
    EventType.CUSTOMER_CREATED: frozenset(),
    EventType.SEGMENT_ENTERED: frozenset(),
    EventType.SEGMENT_EXITED: frozenset(),
    EventType.BIRTHDAY: frozenset(),
    EventType.ANNIVERSARY: frozenset(),
    EventType.INACTIVITY: frozenset(),
    EventType.MONTHLY: frozenset(),
}
# Who may post at least one type (the API refuses everyone else at the door).
EVENT_POSTER_ROLES = frozenset().union(*EVENT_POSTERS.values()) - {SIGNED_INTEGRATION}


@dataclass(frozen=True)
class EventPoster:
    """Who posts an event to the API: the namespace of its idempotency keys (`client`) and
    what it acts as (role names, or SIGNED_INTEGRATION) for EVENT_POSTERS."""

    client: str
    acts_as: frozenset[str]

    @classmethod
    def user(cls, user: User) -> "EventPoster":
        """A signed-in user, with its roles."""
        return cls(client=f"user:{user.pk}", acts_as=user_roles(user))

    @classmethod
    def integration(cls) -> "EventPoster":
        """The events integration's signed request."""
        return cls(
            client=f"integration:{Integration.EVENTS}", acts_as=frozenset({SIGNED_INTEGRATION})
        )


def event_post_check(*, poster: EventPoster, event_type: str) -> None:
    """Refuse (403) an event type the poster may not post (EVENT_POSTERS)."""
    allowed = EVENT_POSTERS.get(event_type, frozenset())
    if not allowed:
        raise ApplicationForbidden(
            _(
                "%(type)s events are recorded by this product itself from its own data; "
                "nobody may post them."
            )
            % {"type": event_type},
            extra={"type": [_("Not accepted from other systems.")]},
        )
    if not poster.acts_as & allowed:
        raise ApplicationForbidden(
            _("Your role may not post %(type)s events.") % {"type": event_type},
            extra={"type": [_("Not allowed for you.")]},
        )


def event_max_age() -> dt.timedelta:
    """Events older than this when processed enroll nobody (e.g. a history import), though
    they still stop plans. Setting CARE_EVENT_MAX_AGE_HOURS, default 72."""
    return dt.timedelta(hours=getattr(settings, "CARE_EVENT_MAX_AGE_HOURS", 72))


# ---------------------------------------------------------------------------------------------
# Recording


def events_enqueue(event_ids: list[int]) -> None:
    """After commit, one processing task per batch of ids. If the broker is down the error is
    logged (robust) and the sweep processes the rows later."""
    for start in range(0, len(event_ids), ENQUEUE_BATCH):
        enqueue_on_commit("care.tasks.event_process_task", event_ids[start : start + ENQUEUE_BATCH])


def _occurred(value: str | dt.datetime | None, now: dt.datetime) -> dt.datetime:
    if value is None:
        return now
    moment = value if isinstance(value, dt.datetime) else parse_datetime(value)
    if moment is None:
        return now
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


def events_record(*, events: list[DomainEvent], source: str = EventSource.DOMAIN) -> list[int]:
    """Write domain events to the outbox in the current transaction (one INSERT) and process
    them after commit. Returns the new ids."""
    if not events:
        return []
    now = timezone.now()
    rows = Event.objects.bulk_create(
        Event(
            type=event.type,
            customer_id=event.customer_id,
            payload=event.payload,
            source=source,
            occurred_at=_occurred(event.occurred_at, now),
        )
        for event in events
    )
    ids = [row.pk for row in rows]
    events_enqueue(ids)
    return ids


SEGMENT_EVENTS_SQL = """
INSERT INTO care_event
    (type, customer_id, payload, source, occurred_at, created_at, idempotency_key,
     attempts, last_error)
SELECT %(type)s, m.customer_id,
       jsonb_build_object('segment', s.slug, 'segment_id', s.id, 'run_id', %(run)s),
       %(source)s, COALESCE(m.{moment}, %(now)s), %(now)s, %(type)s || ':' || m.id, 0, ''
FROM segments_segmentmembership m
JOIN segments_segment s ON s.id = m.segment_id
WHERE m.{run_column} = %(run)s AND s.slug = ANY(%(slugs)s)
ON CONFLICT (client, idempotency_key) DO NOTHING
RETURNING id
"""
SEGMENT_EVENT_SQL = {
    EventType.SEGMENT_ENTERED: SEGMENT_EVENTS_SQL.format(
        moment="entered_at", run_column="entered_run_id"
    ),
    EventType.SEGMENT_EXITED: SEGMENT_EVENTS_SQL.format(
        moment="exited_at", run_column="exited_run_id"
    ),
}


def segment_events_record(*, run_id: int) -> dict[str, int]:
    """Turn a refresh run's entries and exits into segment_entered / segment_exited events,
    one INSERT ... SELECT per kind, only for segments an active rule listens to."""
    listened: dict[str, list[str]] = {kind: [] for kind in SEGMENT_EVENT_SQL}
    rows = CareRule.objects.filter(
        is_active=True, trigger_type__in=list(SEGMENT_EVENT_SQL)
    ).values_list("trigger_type", "trigger_params")
    for trigger_type, params in rows:
        slug = (params or {}).get("segment")
        if slug:
            listened[trigger_type].append(slug)
    counts: dict[str, int] = {}
    now = timezone.now()
    ids: list[int] = []
    with connection.cursor() as cursor:
        for kind, sql in SEGMENT_EVENT_SQL.items():
            if not listened[kind]:
                counts[kind] = 0
                continue
            cursor.execute(
                sql,
                {
                    "type": kind,
                    "run": run_id,
                    "source": EventSource.SEGMENTS,
                    "now": now,
                    "slugs": sorted(set(listened[kind])),
                },
            )
            new = [row[0] for row in cursor.fetchall()]
            counts[kind] = len(new)
            ids.extend(new)
    events_enqueue(ids)
    return counts


# ---------------------------------------------------------------------------------------------
# Ingest from other systems


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


# ---------------------------------------------------------------------------------------------
# Processing


def event_process(
    *,
    event_id: int,
    rules: dict[str, list[ActiveRule]] | None = None,
    care_settings: CareSettings | None = None,
    now: dt.datetime | None = None,
) -> str:
    """Process one event: stop the plans it ends, enroll into the rules it triggers, mark it
    processed. Returns "processed", "skipped" (already done, or locked by another worker) or
    "failed" (attempts and last error recorded; the sweep retries it)."""
    now = now or timezone.now()
    with transaction.atomic():
        event = Event.objects.select_for_update(skip_locked=True).filter(pk=event_id).first()
        if event is None or event.processed_at is not None:
            return "skipped"
        if rules is None:
            rules = active_rules()
        try:
            with transaction.atomic():
                enrollments_stop_for_event(event=event, now=now)
                if event.occurred_at >= now - event_max_age():
                    enrollments_create(
                        event=event, rules=rules, now=now, care_settings=care_settings
                    )
        except Exception as exc:
            # Recorded and visible (admin, API); the sweep retries up to MAX_EVENT_ATTEMPTS.
            logger.exception("care event %s failed", event_id)
            event.attempts += 1
            event.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            event.save(update_fields=["attempts", "last_error"])
            return "failed"
        event.attempts += 1
        event.processed_at = now
        event.last_error = ""
        event.save(update_fields=["attempts", "processed_at", "last_error"])
    return "processed"


def _needs_work(
    rows: Sequence[Mapping[str, Any]], rules: dict[str, list[ActiveRule]], now: dt.datetime
) -> tuple[list[int], list[int]]:
    """Split unprocessed events into those that need a look of their own and those that
    trigger no rule and stop no plan (marked processed together)."""
    oldest = now - event_max_age()
    stoppers = {row["customer_id"] for row in rows if row["type"] in STOP_EVENTS}
    with_plans = (
        set(
            Enrollment.objects.filter(
                customer_id__in=stoppers, status=EnrollmentStatus.ACTIVE
            ).values_list("customer_id", flat=True)
        )
        if stoppers
        else set()
    )
    triggering = {
        row["id"]
        for row in rows
        if row["occurred_at"] >= oldest
        and rules_triggered(event_type=row["type"], payload=row["payload"], rules=rules)
    }
    # A plan may also start within this batch (an earlier event of the same customer).
    with_plans |= {row["customer_id"] for row in rows if row["id"] in triggering}
    busy: list[int] = []
    idle: list[int] = []
    for row in rows:
        stops = row["type"] in STOP_EVENTS and row["customer_id"] in with_plans
        (busy if row["id"] in triggering or stops else idle).append(row["id"])
    return busy, idle


def events_process(*, event_ids: Iterable[int], now: dt.datetime | None = None) -> dict[str, int]:
    """Process a batch of events (each in its own transaction, rules loaded once)."""
    now = now or timezone.now()
    rows = list(
        Event.objects.filter(pk__in=list(event_ids), processed_at__isnull=True)
        .order_by("pk")
        .values("id", "type", "customer_id", "payload", "occurred_at")
    )
    counts = {"processed": 0, "skipped": 0, "failed": 0}
    if not rows:
        return counts
    rules = active_rules()
    busy, idle = _needs_work(rows, rules, now)
    if idle:
        counts["processed"] += Event.objects.filter(pk__in=idle, processed_at__isnull=True).update(
            processed_at=now, attempts=F("attempts") + 1, last_error=""
        )
    care_settings = CareSettings.load() if busy else None
    for event_id in busy:
        outcome = event_process(
            event_id=event_id, rules=rules, care_settings=care_settings, now=now
        )
        counts[outcome] += 1
    return counts


def events_sweep(*, now: dt.datetime | None = None, limit: int = SWEEP_BATCH) -> dict[str, int]:
    """Process events left unprocessed for longer than SWEEP_GRACE (their message was lost or
    their processing failed), oldest first."""
    now = now or timezone.now()
    ids = list(
        Event.objects.filter(
            processed_at__isnull=True,
            created_at__lte=now - SWEEP_GRACE,
            attempts__lt=MAX_EVENT_ATTEMPTS,
        )
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    return events_process(event_ids=ids, now=now)


# ---------------------------------------------------------------------------------------------
# Time events

# The customer's local date: the given day, else today on the customer's clock. Customers with
# a time zone PostgreSQL does not know get no date (so no event) rather than failing the whole
# statement; CASE keeps AT TIME ZONE from ever seeing their zone.
_LOCAL_DAY = """
WITH zoned AS (
    SELECT c.id, c.kind, c.birthday, c.created_at,
           CASE WHEN c.timezone IN (SELECT name FROM pg_timezone_names) THEN c.timezone END
               AS timezone
    FROM callcenter_customer c
    WHERE c.status = %(active)s
      {where}
), local AS (
    SELECT id, kind, birthday, timezone,
           (created_at AT TIME ZONE timezone)::date AS created_on,
           CASE WHEN timezone IS NOT NULL THEN COALESCE(
               %(today)s::date, (%(now)s::timestamptz AT TIME ZONE timezone)::date
           ) END AS d
    FROM zoned
)
INSERT INTO care_event
    (type, customer_id, payload, source, occurred_at, created_at, idempotency_key,
     attempts, last_error)
SELECT %(type)s, id, {payload}, %(source)s, (d::timestamp AT TIME ZONE timezone), %(now)s,
       {key}, 0, ''
FROM local
WHERE d IS NOT NULL AND {match}
ON CONFLICT (client, idempotency_key) DO NOTHING
RETURNING id
"""
_IS_LEAP = (
    "((extract(year FROM d)::int %% 4 = 0 AND extract(year FROM d)::int %% 100 <> 0) "
    "OR extract(year FROM d)::int %% 400 = 0)"
)


def _same_day_of_year(column: str) -> str:
    """`column` (a date) falls on the local day `d` of the year; 29 February counts on
    28 February in years without it."""
    return (
        f"((extract(month FROM {column}) = extract(month FROM d) "
        f"AND extract(day FROM {column}) = extract(day FROM d)) "
        f"OR (extract(month FROM {column}) = 2 AND extract(day FROM {column}) = 29 "
        f"AND extract(month FROM d) = 2 AND extract(day FROM d) = 28 AND NOT {_IS_LEAP}))"
    )


TIME_EVENT_SQL = {
    EventType.BIRTHDAY: _LOCAL_DAY.format(
        where="AND c.birthday IS NOT NULL",
        payload="jsonb_build_object('date', d::text)",
        key="'birthday:' || id || ':' || d::text",
        match=_same_day_of_year("birthday"),
    ),
    EventType.ANNIVERSARY: _LOCAL_DAY.format(
        where="",
        payload="jsonb_build_object('date', d::text, 'years', "
        "extract(year FROM d)::int - extract(year FROM created_on)::int)",
        key="'anniversary:' || id || ':' || d::text",
        match="extract(year FROM d) > extract(year FROM created_on) AND "
        + _same_day_of_year("created_on"),
    ),
    EventType.MONTHLY: _LOCAL_DAY.format(
        where="AND c.kind = %(business)s",
        payload="jsonb_build_object('month', to_char(d, 'YYYY-MM'))",
        key="'monthly:' || id || ':' || to_char(d, 'YYYY-MM')",
        match="extract(day FROM d) = 1",
    ),
}

# Customers whose last paid order (per the metrics of the last refresh) began an inactivity of
# N days in the catch-up window, unless they ordered since (stale metrics are checked against
# the orders table through its (customer, placed_at) index).
INACTIVITY_SQL = """
INSERT INTO care_event
    (type, customer_id, payload, source, occurred_at, created_at, idempotency_key,
     attempts, last_error)
SELECT %(type)s, m.customer_id,
       jsonb_build_object('days', %(days)s, 'last_order_at', m.last_order_at),
       %(source)s, %(now)s, %(now)s,
       'inactivity:' || m.customer_id || ':' || %(days)s || ':'
           || to_char(m.last_order_at AT TIME ZONE 'UTC', 'YYYY-MM-DD'),
       0, ''
FROM segments_customermetrics m
JOIN callcenter_customer c ON c.id = m.customer_id AND c.status = %(active)s
WHERE m.last_order_at <= %(now)s::timestamptz - make_interval(days => %(days)s)
  AND m.last_order_at > %(now)s::timestamptz - make_interval(days => %(days)s + %(catch_up)s)
  AND NOT EXISTS (
      SELECT 1 FROM callcenter_order o
      WHERE o.customer_id = m.customer_id AND o.status = %(paid)s
        AND o.placed_at > m.last_order_at
  )
ON CONFLICT (client, idempotency_key) DO NOTHING
RETURNING id
"""


def time_events_emit(
    *, today: dt.date | None = None, now: dt.datetime | None = None
) -> dict[str, int]:
    """Emit the day's time events, set-based and idempotent (running it again, or every hour,
    adds nothing already there): birthdays, membership anniversaries and the first of the
    month (business customers, for their value report) on the customer's local day, dated
    at its start; inactivity of each configured number of days (CareSettings.inactivity_days).

    `today` pins the local day for every customer (for replays and tests); by default each
    customer's own date on their clock is used, so running hourly serves every time zone.
    """
    now = now or timezone.now()
    common = {
        "now": now,
        "today": today,
        "active": CustomerStatus.ACTIVE,
        "business": CustomerKind.BUSINESS,
        "source": EventSource.SCHEDULE,
    }
    counts: dict[str, int] = {}
    ids: list[int] = []
    with transaction.atomic(), connection.cursor() as cursor:
        for kind, sql in TIME_EVENT_SQL.items():
            cursor.execute(sql, {**common, "type": kind})
            new = [row[0] for row in cursor.fetchall()]
            counts[kind] = len(new)
            ids.extend(new)
        counts[EventType.INACTIVITY] = 0
        for days in sorted(set(CareSettings.load().inactivity_days or [])):
            cursor.execute(
                INACTIVITY_SQL,
                {
                    **common,
                    "type": EventType.INACTIVITY,
                    "days": int(days),
                    "catch_up": INACTIVITY_CATCH_UP_DAYS,
                    "paid": OrderStatus.PAID,
                },
            )
            new = [row[0] for row in cursor.fetchall()]
            counts[EventType.INACTIVITY] += len(new)
            ids.extend(new)
        events_enqueue(ids)
    return counts

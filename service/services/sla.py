"""The SLA clock of tickets: which policy applies, and the due moments it sets and moves.

`ticket_sla_on_change` is the one ticket listener (callcenter.services.ticket_changes) that
drives the clock, in the writing transaction:
- opened: the first active policy in position order whose every non-empty condition holds
  applies (its version is recorded); dues are counted from `opened_at`. No policy matched: the
  ticket still gets a row, with no policy and nothing due, so the sweep's pass that attaches
  policies to tickets written without an announcement (the CSV import) does not try it again.
- updated (kind, priority or channel changed): matched again only while nobody has responded
  yet; after a response the promise already made stands.
- responded: the first response is met (minutes taken, leaving out pauses); a pending next
  response is met (cleared). The warning is re-armed for the next target.
- customer_replied: after a first response, a next response is due (an earlier pending one
  stands).
- waiting / resumed: the clock pauses; on resuming the open dues and warnings move by the
  business minutes the pause took.
- resolved: resolution met or, when late, breached (at the resolution if the sweep had not
  marked it yet); minutes taken leave out pauses.
- reopened: the resolution is open again with the time it had left when resolved (none if it
  was late, so it is due at once); the closed span counts as paused.
- assigned: nothing for the clock.
Every branch checks the row's state first, so a repeated announcement changes nothing.

Matching is one SQL statement (`POLICY_MATCH_SQL`) used both for one ticket and, set-based, for
the sweep's chunks, so both paths agree. Value tier and lifecycle stage come from
segments.CustomerMetrics, segments from the customer's open memberships of active segments.
"""

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction

from callcenter.choices import OPEN_TICKET_STATUSES, TicketStatus
from callcenter.models import Ticket
from callcenter.services.ticket_changes import TicketChange, TicketChangeKind
from service.models import SlaPolicy, TicketSla
from service.services.business_time import BusinessClock

# The first matching active policy of each ticket in `ids` (NULL when none matches), with what
# the clock needs. `%(where)s` is a module constant fragment, never user input.
POLICY_MATCH_SQL = """
SELECT t.id, t.opened_at, t.first_responded_at, t.status, p.id, p.version
FROM callcenter_ticket t
JOIN callcenter_customer c ON c.id = t.customer_id
LEFT JOIN segments_customermetrics m ON m.customer_id = t.customer_id
LEFT JOIN LATERAL (
    SELECT p.id, p.version FROM service_slapolicy p
    WHERE p.is_active
      AND (cardinality(p.ticket_kinds) = 0 OR t.kind = ANY(p.ticket_kinds))
      AND (cardinality(p.priorities) = 0 OR t.priority = ANY(p.priorities))
      AND (cardinality(p.channels) = 0 OR t.channel = ANY(p.channels))
      AND (cardinality(p.customer_kinds) = 0 OR c.kind = ANY(p.customer_kinds))
      AND (cardinality(p.value_tiers) = 0 OR m.value_tier = ANY(p.value_tiers))
      AND (cardinality(p.lifecycle_stages) = 0 OR m.lifecycle_stage = ANY(p.lifecycle_stages))
      AND (
        NOT EXISTS (SELECT 1 FROM service_slapolicy_segments ps WHERE ps.slapolicy_id = p.id)
        OR EXISTS (
            SELECT 1 FROM service_slapolicy_segments ps
            JOIN segments_segment s ON s.id = ps.segment_id AND s.is_active
            JOIN segments_segmentmembership sm
              ON sm.segment_id = ps.segment_id AND sm.exited_at IS NULL
            WHERE ps.slapolicy_id = p.id AND sm.customer_id = t.customer_id
        )
      )
    ORDER BY p.position, p.id
    LIMIT 1
) p ON true
WHERE %(where)s
ORDER BY t.id
"""
WHERE_IDS = "t.id = ANY(%s)"
# The next chunk of open tickets with no SLA row (the sweep's chunks): chosen first, in id
# order from the last one seen, so each chunk reads only its own tickets.
WHERE_UNATTACHED = """t.id IN (
    SELECT u.id FROM callcenter_ticket u
    WHERE u.status = ANY(%s) AND u.id > %s
      AND NOT EXISTS (SELECT 1 FROM service_ticketsla s WHERE s.ticket_id = u.id)
    ORDER BY u.id
    LIMIT %s
)"""


@dataclass(frozen=True)
class Match:
    """One ticket and the policy that matched it (None: none)."""

    ticket_id: int
    opened_at: dt.datetime
    first_responded_at: dt.datetime | None
    status: str
    policy_id: int | None
    policy_version: int | None


def policy_match(*, ticket_ids: list[int]) -> list[Match]:
    """The first matching policy of each ticket, in one query."""
    return policy_match_rows(POLICY_MATCH_SQL % {"where": WHERE_IDS}, [ticket_ids])


def policy_match_rows(sql: str, params: list[Any]) -> list[Match]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [Match(*row) for row in cursor.fetchall()]


DUE_FIELDS = (
    "first_response_due_at",
    "first_response_warn_at",
    "next_response_due_at",
    "next_response_warn_at",
    "resolution_due_at",
    "resolution_warn_at",
)


def _part(minutes: int, percent: int) -> float:
    return minutes * percent / 100


def clock_dues(
    policy: SlaPolicy | None, clock: BusinessClock, opened_at: dt.datetime, shift: int = 0
) -> dict[str, dt.datetime | None]:
    """The dues and warnings of a clock starting at `opened_at`, moved by `shift` business
    minutes already paused (by TicketSla field name; no next response yet)."""
    dues: dict[str, dt.datetime | None] = dict.fromkeys(DUE_FIELDS)
    if policy is None:
        return dues
    for target in ("first_response", "resolution"):
        minutes = getattr(policy, f"{target}_minutes")
        if minutes is not None:
            dues[f"{target}_due_at"] = clock.add(opened_at, minutes + shift)
            dues[f"{target}_warn_at"] = clock.add(
                opened_at, _part(minutes, policy.warn_at_percent) + shift
            )
    return dues


def clock_start(
    sla: TicketSla, policy: SlaPolicy | None, clock: BusinessClock, opened_at: dt.datetime
) -> None:
    """Set the dues and warnings of `sla` for a clock starting at `opened_at` (the minutes it
    was paused so far moved in). Met moments stay."""
    for name, moment in clock_dues(policy, clock, opened_at, sla.paused_minutes).items():
        setattr(sla, name, moment)


def _policy_and_clock(
    policy_id: int | None, moment: dt.datetime, until: dt.datetime | None = None
) -> tuple[SlaPolicy | None, BusinessClock]:
    policy = (
        None
        if policy_id is None
        else SlaPolicy.objects.select_related("calendar").filter(pk=policy_id).first()
    )
    calendar = policy.calendar if policy is not None else None
    horizon = until or moment
    if policy is not None:
        longest = max(
            policy.first_response_minutes or 0,
            policy.next_response_minutes or 0,
            policy.resolution_minutes or 0,
        )
        # Enough days for the longest target at a few business hours a day.
        horizon = max(horizon, moment + dt.timedelta(minutes=longest * 4))
    return policy, BusinessClock.load(calendar, moment, horizon)


def _attach(ticket: Ticket, at: dt.datetime) -> TicketSla:
    """The ticket's SLA row, created from its matching policy if missing (locked)."""
    match = policy_match(ticket_ids=[ticket.pk])[0]
    policy, clock = _policy_and_clock(match.policy_id, ticket.opened_at)
    sla = TicketSla(ticket_id=ticket.pk, policy=policy, policy_version=match.policy_version)
    clock_start(sla, policy, clock, ticket.opened_at)
    if ticket.first_responded_at is not None:
        sla.first_response_at = ticket.first_responded_at
        sla.first_response_minutes = clock.between(ticket.opened_at, ticket.first_responded_at)
        sla.first_response_warn_at = None
    if ticket.status == TicketStatus.WAITING:
        sla.paused_at = at
    TicketSla.objects.bulk_create([sla], ignore_conflicts=True)
    return TicketSla.objects.select_for_update().get(pk=ticket.pk)


def _rematch(sla: TicketSla, ticket: Ticket) -> None:
    match = policy_match(ticket_ids=[ticket.pk])[0]
    if match.policy_id == sla.policy_id and match.policy_version == sla.policy_version:
        return
    policy, clock = _policy_and_clock(match.policy_id, ticket.opened_at)
    sla.policy, sla.policy_version = policy, match.policy_version
    clock_start(sla, policy, clock, ticket.opened_at)
    sla.first_response_breached_at = sla.resolution_breached_at = None
    sla.next_response_breached_at = sla.warned_at = None


def _late(due: dt.datetime | None, at: dt.datetime) -> bool:
    return due is not None and at > due


@transaction.atomic
def ticket_sla_on_change(change: TicketChange) -> None:
    """Drive the ticket's SLA clock with one change (see the module docstring)."""
    ticket, at = change.ticket, change.at
    if change.kind == TicketChangeKind.ASSIGNED:
        return
    row = (
        TicketSla.objects.select_for_update(of=("self",))
        .select_related("policy")
        .filter(pk=ticket.pk)
        .first()
    )
    if row is None:
        if ticket.status not in OPEN_TICKET_STATUSES and change.kind != TicketChangeKind.RESOLVED:
            return
        row = _attach(ticket, at)
    handler = _HANDLERS.get(TicketChangeKind(change.kind))
    if handler is not None:
        handler(row, ticket, at)
        row.save()


def _on_updated(sla: TicketSla, ticket: Ticket, at: dt.datetime) -> None:
    if sla.first_response_at is None and sla.resolved_at is None:
        _rematch(sla, ticket)


def _on_responded(sla: TicketSla, ticket: Ticket, at: dt.datetime) -> None:
    if sla.resolved_at is not None:
        return
    policy, clock = _policy_and_clock(sla.policy_id, ticket.opened_at, at)
    if sla.first_response_at is None:
        sla.first_response_at = at
        sla.first_response_minutes = max(
            clock.between(ticket.opened_at, at) - sla.paused_minutes, 0
        )
        if _late(sla.first_response_due_at, at) and sla.first_response_breached_at is None:
            sla.first_response_breached_at = at
        sla.first_response_warn_at = None
        sla.warned_at = None
    elif sla.next_response_due_at is not None:
        if _late(sla.next_response_due_at, at) and sla.next_response_breached_at is None:
            sla.next_response_breached_at = at
        sla.next_response_due_at = sla.next_response_warn_at = None
        sla.warned_at = None


def _on_customer_replied(sla: TicketSla, ticket: Ticket, at: dt.datetime) -> None:
    """The next response falls due (after a first response); a reply that ended a wait on the
    customer (the saved status is no longer waiting) also resumes the clock."""
    _next_response_start(sla, at)
    if sla.paused_at is not None and ticket.status != TicketStatus.WAITING:
        _on_resumed(sla, ticket, at)


def _next_response_start(sla: TicketSla, at: dt.datetime) -> None:
    if sla.resolved_at is not None or sla.first_response_at is None:
        return
    if sla.next_response_due_at is not None or sla.policy_id is None:
        return
    policy, clock = _policy_and_clock(sla.policy_id, at)
    if policy is None or policy.next_response_minutes is None:
        return
    # While paused, counted from the pause: resuming moves it by the pause's business time.
    start = at if sla.paused_at is None else sla.paused_at
    sla.next_response_due_at = clock.add(start, policy.next_response_minutes)
    sla.next_response_warn_at = clock.add(
        start, _part(policy.next_response_minutes, policy.warn_at_percent)
    )


def _on_waiting(sla: TicketSla, ticket: Ticket, at: dt.datetime) -> None:
    if sla.paused_at is None and sla.resolved_at is None:
        sla.paused_at = at


_OPEN_PAIRS = (
    ("first_response_due_at", "first_response_warn_at", "first_response_breached_at"),
    ("next_response_due_at", "next_response_warn_at", "next_response_breached_at"),
    ("resolution_due_at", "resolution_warn_at", "resolution_breached_at"),
)


def _shift(sla: TicketSla, clock: BusinessClock, minutes: int) -> None:
    """Move the open dues and warnings by `minutes` business minutes."""
    sla.paused_minutes += minutes
    if minutes <= 0:
        return
    met = {
        "first_response_due_at": sla.first_response_at is not None,
        "next_response_due_at": False,
        "resolution_due_at": sla.resolved_at is not None,
    }
    for due_name, warn_name, breached_name in _OPEN_PAIRS:
        due = getattr(sla, due_name)
        if due is None or met[due_name] or getattr(sla, breached_name) is not None:
            continue
        setattr(sla, due_name, clock.add(due, minutes))
        warn = getattr(sla, warn_name)
        if warn is not None:
            setattr(sla, warn_name, clock.add(warn, minutes))


def _on_resumed(sla: TicketSla, ticket: Ticket, at: dt.datetime) -> None:
    if sla.paused_at is None:
        return
    paused_at, sla.paused_at = sla.paused_at, None
    _policy, clock = _policy_and_clock(sla.policy_id, paused_at, at)
    _shift(sla, clock, clock.between(paused_at, at))


def _on_resolved(sla: TicketSla, ticket: Ticket, at: dt.datetime) -> None:
    if sla.resolved_at is not None:
        return
    _on_resumed(sla, ticket, at)
    _policy, clock = _policy_and_clock(sla.policy_id, ticket.opened_at, at)
    sla.resolved_at = at
    sla.resolution_minutes = max(clock.between(ticket.opened_at, at) - sla.paused_minutes, 0)
    if _late(sla.resolution_due_at, at) and sla.resolution_breached_at is None:
        sla.resolution_breached_at = at
    sla.next_response_due_at = sla.next_response_warn_at = None


def _on_reopened(sla: TicketSla, ticket: Ticket, at: dt.datetime) -> None:
    if sla.resolved_at is None:
        return
    resolved_at, sla.resolved_at = sla.resolved_at, None
    sla.resolution_minutes = None
    _policy, clock = _policy_and_clock(sla.policy_id, resolved_at, at)
    gap = clock.between(resolved_at, at)
    if sla.resolution_breached_at is not None:
        # Late already: due at once; the breach stays on record.
        sla.paused_minutes += gap
        sla.resolution_due_at = at if sla.resolution_due_at is not None else None
        sla.resolution_warn_at = None
    else:
        _shift(sla, clock, gap)
    sla.warned_at = None
    if ticket.status == TicketStatus.WAITING:
        sla.paused_at = at


def _on_opened(sla: TicketSla, ticket: Ticket, at: dt.datetime) -> None:
    """The row was just attached (or already was: a repeat); nothing more to do."""


_HANDLERS = {
    TicketChangeKind.OPENED: _on_opened,
    TicketChangeKind.UPDATED: _on_updated,
    TicketChangeKind.RESPONDED: _on_responded,
    TicketChangeKind.CUSTOMER_REPLIED: _on_customer_replied,
    TicketChangeKind.WAITING: _on_waiting,
    TicketChangeKind.RESUMED: _on_resumed,
    TicketChangeKind.RESOLVED: _on_resolved,
    TicketChangeKind.REOPENED: _on_reopened,
}

"""The ticket SLA sweep (beat every minute, and a pass of the care tick).

0. Close the clocks of tickets closed without an announcement (set-based writes).
1. Attach: open tickets with no SLA row (written set-based, e.g. by the CSV import, which
   announces nothing) get their policy, matched in SQL in chunks, and their dues computed per
   chunk with one loaded calendar per policy calendar. A target already past at that moment is
   breached below but counts as escalated (nobody was timed on it: no reassignment storm and
   no email about the backlog when policies are first installed).
2. Warn: one UPDATE sets `warned_at` where a stored warning moment of an open target passed.
3. Breach: one UPDATE marks each open target whose due moment passed (`*_breached_at`).
4. Escalate each breached open ticket once (`escalated_at`), in batches: reassign it
   (policy.escalate_reassign) to a colleague with room (open tickets counted against
   AgentProfile.ticket_capacity; never the current assignee): for a routed ticket the
   least-loaded available member of its queue with the skills its route requires (as routing
   hands tickets out, outreach.services.routing, under the same lock); for another, or a
   routed one that needs no skill when its queue has nobody with room, the least-loaded
   available agent, the current assignee's team first; and/or notify
   supervisors (policy.escalate_notify, or nobody fitting had room): one email per sweep
   listing the tickets. A reassignment is a history row of the ticket, announced like any
   assignment; each escalation is audited ("ticket.sla_breach").
Paused clocks (waiting on the customer) neither warn nor breach. A second run changes nothing.
"""

import datetime as dt
import heapq
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from callcenter.choices import OPEN_TICKET_STATUSES, Role, TicketChangeKind, TicketStatus
from callcenter.models import AgentProfile, AuditLog, Ticket, TicketUpdate
from callcenter.services.ticket_changes import TicketChange, ticket_change_announce
from outreach.models import TicketRoute
from outreach.services.routing import ticket_loads, ticket_lock
from service.models import BusinessCalendar, SlaPolicy, TicketSla
from service.services.business_time import BusinessClock
from service.services.sla import (
    POLICY_MATCH_SQL,
    WHERE_UNATTACHED,
    Match,
    clock_dues,
    policy_match_rows,
)

# Tickets matched and given dues per chunk (a few hundred bytes each in memory).
ATTACH_CHUNK = 5000
# Breached tickets escalated per transaction (rows locked at once).
ESCALATION_BATCH = 2000
# Tickets listed by name in the supervisors' email (the rest are counted).
EMAIL_LINES = 100

# Clocks of tickets closed without an announcement (a set-based import or update): stopped
# at the ticket's resolution (or now), the resolution marked late when it was.
_CLOSE_SQL = """
UPDATE service_ticketsla s SET
  resolved_at = COALESCE(t.resolved_at, %(now)s),
  paused_at = NULL,
  next_response_due_at = NULL,
  next_response_warn_at = NULL,
  resolution_breached_at = CASE
    WHEN s.resolution_breached_at IS NULL AND s.resolution_due_at < COALESCE(t.resolved_at, %(now)s)
      THEN COALESCE(t.resolved_at, %(now)s)
    ELSE s.resolution_breached_at END
FROM callcenter_ticket t
WHERE t.id = s.ticket_id AND s.resolved_at IS NULL AND NOT (t.status = ANY(%(open)s))
"""

_WARN_SQL = """
UPDATE service_ticketsla SET warned_at = %(now)s
WHERE warned_at IS NULL AND resolved_at IS NULL AND paused_at IS NULL
  AND (
    (first_response_at IS NULL AND first_response_breached_at IS NULL
     AND first_response_warn_at <= %(now)s)
    OR (next_response_breached_at IS NULL AND next_response_warn_at <= %(now)s)
    OR (resolution_breached_at IS NULL AND resolution_warn_at <= %(now)s)
  )
"""

_BREACH_SQL = """
UPDATE service_ticketsla SET
  first_response_breached_at = CASE
    WHEN first_response_at IS NULL AND first_response_breached_at IS NULL
         AND first_response_due_at <= %(now)s THEN %(now)s
    ELSE first_response_breached_at END,
  next_response_breached_at = CASE
    WHEN next_response_breached_at IS NULL AND next_response_due_at <= %(now)s THEN %(now)s
    ELSE next_response_breached_at END,
  resolution_breached_at = CASE
    WHEN resolution_breached_at IS NULL AND resolution_due_at <= %(now)s THEN %(now)s
    ELSE resolution_breached_at END
WHERE resolved_at IS NULL AND paused_at IS NULL
  AND (
    (first_response_at IS NULL AND first_response_breached_at IS NULL
     AND first_response_due_at <= %(now)s)
    OR (next_response_breached_at IS NULL AND next_response_due_at <= %(now)s)
    OR (resolution_breached_at IS NULL AND resolution_due_at <= %(now)s)
  )
"""

# Open tickets per available agent, with the agent's capacity and team.
_AGENTS_SQL = """
SELECT ap.user_id, ap.team, ap.ticket_capacity, COALESCE(load.open, 0)
FROM callcenter_agentprofile ap
JOIN auth_user u ON u.id = ap.user_id AND u.is_active
LEFT JOIN (
    SELECT assignee_id, count(*) AS open FROM callcenter_ticket
    WHERE status = ANY(%s) AND assignee_id IS NOT NULL
    GROUP BY assignee_id
) load ON load.assignee_id = ap.user_id
WHERE ap.is_available
"""

# The attach pass writes a chunk's rows in one statement (an ORM bulk_create spends most of
# its time preparing values field by field); a row written meanwhile by the listener wins.
_COLUMNS = (
    "ticket_id",
    "policy_id",
    "policy_version",
    "first_response_due_at",
    "first_response_warn_at",
    "first_response_at",
    "first_response_minutes",
    "resolution_due_at",
    "resolution_warn_at",
    "paused_at",
    "escalated_at",
)
_TYPES = (
    "bigint", "bigint", "int", "timestamptz", "timestamptz", "timestamptz", "int",
    "timestamptz", "timestamptz", "timestamptz", "timestamptz",
)  # fmt: skip
_INSERT_SQL = f"""
INSERT INTO service_ticketsla ({", ".join(_COLUMNS)}, paused_minutes)
SELECT *, 0 FROM unnest({", ".join(f"%s::{kind}[]" for kind in _TYPES)})
ON CONFLICT (ticket_id) DO NOTHING
"""  # noqa: S608 - column names and types are module constants

_REASSIGN_SQL = """
UPDATE callcenter_ticket t SET assignee_id = v.agent, updated_at = %s
FROM unnest(%s::bigint[], %s::int[]) AS v(id, agent)
WHERE t.id = v.id
"""


def ticket_sla_sweep(now: dt.datetime | None = None) -> dict[str, int]:
    """One sweep; returns {"attached", "closed", "warned", "breached", "escalated",
    "reassigned", "notified"}."""
    now = now or timezone.now()
    attached = sla_attach_missing(now=now)
    with connection.cursor() as cursor:
        cursor.execute(
            _CLOSE_SQL, {"now": now, "open": [status.value for status in OPEN_TICKET_STATUSES]}
        )
        closed = cursor.rowcount
        cursor.execute(_WARN_SQL, {"now": now})
        warned = cursor.rowcount
        cursor.execute(_BREACH_SQL, {"now": now})
        breached = cursor.rowcount
    escalated = reassigned = 0
    to_notify: list[Mapping[str, Any]] = []
    while True:
        batch = _escalate_batch(now=now)
        if batch is None:
            break
        count, moved, notify = batch
        escalated += count
        reassigned += moved
        to_notify.extend(notify)
    _notify(to_notify)
    return {
        "attached": attached,
        "closed": closed,
        "warned": warned,
        "breached": breached,
        "escalated": escalated,
        "reassigned": reassigned,
        "notified": len(to_notify),
    }


def sla_attach_missing(*, now: dt.datetime) -> int:
    """Give open tickets with no SLA row their policy and dues, a chunk at a time."""
    sql = POLICY_MATCH_SQL % {"where": WHERE_UNATTACHED}
    statuses = [status.value for status in OPEN_TICKET_STATUSES]
    policies = {
        policy.pk: policy
        for policy in SlaPolicy.objects.select_related("calendar").filter(is_active=True)
    }
    clocks: dict[int | None, BusinessClock] = {}
    attached, last_id = 0, 0
    while True:
        matches = policy_match_rows(sql, [statuses, last_id, ATTACH_CHUNK])
        if not matches:
            return attached
        last_id = matches[-1].ticket_id
        rows = [_row(match, policies, clocks, now) for match in matches]
        with connection.cursor() as cursor:
            cursor.execute(_INSERT_SQL, [[row[column] for row in rows] for column in _COLUMNS])
            attached += cursor.rowcount


def _clock(
    calendar: BusinessCalendar | None,
    clocks: dict[int | None, BusinessClock],
    moment: dt.datetime,
) -> BusinessClock:
    key = None if calendar is None else calendar.pk
    if key not in clocks:
        clocks[key] = BusinessClock.load(calendar, moment, moment)
    return clocks[key]


def _row(
    match: Match,
    policies: dict[int, SlaPolicy],
    clocks: dict[int | None, BusinessClock],
    now: dt.datetime,
) -> dict[str, Any]:
    """A new clock's columns (plain values: a chunk builds thousands of them)."""
    policy = policies.get(match.policy_id) if match.policy_id is not None else None
    clock = _clock(policy.calendar if policy is not None else None, clocks, match.opened_at)
    row: dict[str, Any] = {
        "ticket_id": match.ticket_id,
        "policy_id": None if policy is None else policy.pk,
        "policy_version": None if policy is None else match.policy_version,
        **clock_dues(policy, clock, match.opened_at),
        "first_response_at": match.first_responded_at,
        "first_response_minutes": None,
        "paused_at": now if match.status == TicketStatus.WAITING else None,
    }
    if match.first_responded_at is not None:
        row["first_response_minutes"] = clock.between(match.opened_at, match.first_responded_at)
        row["first_response_warn_at"] = None
    # A target already past when its policy arrives (imported history, the backlog when
    # policies are first installed) is marked breached by the sweep, for honest compliance,
    # but not escalated: escalation is for a breach under a running clock, not a storm of
    # reassignments and emails about tickets nobody was timed on.
    missed = [
        due
        for due in (
            row["first_response_due_at"] if match.first_responded_at is None else None,
            row["resolution_due_at"],
        )
        if due is not None and due <= now
    ]
    row["escalated_at"] = now if missed else None
    return row


def _agents() -> tuple[dict[int, list[int]], dict[int, str]]:
    """Each available agent's [open tickets, capacity or -1] and team."""
    statuses = [status.value for status in OPEN_TICKET_STATUSES]
    with connection.cursor() as cursor:
        cursor.execute(_AGENTS_SQL, [statuses])
        rows = cursor.fetchall()
    load = {user: [open_count, -1 if cap is None else cap] for user, _t, cap, open_count in rows}
    teams = {user: team for user, team, _c, _o in rows}
    return load, teams


class _Picker:
    """The least-loaded agent with room, the given team first (heaps with stale entries
    skipped, so each pick is logarithmic in the number of agents)."""

    def __init__(self, load: dict[int, list[int]], teams: dict[int, str]) -> None:
        self.load, self.teams = load, teams
        self.heaps: dict[str, list[tuple[int, int]]] = {"": []}
        for user, (count, _cap) in load.items():
            heapq.heappush(self.heaps[""], (count, user))
            if teams[user]:
                heapq.heappush(self.heaps.setdefault(teams[user], []), (count, user))

    def _room(self, user: int) -> bool:
        count, cap = self.load[user]
        return cap < 0 or count < cap

    def _pop(self, heap: list[tuple[int, int]], exclude: int | None) -> int | None:
        skipped, found = [], None
        while heap:
            count, user = heap[0]
            if count != self.load[user][0] or not self._room(user):
                heapq.heappop(heap)
                continue
            if user == exclude:
                skipped.append(heapq.heappop(heap))
                continue
            found = user
            break
        for entry in skipped:
            heapq.heappush(heap, entry)
        return found

    def pick(self, *, team: str, exclude: int | None) -> int | None:
        user = self._pop(self.heaps.get(team, []), exclude) if team else None
        if user is None:
            user = self._pop(self.heaps[""], exclude)
        if user is None:
            return None
        self.load[user][0] += 1
        entry = (self.load[user][0], user)
        heapq.heappush(self.heaps[""], entry)
        if self.teams[user]:
            heapq.heappush(self.heaps[self.teams[user]], entry)
        return user

    def taken(self, user: int) -> None:
        """`user` got a ticket elsewhere (a routed pick): count it."""
        if user not in self.load:
            return
        self.load[user][0] += 1
        entry = (self.load[user][0], user)
        heapq.heappush(self.heaps[""], entry)
        if self.teams[user]:
            heapq.heappush(self.heaps[self.teams[user]], entry)


@transaction.atomic
def _escalate_batch(*, now: dt.datetime) -> tuple[int, int, list[Mapping[str, Any]]] | None:
    rows = list(
        TicketSla.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(
            escalated_at__isnull=True,
            resolved_at__isnull=True,
            ticket__status__in=OPEN_TICKET_STATUSES,
        )
        .filter(
            Q(first_response_breached_at__isnull=False)
            | Q(next_response_breached_at__isnull=False)
            | Q(resolution_breached_at__isnull=False)
        )
        .order_by("ticket_id")
        .values(
            "ticket_id",
            "ticket__subject",
            "ticket__assignee_id",
            "ticket__customer__name",
            "policy_id",
            "policy__name",
            "policy__escalate_reassign",
            "policy__escalate_notify",
            "first_response_breached_at",
            "next_response_breached_at",
            "resolution_breached_at",
        )[:ESCALATION_BATCH]
    )
    if not rows:
        return None
    # The routing lock: no hand-out of waiting tickets picks agents at the same time.
    ticket_lock()
    load, teams = _agents()
    assignee_teams = dict(
        AgentProfile.objects.filter(
            user_id__in={row["ticket__assignee_id"] for row in rows if row["ticket__assignee_id"]}
        ).values_list("user_id", "team")
    )
    picker = _Picker(load, teams)
    routes = {
        route["ticket_id"]: route
        for route in TicketRoute.objects.filter(
            ticket_id__in=[row["ticket_id"] for row in rows]
        ).values("ticket_id", "queue_id", "required_skills")
    }
    routed = ticket_loads({route["queue_id"] for route in routes.values()})
    moved: dict[int, int] = {}
    notify: list[Mapping[str, Any]] = []
    for row in rows:
        assignee = row["ticket__assignee_id"]
        agent = None
        if row["policy__escalate_reassign"]:
            route = routes.get(row["ticket_id"])
            if route is not None:
                agent = routed.pick(route["queue_id"], route["required_skills"], exclude=assignee)
                if agent is not None:
                    routed.take(agent)
                    picker.taken(agent)
            if agent is None and (route is None or not route["required_skills"]):
                agent = picker.pick(team=assignee_teams.get(assignee, ""), exclude=assignee)
            if agent is not None:
                moved[row["ticket_id"]] = agent
        if row["policy__escalate_notify"] or (row["policy__escalate_reassign"] and agent is None):
            notify.append(row)
    ids = [row["ticket_id"] for row in rows]
    if moved:
        with connection.cursor() as cursor:
            cursor.execute(_REASSIGN_SQL, [now, list(moved), list(moved.values())])
        _reassignments_record(moved, now=now)
    TicketSla.objects.filter(pk__in=ids).update(escalated_at=now)
    notified = {row["ticket_id"] for row in notify}
    AuditLog.objects.bulk_create(
        [
            AuditLog(
                action="ticket.sla_breach",
                object_type="ticket",
                object_id=str(row["ticket_id"]),
                data={
                    "policy": row["policy_id"],
                    "breached": [
                        target
                        for target, moment in (
                            ("first_response", row["first_response_breached_at"]),
                            ("next_response", row["next_response_breached_at"]),
                            ("resolution", row["resolution_breached_at"]),
                        )
                        if moment is not None
                    ],
                    "from_assignee": row["ticket__assignee_id"],
                    "to_assignee": moved.get(row["ticket_id"]),
                    "supervisors_notified": row["ticket_id"] in notified,
                },
            )
            for row in rows
        ],
        batch_size=1000,
    )
    return len(rows), len(moved), notify


def _reassignments_record(moved: dict[int, int], *, now: dt.datetime) -> None:
    """The tickets' history rows of the sweep's reassignments, and their announcements (the
    routes' assigned marks follow), as routing's hand-out does."""
    TicketUpdate.objects.bulk_create(
        [
            TicketUpdate(
                ticket_id=ticket_id,
                kind=TicketChangeKind.ASSIGNED,
                at=now,
                assignee_id=agent,
                text=_("SLA breached: reassigned to a colleague with room."),
            )
            for ticket_id, agent in moved.items()
        ]
    )
    for ticket in Ticket.objects.filter(pk__in=list(moved)).order_by("pk"):
        ticket_change_announce(TicketChange(ticket=ticket, kind=TicketChangeKind.ASSIGNED, at=now))


def _notify(rows: list[Mapping[str, Any]]) -> None:
    """One email to every active supervisor with an address, listing the breached tickets."""
    if not rows:
        return
    recipients = list(
        get_user_model()
        .objects.filter(groups__name=Role.SUPERVISOR, is_active=True)
        .exclude(email="")
        .order_by("pk")
        .values_list("email", flat=True)
        .distinct()
    )
    if not recipients:
        return
    lines = [
        _("#%(id)s %(subject)s (%(customer)s), policy %(policy)s")
        % {
            "id": row["ticket_id"],
            "subject": row["ticket__subject"],
            "customer": row["ticket__customer__name"],
            "policy": row["policy__name"] or "-",
        }
        for row in rows[:EMAIL_LINES]
    ]
    if len(rows) > EMAIL_LINES:
        lines.append(_("... and %(count)d more.") % {"count": len(rows) - EMAIL_LINES})
    send_mail(
        subject=_("%(count)d tickets breached their SLA") % {"count": len(rows)},
        message=_("These tickets missed a response or resolution target:")
        + "\n\n"
        + "\n".join(lines),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=recipients,
        fail_silently=False,
    )

"""Routing by skill and load: tickets to a queue and an agent, skills preferred for call tasks.

Agents' skills (`AgentProfile.skills`) are lowercase tokens without spaces: free tags such as
languages (`en`, `zh-hans`) or `vip`, or `<prefix>:<value>` with a known prefix (`industry`,
`product`). A customer's industry becomes the skill `industry:<slug of the industry>`.

A new ticket (the `opened` change, in ticket_open's transaction) is routed by the first active
`RoutingRule` (by position) whose conditions accept it; no rule: the default queue ("general")
and no skill. The rule's required skills, plus (when the rule derives them) the customer's
language, `vip` for the high value tier and `industry:<industry>` for a business customer with
an industry, are what its handler needs. The ticket goes to the least-loaded available member
of the queue who has all of them and room under `ticket_capacity` (load: open tickets assigned;
then the lowest id); nobody: it waits unassigned in the queue, and `tickets_assign_waiting`
(the SLA sweep, each minute) hands waiting tickets out as room appears, most urgent, then
oldest first. Assigners take the ticket lock, so two tickets opened at once cannot both take
an agent's last free place. Tickets written set-based (the CSV import) are routed by that
same pass.

Call tasks keep "least loaded, then lowest id" among the agents a step may use; among those
with room, the ones who have the skills the rules ask for the customer (rules without a
ticket-kind condition; the customer's language always) come first.
"""

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Case, Count, IntegerField, Q, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _

from callcenter.choices import OPEN_TICKET_STATUSES, TicketPriority
from callcenter.models import AgentProfile, Ticket
from callcenter.roles import MANAGER_ROLES, STAFF_ROLES, has_role
from callcenter.services.audit import audit_log_record
from callcenter.services.ticket_changes import (
    TicketChange,
    TicketChangeKind,
    ticket_change_announce,
)
from outreach.access import TaskAccessDenied
from outreach.models import Queue, TicketRoute
from outreach.services.capacity import DEFAULT_QUEUE_SLUG, queues_by_slug
from outreach.services.routing_rules import (
    active_rules,
    customer_facts,
    route_choose,
    skills_clean,
)
from outreach.services.tasks import ASSIGNMENT_LOCK

# pg_advisory_xact_lock(ASSIGNMENT_LOCK, TICKET_LOCK): ticket loads are read, then tickets
# assigned; assigners take turns until their transaction commits.
TICKET_LOCK = 1
# Waiting tickets handed out (or unrouted ones routed) per pass; each is an in-memory choice.
WAITING_BATCH = 500
PRIORITY_RANK = {
    TicketPriority.URGENT: 0,
    TicketPriority.HIGH: 1,
    TicketPriority.NORMAL: 2,
    TicketPriority.LOW: 3,
}


@transaction.atomic
def agent_routing_set(
    *, user: User, skills: Iterable[str], ticket_capacity: int | None, changed_by: User | None
) -> bool:
    """Set an agent's skills and ticket capacity (None: no limit); audited. Admins change
    anyone's, supervisors those of agents and supervisors (not admins'). True when changed."""
    if changed_by is not None and not has_role(changed_by, MANAGER_ROLES):
        raise TaskAccessDenied(_("Only supervisors and admins may change skills."))
    if (
        changed_by is not None
        and not has_role(changed_by, ("admin",))
        and has_role(user, ("admin",))
    ):
        raise TaskAccessDenied(_("Only admins may change an admin's skills."))
    cleaned = skills_clean(skills)
    if ticket_capacity is not None and not 0 <= ticket_capacity <= 1000:
        raise ValidationError({"ticket_capacity": _("Choose a number from 0 to 1000.")})
    profile = AgentProfile.objects.select_for_update().filter(user=user).first()
    before: dict[str, Any] = {"skills": [], "ticket_capacity": None}
    if profile is not None:
        before = {"skills": list(profile.skills), "ticket_capacity": profile.ticket_capacity}
    after: dict[str, Any] = {"skills": cleaned, "ticket_capacity": ticket_capacity}
    if before == after:
        return False
    profile = profile or AgentProfile(user=user)
    profile.skills, profile.ticket_capacity = cleaned, ticket_capacity
    profile.save()
    audit_log_record(
        actor=changed_by,
        action="user.routing",
        object_type="user",
        object_id=user.pk,
        data={"username": user.get_username(), "before": before, "after": after},
    )
    return True


@dataclass
class TicketLoads:
    """Queue members, their skills, capacities and open-ticket loads, updated as tickets are
    handed out."""

    members: dict[int, list[int]] = field(default_factory=dict)
    skills: dict[int, frozenset[str]] = field(default_factory=dict)
    capacity: dict[int, int | None] = field(default_factory=dict)
    loads: dict[int, int] = field(default_factory=dict)

    def pick(
        self, queue_id: int, needs: Iterable[str], *, exclude: int | None = None
    ) -> int | None:
        """The least-loaded member of the queue with every skill in `needs` and room (then the
        lowest id), other than `exclude`; None when nobody fits."""
        wanted = set(needs)
        fitting = [
            agent
            for agent in self.members.get(queue_id, [])
            if agent != exclude
            and wanted <= self.skills[agent]
            and (self.capacity[agent] is None or self.loads[agent] < (self.capacity[agent] or 0))
        ]
        if not fitting:
            return None
        return min(fitting, key=lambda agent: (self.loads[agent], agent))

    def take(self, agent_id: int) -> None:
        self.loads[agent_id] += 1


def ticket_loads(queue_ids: Iterable[int]) -> TicketLoads:
    """The available members of these queues (active, not marked away) with their skills,
    capacity and open tickets (two queries)."""
    state = TicketLoads()
    rows = Queue.members.through.objects.filter(
        queue_id__in=set(queue_ids), user__is_active=True
    ).values(
        "queue_id",
        "user_id",
        "user__agent_profile__is_available",
        "user__agent_profile__skills",
        "user__agent_profile__ticket_capacity",
    )
    for row in rows:
        if row["user__agent_profile__is_available"] is False:
            continue
        agent = row["user_id"]
        state.members.setdefault(row["queue_id"], []).append(agent)
        state.skills[agent] = frozenset(row["user__agent_profile__skills"] or [])
        state.capacity[agent] = row["user__agent_profile__ticket_capacity"]
        state.loads[agent] = 0
    for agent, count in (
        Ticket.objects.filter(assignee_id__in=list(state.loads), status__in=OPEN_TICKET_STATUSES)
        .values("assignee_id")
        .annotate(n=Count("id"))
        .values_list("assignee_id", "n")
    ):
        state.loads[agent] = count
    return state


def _default_queue() -> Queue:
    return queues_by_slug({DEFAULT_QUEUE_SLUG})[DEFAULT_QUEUE_SLUG]


def ticket_lock() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [ASSIGNMENT_LOCK, TICKET_LOCK])


def _assign(tickets: dict[int, Ticket], chosen: dict[int, int], *, at: dt.datetime) -> int:
    """Give each ticket its chosen agent (guarded: only if still unassigned and open), mark the
    routes and announce each assignment. Returns how many were assigned."""
    if not chosen:
        return 0
    by_agent: dict[int, list[int]] = {}
    for ticket_id, agent in chosen.items():
        by_agent.setdefault(agent, []).append(ticket_id)
    done: list[int] = []
    for agent, ids in by_agent.items():
        taken = list(
            Ticket.objects.filter(
                pk__in=ids, assignee__isnull=True, status__in=OPEN_TICKET_STATUSES
            ).values_list("pk", flat=True)
        )
        Ticket.objects.filter(pk__in=taken).update(assignee_id=agent, updated_at=at)
        done.extend(taken)
    TicketRoute.objects.filter(ticket_id__in=done).update(assigned_at=at, updated_at=at)
    for ticket in Ticket.objects.filter(pk__in=done).order_by("pk"):
        tickets[ticket.pk] = ticket
        ticket_change_announce(TicketChange(ticket=ticket, kind=TicketChangeKind.ASSIGNED, at=at))
    return len(done)


def ticket_route(*, ticket: Ticket, at: dt.datetime | None = None) -> TicketRoute:
    """Route one new ticket and give it to an agent if one has room (in the caller's
    transaction: ticket_open's, through the ticket listener)."""
    at = at or timezone.now()
    facts = customer_facts([ticket.customer_id])[ticket.customer_id]
    rule, skills = route_choose(active_rules(), facts, ticket.kind)
    queue = (
        rule.queue if rule is not None else queues_by_slug({DEFAULT_QUEUE_SLUG})[DEFAULT_QUEUE_SLUG]
    )
    route, _created = TicketRoute.objects.update_or_create(
        ticket=ticket,
        defaults={
            "queue": queue,
            "rule": rule,
            "required_skills": skills,
            "routed_at": at,
            "assigned_at": at if ticket.assignee_id else None,
        },
    )
    if ticket.assignee_id is None:
        ticket_lock()
        agent = ticket_loads([queue.pk]).pick(queue.pk, skills)
        if agent is not None:
            _assign({ticket.pk: ticket}, {ticket.pk: agent}, at=at)
            ticket.refresh_from_db(fields=["assignee", "updated_at"])
            route.assigned_at = at
    return route


def ticket_change_route(change: TicketChange) -> None:
    """Ticket listener: route opened tickets; keep the route's assigned mark in step with
    assignments made elsewhere (a ticket unassigned waits again)."""
    if change.kind == TicketChangeKind.OPENED:
        ticket_route(ticket=change.ticket, at=change.at)
    elif change.kind == TicketChangeKind.ASSIGNED:
        TicketRoute.objects.filter(ticket_id=change.ticket.pk).update(
            assigned_at=change.at if change.ticket.assignee_id else None, updated_at=change.at
        )


def _priority_order(lookup: str) -> Case:
    """Urgent first (0) to low (3), as a sortable number."""
    return Case(
        *[When(**{lookup: value}, then=Value(rank)) for value, rank in PRIORITY_RANK.items()],
        default=Value(len(PRIORITY_RANK)),
        output_field=IntegerField(),
    )


def _route_unrouted(now: dt.datetime) -> int:
    """Route open, unassigned tickets that have no route (written set-based) in one batch."""
    tickets = list(
        Ticket.objects.filter(
            status__in=OPEN_TICKET_STATUSES, assignee__isnull=True, route__isnull=True
        ).order_by("opened_at", "id")[:WAITING_BATCH]
    )
    if not tickets:
        return 0
    rules = active_rules()
    facts = customer_facts(ticket.customer_id for ticket in tickets)
    default = _default_queue()
    routes = []
    for ticket in tickets:
        rule, skills = route_choose(rules, facts[ticket.customer_id], ticket.kind)
        routes.append(
            TicketRoute(
                ticket=ticket,
                queue_id=rule.queue_id if rule is not None else default.pk,
                rule=rule,
                required_skills=skills,
                routed_at=now,
            )
        )
    TicketRoute.objects.bulk_create(routes, ignore_conflicts=True)
    return len(routes)


@transaction.atomic
def tickets_assign_waiting(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Route unrouted open tickets, then hand waiting ones (routed, open, unassigned) to the
    least-loaded member of their queue with the skills and room: most urgent, then oldest
    first. Safe to run twice. Returns {"routed", "assigned"}."""
    now = now or timezone.now()
    routed = _route_unrouted(now)
    waiting = list(
        TicketRoute.objects.filter(
            assigned_at__isnull=True,
            ticket__assignee__isnull=True,
            ticket__status__in=OPEN_TICKET_STATUSES,
        )
        .annotate(rank=_priority_order("ticket__priority"))
        .order_by("rank", "ticket__opened_at", "ticket_id")
        .values("ticket_id", "queue_id", "required_skills")[:WAITING_BATCH]
    )
    if not waiting:
        return {"routed": routed, "assigned": 0}
    ticket_lock()
    state = ticket_loads({row["queue_id"] for row in waiting})
    chosen: dict[int, int] = {}
    for row in waiting:
        agent = state.pick(row["queue_id"], row["required_skills"])
        if agent is not None:
            state.take(agent)
            chosen[row["ticket_id"]] = agent
    return {"routed": routed, "assigned": _assign({}, chosen, at=now)}


@transaction.atomic
def ticket_route_override(
    *,
    ticket: Ticket,
    by: User,
    queue: Queue | None = None,
    assignee: User | None = None,
    reason: str = "",
) -> TicketRoute:
    """A supervisor moves a ticket to another queue and/or gives it to any agent (skills and
    capacity are theirs to overrule); no assignee with a queue: it waits in that queue. Audited
    as "ticket.route"."""
    if not has_role(by, MANAGER_ROLES):
        raise TaskAccessDenied(_("Only supervisors may move tickets."))
    if queue is None and assignee is None:
        raise ValidationError(_("Choose an agent or a queue."))
    if assignee is not None and (not assignee.is_active or not has_role(assignee, STAFF_ROLES)):
        raise ValidationError(
            _("%(user)s cannot be assigned a ticket: not an active call-center user.")
            % {"user": assignee}
        )
    locked = Ticket.objects.select_for_update().get(pk=ticket.pk)
    if locked.status not in OPEN_TICKET_STATUSES:
        raise ValidationError(_("The ticket is closed."))
    now = timezone.now()
    route = TicketRoute.objects.select_for_update().filter(ticket=locked).first()
    before = {
        "queue": route.queue_id if route else None,
        "assignee": locked.assignee_id,
    }
    if route is None:
        route = TicketRoute(
            ticket=locked,
            queue=queue or _default_queue(),
            routed_at=now,
        )
    elif queue is not None:
        route.queue = queue
    new_assignee = assignee.pk if assignee is not None else None
    route.assigned_at = now if new_assignee else None
    route.save()
    if locked.assignee_id != new_assignee:
        locked.assignee_id = new_assignee
        locked.save(update_fields=["assignee", "updated_at"])
        ticket_change_announce(
            TicketChange(ticket=locked, kind=TicketChangeKind.ASSIGNED, at=now, by=by)
        )
    audit_log_record(
        actor=by,
        action="ticket.route",
        object_type="ticket",
        object_id=locked.pk,
        data={
            "before": before,
            "after": {"queue": route.queue_id, "assignee": new_assignee},
            "reason": reason[:255],
        },
    )
    return route


def agents_with_load(*, user_ids: Iterable[int] | None = None) -> list[dict[str, Any]]:
    """Active staff with their skills, capacity and open tickets (the agents API and page); one
    query."""
    users = User.objects.filter(is_active=True, groups__name__in=STAFF_ROLES).distinct()
    if user_ids is not None:
        users = users.filter(pk__in=list(user_ids))
    rows = (
        users.annotate(
            open_tickets=Count(
                "tickets", filter=Q(tickets__status__in=OPEN_TICKET_STATUSES), distinct=True
            )
        )
        .order_by("username")
        .values(
            "pk",
            "username",
            "agent_profile__skills",
            "agent_profile__ticket_capacity",
            "agent_profile__is_available",
            "open_tickets",
        )
    )
    return [dict(row) for row in rows]

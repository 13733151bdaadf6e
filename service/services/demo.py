"""The living demo of `make run`: what a new user would otherwise set up from a shell.

`demo_start` (command `demo_start`, run by `make run` after `seed_demo`) installs the care
playbook and switches on its demo rules, puts the demo staff in the playbook's queues (so
routed tickets and queued call tasks reach someone), fits the churn and value models, runs the
first segment refresh (scores, clusters, memberships), replays a week of care work through
the real services (complaints, surveys, agents working their call tasks, resolutions), then the
reachability pass and the duplicate finder. It lives here, in the top layer, because it drives
every app below.

`demo_traffic_tick` (command `demo_traffic`, a loop `make run` starts when DEMO_TRAFFIC is on)
rings a demo agent's desk through the CTI service the telephony webhook uses and now and then
opens a complaint through the ticket service, so pops, care tasks and KPIs move.

Both refuse (DemoRefused) unless the settings allow the demo (DEMO_ALLOWED: dev and test
settings only) and every customer in the database is a demo customer: never production, never
a database with real data. The start runs once per database (its audit row is the mark); a
second call changes nothing.
"""

import datetime as dt
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import time_machine
from django.conf import settings
from django.contrib.auth.models import User
from django.db.models import Max, Min, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from callcenter.choices import (
    OPEN_TICKET_STATUSES,
    ContactKind,
    CustomerStatus,
    InteractionChannel,
    OrderStatus,
    SurveyKind,
    TicketKind,
    TicketPriority,
)
from callcenter.errors import ApplicationError
from callcenter.models import AuditLog, ContactPoint, Customer, Ticket
from callcenter.services.activity import order_record, survey_record, ticket_open, ticket_resolve
from callcenter.services.audit import audit_log_record
from callcenter.services.cti import cti_call_event
from callcenter.services.demo import DEMO_ID_PREFIX, TICKET_SUBJECTS
from callcenter.services.identity import merge_proposals_refresh
from care.choices import StepChannel
from care.models import CareRule
from care.playbook import playbook_install
from care.services.rules import care_rule_activate
from care.services.tick import care_tick
from outreach.choices import TaskOutcome, TaskStatus
from outreach.models import OutreachTask, Queue
from outreach.services.capacity import center_zone
from outreach.services.queue_members import agent_queues_set
from outreach.services.reach import reach_refresh
from outreach.services.routing import tickets_assign_waiting
from outreach.services.tasks import outreach_task_claim, outreach_task_complete
from segments.services.churn import churn_model_train
from segments.services.refresh import segment_refresh
from segments.services.value_model import value_model_train

STARTED_ACTION = "demo.started"
# The playbook rules the demo switches on: every one a demo's data can trigger (not the
# repayment reminder, which waits for an external system's events, nor the monthly reports).
DEMO_RULE_KEYS = (
    "complaint-opened",
    "complaint-resolved",
    "ticket-resolved-csat",
    "negative-call-sentiment",
    "nps-detractor",
    "nps-promoter",
    "churn-risk-high-value",
    "business-first-order",
    "first-order",
    "dormant-wake-up",
    "birthday",
)
# The playbook's queues each demo user works (added to what they already have).
DEMO_QUEUES = {
    "agent1": ("general", "senior", "to-b"),
    "agent2": ("general",),
    "supervisor": ("senior", "supervisors"),
}
DEMO_AGENTS = ("agent1", "agent2")
# The replayed care history: days before today, and what happens on each.
HISTORY_DAYS = 7
COMPLAINTS_PER_DAY = (2, 5)
SURVEYS_PER_DAY = (2, 4)
REACHED_SHARE = 0.8
RESOLVED_SHARE = 0.7
# Complaint subjects of the traffic generator and the replay, and the agents' notes: demo data,
# written as the demo's agents would (callcenter.services.demo), not translated.
COMPLAINT_SUBJECTS = TICKET_SUBJECTS[TicketKind.COMPLAINT]
CALL_NOTE = "已回访，客户对处理方案表示满意。"
RESOLUTION_NOTE = "已补发商品，客户同意结案。"


class DemoRefused(ApplicationError):
    """The demo may not run here (settings or data)."""


@dataclass
class DemoStartResult:
    """What `demo_start` did: one line per step with its seconds, or why it did nothing."""

    started: bool
    note: str = ""
    steps: list[tuple[str, float, str]] = field(default_factory=list)


def demo_refusal() -> str | None:
    """Why the demo may not run against this database with these settings, or None."""
    if not getattr(settings, "DEMO_ALLOWED", False):
        return _("The demo never runs with these settings (DEMO_ALLOWED is off: production).")
    if not Customer.objects.exists():
        return _("There are no customers: load the demo data first (seed_demo).")
    # external_id NULL counts as real too (exclude keeps NULLs).
    if Customer.objects.exclude(external_id__startswith=DEMO_ID_PREFIX).exists():
        return _(
            "The database holds customers that are not demo data: the demo leaves real data alone."
        )
    return None


def demo_require() -> None:
    """Raise DemoRefused unless the demo may run here."""
    reason = demo_refusal()
    if reason is not None:
        raise DemoRefused(reason)


def demo_started_at() -> dt.datetime | None:
    """When `demo_start` set this database up, if it did."""
    return (
        AuditLog.objects.filter(action=STARTED_ACTION)
        .order_by("pk")
        .values_list("at", flat=True)
        .first()
    )


def _staff() -> dict[str, User]:
    users = User.objects.filter(
        username__in=[*DEMO_QUEUES, "admin"], is_active=True
    ).select_related("agent_profile")
    return {user.username: user for user in users}


def demo_staff_place(staff: dict[str, User]) -> int:
    """Add the demo staff to the playbook's queues (DEMO_QUEUES); returns the users changed."""
    queues = dict(Queue.objects.values_list("slug", "pk"))
    through = Queue.members.through
    changed = 0
    for username, slugs in DEMO_QUEUES.items():
        user = staff.get(username)
        if user is None:
            continue
        current = set(through.objects.filter(user_id=user.pk).values_list("queue_id", flat=True))
        wanted = current | {queues[slug] for slug in slugs if slug in queues}
        changed += agent_queues_set(user=user, queue_ids=wanted, changed_by=None)
    return changed


def demo_rules_activate(*, by: User | None) -> list[str]:
    """Switch on the demo's playbook rules that are off; returns their keys."""
    activated = []
    for rule in CareRule.objects.filter(playbook_key__in=DEMO_RULE_KEYS, is_active=False):
        care_rule_activate(rule=rule, activated_by=by)
        activated.append(rule.playbook_key)
    return sorted(activated)


def _demo_caller_ids() -> list[int]:
    """The active demo customers who can be phoned (one query)."""
    return list(
        Customer.objects.filter(
            status=CustomerStatus.ACTIVE,
            call_opt_out=False,
            contact_points__kind=ContactKind.PHONE,
            contact_points__is_active=True,
        )
        .values_list("pk", flat=True)
        .distinct()
        .order_by("pk")
    )


@dataclass
class _Replay:
    """Days of care work replayed day by day through the real services, each at its
    moment: the services read the clock themselves (a ticket's event, a task's completion, the
    dispatcher's sends), so the process clock is set to each moment (time_machine), and every
    row says when it happened as if the center had worked those days."""

    rng: random.Random
    staff: dict[str, User]
    callers: list[int]
    counts: dict[str, int] = field(default_factory=dict)

    def count(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n

    def pick(self, bounds: tuple[int, int]) -> list[Customer]:
        """Between bounds[0] and bounds[1] distinct callers, drawn at random."""
        chosen = self.rng.sample(self.callers, min(self.rng.randint(*bounds), len(self.callers)))
        return list(Customer.objects.filter(pk__in=chosen).order_by("pk"))

    def at(self, day: dt.date, hour: int, minute: int, action: Callable[[], None]) -> None:
        self.when(dt.datetime.combine(day, dt.time(hour, minute), tzinfo=center_zone()), action)

    def when(self, moment: dt.datetime, action: Callable[[], None]) -> None:
        with time_machine.travel(moment, tick=False):
            action()

    def day(self, day: dt.date) -> None:
        """A day of the center: complaints and survey answers come in, the care passes plan
        and send, agents work their calls, complaints get resolved, some customers buy
        again; the afternoon's passes send what that started."""
        self.at(day, 9, 30, self.complaints_and_surveys)
        self.at(day, 9, 31, self.tick)
        self.at(day, 11, 0, self.work_calls)
        self.at(day, 15, 0, self.resolve)
        self.at(day, 15, 30, self.orders)
        self.at(day, 17, 0, self.tick)

    def tick(self) -> None:
        care_tick()
        self.count("care_ticks")

    def complaints_and_surveys(self) -> None:
        agents = [self.staff[name] for name in DEMO_AGENTS if name in self.staff]
        for customer in self.pick(COMPLAINTS_PER_DAY):
            ticket_open(
                customer=customer,
                kind=TicketKind.COMPLAINT,
                subject=self.rng.choice(COMPLAINT_SUBJECTS),
                priority=TicketPriority.HIGH,
                channel=InteractionChannel.CALL,
                by=self.rng.choice(agents) if agents else None,
            )
            self.count("complaints")
        for customer in self.pick(SURVEYS_PER_DAY):
            survey_record(customer=customer, kind=SurveyKind.NPS, score=self.rng.randint(0, 10))
            self.count("surveys")

    def _worker_for(self, task: OutreachTask, members: dict[int, list[User]]) -> User | None:
        """The task's assignee, else one of its queue's demo members, else the supervisor."""
        if task.assignee is not None:
            return task.assignee
        candidates = members.get(task.queue_id or 0, [])
        return self.rng.choice(candidates) if candidates else self.staff.get("supervisor")

    def work_calls(self) -> None:
        """The agents work the call tasks due in their queues (most reach the customer)."""
        by_pk = {user.pk: user for user in self.staff.values()}
        members: dict[int, list[User]] = {}
        for queue_id, user_id in Queue.members.through.objects.filter(
            user_id__in=by_pk
        ).values_list("queue_id", "user_id"):
            members.setdefault(queue_id, []).append(by_pk[user_id])
        due = OutreachTask.objects.filter(
            channel=StepChannel.CALL,
            status=TaskStatus.PENDING,
            due_at__lte=timezone.now(),
        ).filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=timezone.now()))
        for task in due.select_related("assignee").order_by("pk"):
            worker = self._worker_for(task, members)
            if worker is None:
                continue
            try:
                task = outreach_task_claim(task=task, user=worker)
            except ApplicationError:
                continue
            reached = self.rng.random() < REACHED_SHARE
            outreach_task_complete(
                task=task,
                user=worker,
                outcome=TaskOutcome.REACHED if reached else TaskOutcome.NO_ANSWER,
                notes=CALL_NOTE if reached else "",
            )
            self.count("calls_done")

    def resolve(self) -> None:
        """Complaints opened at least a day ago are mostly resolved by their assignee."""
        before = timezone.now() - dt.timedelta(days=1)
        for ticket in Ticket.objects.filter(
            kind=TicketKind.COMPLAINT,
            status__in=OPEN_TICKET_STATUSES,
            opened_at__lte=before,
            opened_at__gte=before - dt.timedelta(days=HISTORY_DAYS),
        ).select_related("assignee", "customer"):
            if self.rng.random() >= RESOLVED_SHARE:
                continue
            by = ticket.assignee or self.staff.get("supervisor")
            try:
                ticket_resolve(ticket=ticket, by=by, text=RESOLUTION_NOTE)
            except ApplicationError:
                continue
            self.count("resolved")

    def orders(self) -> None:
        """A few customers cared for that day buy again (the reports' conversions)."""
        enrolled = list(
            Customer.objects.filter(
                care_enrollments__enrolled_at__gte=timezone.now() - dt.timedelta(days=3),
                status=CustomerStatus.ACTIVE,
            )
            .values_list("pk", flat=True)
            .distinct()
            .order_by("pk")
        )
        for customer_id in self.rng.sample(enrolled, min(2, len(enrolled))):
            order_record(
                customer=Customer.objects.get(pk=customer_id),
                external_id=f"{DEMO_ID_PREFIX}-R{customer_id}-{timezone.now():%Y%m%d}",
                placed_at=timezone.now(),
                amount=Decimal(str(round(self.rng.uniform(80, 900), 2))),
                category="services",
                channel="phone",
                status=OrderStatus.PAID,
            )
            self.count("orders")


def demo_history_replay(*, days: int = HISTORY_DAYS, seed: int = 20261205) -> dict[str, int]:
    """Replay `days` days of care work before today (see _Replay); returns what it did."""
    rng = random.Random(seed)  # noqa: S311 - demo data
    replay = _Replay(rng=rng, staff=_staff(), callers=_demo_caller_ids())
    today = timezone.localdate()
    for back in range(days, 0, -1):
        replay.day(today - dt.timedelta(days=back))
    # The last minutes' complaints: their call tasks wait in the queues for the first visitor.
    recently = timezone.now() - dt.timedelta(minutes=10)
    replay.when(recently, replay.complaints_and_surveys)
    replay.when(recently + dt.timedelta(minutes=1), replay.tick)
    return replay.counts


def demo_start(
    *,
    on_step: Callable[[str, float, str], None] | None = None,
    history_days: int = HISTORY_DAYS,
) -> DemoStartResult:
    """Make the demo database alive (see the module's docstring); once per database.
    `on_step(name, seconds, summary)` hears of each step as it ends."""
    demo_require()
    started_at = demo_started_at()
    if started_at is not None:
        return DemoStartResult(
            started=False,
            note=_("The demo was set up on %(when)s; nothing to do.")
            % {"when": timezone.localtime(started_at).strftime("%Y-%m-%d %H:%M")},
        )
    result = DemoStartResult(started=True)

    def step(name: str, action: Callable[[], Any]) -> Any:
        began = time.monotonic()
        outcome = action()
        seconds = time.monotonic() - began
        summary = _summary(outcome)
        result.steps.append((name, seconds, summary))
        if on_step is not None:
            on_step(name, seconds, summary)
        return outcome

    staff = _staff()
    admin = staff.get("admin")
    step("playbook", lambda: playbook_install(installed_by=admin))
    step("queues", lambda: {"staff_placed": demo_staff_place(staff)})
    step("tickets routed", tickets_assign_waiting)
    step("churn model", lambda: churn_model_train(as_of=timezone.now()))
    step("value model", lambda: value_model_train(as_of=timezone.now()))
    step("first refresh", lambda: segment_refresh(full=True))
    step("rules switched on", lambda: {"activated": len(demo_rules_activate(by=admin))})
    step("care history", lambda: demo_history_replay(days=history_days))
    step("reachability", lambda: reach_refresh(full=True))
    step("duplicates", merge_proposals_refresh)
    audit_log_record(
        actor=None,
        action=STARTED_ACTION,
        object_type="demo",
        data={"steps": {name: round(seconds, 2) for name, seconds, _s in result.steps}},
    )
    return result


def _summary(outcome: Any) -> str:
    """A short line of what a step returned (counts, a run's status, a model's version)."""
    if isinstance(outcome, dict):
        return ", ".join(
            f"{key} {value}"
            for key, value in outcome.items()
            if isinstance(value, int | float) and not isinstance(value, bool)
        )
    if hasattr(outcome, "status") and hasattr(outcome, "pk"):
        version = getattr(outcome, "version", None)
        counts = getattr(outcome, "counts", None) or {}
        scored = f", {counts['customers']} customers" if "customers" in counts else ""
        return f"{outcome.status}{f' v{version}' if version else ''}{scored}"
    if hasattr(outcome, "found"):
        return f"{outcome.found} pairs, {outcome.created} new proposals"
    return ""


# ---------------------------------------------------------------------------------------------
# Traffic


def demo_traffic_refusal() -> str | None:
    """Why the traffic generator may not run, or None."""
    reason = demo_refusal()
    if reason is not None:
        return reason
    if not getattr(settings, "DEMO_TRAFFIC", False):
        return _("DEMO_TRAFFIC is off.")
    if demo_started_at() is None:
        return _("The demo is not set up yet (demo_start).")
    return None


def _random_caller(rng: random.Random) -> tuple[Customer, str] | None:
    """A random active demo customer's active phone number: a random point in the id range,
    then the next row (two indexed queries, whatever the table's size)."""
    phones = ContactPoint.objects.filter(
        kind=ContactKind.PHONE,
        is_active=True,
        customer__status=CustomerStatus.ACTIVE,
        customer__external_id__startswith=DEMO_ID_PREFIX,
    )
    bounds = phones.aggregate(lo=Min("pk"), hi=Max("pk"))
    if bounds["lo"] is None:
        return None
    start = rng.randint(bounds["lo"], bounds["hi"])
    row = phones.filter(pk__gte=start).order_by("pk").values_list("customer_id", "value").first()
    if row is None:
        return None
    return Customer.objects.get(pk=row[0]), row[1]


def demo_traffic_tick(*, rng: random.Random, complaint_share: float = 0.25) -> dict[str, Any]:
    """One beat of demo traffic: a demo customer rings a demo agent's desk (the CTI service,
    as the telephony webhook calls it: the agent's open desk pops the card), and with
    `complaint_share` the call ends in a complaint ticket (the ticket service: routing, SLA
    and the care rules react as to any). Returns what happened."""
    reason = demo_traffic_refusal()
    if reason is not None:
        raise DemoRefused(reason)
    caller = _random_caller(rng)
    agents = sorted(
        User.objects.filter(username__in=DEMO_AGENTS, is_active=True).values_list(
            "username", flat=True
        )
    )
    if caller is None or not agents:
        raise DemoRefused(_("The demo has no customer with a phone or no active demo agent."))
    customer, phone = caller
    agent = rng.choice(agents)
    pop = cti_call_event(
        event="ringing",
        call_id=f"demo-{rng.getrandbits(48):012x}",
        caller=phone,
        agent=agent,
        posted_by=None,
    )
    outcome: dict[str, Any] = {
        "agent": agent,
        "customer_id": customer.pk,
        "delivered": pop["delivered"],
        "ticket_id": None,
    }
    if rng.random() < complaint_share:
        ticket = ticket_open(
            customer=customer,
            kind=TicketKind.COMPLAINT,
            subject=rng.choice(COMPLAINT_SUBJECTS),
            priority=TicketPriority.HIGH,
            channel=InteractionChannel.CALL,
            by=User.objects.get(username=agent),
        )
        outcome["ticket_id"] = ticket.pk
    return outcome

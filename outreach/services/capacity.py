"""Agent capacity: who can take a call task on a given day, and who is least loaded.

An agent's load on day D (in TIME_ZONE) is the number of call tasks on their plate that day:
open tasks due on D (for today, also every open task already overdue) plus the tasks they
completed on D. The limit is `AgentProfile.daily_task_limit`, or `CareSettings.agent_daily_limit`
when the profile leaves it empty. An agent is available unless their profile says otherwise
(a user without a profile is available) and their account is active.

Skills (the skills routing prefers for a call's customer, outreach.services.routing_rules.
call_skills) are preferred in two passes over a batch already in priority order
(`assign_preferring`): first, group by group (groups of calls preferring the same skills, in
the order of their sorted skills), each call goes to the least-loaded candidate with room who
has every one of its skills; then every call still without an agent goes, in priority order,
to the least-loaded candidate with room. Ties go to the lowest id. When the calls of a batch
prefer one set of skills (or nobody has the skills) this is exactly "skilled agents first,
then least loaded, one call after the other"; without skilled agents it is the plain "least
loaded, then lowest id". The campaign path (parts/care_campaigns.py) hands out its slots in
the same two passes, set-based.

Everything is read in a handful of set-based queries per batch; the choice itself is a small
in-memory loop over the batch (tasks sorted by priority), which keeps the loads up to date as
tasks are handed out.
"""

import datetime as dt
import zoneinfo
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Case, Count, DateTimeField, F, Q, Value, When
from django.db.models.functions import Greatest, TruncDate
from django.utils import timezone
from django.utils.text import slugify

from callcenter.models import AgentProfile
from care.choices import AssigneeRule, StepChannel
from care.models import CareSettings
from outreach.choices import OPEN_TASK_STATUSES, TaskStatus
from outreach.models import OutreachTask, Queue

DEFAULT_QUEUE_SLUG = "general"
# Queues whose work belongs to supervisors: a breach there notifies supervisors instead of
# reassigning. A least-loaded target naming the `supervisor` group lands in the first one.
SUPERVISOR_QUEUE_SLUGS = frozenset({"supervisor", "supervisors"})


def center_zone() -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def work_day(moment: dt.datetime, today: dt.date) -> dt.date:
    """The day a task due at `moment` weighs on: its due day, or today if it is overdue."""
    return max(timezone.localtime(moment, center_zone()).date(), today)


def queue_slug(target: str) -> str:
    return slugify(target)[:64] or DEFAULT_QUEUE_SLUG


def queues_by_slug(slugs: Iterable[str]) -> dict[str, Queue]:
    """The queues with these slugs, creating the missing ones (named after their slug) so a
    task always lands in a queue a supervisor sees; concurrent creators are tolerated."""
    wanted = set(slugs)
    if not wanted:
        return {}
    found = {queue.slug: queue for queue in Queue.objects.filter(slug__in=wanted)}
    missing = wanted - set(found)
    if missing:
        Queue.objects.bulk_create(
            [Queue(slug=slug, name=slug.replace("-", " ").title()) for slug in sorted(missing)],
            ignore_conflicts=True,
        )
        found = {queue.slug: queue for queue in Queue.objects.filter(slug__in=wanted)}
    return found


def pool_members(targets: Iterable[str]) -> dict[str, list[int]]:
    """User ids behind each least-loaded target: the members of the queue with that slug plus
    the users of the group with that name (either may be missing). Two queries in all."""
    wanted = {target for target in targets if target}
    pools: dict[str, set[int]] = {target: set() for target in wanted}
    if not wanted:
        return {}
    by_slug = {queue_slug(target): target for target in wanted}
    for slug, user_id in Queue.members.through.objects.filter(
        queue__slug__in=list(by_slug)
    ).values_list("queue__slug", "user_id"):
        pools[by_slug[slug]].add(user_id)
    user_model = get_user_model()
    for name, user_id in user_model.groups.through.objects.filter(
        group__name__in=list(wanted)
    ).values_list("group__name", "user_id"):
        pools[name].add(user_id)
    return {target: sorted(ids) for target, ids in pools.items()}


@dataclass
class Capacity:
    """Limits, availability and loads of a set of agents, updated as tasks are handed out."""

    today: dt.date
    limits: dict[int, int] = field(default_factory=dict)
    available: set[int] = field(default_factory=set)
    loads: dict[tuple[int, dt.date], int] = field(default_factory=lambda: defaultdict(int))
    skills: dict[int, frozenset[str]] = field(default_factory=dict)

    def has_room(self, agent_id: int, day: dt.date) -> bool:
        return agent_id in self.available and self.loads[(agent_id, day)] < self.limits[agent_id]

    def pick(self, candidates: Iterable[int], day: dt.date) -> int | None:
        """The available candidate with room on `day` and the fewest tasks (lowest id on a tie)."""
        fitting = [agent for agent in candidates if self.has_room(agent, day)]
        if not fitting:
            return None
        return min(fitting, key=lambda agent: (self.loads[(agent, day)], agent))

    def take(self, agent_id: int, day: dt.date) -> None:
        self.loads[(agent_id, day)] += 1


def capacity_load(
    *, agent_ids: Iterable[int], days: Iterable[dt.date], now: dt.datetime | None = None
) -> Capacity:
    """Limits, availability and per-day loads of `agent_ids` for `days` (three queries)."""
    now = now or timezone.now()
    zone = center_zone()
    today = timezone.localtime(now, zone).date()
    ids = sorted(set(agent_ids))
    capacity = Capacity(today=today)
    if not ids:
        return capacity
    default_limit = CareSettings.load().agent_daily_limit
    profiles = {
        row["user_id"]: row
        for row in AgentProfile.objects.filter(user_id__in=ids).values(
            "user_id", "daily_task_limit", "is_available", "skills"
        )
    }
    active = set(
        get_user_model().objects.filter(pk__in=ids, is_active=True).values_list("pk", flat=True)
    )
    for agent in ids:
        profile: Mapping[str, Any] = profiles.get(agent, {})
        capacity.limits[agent] = profile.get("daily_task_limit") or default_limit
        capacity.skills[agent] = frozenset(profile.get("skills") or [])
        if agent in active and profile.get("is_available", True):
            capacity.available.add(agent)
    wanted_days = {max(day, today) for day in days}
    first = dt.datetime.combine(min(wanted_days), dt.time.min, zone)
    start_today = dt.datetime.combine(today, dt.time.min, zone)
    end = dt.datetime.combine(max(wanted_days) + dt.timedelta(days=1), dt.time.min, zone)
    on_plate = Case(
        When(status=TaskStatus.DONE, then=F("completed_at")),
        default=Greatest(F("due_at"), Value(start_today)),
        output_field=DateTimeField(),
    )
    rows = (
        OutreachTask.objects.filter(channel=StepChannel.CALL, assignee_id__in=ids)
        .filter(
            Q(status=TaskStatus.DONE, completed_at__gte=first, completed_at__lt=end)
            | Q(status__in=OPEN_TASK_STATUSES, due_at__lt=end)
        )
        .annotate(day=TruncDate(on_plate, tzinfo=zone))
        .values("assignee_id", "day")
        .annotate(n=Count("id"))
    )
    for row in rows:
        if row["day"] in wanted_days:
            capacity.loads[(row["assignee_id"], row["day"])] = row["n"]
    return capacity


@dataclass(frozen=True)
class Want:
    """One call to place: its key, who may take it, the day it weighs on, skills preferred."""

    key: Any
    candidates: list[int]
    day: dt.date
    prefer: frozenset[str] = frozenset()


def skill_groups(prefers: Iterable[frozenset[str]]) -> list[frozenset[str]]:
    """The distinct non-empty skill sets in the order the first pass serves them."""
    return sorted({prefer for prefer in prefers if prefer}, key=sorted)


def assign_preferring(capacity: Capacity, wants: list[Want]) -> dict[Any, int]:
    """Agents for `wants` (in priority order) in the two passes above; updates `capacity`."""
    chosen: dict[Any, int] = {}
    for group in skill_groups(want.prefer for want in wants):
        for want in wants:
            if want.prefer != group:
                continue
            skilled = [
                agent
                for agent in want.candidates
                if group <= capacity.skills.get(agent, frozenset())
            ]
            agent = capacity.pick(skilled, want.day)
            if agent is not None:
                capacity.take(agent, want.day)
                chosen[want.key] = agent
    for want in wants:
        if want.key in chosen:
            continue
        agent = capacity.pick(want.candidates, want.day)
        if agent is not None:
            capacity.take(agent, want.day)
            chosen[want.key] = agent
    return chosen


def push_candidates(
    *, rule: str, target: str, advisor_id: int | None, pools: dict[str, list[int]]
) -> list[int]:
    """Who may be given a call task under an assignee rule (empty: it waits in its queue)."""
    if rule == AssigneeRule.ADVISOR:
        return [advisor_id] if advisor_id else []
    if rule == AssigneeRule.LEAST_LOADED:
        return pools.get(target, [])
    return []

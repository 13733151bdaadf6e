"""What care asks of the app that carries out a campaign's plans (outreach fills
`campaign_executors` from outreach/parts/care_campaigns.py).

Campaign work is set-based: care describes the members and enrollments of a campaign as SQL
(`members_sql` selects `customer_id` of an audience; `enrollments_sql` selects `id` of the
enrollments of a campaign), with named parameters prefixed `campaign_`, and the executor acts
on all of them in a handful of statements. The contract:

- `call_capacity(steps=[step, ...], days=[date, ...], now=...)`: per call step position, the
  call tasks its queue can still take on each day (agents in the queue x their daily limit,
  minus the call tasks already due that day); call steps sharing a queue share its room.
- `steps_plan(step=..., planned_sql=..., params=...)`: create the tasks of one step for every
  row of `planned_sql` (enrollment_id, customer_id, due_at, deadline_at, priority), keyed by
  enrollment and step as plan listeners key theirs, so a second call creates nothing twice.
  Returns how many it created. Runs in care's transaction.
- `work_hold` / `work_release(shift=...)` / `work_cancel(reason=...)`: hold the not yet started
  work of these enrollments (not dispatched, not shown in queues), release it moved later by
  `shift`, or cancel everything still open with the reason. Each returns how many tasks.
- `audience_blocks(members_sql=..., params=..., channels=[...], moment=...)`: per channel, how
  many of the members are opted out, do not contact, frequency-capped, or in quiet hours at
  `moment` (deferred), in one statement.
- `progress(enrollments_sql=..., params=...)`: counts of the work: queued, held, sent,
  delivered, failed, skipped, cancelled, done.
"""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from callcenter.extensions import Registry


@dataclass(frozen=True)
class CampaignExecutor:
    """An app that carries out campaigns' plans (see the module docstring for the contract)."""

    call_capacity: Callable[..., dict[int, list[int]]]
    steps_plan: Callable[..., int]
    work_hold: Callable[..., int]
    work_release: Callable[..., int]
    work_cancel: Callable[..., int]
    audience_blocks: Callable[..., dict[str, dict[str, int]]]
    progress: Callable[..., dict[str, int]]


campaign_executors: Registry[CampaignExecutor] = Registry("care campaign executors")


def call_capacity(
    *, steps: list[dict[str, Any]], days: list[dt.date], now: dt.datetime
) -> dict[int, list[int]]:
    """Room per call step position and day, summed over the executors (0 without one)."""
    room: dict[int, list[int]] = {step["position"]: [0] * len(days) for step in steps}
    for executor in campaign_executors:
        for position, values in executor.call_capacity(steps=steps, days=days, now=now).items():
            room[position] = [a + b for a, b in zip(room[position], values, strict=True)]
    return room


def steps_plan(*, step: dict[str, Any], planned_sql: str, params: dict[str, Any]) -> int:
    return sum(
        executor.steps_plan(step=step, planned_sql=planned_sql, params=params)
        for executor in campaign_executors
    )


def work_hold(*, enrollments_sql: str, params: dict[str, Any]) -> int:
    return sum(
        executor.work_hold(enrollments_sql=enrollments_sql, params=params)
        for executor in campaign_executors
    )


def work_release(*, enrollments_sql: str, params: dict[str, Any], shift: dt.timedelta) -> int:
    return sum(
        executor.work_release(enrollments_sql=enrollments_sql, params=params, shift=shift)
        for executor in campaign_executors
    )


def work_cancel(*, enrollments_sql: str, params: dict[str, Any], reason: str) -> int:
    return sum(
        executor.work_cancel(enrollments_sql=enrollments_sql, params=params, reason=reason)
        for executor in campaign_executors
    )


def audience_blocks(
    *, members_sql: str, params: dict[str, Any], channels: list[str], moment: dt.datetime
) -> dict[str, dict[str, int]]:
    blocks: dict[str, dict[str, int]] = {}
    for executor in campaign_executors:
        found = executor.audience_blocks(
            members_sql=members_sql, params=params, channels=channels, moment=moment
        )
        for channel, counts in found.items():
            mine = blocks.setdefault(channel, {})
            for key, value in counts.items():
                mine[key] = mine.get(key, 0) + value
    return blocks


def progress(*, enrollments_sql: str, params: dict[str, Any]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for executor in campaign_executors:
        for key, value in executor.progress(enrollments_sql=enrollments_sql, params=params).items():
            totals[key] = totals.get(key, 0) + value
    return totals

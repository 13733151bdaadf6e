"""What care announces about the plans it decides, for the apps that carry them out.

Care decides who is enrolled, which steps a plan has and when each falls due and must be done
by; it does not know how a step is carried out. It announces those decisions to the
`plan_listeners` that the apps above it register in their `AppConfig.ready()` (outreach turns
planned steps into tasks: outreach/parts/care_plans.py). The contract of a `PlanListener`:

- `steps_planned(steps=[PlannedStep, ...])`: called once per processed event that enrolled
  someone into a plan with steps, with every step of the treated (not control) enrollments that
  event created, by enrollment and then step position. It runs synchronously inside care's
  transaction, so what the listener writes commits or rolls back with the enrollments, and an
  exception fails the event (recorded, then retried by the sweep). An enrollment is created
  once per event, so its steps are announced once; a listener still keys what it creates by
  (enrollment, step position), so a retried event cannot create anything twice.
- `plans_stopped(enrollment_ids=[...], reason=...)`: called in care's transaction when it stops
  plans (a stop condition was met, `reason` the StopCondition; or a plan of higher priority
  preempted them, `reason` "preempted": care.services.arbitration), with those enrollment rows
  locked and already marked stopped; the listener ends the work still open for them.
- `open_work_sql`: a boolean SQL expression over `e` (a care_enrollment row) that holds while the
  listener still has work of that enrollment open, with its named parameters in
  `open_work_params` (prefix their names with the app's). `enrollments_complete` completes an
  enrollment only when no listener's expression holds, in one statement.
"""

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Protocol

from callcenter.extensions import Registry


@dataclass(frozen=True)
class PlannedStep:
    """One step of a treated enrollment and when care wants it carried out."""

    enrollment_id: int
    customer_id: int
    # The step as the enrollment's rule version stores it (care.services.rules.rule_snapshot).
    step: dict[str, Any]
    due_at: dt.datetime
    deadline_at: dt.datetime
    # The customer's value (spend in the metrics window): capacity goes to value first.
    priority: float


class StepsPlanned(Protocol):
    """Receives the steps care planned (see the module docstring)."""

    def __call__(self, *, steps: list[PlannedStep]) -> None: ...


class PlansStopped(Protocol):
    """Receives the enrollments care stopped and why (see the module docstring)."""

    def __call__(self, *, enrollment_ids: list[int], reason: str) -> None: ...


@dataclass(frozen=True)
class PlanListener:
    """An app that carries out care's plans (see the module docstring for the contract)."""

    steps_planned: StepsPlanned
    plans_stopped: PlansStopped
    open_work_sql: str = ""
    open_work_params: dict[str, Any] = field(default_factory=dict)


plan_listeners: Registry[PlanListener] = Registry("care plan listeners")


def plan_steps_announce(*, steps: list[PlannedStep]) -> None:
    """Tell every listener about the steps care just planned (in the caller's transaction)."""
    if not steps:
        return
    for listener in plan_listeners:
        listener.steps_planned(steps=steps)


def plan_stops_announce(*, enrollment_ids: list[int], reason: str) -> None:
    """Tell every listener that these plans stopped (in the caller's transaction)."""
    for listener in plan_listeners:
        listener.plans_stopped(enrollment_ids=enrollment_ids, reason=reason)


def plan_open_work_sql() -> tuple[str, dict[str, Any]]:
    """SQL that holds while some listener still has work of enrollment `e` open ("FALSE" when
    none has any), and its parameters."""
    parts = [listener for listener in plan_listeners if listener.open_work_sql]
    if not parts:
        return "FALSE", {}
    sql = " OR ".join(f"({listener.open_work_sql})" for listener in parts)
    params: dict[str, Any] = {}
    for listener in parts:
        params.update(listener.open_work_params)
    return sql, params

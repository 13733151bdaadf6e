"""How outreach carries out care's plans (the contract is in care.services.plans): each planned
step becomes a task keyed by its enrollment and position, stopped plans cancel their open
tasks, and an open task keeps its enrollment from completing."""

from care.choices import StepChannel
from care.services.plans import PlanListener, PlannedStep, plan_listeners
from outreach.choices import OPEN_TASK_STATUSES, TaskStatus
from outreach.services.tasks import TaskSpec, outreach_tasks_cancel, outreach_tasks_create

# Holds while enrollment `e` has an open or held task (a paused campaign's plans stay active;
# served by the index of open tasks by enrollment).
OPEN_TASKS_SQL = (
    "EXISTS (SELECT 1 FROM outreach_outreachtask t"
    " WHERE t.enrollment_id = e.id AND t.status = ANY(%(outreach_open)s))"
)


def task_spec(planned: PlannedStep) -> TaskSpec:
    """The task of one planned step; its key makes creating it again harmless."""
    step = planned.step
    return TaskSpec(
        customer_id=planned.customer_id,
        channel=step["channel"],
        due_at=planned.due_at,
        deadline_at=planned.deadline_at,
        idempotency_key=f"enr:{planned.enrollment_id}:step:{step['position']}",
        touch_kind=step["touch_kind"],
        enrollment_id=planned.enrollment_id,
        step_id=step["id"],
        step_position=step["position"],
        template_id=step["template_id"],
        body=step["name"] if step["channel"] == StepChannel.CALL else "",
        assignee_rule=step["assignee_rule"],
        assignee_target=step["assignee_target"],
        priority=planned.priority,
    )


def steps_planned(*, steps: list[PlannedStep]) -> None:
    """Create the tasks of the steps care planned, in care's transaction."""
    outreach_tasks_create(specs=[task_spec(planned) for planned in steps])


def plans_stopped(*, enrollment_ids: list[int], reason: str) -> None:
    """Cancel the open tasks of the plans care stopped, with its reason."""
    outreach_tasks_cancel(enrollment_ids=enrollment_ids, reason=reason)


def register() -> None:
    plan_listeners.register(
        "outreach",
        PlanListener(
            steps_planned=steps_planned,
            plans_stopped=plans_stopped,
            open_work_sql=OPEN_TASKS_SQL,
            open_work_params={
                "outreach_open": [str(status) for status in (*OPEN_TASK_STATUSES, TaskStatus.HELD)]
            },
        ),
    )

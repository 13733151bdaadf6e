"""The outcomes care's journeys may branch on that outreach reports
(care.services.journeys.outcome_values): automated-call results and intents, and the outcomes
agents record on call tasks."""

from care.choices import WaitFor
from care.services.journeys import outcome_values
from outreach.choices import CallIntent, CallResult, TaskOutcome


def register() -> None:
    outcome_values.register(
        "outreach",
        {
            f"{WaitFor.CALL_RESULT}.results": list(CallResult.choices),
            f"{WaitFor.CALL_RESULT}.intents": list(CallIntent.choices),
            f"{WaitFor.TASK_OUTCOME}.outcomes": list(TaskOutcome.choices),
        },
    )

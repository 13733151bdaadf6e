"""The labels of the call task outcomes a completed task writes into its interaction
(callcenter.generated.interaction_outcome_labels), for the customer page and the desk."""

from callcenter.generated import interaction_outcome_labels
from outreach.choices import TaskOutcome


def register() -> None:
    interaction_outcome_labels.register("outreach", dict(TaskOutcome.choices))

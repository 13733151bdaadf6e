"""A contact an agent logged, announced to the apps above inside the writing transaction.

`interaction_log` calls `interaction_logged_announce` with the saved interaction; the upper
apps register listeners in their `AppConfig.ready()` (outreach: the after-call summary and
satisfaction ask that a call reason's settings ask for). A listener runs in the caller's
transaction, so what it writes commits or rolls back with the log. Interactions written
set-based (the CSV import) announce nothing.
"""

from collections.abc import Callable

from callcenter.extensions import Registry
from callcenter.models import Interaction

interaction_listeners: Registry[Callable[[Interaction], None]] = Registry(
    "interaction listeners (called in the writing transaction with each logged contact)"
)


def interaction_logged_announce(interaction: Interaction) -> None:
    """Tell every registered listener, in registration order."""
    for listener in interaction_listeners:
        listener(interaction)

"""The default SLA policies and calendar, installed with the care playbook
(care.playbook.playbook_setups)."""

from care.playbook import playbook_setups
from service.services.sla_defaults import sla_defaults_install


def register() -> None:
    playbook_setups.register("sla", sla_defaults_install)

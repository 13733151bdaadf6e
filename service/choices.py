"""Choices of the service app."""

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class SlaState(models.TextChoices):
    """Where a ticket stands against its SLA, as lists colour it (`SLA_STATE_COLOURS`)."""

    OK = "ok", _("On track")
    WARNING = "warning", _("Breaching soon")
    BREACHED = "breached", pgettext_lazy("sla", "Breached")
    PAUSED = "paused", _("Paused")
    MET = "met", _("Met")
    NONE = "none", _("No SLA")


# The badge colour of each state: green, amber once warned, red breached, grey paused; met blue.
SLA_STATE_COLOURS: dict[str, str] = {
    SlaState.OK: "green",
    SlaState.WARNING: "amber",
    SlaState.BREACHED: "red",
    SlaState.PAUSED: "gray",
    SlaState.MET: "blue",
    SlaState.NONE: "gray",
}

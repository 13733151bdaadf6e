"""Template filters showing a ticket's SLA: the state's label and colour, and the time left."""

from django import template
from django.utils.translation import gettext as _

from service.choices import SLA_STATE_COLOURS, SlaState

register = template.Library()


def _span(seconds: int) -> str:
    minutes = abs(seconds) // 60
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {mins:02d}m"
    return f"{mins}m"


@register.filter
def sla_left(seconds: int | None) -> str:
    """Seconds left as `2h 05m left`, or `overdue 10m` once past; empty without a due."""
    if seconds is None:
        return ""
    if seconds < 0:
        return _("overdue %(time)s") % {"time": _span(seconds)}
    return _("%(time)s left") % {"time": _span(seconds)}


@register.filter
def sla_colour(state: str) -> str:
    """The badge colour of an SLA state (`SLA_STATE_COLOURS`)."""
    return SLA_STATE_COLOURS.get(state, "gray")


@register.filter
def sla_label(state: str) -> str:
    """The SLA state's label in the user's language."""
    try:
        return str(SlaState(state).label)
    except ValueError:
        return state

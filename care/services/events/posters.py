"""Who may post which event type to POST /api/events/, and who a poster is.

Who may post which type is one table, EVENT_POSTERS; an idempotency key belongs to the client
that sent it (a user, or the signed events integration), so one client cannot take a key
another will use.
"""

from dataclasses import dataclass

from django.contrib.auth.models import User
from django.utils.translation import gettext as _

from callcenter.choices import Integration, Role
from callcenter.errors import ApplicationForbidden
from callcenter.roles import user_roles
from care.choices import EventType

# The events integration's signed requests (no user), as a poster in EVENT_POSTERS.
SIGNED_INTEGRATION = "integration"
_SYSTEMS = frozenset({Role.ADMIN.value, SIGNED_INTEGRATION})
# Who may post each event type to POST /api/events/ (roles, or the signed events integration).
# Agents post none: what they do (interactions, tickets, consent, customers) goes through its
# own API, which records the event with the record. Facts another system owns (tickets opened
# and resolved there, orders, refunds, surveys, replies on other channels, external triggers)
# come from that system, signed or with an admin's token. Supervisors may only report a reply a
# customer gave on another channel (it ends plans that stop on a reply). Types this product
# derives from its own data (interactions, consent, new customers, segment moves, birthdays,
# anniversaries, inactivity, the monthly report, dates reached, holidays, automated-call
# results, link clicks) are refused for everyone: posting one would contradict the data it is
# computed from.
EVENT_POSTERS: dict[str, frozenset[str]] = {
    EventType.TICKET_OPENED: _SYSTEMS,
    EventType.TICKET_RESOLVED: _SYSTEMS,
    EventType.FIRST_ORDER: _SYSTEMS,
    EventType.ORDER_PLACED: _SYSTEMS,
    EventType.ORDER_REFUNDED: _SYSTEMS,
    EventType.SURVEY_SUBMITTED: _SYSTEMS,
    EventType.CUSTOMER_REPLIED: _SYSTEMS | {Role.SUPERVISOR.value},
    EventType.EXTERNAL: _SYSTEMS,
    EventType.INTERACTION_LOGGED: frozenset(),
    EventType.CONSENT_CHANGED: frozenset(),
    EventType.CUSTOMER_CREATED: frozenset(),
    EventType.SEGMENT_ENTERED: frozenset(),
    EventType.SEGMENT_EXITED: frozenset(),
    EventType.BIRTHDAY: frozenset(),
    EventType.ANNIVERSARY: frozenset(),
    EventType.INACTIVITY: frozenset(),
    EventType.MONTHLY: frozenset(),
    EventType.DATE_REACHED: frozenset(),
    EventType.THRESHOLD_CROSSED: frozenset(),
    # Reported by the voice platform through its own webhook (outreach), onto the call's task.
    EventType.CALL_RESULT: frozenset(),
    # Recorded by this product: a click on its tracked link, an agent's outcome of a call task.
    EventType.LINK_CLICKED: frozenset(),
    EventType.TASK_OUTCOME: frozenset(),
    EventType.HOLIDAY: frozenset(),
    # Raised only by a campaign run for its own journey (care.services.campaigns).
    EventType.CAMPAIGN: frozenset(),
}
# Who may post at least one type (the API refuses everyone else at the door).
EVENT_POSTER_ROLES = frozenset().union(*EVENT_POSTERS.values()) - {SIGNED_INTEGRATION}


@dataclass(frozen=True)
class EventPoster:
    """Who posts an event to the API: the namespace of its idempotency keys (`client`) and
    what it acts as (role names, or SIGNED_INTEGRATION) for EVENT_POSTERS."""

    client: str
    acts_as: frozenset[str]

    @classmethod
    def user(cls, user: User) -> "EventPoster":
        """A signed-in user, with its roles."""
        return cls(client=f"user:{user.pk}", acts_as=user_roles(user))

    @classmethod
    def integration(cls) -> "EventPoster":
        """The events integration's signed request."""
        return cls(
            client=f"integration:{Integration.EVENTS}", acts_as=frozenset({SIGNED_INTEGRATION})
        )


def event_post_check(*, poster: EventPoster, event_type: str) -> None:
    """Refuse (403) an event type the poster may not post (EVENT_POSTERS)."""
    allowed = EVENT_POSTERS.get(event_type, frozenset())
    if not allowed:
        raise ApplicationForbidden(
            _(
                "%(type)s events are recorded by this product itself from its own data; "
                "nobody may post them."
            )
            % {"type": event_type},
            extra={"type": [_("Not accepted from other systems.")]},
        )
    if not poster.acts_as & allowed:
        raise ApplicationForbidden(
            _("Your role may not post %(type)s events.") % {"type": event_type},
            extra={"type": [_("Not allowed for you.")]},
        )

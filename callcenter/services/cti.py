"""Telephony (CTI) call events: find the agent and the caller, tell the agent's desk live.

The phone system posts an event (ringing, answered, ended) naming the caller's number and the
agent (username or telephony extension). The telephony integration signs its requests and may
name any agent; a signed-in user (an API token, e.g. a softphone) may post only for itself, so
nobody can pop a made-up card on a colleague's desk. The caller is resolved through the screen-pop
selector and a small message is logged in the agent's short event stream and published to
their open desks (`callcenter.services.desk_streams`); the agent's desk page receives it
through server-sent events (`callcenter.views.desk`, served by the ASGI server) and fetches the
server-rendered card. A desk that was reconnecting gets the message from the log when it is
back; with Redis down the live pop is lost, and the agent can still search the number by hand.

The caller's number does not travel to the browser: the message carries it masked, for the
call list, and a call reference, a random key under which the number waits in Redis for that
agent alone (CALL_REF_TTL_SECONDS). The desk fetches the card by reference, so the number an
agent has not revealed never reaches their page, and a reference is worthless to anyone else.
"""

import json
import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, User
from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import OuterRef, Q
from django.utils.translation import gettext as _

from callcenter.choices import Role
from callcenter.errors import ApplicationError, ApplicationForbidden
from callcenter.models import AgentProfile
from callcenter.phones import mask_phone, try_normalize_phone
from callcenter.redis_client import redis_client
from callcenter.roles import STAFF_ROLES, has_role, user_roles_preload
from callcenter.selectors.screenpop import screenpop_owner
from callcenter.services.desk_streams import desk_event_publish

CALL_EVENTS = ("ringing", "answered", "ended")
CALL_REF_PREFIX = "cti:call:"
# How long a call's card can be opened from its reference: a long call plus its wrap-up.
CALL_REF_TTL_SECONDS = 4 * 3600


def cti_agent_find(*, agent: str) -> User:
    """The active call-center user with this username or telephony extension, with its roles
    (one query)."""
    agent = agent.strip()
    roles = Group.objects.filter(user=OuterRef("pk"), name__in=Role.values).values("name")
    user = (
        get_user_model()
        .objects.filter(Q(username=agent) | Q(agent_profile__extension=agent), is_active=True)
        .annotate(role_names=ArraySubquery(roles))
        .order_by("pk")
        .first()
    )
    if user is not None:
        user_roles_preload(user, user.role_names)
    if user is None or not has_role(user, STAFF_ROLES):
        raise ApplicationError(
            _("No active agent has the username or extension %(agent)s.") % {"agent": agent},
            extra={"agent": [_("Unknown agent.")]},
        )
    return user


def cti_agent_is(*, user: User, agent: str) -> bool:
    """Whether `agent` (a username or telephony extension) names `user`."""
    agent = agent.strip()
    if agent == user.get_username():
        return True
    return bool(agent) and AgentProfile.objects.filter(user_id=user.pk, extension=agent).exists()


def _call_ref_key(user_id: int, ref: str) -> str:
    return f"{CALL_REF_PREFIX}{user_id}:{ref}"


def cti_call_ref_phone(*, user_id: int, ref: str) -> str | None:
    """The caller's number behind a call reference of this agent's, or None when the reference
    is unknown, expired or another agent's."""
    if not ref:
        return None
    phone = redis_client().get(_call_ref_key(user_id, ref))
    return phone.decode() if isinstance(phone, bytes) else phone


def cti_publish(*, user_id: int, message: dict[str, Any], phone: str = "") -> int:
    """Send `message` (JSON) to the agent's desks, live and in the log a reconnecting desk
    replays; returns how many desks the agent has open. With `phone`, the message's
    `call_ref` is stored as that caller's reference in the same round trip."""
    refers_to = None
    if phone:
        refers_to = (
            _call_ref_key(user_id, message["call_ref"]),
            phone,
            CALL_REF_TTL_SECONDS,
        )
    return desk_event_publish(
        user_id=user_id, message=json.dumps(message, default=str), refers_to=refers_to
    )


def cti_call_event(
    *,
    event: str,
    call_id: str,
    caller: str,
    agent: str,
    posted_by: User | None,
) -> dict[str, Any]:
    """Handle one call event: resolve agent and caller, notify the agent's desk.

    `posted_by` is the signed-in user who posts it, who may name only itself (else 403);
    None for the telephony integration's signed request, which may name any agent.
    Returns the published message (the number in full, for the poster who sent it, and without
    the desk's call reference) plus `delivered` (the number of the agent's open desks).
    """
    if posted_by is not None and not cti_agent_is(user=posted_by, agent=agent):
        raise ApplicationForbidden(
            _(
                "A user may post call events only for itself (its own user name or extension); "
                "the telephony system signs its requests to post for any agent."
            ),
            extra={"agent": [_("Not you.")]},
        )
    if event not in CALL_EVENTS:
        raise ApplicationError(
            _("Unknown call event: %(event)s") % {"event": event},
            extra={"event": [_("Use ringing, answered or ended.")]},
        )
    phone = try_normalize_phone(caller)
    if phone is None:
        raise ApplicationError(
            _("The caller number %(caller)s is not a valid phone number.") % {"caller": caller},
            extra={"caller": [_("Not a valid phone number.")]},
        )
    user = cti_agent_find(agent=agent)
    # The owner lookup only (one indexed query): the desk renders the full card itself.
    customer = screenpop_owner(phone=phone) or {}
    message = {
        "event": event,
        "call_id": call_id,
        "call_ref": secrets.token_urlsafe(16),
        "phone": mask_phone(phone),
        "known": bool(customer),
        "customer_id": customer.get("id"),
        "name": customer.get("name", ""),
    }
    delivered = cti_publish(user_id=user.pk, message=message, phone=phone)
    # The poster (the phone system, or the agent's own softphone) sent the number: it gets it
    # back in full; the reference is for the desk alone.
    answer = {key: value for key, value in message.items() if key != "call_ref"}
    return {**answer, "phone": phone, "agent": user.get_username(), "delivered": delivered}

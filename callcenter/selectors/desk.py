"""The agent desk's card: the screen-pop card plus what the apps above add to it.

The card is the screen-pop selector's (`screenpop_for_phone`: customer, contacts, recent
interactions, open tickets, orders and the sections other apps add to it), with labels in the
agent's language, advice for the agent and the parts of the apps above (their open tasks, care
plans, badges). Those apps fill two registries in their `AppConfig.ready()` (their
`parts/desk.py`), so this module never imports them:

- `desk_parts`: a `DeskPart` reads its data for the customer once, names the template that
  shows it in a slot of the card (`DESK_SLOTS`), and may suggest a script for the call;
- `desk_advice`: rules turning the card into plain advice; this module registers its own
  (complaints, sentiment, advisor, consent) around the others' by order.

Each part reads a fixed number of queries, so the card's cost does not depend on how many rows
each section holds.
"""

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from callcenter.choices import (
    AccountRole,
    ContactKind,
    Direction,
    InteractionChannel,
    TicketKind,
    TicketPriority,
    TicketStatus,
)
from callcenter.extensions import Registry
from callcenter.page_parts import PagePart
from callcenter.selectors.screenpop import screenpop_for_phone

# At or below this the last contact reads as negative (as the sentiment badge does).
NEGATIVE_SENTIMENT = -0.3
# Where a part's section goes on the card: among the caller's chips in the header, inside the
# "What to do" box under the advice, beside the open tickets, or below them in the main column.
# "log_call": inside the call-log form, under its fields (what logging the call will set off).
DESK_SLOTS = ("header", "what_to_do", "beside_tickets", "main", "log_call")


@dataclass
class DeskCard:
    """What the desk shows for a caller's number. `parts` holds each desk part's context by
    its name; `slots` the sections to show, by slot."""

    phone: str
    known: bool
    screenpop: dict[str, Any]
    parts: dict[str, dict[str, Any]] = field(default_factory=dict)
    slots: dict[str, list[PagePart]] = field(default_factory=dict)
    script: dict[str, str] | None = None
    actions: list[str] = field(default_factory=list)
    interactions: list[dict[str, Any]] = field(default_factory=list)
    tickets: list[dict[str, Any]] = field(default_factory=list)
    # The caller's business account (screen-pop section `account`), with labels; None if none.
    account: dict[str, Any] | None = None

    @property
    def customer(self) -> dict[str, Any] | None:
        return self.screenpop.get("customer")

    @property
    def phones(self) -> list[dict[str, Any]]:
        """The customer's active phone numbers (masked unless the role sees them in full)."""
        points = self.screenpop.get("contact_points") or []
        return [point for point in points if point["kind"] == ContactKind.PHONE]


@dataclass(frozen=True)
class DeskPart:
    """What an app above adds to the card of a known caller.

    `load(card)` reads the part's data for the card's customer (a fixed number of queries) and
    returns it as the context of its sections; `sections` maps a slot of `DESK_SLOTS` to the
    template shown there. `script(card, context)` may suggest what to say on the call: the first
    part, in the registry's order, that returns one gives the card's script
    (`{"source": ..., "text": ...}`).
    """

    load: Callable[[DeskCard], dict[str, Any]]
    sections: Mapping[str, str] = field(default_factory=dict)
    script: Callable[[DeskCard, dict[str, Any]], dict[str, str] | None] | None = None


desk_parts: Registry[DeskPart] = Registry("desk card parts")
desk_advice: Registry[Callable[[DeskCard], list[str]]] = Registry("desk card advice")


def _moment(text: str | None) -> dt.datetime | None:
    return parse_datetime(text) if text else None


def choice_label(choices: type, value: str) -> str:
    """The label of `value` among `choices` in the agent's language; an unknown code as is."""
    try:
        return str(choices(value).label)
    except ValueError:
        return value


def _complaint_advice(card: DeskCard) -> list[str]:
    complaints = [
        t for t in card.screenpop.get("open_tickets", []) if t["kind"] == TicketKind.COMPLAINT
    ]
    if not complaints:
        return []
    return [
        _('Acknowledge the open complaint "%(subject)s" first and promise a date.')
        % {"subject": complaints[0]["subject"]}
    ]


def _sentiment_advice(card: DeskCard) -> list[str]:
    recent = card.screenpop.get("recent_interactions") or []
    if (
        recent
        and recent[0]["sentiment"] is not None
        and recent[0]["sentiment"] <= NEGATIVE_SENTIMENT
    ):
        return [_("The last contact went badly: apologise and offer a priority callback.")]
    return []


def _advisor_advice(card: DeskCard) -> list[str]:
    advisor = (card.customer or {}).get("advisor")
    if not advisor:
        return []
    return [
        _("Dedicated advisor: %(name)s; hand over anything that needs follow-up.")
        % {"name": advisor["name"]}
    ]


def _account_advice(card: DeskCard) -> list[str]:
    account = card.account
    if not account or not account["caller_role"]:
        return []
    return [
        _("Calls for %(account)s as %(role)s: check the account's open tickets before asking.")
        % {"account": account["display_name"], "role": account["caller_role_label"]}
    ]


def _consent_advice(card: DeskCard) -> list[str]:
    consent = (card.customer or {}).get("consent") or {}
    if consent.get("do_not_contact") or consent.get("call_opt_out"):
        return [_("Do not offer outbound calls or callbacks: the customer opted out.")]
    return []


# The apps above add theirs in between (segments: the customer's stage and value, order 50).
desk_advice.register("complaint", _complaint_advice, order=10)
desk_advice.register("sentiment", _sentiment_advice, order=20)
desk_advice.register("account", _account_advice, order=30)
desk_advice.register("advisor", _advisor_advice, order=80)
desk_advice.register("consent", _consent_advice, order=90)


def next_best_actions(card: DeskCard) -> list[str]:
    """Plain advice for the agent from every rule of `desk_advice`, in order; a default line
    when none has any."""
    actions = [action for advise in desk_advice for action in advise(card)]
    return actions or [_("Ask how you can help and confirm the contact details.")]


def _parts_load(card: DeskCard) -> None:
    """Each part's context, its sections by slot, and the first script a part suggests."""
    card.slots = {slot: [] for slot in DESK_SLOTS}
    for name, part in desk_parts.items():
        context = part.load(card)
        card.parts[name] = context
        for slot, template in part.sections.items():
            card.slots[slot].append(PagePart(template=template, context=context))
    for name, part in desk_parts.items():
        card.script = part.script(card, card.parts[name]) if part.script else None
        if card.script is not None:
            return


def _ticket_with_labels(row: dict[str, Any]) -> dict[str, Any]:
    return {
        **row,
        "opened_at": _moment(row["opened_at"]),
        "kind_label": choice_label(TicketKind, row["kind"]),
        "status_label": choice_label(TicketStatus, row["status"]),
        "priority_label": choice_label(TicketPriority, row["priority"]),
    }


def _account_with_labels(account: dict[str, Any] | None) -> dict[str, Any] | None:
    """The account section with moments and labels in the agent's language."""
    if not account:
        return None
    return {
        **account,
        # A business is known by its company name; `name` is often the person we deal with.
        "display_name": account["company_name"] or account["name"],
        "caller_role_label": choice_label(AccountRole, account["caller_role"])
        if account["caller_role"]
        else "",
        "open_tickets": [_ticket_with_labels(row) for row in account["open_tickets"]],
        "stakeholders": [
            {**row, "role_label": choice_label(AccountRole, row["role"])}
            for row in account["stakeholders"]
        ],
    }


def desk_card(*, phone: str, full_contacts: bool) -> DeskCard:
    """The desk card for a caller's number in any format (see the module docstring); contact
    details masked unless `full_contacts` (callcenter.masking)."""
    screenpop = screenpop_for_phone(phone=phone, full_contacts=full_contacts)
    card = DeskCard(phone=screenpop["phone"], known=screenpop["known"], screenpop=screenpop)
    if not card.known:
        return card
    # The card's timestamps are JSON text; the page formats datetimes in the agent's zone.
    orders = screenpop["orders"]
    orders["last_order_at"] = _moment(orders["last_order_at"])
    # Labels in the agent's language beside the stored codes.
    card.interactions = [
        {
            **row,
            "occurred_at": _moment(row["occurred_at"]),
            "channel_label": choice_label(InteractionChannel, row["channel"]),
            "direction_label": choice_label(Direction, row["direction"]),
        }
        for row in screenpop.get("recent_interactions") or []
    ]
    card.tickets = [_ticket_with_labels(row) for row in screenpop.get("open_tickets") or []]
    card.account = _account_with_labels(screenpop.get("account"))
    _parts_load(card)
    card.actions = next_best_actions(card)
    return card

"""The agent desk's card: the screen-pop card plus care plans, open tasks and what to say.

The card is the screen-pop selector's (`screenpop_for_phone`: customer, contacts, recent
interactions, open tickets, orders, segments) with three additions read here: the customer's
open outreach tasks, their active care enrollments (with the steps of each rule), and a
suggested script rendered from the first call step template of an active plan. The query count
does not depend on how many rows each section holds.
"""

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Prefetch
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from callcenter.choices import (
    ContactKind,
    Direction,
    InteractionChannel,
    TicketKind,
    TicketPriority,
    TicketStatus,
)
from callcenter.errors import ApplicationError
from callcenter.selectors.screenpop import screenpop_for_phone
from care.choices import EnrollmentStatus, StepChannel
from care.models import CareStep, Enrollment
from care.services.templates import template_render
from outreach.choices import OPEN_TASK_STATUSES
from outreach.models import OutreachTask
from segments.choices import LifecycleStage, RfmSegmentName, ValueTier

OPEN_TASKS_SHOWN = 5
ENROLLMENTS_SHOWN = 5
# Churn probability from which the desk suggests a retention offer.
CHURN_ALERT = 0.6
# At or below this the last contact reads as negative (as the sentiment badge does).
NEGATIVE_SENTIMENT = -0.3


@dataclass
class DeskCard:
    """What the desk shows for a caller's number."""

    phone: str
    known: bool
    screenpop: dict[str, Any]
    open_tasks: list[OutreachTask] = field(default_factory=list)
    enrollments: list[Enrollment] = field(default_factory=list)
    script: dict[str, str] | None = None
    actions: list[str] = field(default_factory=list)
    interactions: list[dict[str, Any]] = field(default_factory=list)
    tickets: list[dict[str, Any]] = field(default_factory=list)

    @property
    def customer(self) -> dict[str, Any] | None:
        return self.screenpop.get("customer")

    @property
    def metrics(self) -> dict[str, Any] | None:
        return (self.screenpop.get("segments") or {}).get("metrics")

    @property
    def badges(self) -> list[dict[str, str]]:
        """RFM segment, lifecycle, value tier and churn risk as labelled badges."""
        return segment_badges(self.metrics)

    @property
    def segments(self) -> list[dict[str, Any]]:
        return (self.screenpop.get("segments") or {}).get("segments") or []

    @property
    def phones(self) -> list[dict[str, Any]]:
        """The customer's active phone numbers (masked unless the role sees them in full)."""
        points = self.screenpop.get("contact_points") or []
        return [point for point in points if point["kind"] == ContactKind.PHONE]


_STAGE_CSS = {
    LifecycleStage.NEW: "badge-blue",
    LifecycleStage.ACTIVE: "badge-green",
    LifecycleStage.DORMANT: "badge-amber",
    LifecycleStage.CHURN_RISK: "badge-red",
    LifecycleStage.LOST: "badge-gray",
}
_TIER_CSS = {ValueTier.HIGH: "badge-violet", ValueTier.MEDIUM: "badge-blue"}


def _moment(text: str | None) -> dt.datetime | None:
    return parse_datetime(text) if text else None


def _label(choices: type, value: str) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return value


def segment_badges(metrics: dict[str, Any] | None) -> list[dict[str, str]]:
    """Badges (text, css class, what it is) from a customer's metrics row; empty without one."""
    if not metrics:
        return []
    badges = []
    if metrics.get("rfm_segment"):
        badges.append(
            {
                "text": _label(RfmSegmentName, metrics["rfm_segment"]),
                "css": "badge-violet",
                "title": _("RFM segment %(code)s") % {"code": metrics.get("rfm_code") or ""},
            }
        )
    if metrics.get("lifecycle_stage"):
        badges.append(
            {
                "text": _label(LifecycleStage, metrics["lifecycle_stage"]),
                "css": _STAGE_CSS.get(metrics["lifecycle_stage"], "badge-gray"),
                "title": _("Lifecycle stage"),
            }
        )
    if metrics.get("value_tier"):
        badges.append(
            {
                "text": _label(ValueTier, metrics["value_tier"]),
                "css": _TIER_CSS.get(metrics["value_tier"], "badge-gray"),
                "title": _("Value tier"),
            }
        )
    churn = metrics.get("churn_probability")
    if churn is not None:
        badges.append(
            {
                "text": _("Churn risk %(percent)s%%") % {"percent": round(churn * 100)},
                "css": "badge-red" if churn >= CHURN_ALERT else "badge-gray",
                "title": _("Churn probability"),
            }
        )
    return badges


def _open_tasks(customer_id: int) -> list[OutreachTask]:
    return list(
        OutreachTask.objects.filter(customer_id=customer_id, status__in=OPEN_TASK_STATUSES)
        .select_related("assignee", "step")
        .order_by("deadline_at", "id")[:OPEN_TASKS_SHOWN]
    )


def _active_enrollments(customer_id: int) -> list[Enrollment]:
    steps = CareStep.objects.select_related("template").order_by("position")
    return list(
        Enrollment.objects.filter(
            customer_id=customer_id, status=EnrollmentStatus.ACTIVE, is_control=False
        )
        .select_related("rule")
        .prefetch_related(Prefetch("rule__steps", queryset=steps))
        .order_by("-rule__priority", "-enrolled_at")[:ENROLLMENTS_SHOWN]
    )


def _script(
    customer: dict[str, Any], tasks: list[OutreachTask], enrollments: list[Enrollment]
) -> dict[str, str] | None:
    """The call script of an open call task (rendered when it fell due), else the first call
    step template of the highest-priority active plan, rendered for this customer."""
    for task in tasks:
        if task.channel == StepChannel.CALL and task.body.strip():
            source = task.step.name if task.step else _("Call task #%(id)s") % {"id": task.pk}
            return {"source": source, "text": task.body}
    for enrollment in enrollments:
        for step in enrollment.rule.steps.all():
            if step.channel == StepChannel.CALL and step.template is not None:
                try:
                    rendered = template_render(
                        template=step.template,
                        customer_id=customer["id"],
                        language=customer["language"],
                    )
                except ApplicationError:
                    continue
                return {"source": enrollment.rule.name, "text": rendered.body}
    return None


def next_best_actions(card: DeskCard) -> list[str]:
    """Plain advice for the agent from the segments, open tickets, sentiment and consent."""
    actions: list[str] = []
    screenpop = card.screenpop
    complaints = [t for t in screenpop.get("open_tickets", []) if t["kind"] == TicketKind.COMPLAINT]
    if complaints:
        actions.append(
            _('Acknowledge the open complaint "%(subject)s" first and promise a date.')
            % {"subject": complaints[0]["subject"]}
        )
    recent = screenpop.get("recent_interactions") or []
    if (
        recent
        and recent[0]["sentiment"] is not None
        and recent[0]["sentiment"] <= NEGATIVE_SENTIMENT
    ):
        actions.append(_("The last contact went badly: apologise and offer a priority callback."))
    metrics = card.metrics or {}
    stage = metrics.get("lifecycle_stage")
    churn = metrics.get("churn_probability")
    if stage == "churn_risk" or (churn is not None and churn >= CHURN_ALERT):
        actions.append(
            _("Churn risk: ask what would make them stay and offer a retention benefit.")
        )
    elif stage == "dormant":
        actions.append(_("Dormant: mention what is new and offer the wake-up voucher."))
    elif stage == "new":
        actions.append(_("New customer: welcome them and check that the first order went well."))
    elif stage == "lost":
        actions.append(_("Lost customer: ask why they left and invite them back."))
    if metrics.get("value_tier") == "high":
        actions.append(_("High-value customer: thank them for their loyalty."))
    customer = card.customer or {}
    if customer.get("advisor"):
        actions.append(
            _("Dedicated advisor: %(name)s; hand over anything that needs follow-up.")
            % {"name": customer["advisor"]["name"]}
        )
    consent = customer.get("consent") or {}
    if consent.get("do_not_contact") or consent.get("call_opt_out"):
        actions.append(_("Do not offer outbound calls or callbacks: the customer opted out."))
    if not actions:
        actions.append(_("Ask how you can help and confirm the contact details."))
    return actions


def desk_card(*, phone: str, full_contacts: bool) -> DeskCard:
    """The desk card for a caller's number in any format (see the module docstring); contact
    details masked unless `full_contacts` (callcenter.masking)."""
    screenpop = screenpop_for_phone(phone=phone, full_contacts=full_contacts)
    card = DeskCard(phone=screenpop["phone"], known=screenpop["known"], screenpop=screenpop)
    if not card.known:
        return card
    customer = screenpop["customer"]
    # The card's timestamps are JSON text; the page formats datetimes in the agent's zone.
    orders = screenpop["orders"]
    orders["last_order_at"] = _moment(orders["last_order_at"])
    # Labels in the agent's language beside the stored codes.
    card.interactions = [
        {
            **row,
            "occurred_at": _moment(row["occurred_at"]),
            "channel_label": _label(InteractionChannel, row["channel"]),
            "direction_label": _label(Direction, row["direction"]),
        }
        for row in screenpop.get("recent_interactions") or []
    ]
    card.tickets = [
        {
            **row,
            "opened_at": _moment(row["opened_at"]),
            "kind_label": _label(TicketKind, row["kind"]),
            "status_label": _label(TicketStatus, row["status"]),
            "priority_label": _label(TicketPriority, row["priority"]),
        }
        for row in screenpop.get("open_tickets") or []
    ]
    card.open_tasks = _open_tasks(customer["id"])
    card.enrollments = _active_enrollments(customer["id"])
    card.script = _script(customer, card.open_tasks, card.enrollments)
    card.actions = next_best_actions(card)
    return card

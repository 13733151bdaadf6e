"""What care adds to the agent desk's card (callcenter.selectors.desk): the caller's active
care plans with the steps of each, the plans recently held back or preempted with the plan that
outranked each, and the suggested script of the first call step of the highest-priority plan,
rendered for this customer."""

import datetime as dt
from typing import Any

from django.db.models import Case, IntegerField, Prefetch, Q, Value, When
from django.utils import timezone

from callcenter.errors import ApplicationError
from callcenter.selectors.desk import DeskCard, DeskPart, desk_parts
from care.choices import ArbitrationReason, EnrollmentStatus, StepChannel
from care.models import CareStep, Enrollment
from care.selectors import plan_reason
from care.services.templates import template_render

ENROLLMENTS_SHOWN = 5
# Plans held back or preempted this recently are shown with the reason.
OUTRANKED_SHOWN_DAYS = 30


def care_desk_load(card: DeskCard) -> dict[str, Any]:
    """The customer's active, non-control enrollments, highest rule priority first, each with
    its rule's steps and their templates, and the plans held back or preempted in the last
    OUTRANKED_SHOWN_DAYS with why (one query for both, and one for the steps)."""
    assert card.customer is not None
    since = timezone.now() - dt.timedelta(days=OUTRANKED_SHOWN_DAYS)
    steps = CareStep.objects.select_related("template").order_by("position")
    running = Q(status=EnrollmentStatus.ACTIVE, is_control=False)
    rows = list(
        Enrollment.objects.filter(
            running
            | Q(status=EnrollmentStatus.HELD, enrolled_at__gte=since)
            | Q(
                status=EnrollmentStatus.STOPPED,
                stop_reason=ArbitrationReason.PREEMPTED,
                finished_at__gte=since,
            ),
            customer_id=card.customer["id"],
        )
        .select_related("rule", "outranked_by__rule")
        .prefetch_related(Prefetch("rule__steps", queryset=steps))
        .order_by(
            Case(When(running, then=Value(0)), default=Value(1), output_field=IntegerField()),
            "-rule__priority",
            "-enrolled_at",
        )[: 2 * ENROLLMENTS_SHOWN]
    )
    enrollments = [row for row in rows if row.status == EnrollmentStatus.ACTIVE]
    outranked = [
        {"enrollment": row, "reason": plan_reason(row)}
        for row in rows
        if row.status != EnrollmentStatus.ACTIVE
    ]
    return {
        "enrollments": enrollments[:ENROLLMENTS_SHOWN],
        "outranked": outranked[:ENROLLMENTS_SHOWN],
    }


def care_desk_script(card: DeskCard, context: dict[str, Any]) -> dict[str, str] | None:
    """The first call step template of the highest-priority active plan, rendered for this
    customer; a template that cannot be rendered is passed over."""
    assert card.customer is not None
    for enrollment in context["enrollments"]:
        for step in enrollment.rule.steps.all():
            if step.channel == StepChannel.CALL and step.template is not None:
                try:
                    rendered = template_render(
                        template=step.template,
                        customer_id=card.customer["id"],
                        language=card.customer["language"],
                    )
                except ApplicationError:
                    continue
                return {"source": enrollment.rule.name, "text": rendered.body}
    return None


def register() -> None:
    """Fill the desk's registry (called from CareConfig.ready())."""
    desk_parts.register(
        "care",
        DeskPart(
            load=care_desk_load,
            sections={"main": "care/partials/desk_care.html"},
            script=care_desk_script,
        ),
        order=20,
    )

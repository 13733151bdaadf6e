"""What care adds to the agent desk's card (callcenter.selectors.desk): the caller's active
care plans with the steps of each, and the suggested script of the first call step of the
highest-priority plan, rendered for this customer."""

from typing import Any

from django.db.models import Prefetch

from callcenter.errors import ApplicationError
from callcenter.selectors.desk import DeskCard, DeskPart, desk_parts
from care.choices import EnrollmentStatus, StepChannel
from care.models import CareStep, Enrollment
from care.services.templates import template_render

ENROLLMENTS_SHOWN = 5


def care_desk_load(card: DeskCard) -> dict[str, Any]:
    """The customer's active, non-control enrollments, highest rule priority first, each with
    its rule's steps and their templates (three queries)."""
    assert card.customer is not None
    steps = CareStep.objects.select_related("template").order_by("position")
    enrollments = list(
        Enrollment.objects.filter(
            customer_id=card.customer["id"], status=EnrollmentStatus.ACTIVE, is_control=False
        )
        .select_related("rule")
        .prefetch_related(Prefetch("rule__steps", queryset=steps))
        .order_by("-rule__priority", "-enrolled_at")[:ENROLLMENTS_SHOWN]
    )
    return {"enrollments": enrollments}


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

"""What care announces about its plans (care.services.plans) and what it leaves to the apps
that carry them out: a listener hears the planned and stopped plans in care's transaction."""

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from callcenter.errors import ApplicationError
from care.choices import EventType, StopCondition
from care.models import Enrollment
from care.services.plans import PlanListener, PlannedStep, plan_listeners
from care.services.rules import care_rule_create
from tests.callcenter.factories import CustomerFactory
from tests.care.conftest import WEDNESDAY_10AM
from tests.care.test_enrollment import D, _fire, _rule, sms  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture
def heard() -> Iterator[dict[str, list[Any]]]:
    """A listener next to outreach's, recording what care announces."""
    calls: dict[str, list[Any]] = {"planned": [], "stopped": []}
    plan_listeners.register(
        "spy",
        PlanListener(
            steps_planned=lambda *, steps: calls["planned"].extend(steps),
            plans_stopped=lambda *, enrollment_ids, reason: calls["stopped"].append(
                (enrollment_ids, reason)
            ),
        ),
    )
    yield calls
    plan_listeners.unregister("spy")


def test_the_steps_of_a_new_enrollment_are_announced_with_their_due_times(
    sms: Any,  # noqa: F811
    frozen: Any,
    heard: dict[str, list[Any]],
) -> None:
    _rule(sms)
    customer = CustomerFactory()

    _fire(customer.pk)

    enrollment = Enrollment.objects.get()
    planned: list[PlannedStep] = heard["planned"]
    assert [(p.enrollment_id, p.customer_id, p.step["position"]) for p in planned] == [
        (enrollment.pk, customer.pk, 1),
        (enrollment.pk, customer.pk, 2),
    ]
    assert [p.due_at for p in planned] == [WEDNESDAY_10AM, WEDNESDAY_10AM + 2 * D]
    assert all(p.deadline_at - p.due_at == dt.timedelta(minutes=60) for p in planned)


def test_stopped_plans_are_announced_with_their_reason(
    sms: Any,  # noqa: F811
    frozen: Any,
    heard: dict[str, list[Any]],
) -> None:
    _rule(sms, stop_conditions=[StopCondition.CUSTOMER_ORDERED])
    customer = CustomerFactory()
    _fire(customer.pk)
    frozen.shift(D)

    _fire(customer.pk, type=EventType.ORDER_PLACED, payload={"order_id": 1})

    enrollment = Enrollment.objects.get()
    assert heard["stopped"] == [([enrollment.pk], StopCondition.CUSTOMER_ORDERED)]


def test_a_step_name_that_is_no_text_is_refused(sms: Any) -> None:  # noqa: F811
    with pytest.raises(ApplicationError, match=r"steps\[0\]: name must be a text"):
        care_rule_create(
            name="Odd",
            trigger_type="birthday",
            steps=[{"channel": "sms", "template_id": sms.pk, "name": ["x"]}],
        )

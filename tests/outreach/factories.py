"""factory_boy factories for outreach (and the minimal care rows a task may hang from)."""

import datetime as dt

import factory
from django.utils import timezone

from care.choices import EventType, StepChannel, TouchKind
from care.models import CareRule, CareRuleVersion, CareStep, Enrollment, Event
from outreach.models import OutreachTask, Queue
from tests.callcenter.factories import CustomerFactory


class QueueFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Queue
        django_get_or_create = ("slug",)
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Queue {n}")
    slug = factory.Sequence(lambda n: f"queue-{n}")

    @factory.post_generation
    def members(self, create: bool, extracted: list | None, **kwargs: object) -> None:
        if create and extracted:
            self.members.add(*extracted)


class TaskFactory(factory.django.DjangoModelFactory):
    """A pending SMS due now with a ready body; pass channel=call for a call task."""

    class Meta:
        model = OutreachTask

    customer = factory.SubFactory(CustomerFactory)
    channel = StepChannel.SMS
    touch_kind = TouchKind.PROACTIVE
    due_at = factory.LazyFunction(timezone.now)
    deadline_at = factory.LazyAttribute(lambda o: o.due_at + dt.timedelta(hours=1))
    body = "您好，感谢您的支持。"
    idempotency_key = factory.Sequence(lambda n: f"test:task:{n}")


class CallTaskFactory(TaskFactory):
    channel = StepChannel.CALL
    body = "Call script"


class CareRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CareRule

    name = factory.Sequence(lambda n: f"Rule {n}")
    slug = factory.Sequence(lambda n: f"rule-{n}")
    trigger_type = EventType.INACTIVITY
    is_active = True


class CareStepFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CareStep

    rule = factory.SubFactory(CareRuleFactory)
    position = 1
    key = factory.LazyAttribute(lambda step: f"step-{step.position}")
    name = "step"
    channel = StepChannel.SMS


def enrollment_with_step(
    *,
    customer: object,
    channel: str = StepChannel.SMS,
    conditions: dict | None = None,
    only_if_no_response: bool = False,
    enrolled_at: dt.datetime | None = None,
    snapshot_steps: list[dict] | None = None,
    **step_fields: object,
) -> tuple[Enrollment, CareStep]:
    """A rule with one step, its version (snapshotting the step unless `snapshot_steps` says
    otherwise) and an enrollment of `customer` by an event."""
    enrolled_at = enrolled_at or timezone.now()
    step = CareStepFactory(
        channel=channel,
        conditions=conditions,
        only_if_no_response=only_if_no_response,
        **step_fields,
    )
    steps = snapshot_steps
    if steps is None:
        steps = [
            {
                "id": step.pk,
                "position": step.position,
                "conditions": conditions,
                "only_if_no_response": only_if_no_response,
            }
        ]
    version = CareRuleVersion.objects.create(
        rule=step.rule, version=1, snapshot={"name": step.rule.name, "steps": steps}
    )
    event = Event.objects.create(
        type=EventType.INACTIVITY, customer=customer, occurred_at=enrolled_at, payload={}
    )
    enrollment = Enrollment.objects.create(
        rule=step.rule,
        rule_version=version,
        customer=customer,
        event=event,
        enrolled_at=enrolled_at,
    )
    return enrollment, step

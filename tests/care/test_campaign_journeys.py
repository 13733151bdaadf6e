"""Campaigns meet journeys and plan arbitration: a run plans only the journey's first chain and
records where each member's journey waits; members already in a plan of the journey's category
are held back or preempted by priority, as when a rule's event enrolls them."""

import datetime as dt
import itertools
from typing import Any

import pytest

from callcenter.events import DomainEvent
from care.choices import ArbitrationReason, EnrollmentStatus, EventType, RuleCategory
from care.models import CampaignRun, CareRule, Enrollment
from care.services.campaigns import campaign_launch
from care.services.events import events_process, events_record
from care.services.rules import care_rule_activate, care_rule_create
from outreach.choices import TaskStatus
from outreach.models import OutreachTask
from tests.callcenter.factories import UserFactory
from tests.care.campaign_fixtures import campaign, customers, journey, segment_with, sms_template

pytestmark = pytest.mark.django_db


def _start(target: Any, captured: Any) -> CampaignRun:
    with captured(execute=True):
        campaign_launch(campaign=target, launched_by=UserFactory(role="supervisor"))
    return CampaignRun.objects.get(campaign=target)


def _running_plan(customer_id: int, *, category: str, priority: int) -> Enrollment:
    """The customer enrolled, by its own event, in an active rule with a step due in 2 days."""
    sms = sms_template()
    rule = care_rule_activate(
        rule=care_rule_create(
            name=f"Running {priority}",
            trigger_type=EventType.EXTERNAL,
            trigger_params={"name": f"running-{priority}"},
            category=category,
            priority=priority,
            steps=[
                {
                    "channel": "sms",
                    "template_id": sms.pk,
                    "delay_value": 2,
                    "delay_unit": "days",
                    "sla_minutes": 60,
                }
            ],
        )
    )
    [event_id] = events_record(
        events=[
            DomainEvent(
                type=EventType.EXTERNAL,
                customer_id=customer_id,
                payload={"name": f"running-{priority}"},
            )
        ]
    )
    events_process(event_ids=[event_id])
    return Enrollment.objects.get(rule=rule, customer_id=customer_id)


def test_a_run_plans_the_first_chain_and_records_each_members_wait(
    frozen: Any, django_capture_on_commit_callbacks: Any
) -> None:
    sms = sms_template()
    rule = journey(
        steps=[
            {
                "key": "ask",
                "channel": "sms",
                "template_id": sms.pk,
                "wait_for": "sms_reply",
                "wait_hours": 48,
                "branches": [
                    {"if": {"any": True}, "goto": "thanks"},
                    {"if": "timeout", "goto": "end"},
                ],
            },
            {"key": "thanks", "channel": "sms", "template_id": sms.pk, "next_step": "end"},
        ]
    )
    members = customers(6)
    target = campaign(rule=rule, segment=segment_with(members), max_per_hour={"sms": 3})

    run = _start(target, django_capture_on_commit_callbacks)

    assert run.tasks == 6
    tasks = OutreachTask.objects.filter(enrollment__rule=rule)
    assert set(tasks.values_list("step_position", flat=True)) == {1}
    for enrollment in Enrollment.objects.filter(rule=rule):
        task = tasks.get(enrollment=enrollment)
        assert enrollment.waiting_step == "ask"
        assert enrollment.wait_started_at == task.due_at
        assert enrollment.wait_until == task.due_at + dt.timedelta(hours=48)
    # paced three an hour: each wait starts when that member's send is due, 20 minutes apart
    starts = sorted(Enrollment.objects.filter(rule=rule).values_list("wait_started_at", flat=True))
    assert {b - a for a, b in itertools.pairwise(starts)} == {dt.timedelta(minutes=20)}


def test_members_in_a_plan_of_the_category_are_held_back_or_preempted_by_priority(
    frozen: Any, no_holdout: None, django_capture_on_commit_callbacks: Any
) -> None:
    busy, outranked, free = customers(3)
    higher = _running_plan(busy.pk, category=RuleCategory.MARKETING, priority=80)
    lower = _running_plan(outranked.pk, category=RuleCategory.MARKETING, priority=10)
    rule = journey()
    CareRule.objects.filter(pk=rule.pk).update(category=RuleCategory.MARKETING, priority=50)
    rule.refresh_from_db()
    target = campaign(rule=rule, segment=segment_with([busy, outranked, free]))

    run = _start(target, django_capture_on_commit_callbacks)

    mine = {e.customer_id: e for e in Enrollment.objects.filter(rule=rule)}
    assert (mine[busy.pk].status, mine[busy.pk].stop_reason) == (
        EnrollmentStatus.HELD,
        ArbitrationReason.HELD_BACK,
    )
    assert mine[busy.pk].outranked_by_id == higher.pk
    assert mine[outranked.pk].status == EnrollmentStatus.ACTIVE
    assert mine[free.pk].status == EnrollmentStatus.ACTIVE
    lower.refresh_from_db()
    assert (lower.status, lower.stop_reason, lower.outranked_by_id) == (
        EnrollmentStatus.STOPPED,
        ArbitrationReason.PREEMPTED,
        mine[outranked.pk].pk,
    )
    assert OutreachTask.objects.get(enrollment=lower).status == TaskStatus.CANCELLED
    # only the two active members got the journey's task
    assert run.tasks == 2
    assert set(
        OutreachTask.objects.filter(enrollment__rule=rule).values_list("customer_id", flat=True)
    ) == {outranked.pk, free.pk}

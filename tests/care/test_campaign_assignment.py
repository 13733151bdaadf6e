"""Campaign call tasks get their step's assignee rule, applied set-based at insertion: the
customer's advisor (with the rule path's fallback to the step's queue), the least-loaded agent
of a pool within each agent's daily limit day by day, or the queue (nobody pushed)."""

import datetime as dt
from collections import Counter
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from callcenter.choices import Role
from callcenter.models import AgentProfile, Customer
from care.choices import CampaignRunStatus
from care.models import Campaign, CampaignRun, CareRule, CareSettings
from care.services.campaigns import campaign_launch, campaign_run_start
from outreach.models import OutreachTask, Queue
from outreach.parts.care_campaigns import steps_plan
from outreach.services.capacity import capacity_load
from outreach.services.dispatch import dispatch_due
from tests.callcenter.factories import CustomerFactory, UserFactory
from tests.care.campaign_fixtures import campaign, customers, journey, segment_with, staffed_queue
from tests.care.conftest import SHANGHAI

pytestmark = pytest.mark.django_db

WEDNESDAY = dt.date(2025, 3, 5)
THURSDAY = dt.date(2025, 3, 6)


def _daily_limit(limit: int) -> None:
    settings = CareSettings.load()
    settings.agent_daily_limit = limit
    settings.save()


def _call_journey(rule: str, target: str) -> CareRule:
    return journey(
        steps=[
            {
                "channel": "call",
                "assignee_rule": rule,
                "assignee_target": target,
                "sla_minutes": 240,
                "name": "Call",
            }
        ]
    )


def _launch(target: Campaign, captured: Any) -> CampaignRun:
    with captured(execute=True):
        campaign_launch(campaign=target, launched_by=UserFactory(role="supervisor"))
    return CampaignRun.objects.get(campaign=target, scheduled_for=target.starts_at)


def _busy(agent: User, queue: Queue, count: int) -> None:
    """`count` open calls already on `agent`'s plate today."""
    now = timezone.now()
    OutreachTask.objects.bulk_create(
        [
            OutreachTask(
                customer=CustomerFactory(),
                channel="call",
                due_at=now,
                deadline_at=now + dt.timedelta(hours=1),
                queue=queue,
                assignee=agent,
                idempotency_key=f"busy:{agent.pk}:{i}",
            )
            for i in range(count)
        ]
    )


def _assignees(rule: CareRule) -> dict[int, int | None]:
    return dict(
        OutreachTask.objects.filter(enrollment__rule=rule).values_list("customer_id", "assignee_id")
    )


def test_advisor_steps_go_to_the_available_advisor_within_their_room_else_the_queue(
    frozen: Any, django_capture_on_commit_callbacks: Any
) -> None:
    # given a limit of 3 calls a day, an advisor with one call already today and 3 customers,
    # an inactive advisor and an unavailable one with a customer each, and a customer without an
    # advisor
    _daily_limit(3)
    general = staffed_queue("general", agents=2)
    advisor = UserFactory(role=Role.AGENT)
    _busy(advisor, general, 1)
    gone = UserFactory(role=Role.AGENT, is_active=False)
    away = UserFactory(role=Role.AGENT)
    AgentProfile.objects.create(user=away, is_available=False)
    members = customers(6)  # later ones spend more
    Customer.objects.filter(pk__in=[c.pk for c in members[:3]]).update(advisor=advisor)
    Customer.objects.filter(pk=members[3].pk).update(advisor=gone)
    Customer.objects.filter(pk=members[5].pk).update(advisor=away)
    rule = _call_journey("advisor", "")

    # when the campaign starts
    _launch(campaign(rule=rule, segment=segment_with(members)), django_capture_on_commit_callbacks)

    # then the advisor gets their two most valuable customers (room 2 today); the third, the
    # inactive and unavailable advisors' customers and the one without an advisor wait
    # unassigned in "general"
    assert _assignees(rule) == {
        members[2].pk: advisor.pk,
        members[1].pk: advisor.pk,
        members[0].pk: None,
        members[3].pk: None,
        members[4].pk: None,
        members[5].pk: None,
    }
    tasks = OutreachTask.objects.filter(enrollment__rule=rule)
    assert set(tasks.values_list("queue__slug", flat=True)) == {"general"}


def test_least_loaded_steps_spread_each_day_by_load_within_daily_limits(
    frozen: Any, django_capture_on_commit_callbacks: Any
) -> None:
    # given a pool queue of 3 agents of 3 calls a day, the first already with 2 calls today
    _daily_limit(3)
    pool = staffed_queue("care-team", agents=3)
    first, second, third = pool.members.order_by("pk")
    _busy(first, pool, 2)
    rule = _call_journey("least_loaded", "care-team")

    # when a campaign of 10 starts on Wednesday 10:00
    _launch(
        campaign(rule=rule, segment=segment_with(customers(10))),
        django_capture_on_commit_callbacks,
    )

    # then Wednesday's 7 fill the room least loaded first (the busy agent gets only its last
    # slot) and Thursday's 3 go one to each agent: nobody exceeds their limit on any day
    tasks = OutreachTask.objects.filter(enrollment__rule=rule)
    spread = Counter(
        (timezone.localtime(task.due_at, SHANGHAI).date(), task.assignee_id) for task in tasks
    )
    assert spread == {
        (WEDNESDAY, first.pk): 1,
        (WEDNESDAY, second.pk): 3,
        (WEDNESDAY, third.pk): 3,
        (THURSDAY, first.pk): 1,
        (THURSDAY, second.pk): 1,
        (THURSDAY, third.pk): 1,
    }
    assert set(tasks.values_list("queue__slug", flat=True)) == {"care-team"}


def test_least_loaded_calls_beyond_the_pools_room_wait_in_the_queue(
    frozen: Any, django_capture_on_commit_callbacks: Any
) -> None:
    # given a queue with 2 agents of 2 calls a day, but only one of them available
    _daily_limit(2)
    pool = staffed_queue("care-team", agents=2)
    first, second = pool.members.order_by("pk")
    User.objects.filter(pk=second.pk).update(is_active=False)
    rule = _call_journey("least_loaded", "care-team")

    # when a campaign of 3 starts (the queue's room counts the available agent only)
    _launch(
        campaign(rule=rule, segment=segment_with(customers(3))),
        django_capture_on_commit_callbacks,
    )

    # then the available agent takes 2 a day and nobody gets more
    tasks = OutreachTask.objects.filter(enrollment__rule=rule)
    spread = Counter(
        (timezone.localtime(task.due_at, SHANGHAI).date(), task.assignee_id) for task in tasks
    )
    assert spread == {(WEDNESDAY, first.pk): 2, (THURSDAY, first.pk): 1}


def test_least_loaded_matches_the_rule_paths_one_by_one_choice(
    frozen: Any, django_capture_on_commit_callbacks: Any
) -> None:
    # given a pool of 4 with different loads, limits and availability: a profile limit of 2,
    # an unavailable agent, one already with a call today, one free (default limit 3)
    _daily_limit(3)
    pool = staffed_queue("care-team", agents=4)
    small, away, busy, free = pool.members.order_by("pk")
    AgentProfile.objects.create(user=small, daily_task_limit=2)
    AgentProfile.objects.create(user=away, is_available=False)
    _busy(busy, pool, 1)
    members = customers(7)
    # the rule path's chooser over the same loads, the most valuable customer first
    capacity = capacity_load(agent_ids=[small.pk, away.pk, busy.pk, free.pk], days=[WEDNESDAY])
    expected = {}
    for customer in reversed(members):
        agent = capacity.pick([small.pk, away.pk, busy.pk, free.pk], WEDNESDAY)
        assert agent is not None
        capacity.take(agent, WEDNESDAY)
        expected[customer.pk] = agent
    rule = _call_journey("least_loaded", "care-team")

    # when a campaign of the 7 (the day's room exactly) starts
    _launch(campaign(rule=rule, segment=segment_with(members)), django_capture_on_commit_callbacks)

    # then each call went where the rule path would have put it, the unavailable agent got none
    assert _assignees(rule) == expected
    assert Counter(expected.values()) == {small.pk: 2, busy.pk: 2, free.pk: 3}


@pytest.mark.parametrize("rule", ["least_loaded", "advisor"])
def test_a_step_with_no_planned_row_creates_nothing(frozen: Any, rule: str) -> None:
    # every member held back (arbitration, an emptied audience): the executor gets no row
    staffed_queue("care-team", agents=2)
    empty = (
        "SELECT NULL::bigint AS enrollment_id, NULL::bigint AS customer_id,"
        " NULL::timestamptz AS due_at, NULL::timestamptz AS deadline_at,"
        " 0::float8 AS priority WHERE false"
    )
    step = {
        "position": 1,
        "channel": "call",
        "assignee_rule": rule,
        "assignee_target": "care-team",
        "name": "Call",
    }
    assert steps_plan(step=step, planned_sql=empty, params={}) == 0
    assert not OutreachTask.objects.exists()


def test_queue_steps_still_wait_unassigned(
    frozen: Any, django_capture_on_commit_callbacks: Any
) -> None:
    staffed_queue("winback", agents=2)
    rule = _call_journey("queue", "winback")
    members = customers(4)
    Customer.objects.filter(pk__in=[c.pk for c in members]).update(
        advisor=UserFactory(role=Role.AGENT)
    )
    _launch(campaign(rule=rule, segment=segment_with(members)), django_capture_on_commit_callbacks)
    tasks = OutreachTask.objects.filter(enrollment__rule=rule)
    assert tasks.count() == 4
    assert set(tasks.values_list("queue__slug", "assignee_id")) == {("winback", None)}


def test_starting_again_assigns_nothing_twice(
    frozen: Any, django_capture_on_commit_callbacks: Any
) -> None:
    _daily_limit(3)
    staffed_queue("care-team", agents=2)
    rule = _call_journey("least_loaded", "care-team")
    target = campaign(rule=rule, segment=segment_with(customers(8)))
    run = _launch(target, django_capture_on_commit_callbacks)
    before = _assignees(rule)
    assert len(before) == 8
    assert None not in before.values()

    CampaignRun.objects.filter(pk=run.pk).update(status=CampaignRunStatus.PENDING)
    again = campaign_run_start(run_id=run.pk)

    assert again.tasks == 0
    assert _assignees(rule) == before


def test_the_advisor_sees_their_campaign_call_in_their_queue(
    frozen: Any, django_capture_on_commit_callbacks: Any, api_as: Any, client: Client
) -> None:
    # given an advisor of one customer and another agent of the "general" queue
    staffed_queue("general", agents=1)
    colleague = Queue.objects.get(slug="general").members.get()
    advisor = UserFactory(role=Role.AGENT)
    mine, other = customers(2)
    Customer.objects.filter(pk=mine.pk).update(advisor=advisor)
    rule = _call_journey("advisor", "")
    _launch(
        campaign(rule=rule, segment=segment_with([mine, other])),
        django_capture_on_commit_callbacks,
    )

    # when the calls fall due and the dispatcher releases them
    dispatch_due()

    # then the advisor's queue shows their customer's call, and the colleague sees only the
    # call waiting unassigned in "general"
    url = reverse("api-outreach-my-queue")
    response = api_as(advisor).get(url)
    assert response.status_code == 200
    assert [row["customer"]["id"] for row in response.json()] == [mine.pk]
    response = api_as(colleague).get(url)
    assert [row["customer"]["id"] for row in response.json()] == [other.pk]
    # and on the My queue page
    client.force_login(advisor)
    page = client.get(reverse("my-queue"))
    assert page.status_code == 200
    assert [row["task"].customer_id for row in page.context["rows"]] == [mine.pk]


def test_least_loaded_prefers_skilled_agents_as_the_rule_path_does(
    frozen: Any, django_capture_on_commit_callbacks: Any
) -> None:
    # given a pool of an English speaker, a Chinese speaker and an agent without skills (3
    # calls a day each), and 7 customers of whom 4 speak English
    from callcenter.choices import Language
    from outreach.services.capacity import Want, assign_preferring
    from outreach.services.routing_rules import call_skills

    _daily_limit(3)
    pool = staffed_queue("care-team", agents=3)
    english, chinese, plain = pool.members.order_by("pk")
    AgentProfile.objects.create(user=english, skills=["en"])
    AgentProfile.objects.create(user=chinese, skills=["zh-hans"])
    members = customers(7)
    speakers = [members[i].pk for i in (1, 4, 5, 6)]
    Customer.objects.filter(pk__in=speakers).update(language=Language.EN)
    # the rule path's two passes over the same loads, the most valuable customer first
    agents = [english.pk, chinese.pk, plain.pk]
    capacity = capacity_load(agent_ids=agents, days=[WEDNESDAY])
    prefer = call_skills(c.pk for c in members)
    expected = assign_preferring(
        capacity,
        [
            Want(key=c.pk, candidates=agents, day=WEDNESDAY, prefer=prefer[c.pk])
            for c in reversed(members)
        ],
    )
    rule = _call_journey("least_loaded", "care-team")

    # when a campaign of the 7 starts
    _launch(campaign(rule=rule, segment=segment_with(members)), django_capture_on_commit_callbacks)

    # then each call went where the rule path would have put it: the English speaker took the
    # three most valuable English speakers, the Chinese speaker three Chinese customers, and the
    # rest went to the least loaded
    assert _assignees(rule) == expected
    assert {c for c, a in expected.items() if a == english.pk} == set(speakers[1:])
    assert Counter(expected.values()) == {english.pk: 3, chinese.pk: 3, plain.pk: 1}

"""Care reports: effectiveness per rule (treated against control) and the dashboard KPIs, with
their definitions checked on small hand-made data and their query counts pinned."""

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from callcenter.choices import Direction, TicketKind
from care.choices import EventType, StepChannel
from care.models import CareRule, CareRuleVersion, Enrollment, Event
from care.selectors_reports import care_kpis, rule_effectiveness
from outreach.choices import TaskOutcome, TaskStatus
from outreach.models import OutreachTask
from tests.callcenter.factories import (
    CustomerFactory,
    InteractionFactory,
    OrderFactory,
    SurveyFactory,
    TicketFactory,
)
from tests.outreach.factories import CallTaskFactory, CareRuleFactory, TaskFactory

pytestmark = pytest.mark.django_db


def _enroll(rule: CareRule, *, days_ago: float = 5, control: bool = False) -> Enrollment:
    version = rule.versions.first() or CareRuleVersion.objects.create(
        rule=rule, version=1, snapshot={"steps": []}
    )
    customer = CustomerFactory()
    when = timezone.now() - dt.timedelta(days=days_ago)
    event = Event.objects.create(
        type=rule.trigger_type, customer=customer, occurred_at=when, payload={}
    )
    return Enrollment.objects.create(
        rule=rule,
        rule_version=version,
        customer=customer,
        event=event,
        is_control=control,
        enrolled_at=when,
    )


def test_effectiveness_counts_reach_response_and_conversion_of_both_groups() -> None:
    rule = CareRuleFactory(holdout_share=0.5)
    converted = _enroll(rule)
    OrderFactory(customer=converted.customer, placed_at=timezone.now() - dt.timedelta(days=2))
    replied = _enroll(rule)
    InteractionFactory(customer=replied.customer, direction=Direction.INBOUND)
    reached = _enroll(rule)
    TaskFactory(
        customer=reached.customer,
        enrollment=reached,
        status=TaskStatus.DELIVERED,
        delivered_at=timezone.now(),
    )
    ordered_before = _enroll(rule)
    OrderFactory(customer=ordered_before.customer, placed_at=timezone.now() - dt.timedelta(days=9))
    control_converted = _enroll(rule, control=True)
    OrderFactory(
        customer=control_converted.customer, placed_at=timezone.now() - dt.timedelta(days=1)
    )
    late = _enroll(rule, control=True, days_ago=40)
    OrderFactory(customer=late.customer, placed_at=timezone.now() - dt.timedelta(days=1))
    idle = CareRuleFactory(name="Idle")

    effects = {effect.rule_id: effect for effect in rule_effectiveness()}

    effect = effects[rule.pk]
    assert (effect.enrolled, effect.control) == (4, 2)
    assert (effect.reached, effect.responded, effect.converted) == (1, 2, 1)
    assert (effect.control_responded, effect.control_converted) == (1, 1)
    assert effect.uplift.difference == pytest.approx(0.25 - 0.5)
    assert effect.uplift.verdict == "no_evidence"
    assert effects[idle.pk].enrolled == 0
    assert effects[idle.pk].uplift.difference is None


def test_the_effectiveness_page_shows_each_rule_in_fixed_queries(
    supervisor_client: Client, django_assert_num_queries: Any
) -> None:
    for index in range(3):
        rule = CareRuleFactory(name=f"Rule {index}", holdout_share=0.2)
        for _ in range(3):
            _enroll(rule)
        _enroll(rule, control=True)
    supervisor_client.get(reverse("care-effectiveness"))

    # request savepoint and release, session, user, roles; grouped counts; rules
    with django_assert_num_queries(7):
        response = supervisor_client.get(reverse("care-effectiveness"))

    html = response.content.decode()
    assert response.status_code == 200
    assert html.count("data-rule-id=") == 3
    assert html.count('data-verdict="no_evidence"') == 3
    assert "Newcombe" in html


def test_the_effectiveness_page_limits_the_period(supervisor_client: Client) -> None:
    rule = CareRuleFactory(name="Old and new")
    _enroll(rule, days_ago=200)
    _enroll(rule, days_ago=10)

    recent = supervisor_client.get(reverse("care-effectiveness"), {"days": 90})
    everything = supervisor_client.get(reverse("care-effectiveness"))

    assert recent.context["effects"][0].enrolled == 1
    assert everything.context["effects"][0].enrolled == 2


@pytest.fixture
def kpi_data() -> dict[str, Any]:
    now = timezone.now()
    sms = TaskFactory(status=TaskStatus.SENT, sent_at=now)
    delivered = TaskFactory(status=TaskStatus.DELIVERED, sent_at=now, delivered_at=now)
    met = CallTaskFactory(
        status=TaskStatus.DONE,
        outcome=TaskOutcome.REACHED,
        due_at=now - dt.timedelta(hours=3),
        deadline_at=now - dt.timedelta(hours=1),
        completed_at=now - dt.timedelta(hours=2),
    )
    missed = CallTaskFactory(
        due_at=now - dt.timedelta(hours=3), deadline_at=now - dt.timedelta(hours=1)
    )
    old = TaskFactory(status=TaskStatus.SENT, sent_at=now - dt.timedelta(days=60))
    OutreachTask.objects.filter(pk=old.pk).update(created_at=now - dt.timedelta(days=60))
    for score in (10, 9, 3):
        SurveyFactory(score=score)
    TicketFactory(kind=TicketKind.COMPLAINT)
    TicketFactory(kind=TicketKind.COMPLAINT)
    TicketFactory(kind=TicketKind.INQUIRY)
    loyal = CustomerFactory()
    OrderFactory(customer=loyal, placed_at=now - dt.timedelta(days=3))
    OrderFactory(customer=loyal, placed_at=now - dt.timedelta(days=4))
    OrderFactory(placed_at=now - dt.timedelta(days=5))
    dormant = CareRuleFactory(trigger_type=EventType.INACTIVITY)
    woken = _enroll(dormant, days_ago=6)
    OrderFactory(customer=woken.customer, placed_at=now - dt.timedelta(days=5))
    _enroll(dormant, days_ago=6)
    _enroll(dormant, days_ago=6, control=True)
    return {"sms": sms, "delivered": delivered, "met": met, "missed": missed}


def test_kpis_follow_their_definitions(kpi_data: dict[str, Any]) -> None:
    kpis = care_kpis(days=30)

    assert kpis.tasks_created == 4
    assert kpis.tasks_sent == 2
    assert kpis.tasks_reached == 2
    assert kpis.sla_due == 2
    assert kpis.sla_compliance == pytest.approx(0.5)
    assert kpis.nps == pytest.approx(33.3)
    assert kpis.nps_answers == 3
    assert kpis.complaints == 2
    # buyers: loyal (2 orders), one single buyer, the woken customer
    assert kpis.buyers == 3
    assert kpis.repurchase_rate == pytest.approx(1 / 3)
    assert kpis.dormant_enrolled == 2
    assert kpis.wakeup_rate == pytest.approx(0.5)
    assert kpis.conversion_rate == pytest.approx(0.5)
    assert sum(kpis.series["created"]) == 4
    assert sum(kpis.series["complaints"]) == 2
    assert len(kpis.series["labels"]) in (30, 31)


def test_sla_compliance_counts_every_channel_deadline() -> None:
    # given: deadlines passed an hour ago, on calls and on automated channels
    now = timezone.now()
    due, deadline = now - dt.timedelta(hours=3), now - dt.timedelta(hours=1)
    in_time = now - dt.timedelta(hours=2)
    late = now - dt.timedelta(minutes=30)
    CallTaskFactory(status=TaskStatus.DONE, due_at=due, deadline_at=deadline, completed_at=in_time)
    CallTaskFactory(status=TaskStatus.DONE, due_at=due, deadline_at=deadline, completed_at=late)
    TaskFactory(status=TaskStatus.SENT, due_at=due, deadline_at=deadline, sent_at=in_time)
    TaskFactory(
        channel=StepChannel.EMAIL,
        status=TaskStatus.DELIVERED,
        due_at=due,
        deadline_at=deadline,
        sent_at=in_time,
        delivered_at=in_time,
    )
    TaskFactory(status=TaskStatus.SENT, due_at=due, deadline_at=deadline, sent_at=late)
    TaskFactory(status=TaskStatus.FAILED, due_at=due, deadline_at=deadline, sent_at=in_time)
    TaskFactory(status=TaskStatus.PENDING, due_at=due, deadline_at=deadline)
    # withdrawn by the plan or stopped by a guardrail: owed by nobody
    TaskFactory(status=TaskStatus.CANCELLED, due_at=due, deadline_at=deadline)
    TaskFactory(status=TaskStatus.SKIPPED, due_at=due, deadline_at=deadline)
    # not yet due
    TaskFactory(status=TaskStatus.SENT, sent_at=now)

    # when
    kpis = care_kpis(days=7)

    # then: 7 owed (2 calls, 5 automated); met: a call done and two messages sent in time
    assert kpis.sla_due == 7
    assert kpis.sla_met == 3
    assert kpis.sla_compliance == pytest.approx(3 / 7)
    assert kpis.tasks_completed == 2


def test_kpis_of_a_week_leave_out_older_rows(kpi_data: dict[str, Any]) -> None:
    OutreachTask.objects.filter(pk=kpi_data["sms"].pk).update(
        created_at=timezone.now() - dt.timedelta(days=20)
    )

    kpis = care_kpis(days=7)

    assert kpis.tasks_created == 3
    assert len(kpis.series["labels"]) in (7, 8)


def test_ninety_days_are_drawn_by_week(kpi_data: dict[str, Any]) -> None:
    kpis = care_kpis(days=90)

    assert 13 <= len(kpis.series["labels"]) <= 14
    assert sum(kpis.series["created"]) == 5


@pytest.mark.parametrize("days", [7, 30, 90])
def test_the_kpi_fragment_takes_the_same_queries_whatever_the_data(
    supervisor_client: Client,
    kpi_data: dict[str, Any],
    django_assert_num_queries: Any,
    days: int,
) -> None:
    url = reverse("care-dashboard-kpis")
    supervisor_client.get(url)

    # request savepoint and release, session, user, roles; tasks, task trend, enrollments,
    # survey (NPS and CSAT) trend, churn, complaints trend, buyers
    with django_assert_num_queries(12):
        response = supervisor_client.get(url, {"days": days}, HTTP_HX_REQUEST="true")

    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert 'data-kpi="sla_compliance"' in html
    assert 'id="care-kpi-series"' in html
    assert "kpis.js" in html


def test_the_kpis_render_alone_as_a_page(supervisor_client: Client) -> None:
    response = supervisor_client.get(reverse("care-dashboard-kpis"), {"days": "bogus"})

    html = response.content.decode()
    assert "<html" in html
    assert response.context["kpis"].days == 30
    assert "Care KPIs" in html


def test_call_outcomes_that_do_not_reach_the_customer_are_not_reached() -> None:
    CallTaskFactory(
        channel=StepChannel.CALL,
        status=TaskStatus.DONE,
        outcome=TaskOutcome.NO_ANSWER,
        completed_at=timezone.now(),
    )

    assert care_kpis(days=7).tasks_reached == 0


def test_a_rule_that_clearly_converts_better_than_its_control_works(
    supervisor_client: Client,
) -> None:
    rule = CareRuleFactory(name="Wake-up offer", holdout_share=0.5)
    for index in range(30):
        treated = _enroll(rule)
        if index < 20:
            OrderFactory(customer=treated.customer, placed_at=timezone.now())
        control = _enroll(rule, control=True)
        if index < 3:
            OrderFactory(customer=control.customer, placed_at=timezone.now())

    response = supervisor_client.get(reverse("care-effectiveness"))

    html = response.content.decode()
    assert 'data-verdict="works"' in html
    assert "66.7% / 10.0%" in html
    assert "+56.7 pp" in html


def test_churn_rate_counts_live_customers_at_the_start_who_became_lost() -> None:
    # given: lifecycle history; the period is the last 30 days
    from segments.choices import SegmentKind
    from segments.models import Segment, SegmentMembership

    now = timezone.now()
    stage = {
        key: Segment.objects.get(kind=SegmentKind.LIFECYCLE, key=key)
        for key in ("active", "dormant", "lost", "prospect")
    }
    long_ago, lately = now - dt.timedelta(days=100), now - dt.timedelta(days=10)

    def stay(key: str, customer: Any, entered: dt.datetime, exited: Any = None) -> None:
        SegmentMembership.objects.create(
            segment=stage[key], customer=customer, entered_at=entered, exited_at=exited
        )

    churned, kept, prospect, already_lost, newcomer = (CustomerFactory() for _ in range(5))
    stay("dormant", churned, long_ago, lately)
    stay("lost", churned, lately)
    stay("active", kept, long_ago)
    stay("prospect", prospect, long_ago, lately)
    stay("lost", prospect, lately)  # never bought: not in the base
    stay("lost", already_lost, long_ago)
    stay("active", newcomer, lately)  # joined during the period: not in the base
    for score in (5, 4, 2):
        SurveyFactory(kind="csat", score=score, responded_at=now - dt.timedelta(days=1))
    SurveyFactory(kind="csat", score=1, responded_at=now - dt.timedelta(days=40))

    # when
    kpis = care_kpis(days=30, now=now)

    # then
    assert (kpis.churn_base, kpis.churn_lost) == (2, 1)
    assert kpis.churn_rate == pytest.approx(0.5)
    assert kpis.csat_answers == 3
    assert kpis.csat == pytest.approx(11 / 3)


def test_the_dashboard_kpis_show_churn_and_csat(supervisor_client: Client) -> None:
    SurveyFactory(kind="csat", score=4, responded_at=timezone.now() - dt.timedelta(days=1))

    response = supervisor_client.get(
        reverse("care-dashboard-kpis"), {"days": 7}, HTTP_HX_REQUEST="true"
    )

    html = response.content.decode()
    assert 'data-kpi="churn_rate"' in html
    assert 'data-kpi="csat"' in html
    assert "4.00" in html

"""A campaign's tasks go through the dispatcher like any plan's: sent as their paced due times
come, with the same guardrails (an opted-out member is skipped, not sent), and counted in the
campaign's progress."""

import datetime as dt
from typing import Any

import pytest
import time_machine

from care.selectors_campaigns import campaign_progress
from care.services.campaigns import campaign_launch
from outreach.choices import TaskStatus
from outreach.models import OutreachTask
from outreach.reasons import SkipReason
from outreach.services.dispatch import dispatch_due
from tests.callcenter.factories import PhoneFactory, UserFactory
from tests.care.campaign_fixtures import campaign, customers, journey, segment_with
from tests.outreach.gateway import Gateway

pytestmark = pytest.mark.django_db

# Mid-afternoon in Shanghai: nobody's quiet hours get in the way.
DAYTIME = dt.datetime(2026, 6, 10, 7, 0, tzinfo=dt.UTC)


def test_campaign_sends_are_dispatched_as_paced_with_the_guardrails(
    http_sms: Gateway, django_capture_on_commit_callbacks: Any
) -> None:
    with time_machine.travel(DAYTIME, tick=False) as clock:
        members = customers(4)
        for customer in members:
            PhoneFactory(customer=customer)
        # the biggest spender (ranked first) opted out of SMS
        members[-1].sms_opt_out = True
        members[-1].save()
        target = campaign(rule=journey(), segment=segment_with(members), max_per_hour={"sms": 2})
        with django_capture_on_commit_callbacks(execute=True):
            campaign_launch(campaign=target, launched_by=UserFactory(role="supervisor"))
        tasks = OutreachTask.objects.filter(enrollment__rule=target.rule)

        # at the start only the first of two an hour is due: the opted-out member, skipped
        dispatch_due()
        assert list(tasks.exclude(status=TaskStatus.PENDING).values_list("status", "reason")) == [
            (TaskStatus.SKIPPED, SkipReason.OPTED_OUT)
        ]
        assert len(http_sms.requests) == 0

        # an hour later the next two have fallen due and are sent; the last waits its turn
        clock.shift(dt.timedelta(hours=1))
        dispatch_due()
        assert len(http_sms.requests) == 2
        assert tasks.filter(status=TaskStatus.SENT).count() == 2
        assert tasks.filter(status=TaskStatus.PENDING).count() == 1

        progress = campaign_progress(campaign=target).as_dict()
        assert (progress["sent"], progress["queued"], progress["skipped"]) == (2, 1, 1)

"""Integration: a campaign launched through the API is started by a real Celery worker through
Redis, once, even when the periodic pass tries too (its run row is locked and its status
checked).

Rows are committed (the worker has its own database connection) and deleted afterwards by the
`committed_rows` fixture."""

import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from callcenter import celery_app
from callcenter.choices import Role
from care.choices import CampaignRunStatus
from care.models import CampaignMember, CampaignRun
from care.services.campaigns import campaigns_tick
from outreach.models import OutreachTask
from tests.callcenter.factories import UserFactory
from tests.care.campaign_fixtures import customers, journey, segment_with
from tests.workers import celery_worker, purge

START_TIMEOUT = 30


@pytest.fixture
def worker(committed_rows: None, tmp_path: Any) -> Iterator[str]:
    purge("default")
    hostname = f"campaign-test-{os.getpid()}@localhost"
    with celery_worker(hostname, queues="default", log_path=tmp_path / "worker.log"):
        yield hostname


def test_a_campaign_launched_over_the_api_is_started_once_by_a_real_worker(worker: str) -> None:
    segment = segment_with(customers(30), slug=f"worker-campaign-{os.getpid()}")
    rule = journey(name=f"Worker journey {os.getpid()}")
    client = APIClient()
    client.force_authenticate(
        UserFactory(role=Role.SUPERVISOR, username=f"worker-supervisor-{os.getpid()}")
    )
    created = client.post(
        "/api/care/campaigns/",
        {
            "name": "Worker campaign",
            "rule": rule.pk,
            "segment": segment.pk,
            "starts_at": timezone.now().isoformat(),
            "holdout_share": 0.2,
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    pk = created.json()["id"]

    celery_app.conf.task_always_eager = False
    try:
        launched = client.post(f"/api/care/campaigns/{pk}/launch/")
        assert launched.status_code == 200, launched.content
        campaigns_tick()  # the periodic pass racing the worker for the same run
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            run = CampaignRun.objects.get(campaign_id=pk)
            if run.status == CampaignRunStatus.STARTED:
                break
            time.sleep(0.1)
    finally:
        celery_app.conf.task_always_eager = True

    run = CampaignRun.objects.get(campaign_id=pk)
    assert (run.status, run.members, run.control, run.tasks) == ("started", 30, 6, 24)
    assert CampaignMember.objects.filter(run=run).count() == 30
    assert OutreachTask.objects.filter(enrollment__rule=rule).count() == 24

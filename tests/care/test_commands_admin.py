"""The care_tick command and the care admin."""

import datetime as dt
import json
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

from callcenter.choices import TicketKind
from callcenter.models import AuditLog
from callcenter.services.activity import ticket_open
from care.models import CareRule, Enrollment, Event
from tests.callcenter.factories import CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_care_tick_runs_one_pass_of_every_periodic_job(playbook: dict, frozen: Any) -> None:
    # given: a complaint whose message was lost
    customer = CustomerFactory()
    ticket_open(customer=customer, kind=TicketKind.COMPLAINT, subject="Late")
    frozen.shift(dt.timedelta(minutes=1))
    out = StringIO()

    call_command("care_tick", stdout=out)

    report = json.loads(out.getvalue())
    assert set(report) == {
        "events",
        "time_events",
        "journeys_timed_out",
        "enrollments_completed",
        "campaigns",
        "dispatch",
        "sla",
        "ticket_sla",
    }
    assert report["events"]["processed"] == 1
    assert Enrollment.objects.filter(customer=customer).exists()
    # the due apology SMS went through the dispatcher in the same pass
    assert sum(report["dispatch"].values()) > 0
    assert Event.objects.get().processed_at is not None


@pytest.fixture
def admin_client_logged_in() -> Client:
    client = Client()
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


@pytest.mark.parametrize(
    "page",
    [
        "carerule",
        "careruleversion",
        "event",
        "enrollment",
        "messagetemplate",
        "caresettings",
    ],
)
def test_admin_pages_open(admin_client_logged_in: Client, playbook: dict, page: str) -> None:
    response = admin_client_logged_in.get(f"/admin/care/{page}/")

    assert response.status_code == 200


def test_an_admin_edit_of_a_rule_is_versioned_and_audited(
    admin_client_logged_in: Client, playbook: dict
) -> None:
    rule = CareRule.objects.get(playbook_key="nps-detractor")
    step = rule.steps.get()
    form = {
        "name": rule.name,
        "slug": rule.slug,
        "description": rule.description,
        "trigger_type": rule.trigger_type,
        "trigger_params": json.dumps({"kind": "nps", "max_score": 5}),
        "conditions": "null",
        "priority": 80,
        "cooldown_days": 0,
        "holdout_share": 0,
        "stop_conditions": "[]",
        "is_active": "on",
        "steps-TOTAL_FORMS": 1,
        "steps-INITIAL_FORMS": 1,
        "steps-MIN_NUM_FORMS": 0,
        "steps-MAX_NUM_FORMS": 1000,
        "steps-0-id": step.pk,
        "steps-0-rule": rule.pk,
        "steps-0-position": 1,
        "steps-0-name": step.name,
        "steps-0-delay_value": 0,
        "steps-0-delay_unit": step.delay_unit,
        "steps-0-channel": step.channel,
        "steps-0-template": step.template_id,
        "steps-0-assignee_rule": step.assignee_rule,
        "steps-0-assignee_target": step.assignee_target,
        "steps-0-sla_minutes": 120,
        "steps-0-touch_kind": step.touch_kind,
        "steps-0-conditions": "null",
    }

    saved = admin_client_logged_in.post(f"/admin/care/carerule/{rule.pk}/change/", form)
    refused = admin_client_logged_in.post(
        f"/admin/care/carerule/{rule.pk}/change/",
        {**form, "trigger_params": json.dumps({"max_score": 99})},
    )

    assert saved.status_code == 302
    rule.refresh_from_db()
    assert rule.version == 3  # created, activated by the install, edited here
    snapshot = rule.versions.get(version=3).snapshot
    assert snapshot["trigger_params"] == {"kind": "nps", "max_score": 5}
    assert snapshot["steps"][0]["sla_minutes"] == 120
    assert AuditLog.objects.filter(action="care_rule.update", object_id=str(rule.pk)).exists()
    assert refused.status_code == 200
    assert "must be a whole number from 0 to 10" in refused.content.decode()
    rule.refresh_from_db()
    assert rule.version == 3

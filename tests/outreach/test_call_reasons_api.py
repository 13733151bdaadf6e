"""The call reasons' follow-ups over the API: what the page does, for other systems."""

import pytest
from rest_framework.test import APIClient

from callcenter.choices import Language, Role
from callcenter.models import AuditLog
from care.choices import TemplateChannel
from care.models import MessageTemplate
from care.services.templates import template_create
from outreach.models import CallReasonSetting
from tests.callcenter.factories import UserFactory

pytestmark = pytest.mark.django_db

URL = "/api/outreach/call-reasons/"


def _client(role: str) -> APIClient:
    client = APIClient()
    client.force_authenticate(UserFactory(role=role))
    return client


def _template(slug: str, body: str) -> MessageTemplate:
    return template_create(
        name=slug,
        slug=slug,
        channel=TemplateChannel.SMS,
        variants={Language.EN: {"subject": "", "body": body}},
    )


@pytest.fixture
def survey() -> MessageTemplate:
    return _template("csat-api", "Rate us: {{ survey_link }}")


def test_an_admin_adds_changes_and_removes_a_reasons_follow_ups(survey: MessageTemplate) -> None:
    admin = _client(Role.ADMIN)

    created = admin.post(
        URL,
        {"reason": "  Billing   question ", "summary_channel": "sms", "csat_template": "csat-api"},
        format="json",
    )
    pk = created.json()["id"]
    changed = admin.patch(f"{URL}{pk}/", {"summary_channel": "email"}, format="json")
    listed = _client(Role.SUPERVISOR).get(URL).json()
    removed = admin.delete(f"{URL}{pk}/")

    assert created.status_code == 201
    assert created.json()["reason"] == "Billing question"
    assert changed.json()["summary_channel"] == "email"
    assert changed.json()["reason"] == "Billing question"
    assert [row["reason"] for row in listed] == ["Billing question"]
    assert removed.status_code == 204
    assert not CallReasonSetting.objects.exists()
    assert list(
        AuditLog.objects.filter(object_type="call_reason_setting")
        .order_by("pk")
        .values_list("action", flat=True)
    ) == [
        "call_reason_setting.create",
        "call_reason_setting.update",
        "call_reason_setting.delete",
    ]


def test_bad_input_is_refused_and_changes_nothing() -> None:
    admin = _client(Role.ADMIN)
    plain = _template("plain-api", "No link here")
    CallReasonSetting.objects.create(reason="Billing")

    duplicate = admin.post(URL, {"reason": "billing", "summary_channel": "sms"}, format="json")
    no_link = admin.post(
        URL,
        {"reason": "Returns", "summary_channel": "none", "csat_template": plain.slug},
        format="json",
    )
    bad_channel = admin.post(URL, {"reason": "Returns", "summary_channel": "fax"}, format="json")

    assert duplicate.status_code == no_link.status_code == bad_channel.status_code == 400
    assert duplicate.json()["field"] == "reason"
    assert list(CallReasonSetting.objects.values_list("reason", flat=True)) == ["Billing"]


def test_supervisors_read_and_agents_are_refused() -> None:
    assert _client(Role.SUPERVISOR).post(URL, {"reason": "X"}, format="json").status_code == 403
    assert _client(Role.AGENT).get(URL).status_code == 403

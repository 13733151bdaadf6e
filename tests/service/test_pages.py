"""SLA pages and API: admins edit policies and calendars, supervisors read; lists without N+1."""

import pytest
from django.test import Client
from django.urls import reverse

from callcenter.choices import Role
from segments.models import Segment
from service.models import BusinessCalendar, SlaPolicy
from service.services.sla_admin import sla_policy_create
from tests.callcenter.factories import UserFactory
from tests.service.factories import BusinessCalendarFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client() -> Client:
    client = Client()
    client.force_login(UserFactory(username="sla-admin", role=Role.ADMIN))
    return client


def _policy_post(**overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "name": "To B complaints",
        "is_active": "on",
        "ticket_kinds": ["complaint"],
        "customer_kinds": ["business"],
        "first_response_hours": "1",
        "first_response_mins": "30",
        "resolution_hours": "24",
        "warn_at_percent": "80",
        "escalate_reassign": "on",
    }
    data.update(overrides)
    return data


def test_an_admin_creates_a_policy_in_hours_and_minutes(admin_client: Client) -> None:
    calendar = BusinessCalendarFactory()
    segment = Segment.objects.filter(is_active=True).first()
    response = admin_client.post(
        reverse("service-sla-policy-create"),
        _policy_post(calendar=str(calendar.pk), segments=[str(segment.pk)] if segment else []),
    )
    assert response.status_code == 302
    policy = SlaPolicy.objects.get(name="To B complaints")
    assert policy.first_response_minutes == 90
    assert policy.resolution_minutes == 24 * 60
    assert policy.next_response_minutes is None
    assert (policy.ticket_kinds, policy.customer_kinds) == (["complaint"], ["business"])
    assert policy.calendar == calendar
    assert (policy.escalate_reassign, policy.escalate_notify) == (True, False)
    assert policy.versions.get().changed_by.username == "sla-admin"


@pytest.mark.parametrize(
    "overrides",
    [
        {"name": ""},
        {"ticket_kinds": ["nonsense"]},
        {"warn_at_percent": "100"},
        {"first_response_hours": "0", "first_response_mins": "0"},
        {"calendar": "999999"},
    ],
)
def test_bad_input_is_shown_and_saves_nothing(admin_client: Client, overrides) -> None:
    response = admin_client.post(reverse("service-sla-policy-create"), _policy_post(**overrides))
    assert response.status_code == 200
    assert b"field-error" in response.content
    assert not SlaPolicy.objects.exists()


def test_editing_makes_a_version_shown_in_the_history(admin_client: Client) -> None:
    policy = sla_policy_create(created_by=None, name="P", first_response_minutes=60)
    admin_client.post(
        reverse("service-sla-policy-edit", args=[policy.pk]),
        _policy_post(name="P", first_response_hours="2", first_response_mins=""),
    )
    policy.refresh_from_db()
    assert policy.version == 2
    page = admin_client.get(reverse("service-sla-policy-history", args=[policy.pk]))
    text = page.content.decode()
    assert "First response within" in text
    assert "2 h" in text
    assert "sla_policy.update" in text


def test_move_reorders(admin_client: Client) -> None:
    first = sla_policy_create(created_by=None, name="A")
    sla_policy_create(created_by=None, name="B")
    admin_client.post(reverse("service-sla-policy-move", args=[first.pk]), {"direction": "down"})
    assert list(SlaPolicy.objects.values_list("name", flat=True)) == ["B", "A"]


def test_the_policy_list_reads_in_constant_queries(
    admin_client: Client, django_assert_max_num_queries
) -> None:
    calendar = BusinessCalendarFactory()
    for n in range(3):
        sla_policy_create(created_by=None, name=f"P{n}", calendar_id=calendar.pk)
    admin_client.get(reverse("service-sla-policies"))
    with django_assert_max_num_queries(12) as few:
        admin_client.get(reverse("service-sla-policies"))
    for n in range(3, 15):
        sla_policy_create(created_by=None, name=f"P{n}", calendar_id=calendar.pk)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = admin_client.get(reverse("service-sla-policies"))
    assert response.content.count(b"data-policy=") == 15


def test_calendar_grid_and_dates(admin_client: Client) -> None:
    response = admin_client.post(
        reverse("service-calendar-create"),
        {
            "name": "Shifts",
            "timezone": "Asia/Shanghai",
            "follows_public_holidays": "on",
            "d0_start1": "09:00",
            "d0_end1": "12:00",
            "d0_start2": "13:00",
            "d0_end2": "18:00",
            "d5_start1": "20:00",
            "d5_end1": "00:00",
        },
    )
    assert response.status_code == 302
    calendar = BusinessCalendar.objects.get(name="Shifts")
    assert calendar.hours == {
        "0": [["09:00", "12:00"], ["13:00", "18:00"]],
        "5": [["20:00", "24:00"]],
    }
    url = reverse("service-calendar-date-add", args=[calendar.pk])
    assert admin_client.post(url, {"day": "2026-06-01", "reason": "Outing"}).status_code == 302
    refused = admin_client.post(url, {"day": "2026-06-01", "reason": "Again"})
    assert refused.status_code == 400
    entry = calendar.dates.get()
    assert not entry.is_open
    admin_client.post(reverse("service-calendar-date-remove", args=[entry.pk]))
    assert not calendar.dates.exists()
    page = admin_client.get(reverse("service-calendars"))
    assert b"13:00" in page.content


def test_api_writes_are_checked(api_as, crm_admin_user, supervisor_user) -> None:
    client = api_as(crm_admin_user)
    created = client.post(
        reverse("api-sla-policies"),
        {"name": "VIP", "value_tiers": ["high"], "resolution_minutes": 120},
        format="json",
    )
    assert created.status_code == 201
    pk = created.json()["id"]
    bad = client.patch(reverse("api-sla-policy", args=[pk]), {"priorities": ["x"]}, format="json")
    assert bad.status_code == 400
    assert SlaPolicy.objects.get(pk=pk).priorities == []
    assert (
        api_as(supervisor_user)
        .get(reverse("api-sla-policy-versions", args=[pk]))
        .json()[0]["version"]
        == 1
    )
    denied = api_as(supervisor_user).patch(
        reverse("api-sla-policy", args=[pk]), {"name": "x"}, format="json"
    )
    assert denied.status_code == 403


def test_an_admin_installs_the_defaults_from_the_empty_list(admin_client: Client) -> None:
    empty = admin_client.get(reverse("service-sla-policies"))
    assert b"data-install-defaults" in empty.content
    admin_client.post(reverse("service-sla-defaults-install"))
    admin_client.post(reverse("service-sla-defaults-install"))
    assert list(SlaPolicy.objects.values_list("name", flat=True)) == ["VIP", "To B", "B2C"]


def test_the_calendar_list_reads_in_constant_queries(
    admin_client: Client, django_assert_max_num_queries
) -> None:
    BusinessCalendarFactory()
    admin_client.get(reverse("service-calendars"))
    with django_assert_max_num_queries(12) as few:
        admin_client.get(reverse("service-calendars"))
    for _n in range(10):
        BusinessCalendarFactory()
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = admin_client.get(reverse("service-calendars"))
    assert response.content.count(b"data-calendar=") == 11

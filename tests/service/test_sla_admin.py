"""Admins' edits of SLA policies and calendars: validated, versioned, audited; the defaults."""

import datetime as dt

import pytest

from callcenter.errors import ApplicationError
from callcenter.models import AuditLog
from care.playbook import playbook_install
from service.models import BusinessCalendar, SlaPolicy
from service.services.sla_admin import (
    business_calendar_date_add,
    business_calendar_date_remove,
    business_calendar_update,
    policy_versions_diff,
    sla_policy_create,
    sla_policy_move,
    sla_policy_update,
)
from service.services.sla_defaults import sla_defaults_install
from tests.service.factories import BusinessCalendarFactory

pytestmark = pytest.mark.django_db


def test_a_change_makes_a_version_with_a_readable_diff(crm_admin_user) -> None:
    policy = sla_policy_create(
        created_by=crm_admin_user,
        name="Complaints",
        ticket_kinds=["complaint"],
        first_response_minutes=60,
    )
    assert (policy.version, policy.versions.count()) == (1, 1)
    sla_policy_update(policy=policy, updated_by=crm_admin_user, name="Complaints")
    assert policy.versions.count() == 1
    policy = sla_policy_update(
        policy=policy,
        updated_by=crm_admin_user,
        first_response_minutes=90,
        ticket_kinds=["complaint", "inquiry"],
    )
    assert policy.version == 2
    older, newer = (v.snapshot for v in policy.versions.order_by("version"))
    assert policy_versions_diff(older, newer) == [
        ("Ticket kinds", "Complaint", "Inquiry, Complaint"),
        ("First response within", "1 h", "1 h 30 min"),
    ]
    assert newer["ticket_kinds"] == ["inquiry", "complaint"]
    assert AuditLog.objects.filter(object_type="sla_policy").count() == 2
    assert policy.versions.get(version=2).changed_by == crm_admin_user


@pytest.mark.parametrize(
    "fields",
    [
        {"name": ""},
        {"ticket_kinds": ["nonsense"]},
        {"first_response_minutes": 0},
        {"first_response_minutes": "60"},
        {"warn_at_percent": 100},
        {"segment_ids": [999999]},
        {"calendar_id": 999999},
        {"colour": "red"},
    ],
)
def test_bad_input_changes_nothing(crm_admin_user, fields) -> None:
    policy = sla_policy_create(created_by=crm_admin_user, name="P")
    with pytest.raises(ApplicationError):
        sla_policy_update(policy=policy, updated_by=crm_admin_user, **fields)
    policy.refresh_from_db()
    assert (policy.name, policy.version, policy.ticket_kinds) == ("P", 1, [])


def test_moving_changes_the_order(crm_admin_user) -> None:
    first, second, third = (
        sla_policy_create(created_by=crm_admin_user, name=name) for name in "ABC"
    )
    sla_policy_move(policy=third, direction="up", moved_by=crm_admin_user)
    assert list(SlaPolicy.objects.values_list("name", flat=True)) == ["A", "C", "B"]
    sla_policy_move(policy=first, direction="up", moved_by=crm_admin_user)
    assert list(SlaPolicy.objects.values_list("name", flat=True)) == ["A", "C", "B"]
    assert AuditLog.objects.filter(action="sla_policy.move").count() == 1


def test_calendar_edits_are_checked_versioned_and_audited(crm_admin_user) -> None:
    calendar = BusinessCalendarFactory()
    with pytest.raises(ApplicationError):
        business_calendar_update(calendar=calendar, updated_by=crm_admin_user, hours={"0": []})
    with pytest.raises(ApplicationError):
        business_calendar_update(calendar=calendar, updated_by=crm_admin_user, timezone="Mars")
    calendar = business_calendar_update(
        calendar=calendar, updated_by=crm_admin_user, hours={"5": [["10:00", "16:00"]]}
    )
    assert calendar.version == 2
    entry = business_calendar_date_add(
        calendar=calendar,
        day=dt.date(2026, 6, 1),
        is_open=False,
        hours=None,
        reason="Company outing",
        added_by=crm_admin_user,
    )
    with pytest.raises(ApplicationError):
        business_calendar_date_add(
            calendar=calendar,
            day=dt.date(2026, 6, 1),
            is_open=False,
            hours=None,
            reason="Again",
            added_by=crm_admin_user,
        )
    with pytest.raises(ApplicationError):
        business_calendar_date_add(
            calendar=calendar,
            day=dt.date(2026, 6, 2),
            is_open=True,
            hours=[],
            reason="Open day",
            added_by=crm_admin_user,
        )
    business_calendar_date_remove(entry=entry, removed_by=crm_admin_user)
    assert not calendar.dates.exists()
    assert AuditLog.objects.filter(object_type="business_calendar").count() == 3


def test_defaults_are_installed_once_with_the_playbook() -> None:
    playbook_install()
    assert list(SlaPolicy.objects.values_list("name", flat=True)) == ["VIP", "To B", "B2C"]
    to_b = SlaPolicy.objects.get(name="To B")
    assert (to_b.first_response_minutes, to_b.resolution_minutes) == (60, 1440)
    assert to_b.calendar == BusinessCalendar.objects.get(name="Business hours")
    assert SlaPolicy.objects.get(name="B2C").calendar is None
    assert sla_defaults_install() == {"sla_calendars_created": 0, "sla_policies_created": 0}

"""Admin area pages: settings, users and roles, audit log.

Bad input changes nothing and shows the error next to its field; every change is audited;
admins cannot lock themselves out; the users list and the audit log run a fixed number of
queries whatever their size.
"""

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django.utils import translation
from django_celery_beat.models import PeriodicTask

from callcenter.choices import Role
from callcenter.models import AgentProfile, AuditLog
from callcenter.services.audit import audit_log_record
from callcenter.services.users import user_role
from care.models import CareSettings
from outreach.models import Queue
from segments.models import RfmSegmentDefinition, Segment, SegmentSettings
from segments.services.settings_edit import REFRESH_TASK
from tests.callcenter.factories import CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db

User = get_user_model()
SETTINGS_URL = reverse("manage-settings")
USERS_URL = reverse("manage-users")
CREATE_URL = reverse("manage-user-create")
AUDIT_URL = reverse("manage-audit")
# The request's savepoint and release (ATOMIC_REQUESTS), session, user, the user's role groups,
# count, page (with agent profiles), prefetched role groups, prefetched queues.
USERS_PAGE_QUERIES = 9
# Savepoint and release, session, user, role groups, count, page (actors joined), actor choices.
AUDIT_PAGE_QUERIES = 8


@pytest.fixture
def admin_client(client: Client, crm_admin_user: Any) -> Client:
    client.force_login(crm_admin_user)
    return client


def _guardrails(**overrides: Any) -> dict[str, Any]:
    data = {
        "section": "guardrails",
        "quiet_start": "21:00",
        "quiet_end": "08:00",
        "business_start": "09:00",
        "business_end": "18:00",
        "business_days": ["1", "2", "3", "4", "5"],
        "frequency_cap": "3",
        "frequency_window_days": "7",
        "agent_daily_limit": "40",
        "csat_interval_days": "7",
        "csat_reply_hours": "72",
        "max_attempts": "5",
        "retry_base_seconds": "60",
        "stop_words": "",
        "inactivity_days": "60",
    }
    data.update(overrides)
    return data


def _rfm_post(changes: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"section": "rfm"}
    names = dict(Segment.objects.filter(kind="rfm").values_list("key", "name"))
    for d in RfmSegmentDefinition.objects.all():
        values = {
            "label": names.get(d.name, d.name),
            "r_min": d.r_min,
            "r_max": d.r_max,
            "fm_min": d.fm_min,
            "fm_max": d.fm_max,
        }
        values.update((changes or {}).get(d.name, {}))
        for part, value in values.items():
            data[f"{d.name}-{part}"] = value
    return data


# ---------------------------------------------------------------------------------------------
# Settings


def test_admin_changes_quiet_hours_and_the_change_is_audited(
    admin_client: Client, crm_admin_user: Any
) -> None:
    response = admin_client.post(
        SETTINGS_URL, _guardrails(quiet_start="22:30", frequency_cap="2", stop_words="停, quit")
    )

    assert response.status_code == 302
    settings = CareSettings.load()
    assert settings.quiet_start == dt.time(22, 30)
    assert settings.frequency_cap == 2
    assert settings.stop_words == ["停", "quit"]
    entry = AuditLog.objects.get(action="care_settings.update")
    assert entry.actor == crm_admin_user
    assert set(entry.data["changed"]) == {"quiet_start", "frequency_cap", "stop_words"}


def test_bad_guardrails_change_nothing_and_show_the_error_next_to_the_field(
    admin_client: Client,
) -> None:
    before = CareSettings.load()

    response = admin_client.post(
        SETTINGS_URL,
        _guardrails(quiet_start="22:30", frequency_cap="0", inactivity_days="30, abc"),
    )

    assert response.status_code == 400
    form = response.context["forms"]["guardrails"]
    assert "frequency_cap" in form.errors
    assert "inactivity_days" in form.errors
    assert CareSettings.load().quiet_start == before.quiet_start
    assert not AuditLog.objects.filter(action="care_settings.update").exists()


def test_service_refusal_lands_on_the_named_field(admin_client: Client) -> None:
    response = admin_client.post(
        SETTINGS_URL, _guardrails(business_start="19:00", business_end="18:00")
    )

    assert response.status_code == 400
    assert "business_start" in response.context["forms"]["guardrails"].errors
    assert CareSettings.load().business_start == dt.time(9, 0)


def test_thresholds_are_checked_together_and_saved_with_before_and_after(
    admin_client: Client,
) -> None:
    current = SegmentSettings.load()
    data = {"section": "thresholds"}
    for name in (
        "new_days",
        "dormant_days",
        "lost_days",
        "window_days",
        "tier_method",
        "high_percentile",
        "medium_percentile",
        "high_threshold",
        "medium_threshold",
        "business_high_threshold",
        "business_medium_threshold",
    ):
        data[name] = str(getattr(current, name))

    refused = admin_client.post(SETTINGS_URL, {**data, "dormant_days": "200", "lost_days": "100"})

    assert refused.status_code == 400
    assert "lost_days" in refused.context["forms"]["thresholds"].errors
    assert SegmentSettings.load().dormant_days == current.dormant_days

    saved = admin_client.post(SETTINGS_URL, {**data, "dormant_days": "75"})

    assert saved.status_code == 302
    assert SegmentSettings.load().dormant_days == 75
    entry = AuditLog.objects.get(action="segment_settings.update")
    assert entry.data == {
        "before": {"dormant_days": current.dormant_days},
        "after": {"dormant_days": 75},
    }


def test_rfm_grid_with_an_uncovered_cell_is_refused(admin_client: Client) -> None:
    # the "lost" definition is the only one covering R1/FM1
    response = admin_client.post(SETTINGS_URL, _rfm_post({"lost": {"fm_min": 2}}))

    assert response.status_code == 400
    assert "R1/FM1" in response.content.decode()
    assert RfmSegmentDefinition.objects.get(name="lost").fm_min == 1


def test_rfm_grid_range_error_is_shown_on_its_row(admin_client: Client) -> None:
    response = admin_client.post(SETTINGS_URL, _rfm_post({"champions": {"r_min": 5, "r_max": 4}}))

    assert response.status_code == 400
    rows = {row["key"]: row for row in response.context["forms"]["rfm"].rows()}
    assert rows["champions"]["errors"]
    assert RfmSegmentDefinition.objects.get(name="champions").r_min == 4


def test_rfm_ranges_and_names_are_saved_and_audited(admin_client: Client) -> None:
    response = admin_client.post(
        SETTINGS_URL,
        _rfm_post({"champions": {"r_min": 5, "label": "Stars"}}),
    )

    assert response.status_code == 302
    assert RfmSegmentDefinition.objects.get(name="champions").r_min == 5
    assert Segment.objects.get(kind="rfm", key="champions").name == "Stars"
    entry = AuditLog.objects.get(action="rfm_grid.update")
    assert entry.data["before"]["champions"] == [4, 5, 4, 5]
    assert entry.data["after"]["champions"] == [5, 5, 4, 5]
    assert entry.data["after"]["champions name"] == "Stars"


def test_rfm_names_show_in_chinese_and_stay_defaults_when_sent_back_unchanged(
    admin_client: Client,
) -> None:
    chinese = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}
    page = admin_client.get(SETTINGS_URL, **chinese).content.decode()
    stored = dict(Segment.objects.filter(kind="rfm").values_list("key", "name"))
    with translation.override("zh-hans"):
        shown = {
            segment.key: segment.display_name for segment in Segment.objects.filter(kind="rfm")
        }
    changes: dict[str, dict[str, Any]] = {key: {"label": name} for key, name in shown.items()}
    changes["champions"] = {"label": "明星客户", "r_min": 5}

    response = admin_client.post(SETTINGS_URL, _rfm_post(changes), **chinese)

    assert 'value="重要价值客户"' in page
    assert "Champions" not in page
    assert response.status_code == 302
    names = dict(Segment.objects.filter(kind="rfm").values_list("key", "name"))
    assert names == {**stored, "champions": "明星客户"}


def test_refresh_schedule_is_changed_and_audited(admin_client: Client) -> None:
    response = admin_client.post(
        SETTINGS_URL,
        {"section": "schedule", "run_at": "03:15", "days": ["1", "3", "7"], "enabled": "on"},
    )

    assert response.status_code == 302
    task = PeriodicTask.objects.select_related("crontab").get(task=REFRESH_TASK)
    assert (task.crontab.hour, task.crontab.minute, task.crontab.day_of_week) == (
        "3",
        "15",
        "0,1,3",
    )
    assert AuditLog.objects.filter(action="refresh_schedule.update").count() == 1
    page = admin_client.get(SETTINGS_URL)
    schedule = page.context["forms"]["schedule"]
    assert schedule.initial["days"] == ["1", "3", "7"]


def test_refresh_schedule_needs_a_day(admin_client: Client) -> None:
    response = admin_client.post(SETTINGS_URL, {"section": "schedule", "run_at": "03:15"})

    assert response.status_code == 400
    assert "days" in response.context["forms"]["schedule"].errors


def test_supervisor_reads_settings_but_cannot_save(client: Client, supervisor_user: Any) -> None:
    client.force_login(supervisor_user)

    page = client.get(SETTINGS_URL)
    refused = client.post(SETTINGS_URL, _guardrails(quiet_start="23:00"))

    assert page.status_code == 200
    assert "Save guardrails" not in page.content.decode()
    assert refused.status_code == 403
    assert CareSettings.load().quiet_start == dt.time(21, 0)


def test_agent_cannot_open_the_admin_area(client: Client, agent_user: Any) -> None:
    client.force_login(agent_user)

    for url in (SETTINGS_URL, USERS_URL, CREATE_URL, AUDIT_URL):
        assert client.get(url).status_code == 403


# ---------------------------------------------------------------------------------------------
# Users


def test_admin_creates_an_agent_with_extension_and_queue(
    admin_client: Client, crm_admin_user: Any
) -> None:
    queue = Queue.objects.create(name="VIP", slug="vip")

    response = admin_client.post(
        CREATE_URL,
        {
            "username": "newagent",
            "first_name": "Li",
            "last_name": "Na",
            "email": "li@example.com",
            "role": Role.AGENT,
            "password": "Strong-pass-123",
            "extension": "8012",
            "queues": [queue.pk],
        },
    )

    assert response.status_code == 302
    user = User.objects.get(username="newagent")
    assert user.check_password("Strong-pass-123")
    assert user_role(user) == Role.AGENT
    assert AgentProfile.objects.get(user=user).extension == "8012"
    assert list(queue.members.all()) == [user]
    actions = set(AuditLog.objects.filter(object_id=str(user.pk)).values_list("action", flat=True))
    assert actions == {"user.create", "user.queues"}
    assert Client().login(username="newagent", password="Strong-pass-123")


def test_bad_new_user_creates_nothing(admin_client: Client, agent_user: Any) -> None:
    AgentProfile.objects.create(user=agent_user, extension="8001")

    response = admin_client.post(
        CREATE_URL,
        {"username": "AGENT1", "role": Role.AGENT, "password": "123", "extension": "8001"},
    )

    assert response.status_code == 400
    errors = response.context["form"].errors
    assert {"username", "password", "extension"} <= set(errors)
    assert User.objects.filter(username__iexact="agent1").count() == 1
    assert not AuditLog.objects.filter(action="user.create").exists()


def test_role_change_is_audited(admin_client: Client, agent_user: Any) -> None:
    url = reverse("manage-user", kwargs={"pk": agent_user.pk})

    response = admin_client.post(url, {"action": "role", "role": Role.SUPERVISOR})

    assert response.status_code == 302
    assert user_role(User.objects.get(pk=agent_user.pk)) == Role.SUPERVISOR
    entry = AuditLog.objects.get(action="user.role")
    assert entry.data["before"] == {"role": "agent"}
    assert entry.data["after"] == {"role": "supervisor"}


def test_admin_cannot_drop_their_own_admin_role_or_deactivate_themselves(
    admin_client: Client, crm_admin_user: Any, make_user: Callable[..., Any]
) -> None:
    make_user(Role.ADMIN, username="other_admin")
    url = reverse("manage-user", kwargs={"pk": crm_admin_user.pk})

    demote = admin_client.post(url, {"action": "role", "role": Role.AGENT})
    deactivate = admin_client.post(url, {"action": "deactivate"}, follow=True)

    assert demote.status_code == 400
    assert "You cannot remove your own admin role." in demote.content.decode()
    assert "You cannot deactivate yourself." in deactivate.content.decode()
    crm_admin_user.refresh_from_db()
    assert crm_admin_user.is_active
    assert user_role(crm_admin_user) == Role.ADMIN
    assert not AuditLog.objects.filter(object_type="user").exists()


def test_the_last_active_admin_stays_an_admin(
    client: Client, crm_admin_user: Any, make_user: Callable[..., Any]
) -> None:
    superuser = UserFactory(username="root", is_superuser=True)
    client.force_login(superuser)
    url = reverse("manage-user", kwargs={"pk": crm_admin_user.pk})

    response = client.post(url, {"action": "role", "role": Role.AGENT})

    assert response.status_code == 400
    assert user_role(crm_admin_user) == Role.ADMIN


def test_deactivate_and_reactivate(admin_client: Client, agent_user: Any) -> None:
    url = reverse("manage-user", kwargs={"pk": agent_user.pk})

    admin_client.post(url, {"action": "deactivate"})
    agent_user.refresh_from_db()
    assert not agent_user.is_active
    assert not Client().login(username="agent1", password="pass-1234")

    admin_client.post(url, {"action": "activate"})
    agent_user.refresh_from_db()
    assert agent_user.is_active
    assert list(
        AuditLog.objects.filter(object_id=str(agent_user.pk))
        .order_by("id")
        .values_list("action", flat=True)
    ) == ["user.deactivate", "user.activate"]


def test_password_reset_checks_unlocks_and_never_logs_the_password(
    admin_client: Client, agent_user: Any
) -> None:
    url = reverse("manage-user", kwargs={"pk": agent_user.pk})
    AccessAttempt.objects.create(
        username="agent1",
        ip_address="10.0.0.1",
        user_agent="test",
        http_accept="*/*",
        path_info="/accounts/login/",
        get_data="",
        post_data="",
        failures_since_start=5,
    )

    mismatch = admin_client.post(
        url, {"action": "password", "password": "New-pass-9876", "password_again": "other"}
    )
    saved = admin_client.post(
        url, {"action": "password", "password": "New-pass-9876", "password_again": "New-pass-9876"}
    )

    assert mismatch.status_code == 400
    assert saved.status_code == 302
    agent_user.refresh_from_db()
    assert agent_user.check_password("New-pass-9876")
    entry = AuditLog.objects.get(action="user.password")
    assert "New-pass-9876" not in str(entry.data)
    assert not AccessAttempt.objects.filter(username="agent1").exists()


def test_profile_extension_must_be_unique(
    admin_client: Client, agent_user: Any, make_user: Callable[..., Any]
) -> None:
    other = make_user(Role.AGENT, username="agent2")
    AgentProfile.objects.create(user=other, extension="8002")
    url = reverse("manage-user", kwargs={"pk": agent_user.pk})

    same = {"action": "profile", "email": agent_user.email, "is_available": "on"}
    refused = admin_client.post(url, {**same, "extension": "8002"})
    saved = admin_client.post(url, {**same, "extension": "8003", "first_name": "A"})

    assert refused.status_code == 400
    assert "extension" in refused.context["forms"]["profile"].errors
    assert saved.status_code == 302
    assert AgentProfile.objects.get(user=agent_user).extension == "8003"
    entry = AuditLog.objects.get(action="user.update")
    assert entry.data["after"] == {"extension": "8003", "first_name": "A"}


def test_users_list_query_count_is_fixed(
    admin_client: Client, django_assert_num_queries: Callable[..., Any]
) -> None:
    queue = Queue.objects.create(name="Main", slug="main")
    for index in range(3):
        user = UserFactory(username=f"few{index}", role=Role.AGENT)
        queue.members.add(user)
    admin_client.get(USERS_URL)

    with django_assert_num_queries(USERS_PAGE_QUERIES):
        small = admin_client.get(USERS_URL)

    for index in range(30):
        user = UserFactory(username=f"many{index:02d}", role=Role.SUPERVISOR)
        AgentProfile.objects.create(user=user, extension=f"9{index:03d}")
        queue.members.add(user)

    with django_assert_num_queries(USERS_PAGE_QUERIES):
        large = admin_client.get(USERS_URL)

    assert small.status_code == large.status_code == 200
    assert large.content.decode().count("data-username=") == 25


def test_users_list_filters_by_role_and_status(
    admin_client: Client, agent_user: Any, supervisor_user: Any
) -> None:
    agent_user.is_active = False
    agent_user.save()

    response = admin_client.get(USERS_URL, {"role": Role.AGENT, "status": "inactive"})

    names = [row["user"].username for row in response.context["rows"]]
    assert names == ["agent1"]


# ---------------------------------------------------------------------------------------------
# Audit log


def test_audit_log_filters_by_kind_actor_dates_and_customer(
    admin_client: Client, crm_admin_user: Any, supervisor_user: Any
) -> None:
    customer = CustomerFactory(external_id="EXT-9")
    audit_log_record(
        actor=supervisor_user, action="export.metrics", object_type="customers", data={"rows": 5}
    )
    audit_log_record(
        actor=crm_admin_user,
        action="consent.change",
        object_type="customer",
        object_id=customer.pk,
        data={"before": {"sms_opt_out": False}, "after": {"sms_opt_out": True}},
    )
    audit_log_record(actor=crm_admin_user, action="user.role", object_type="user", object_id=1)

    def actions(**params: Any) -> list[str]:
        response = admin_client.get(AUDIT_URL, params)
        assert response.status_code == 200
        return [row["entry"].action for row in response.context["rows"]]

    assert actions(kind="exports") == ["export.metrics"]
    assert actions(kind="consent") == ["consent.change"]
    assert set(actions(actor=crm_admin_user.pk)) == {"consent.change", "user.role"}
    assert actions(customer="EXT-9") == ["consent.change"]
    assert actions(customer=str(customer.pk)) == ["consent.change"]
    assert actions(date_from="2000-01-01", date_to="2000-01-02") == []
    assert len(actions()) == 3


def test_audit_entry_shows_before_and_after(admin_client: Client, crm_admin_user: Any) -> None:
    audit_log_record(
        actor=crm_admin_user,
        action="segment_settings.update",
        object_type="segment_settings",
        object_id=1,
        data={"before": {"dormant_days": 60}, "after": {"dormant_days": 75}},
    )

    response = admin_client.get(AUDIT_URL)

    row = response.context["rows"][0]
    assert row["url"] == SETTINGS_URL + "#thresholds"
    assert row["changes"] == [{"field": "dormant_days", "before": "60", "after": "75"}]
    html = response.content.decode()
    assert "Lifecycle and tier thresholds changed" in html
    assert '<td class="after mono">75</td>' in html


def test_audit_rejects_an_inverted_date_range(admin_client: Client) -> None:
    response = admin_client.get(AUDIT_URL, {"date_from": "2026-02-01", "date_to": "2026-01-01"})

    assert "date_to" in response.context["form"].errors
    assert response.context["rows"] == []


def test_supervisor_reads_the_audit_log(client: Client, supervisor_user: Any) -> None:
    client.force_login(supervisor_user)

    assert client.get(AUDIT_URL).status_code == 200
    assert client.get(USERS_URL).status_code == 403


def test_audit_log_query_count_is_fixed(
    admin_client: Client, crm_admin_user: Any, django_assert_num_queries: Callable[..., Any]
) -> None:
    audit_log_record(actor=crm_admin_user, action="user.role", object_type="user", object_id=1)
    admin_client.get(AUDIT_URL)

    with django_assert_num_queries(AUDIT_PAGE_QUERIES):
        small = admin_client.get(AUDIT_URL)

    for index in range(80):
        actor = UserFactory(username=f"actor{index:02d}")
        audit_log_record(
            actor=actor,
            action="care_rule.update",
            object_type="care_rule",
            object_id=index,
            data={"before": {"name": "a"}, "after": {"name": "b"}},
        )

    with django_assert_num_queries(AUDIT_PAGE_QUERIES):
        large = admin_client.get(AUDIT_URL)

    assert small.status_code == large.status_code == 200
    assert len(large.context["rows"]) == 50


def test_agent_profile_limit_and_availability(admin_client: Client, agent_user: Any) -> None:
    url = reverse("manage-user", kwargs={"pk": agent_user.pk})

    bad = admin_client.post(url, {"action": "profile", "daily_task_limit": "0"})
    saved = admin_client.post(
        url, {"action": "profile", "email": agent_user.email, "daily_task_limit": "12"}
    )

    assert bad.status_code == 400
    assert "daily_task_limit" in bad.context["forms"]["profile"].errors
    assert saved.status_code == 302
    profile = AgentProfile.objects.get(user=agent_user)
    assert (profile.daily_task_limit, profile.is_available, profile.extension) == (12, False, None)
    entry = AuditLog.objects.get(action="user.update")
    assert entry.data["before"] == {"daily_task_limit": None, "is_available": True}

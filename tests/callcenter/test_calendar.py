"""The holiday calendar: the package's days synced into the table (set-based, idempotent,
admins' dates kept, an uncovered year reported), the selectors, the Holidays page for each
role and the API; bad input gives a clear error and changes nothing."""

import datetime as dt
from collections.abc import Callable
from io import StringIO
from typing import Any

import pytest
import time_machine
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from callcenter.choices import CalendarDayKind, CalendarDaySource, Role
from callcenter.errors import ApplicationError
from callcenter.models import AuditLog, CalendarDay
from callcenter.schedules import PERIODIC_TASKS
from callcenter.selectors.calendar import holidays_between, is_working_day
from callcenter.services.calendar import (
    calendar_day_add,
    calendar_day_remove,
    calendar_days_sync,
    package_years,
)
from callcenter.tasks import calendar_days_sync_task

pytestmark = pytest.mark.django_db

PAGE_URL = reverse("manage-holidays")
API_URL = reverse("api-calendar-days")
SPRING_FESTIVAL_2026 = [dt.date(2026, 2, 15) + dt.timedelta(days=n) for n in range(9)]
# Make-up working days of 2026 on a weekend: the Sunday after New Year's Day and the Saturdays
# around the Spring Festival.
SUNDAY_WORKDAY_2026 = dt.date(2026, 1, 4)
SATURDAY_WORKDAYS_2026 = [dt.date(2026, 2, 14), dt.date(2026, 2, 28)]


def _uncovered_year() -> int:
    """The first year the installed package does not know."""
    return package_years().stop


def _admin_day(user: Any, day: dt.date, **overrides: Any) -> CalendarDay:
    values = {"kind": CalendarDayKind.HOLIDAY, "name": "Company day", "reason": "Anniversary"}
    return calendar_day_add(day=day, added_by=user, **{**values, **overrides})


def _snapshot() -> list[tuple[Any, ...]]:
    return list(CalendarDay.objects.order_by("day").values_list("day", "kind", "name", "source"))


def test_package_covers_2026() -> None:
    assert 2026 in package_years()
    assert _uncovered_year() not in package_years()


def test_sync_writes_spring_festival_and_make_up_days_of_2026() -> None:
    result = calendar_days_sync(years=[2026])

    assert result.synced_years == [2026]
    assert result.missing_years == []
    holidays = list(holidays_between(dt.date(2026, 2, 1), dt.date(2026, 2, 28)))
    assert [entry.day for entry in holidays] == SPRING_FESTIVAL_2026
    assert {entry.name for entry in holidays} == {"Spring Festival"}
    assert {entry.source for entry in holidays} == {CalendarDaySource.PACKAGE}
    sunday = CalendarDay.objects.get(day=SUNDAY_WORKDAY_2026)
    assert sunday.day.weekday() == 6
    assert sunday.kind == CalendarDayKind.WORKDAY
    assert is_working_day(SUNDAY_WORKDAY_2026)
    assert all(is_working_day(day) for day in SATURDAY_WORKDAYS_2026)
    assert not is_working_day(dt.date(2026, 2, 16))  # a Monday of the Spring Festival
    assert not is_working_day(dt.date(2026, 10, 1))  # National Day
    assert is_working_day(dt.date(2026, 3, 2))  # an ordinary Monday
    assert not is_working_day(dt.date(2026, 3, 7))  # an ordinary Saturday


def test_sync_is_idempotent() -> None:
    first = calendar_days_sync(years=[2025, 2026])
    rows = _snapshot()

    second = calendar_days_sync(years=[2025, 2026])

    assert first.written == len(rows) > 0
    assert second.written == 0
    assert second.removed == 0
    assert _snapshot() == rows


def test_sync_updates_and_removes_package_rows_the_package_changed() -> None:
    calendar_days_sync(years=[2026])
    CalendarDay.objects.filter(day=dt.date(2026, 10, 1)).update(name="Old name")
    CalendarDay.objects.create(
        day=dt.date(2026, 3, 3), kind="holiday", name="Dropped", source=CalendarDaySource.PACKAGE
    )

    result = calendar_days_sync(years=[2026])

    assert result.written == 1
    assert result.removed == 1
    assert CalendarDay.objects.get(day=dt.date(2026, 10, 1)).name == "National Day"
    assert not CalendarDay.objects.filter(day=dt.date(2026, 3, 3)).exists()


def test_admin_days_are_kept_over_a_re_sync(crm_admin_user: Any) -> None:
    calendar_days_sync(years=[2026])
    # An admin's own date, and an admin's override of a package day (a Spring Festival day the
    # company works).
    _admin_day(crm_admin_user, dt.date(2026, 3, 3))
    _admin_day(crm_admin_user, dt.date(2026, 2, 23), kind=CalendarDayKind.WORKDAY, name="Open day")

    calendar_days_sync(years=[2026])

    own = CalendarDay.objects.get(day=dt.date(2026, 3, 3))
    assert (own.source, own.name, own.created_by) == ("admin", "Company day", crm_admin_user)
    override = CalendarDay.objects.get(day=dt.date(2026, 2, 23))
    assert (override.source, override.kind, override.name) == ("admin", "workday", "Open day")
    assert is_working_day(dt.date(2026, 2, 23))


def test_removing_an_admin_override_brings_the_public_day_back(crm_admin_user: Any) -> None:
    calendar_days_sync(years=[2026])
    entry = _admin_day(crm_admin_user, dt.date(2026, 2, 23), kind=CalendarDayKind.WORKDAY)

    calendar_day_remove(entry=entry, removed_by=crm_admin_user)

    public = CalendarDay.objects.get(day=dt.date(2026, 2, 23))
    assert (public.source, public.kind, public.name) == ("package", "holiday", "Spring Festival")
    actions = list(AuditLog.objects.order_by("id").values_list("action", "object_id"))
    assert actions == [
        ("calendar_day.add", "2026-02-23"),
        ("calendar_day.remove", "2026-02-23"),
    ]


def test_package_days_cannot_be_removed(crm_admin_user: Any) -> None:
    calendar_days_sync(years=[2026])
    rows = _snapshot()

    with pytest.raises(ApplicationError):
        calendar_day_remove(
            entry=CalendarDay.objects.get(day=dt.date(2026, 10, 1)), removed_by=crm_admin_user
        )

    assert _snapshot() == rows
    assert not AuditLog.objects.exists()


def test_a_year_the_package_does_not_cover_is_reported() -> None:
    year = _uncovered_year()

    result = calendar_days_sync(years=[2026, year])

    assert result.synced_years == [2026]
    assert result.missing_years == [year]
    assert not CalendarDay.objects.filter(day__year=year).exists()


def test_command_syncs_and_reports_uncovered_years() -> None:
    out, err = StringIO(), StringIO()
    year = _uncovered_year()

    call_command("sync_holidays", "--years", "2026", str(year), stdout=out, stderr=err)

    assert "2026" in out.getvalue()
    assert str(year) in err.getvalue()
    assert "chinesecalendar" in err.getvalue()
    assert CalendarDay.objects.filter(day__year=2026).exists()


def test_beat_schedule_syncs_the_calendar_daily() -> None:
    jobs = {job.task: job for job in PERIODIC_TASKS}
    job = jobs["callcenter.tasks.calendar_days_sync_task"]
    assert job.crontab is not None
    assert job.expire_seconds > 0


@pytest.mark.parametrize(
    ("role", "status", "can_edit"),
    [(Role.ADMIN, 200, True), (Role.SUPERVISOR, 200, False), (Role.AGENT, 403, False)],
)
def test_page_for_each_role(
    client: Client, make_user: Callable[..., Any], role: str, status: int, can_edit: bool
) -> None:
    calendar_days_sync(years=[2026])
    client.force_login(make_user(role))

    response = client.get(PAGE_URL, {"year": "2026"})

    assert response.status_code == status
    if status == 200:
        html = response.content.decode()
        assert 'data-day="2026-02-15" data-kind="holiday"' in html
        assert 'data-day="2026-01-04" data-kind="workday"' in html
        assert ('id="holiday-add-form"' in html) is can_edit
        assert "year-not-covered" not in html


def test_page_in_chinese_and_uncovered_year(client: Client, supervisor_user: Any) -> None:
    calendar_days_sync(years=[2026])
    client.force_login(supervisor_user)

    chinese = client.get(PAGE_URL, {"year": "2026"}, headers={"accept-language": "zh-hans"})
    missing = client.get(PAGE_URL, {"year": str(_uncovered_year())})

    assert "春节" in chinese.content.decode()
    assert 'id="year-not-covered"' in missing.content.decode()


def test_admin_adds_and_removes_a_date_on_the_page(client: Client, crm_admin_user: Any) -> None:
    client.force_login(crm_admin_user)
    data = {"day": "2026-03-03", "kind": "holiday", "name": "Company day", "reason": "Founding"}

    response = client.post(PAGE_URL, data)

    assert response.status_code == 302
    entry = CalendarDay.objects.get(day=dt.date(2026, 3, 3))
    assert (entry.source, entry.reason, entry.created_by) == ("admin", "Founding", crm_admin_user)
    removed = client.post(reverse("manage-holiday-remove", kwargs={"pk": entry.pk}))
    assert removed.status_code == 302
    assert not CalendarDay.objects.exists()
    assert AuditLog.objects.filter(action__startswith="calendar_day.").count() == 2


def test_supervisor_cannot_add_a_date(client: Client, supervisor_user: Any) -> None:
    client.force_login(supervisor_user)
    data = {"day": "2026-03-03", "kind": "holiday", "name": "Company day", "reason": "Founding"}

    assert client.post(PAGE_URL, data).status_code == 403
    assert not CalendarDay.objects.exists()


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"day": "2026-02-30"}, "day"),
        ({"day": "yesterday"}, "day"),
        ({"kind": "festival"}, "kind"),
        ({"name": ""}, "name"),
        ({"reason": ""}, "reason"),
        ({"day": "2026-03-03"}, "day"),  # already an admin date
    ],
)
def test_page_bad_input_changes_nothing(
    client: Client, crm_admin_user: Any, data: dict[str, str], field: str
) -> None:
    _admin_day(crm_admin_user, dt.date(2026, 3, 3))
    rows, audited = _snapshot(), AuditLog.objects.count()
    client.force_login(crm_admin_user)
    valid = {"day": "2026-03-04", "kind": "holiday", "name": "Company day", "reason": "Why"}

    response = client.post(PAGE_URL, {**valid, **data})

    assert response.status_code == 400
    assert response.context["form"].errors[field]
    assert _snapshot() == rows
    assert AuditLog.objects.count() == audited


def test_api_lists_a_year(api_as: Callable[[Any], Any], agent_user: Any) -> None:
    calendar_days_sync(years=[2026])

    body = api_as(agent_user).get(API_URL, {"year": 2026}).json()

    assert body["year"] == 2026
    assert body["covered"] is True
    by_day = {row["day"]: row for row in body["results"]}
    assert by_day["2026-02-17"]["kind"] == "holiday"
    assert by_day["2026-02-17"]["name"] == "Spring Festival"
    assert by_day["2026-01-04"]["kind"] == "workday"


def test_api_reports_an_uncovered_year(api_as: Callable[[Any], Any], agent_user: Any) -> None:
    body = api_as(agent_user).get(API_URL, {"year": _uncovered_year()}).json()

    assert body["covered"] is False
    assert body["results"] == []


def test_api_admin_adds_and_removes(api_as: Callable[[Any], Any], crm_admin_user: Any) -> None:
    client = api_as(crm_admin_user)
    data = {"day": "2026-03-03", "kind": "holiday", "name": "Company day", "reason": "Founding"}

    created = client.post(API_URL, data, format="json")

    assert created.status_code == 201
    assert created.json()["source"] == "admin"
    deleted = client.delete(reverse("api-calendar-day", kwargs={"pk": created.json()["id"]}))
    assert deleted.status_code == 204
    assert not CalendarDay.objects.exists()


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"day": "2026-13-01"}, "day"),
        ({"kind": "festival"}, "kind"),
        ({"name": ""}, "name"),
        ({"day": "2026-03-03"}, "detail"),  # already an admin date
    ],
)
def test_api_bad_input_changes_nothing(
    api_as: Callable[[Any], Any], crm_admin_user: Any, data: dict[str, str], field: str
) -> None:
    _admin_day(crm_admin_user, dt.date(2026, 3, 3))
    rows, audited = _snapshot(), AuditLog.objects.count()
    valid = {"day": "2026-03-04", "kind": "holiday", "name": "Company day", "reason": "Why"}

    response = api_as(crm_admin_user).post(API_URL, {**valid, **data}, format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert _snapshot() == rows
    assert AuditLog.objects.count() == audited


@pytest.mark.parametrize("year", ["1999", "20x6", "3000"])
def test_api_bad_year(api_as: Callable[[Any], Any], agent_user: Any, year: str) -> None:
    response = api_as(agent_user).get(API_URL, {"year": year})

    assert response.status_code == 400
    assert "year" in response.json()


def test_api_agents_cannot_add(api_as: Callable[[Any], Any], agent_user: Any) -> None:
    data = {"day": "2026-03-03", "kind": "holiday", "name": "Company day", "reason": "Founding"}

    assert api_as(agent_user).post(API_URL, data, format="json").status_code == 403
    assert not CalendarDay.objects.exists()


def test_task_syncs_this_year_and_the_next_and_reports_the_missing_one() -> None:
    year = _uncovered_year() - 1
    with time_machine.travel(dt.datetime(year, 6, 1, 12, tzinfo=dt.UTC), tick=False):
        result = calendar_days_sync_task()

    assert result == {"synced_years": [year], "missing_years": [year + 1]}
    assert CalendarDay.objects.filter(day__year=year).exists()


def test_audit_log_shows_calendar_changes(client: Client, crm_admin_user: Any) -> None:
    _admin_day(crm_admin_user, dt.date(2026, 3, 3))
    client.force_login(crm_admin_user)

    html = client.get(reverse("manage-audit"), {"kind": "settings"}).content.decode()

    assert "Holiday calendar date added" in html
    assert f"{PAGE_URL}?year=2026" in html

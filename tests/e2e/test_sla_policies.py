"""SLA policy editor in the browser: an admin creates a policy with conditions, a business
calendar and targets in hours and minutes, moves it up the order and reads its history; a
supervisor reads the list but the server refuses the editor."""

from collections.abc import Callable
from typing import Any

from playwright.sync_api import expect

from callcenter.choices import Role
from service.models import SlaPolicy
from service.services.sla_admin import business_calendar_create, sla_policy_create
from tests.e2e.conftest import shot


def test_admin_creates_moves_and_edits_a_policy(logged_in: Callable[..., Any]) -> None:
    calendar = business_calendar_create(
        created_by=None,
        name="E2E office hours",
        hours={str(day): [["09:00", "18:00"]] for day in range(5)},
    )
    sla_policy_create(created_by=None, name="E2E everyone", first_response_minutes=240)
    page = logged_in(Role.ADMIN, "e2e_sla_admin")

    page.goto("/service/sla/policies/")
    page.get_by_role("link", name="New policy").first.click()
    page.fill("#id_name", "E2E To B complaints")
    page.check("input[name=ticket_kinds][value=complaint]")
    page.check("input[name=customer_kinds][value=business]")
    page.select_option("#id_calendar", label="E2E office hours")
    page.fill("#id_first_response_hours", "1")
    page.fill("#id_resolution_hours", "24")
    page.fill("#id_warn_at_percent", "80")
    shot(page, "sla-policy-editor")
    page.click("[data-save]")

    page.wait_for_url("**/service/sla/policies/")
    row = page.locator("tr[data-policy='E2E To B complaints']")
    expect(row).to_contain_text("1 h")
    expect(row).to_contain_text("24 h")
    expect(row).to_contain_text("E2E office hours")
    policy = SlaPolicy.objects.get(name="E2E To B complaints")
    assert (policy.first_response_minutes, policy.resolution_minutes) == (60, 1440)
    assert policy.calendar_id == calendar.pk

    # Tried before the catch-all once moved up.
    row.locator("[data-move-up]").click()
    expect(page.locator("#sla-policies tbody tr").first).to_have_attribute(
        "data-policy", "E2E To B complaints"
    )

    # An edit makes version 2, whose change reads in words.
    page.goto(f"/service/sla/policies/{policy.pk}/")
    page.fill("#id_first_response_mins", "30")
    page.click("[data-save]")
    page.wait_for_url("**/service/sla/policies/")
    page.goto(f"/service/sla/policies/{policy.pk}/history/")
    version = page.locator("[data-version='2']")
    expect(version).to_contain_text("First response within")
    expect(version).to_contain_text("1 h 30 min")
    shot(page, "sla-policy-history")


def test_bad_targets_are_refused_next_to_the_field(logged_in: Callable[..., Any]) -> None:
    page = logged_in(Role.ADMIN, "e2e_sla_admin2")
    page.goto("/service/sla/policies/new/")
    page.fill("#id_name", "E2E zero")
    page.fill("#id_first_response_hours", "0")
    page.fill("#id_first_response_mins", "0")
    page.click("[data-save]")
    expect(page.locator("[data-target=first_response_hours] .field-error")).to_be_visible()
    assert not SlaPolicy.objects.filter(name="E2E zero").exists()


def test_supervisor_reads_policies_but_not_the_editor(logged_in: Callable[..., Any]) -> None:
    policy = sla_policy_create(created_by=None, name="E2E read-only", resolution_minutes=120)
    page = logged_in(Role.SUPERVISOR, "e2e_sla_supervisor")
    page.goto("/")
    page.get_by_role("link", name="SLA policies").click()
    row = page.locator("tr[data-policy='E2E read-only']")
    expect(row).to_contain_text("2 h")
    assert row.get_by_text("Edit").count() == 0
    response = page.goto(f"/service/sla/policies/{policy.pk}/")
    assert response is not None
    assert response.status == 403

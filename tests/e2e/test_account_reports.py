"""A business account's monthly report in a real browser: a supervisor previews it with its
chart, generates it and downloads the PDF; the account's advisor reads it without the generate
button; another agent is refused."""

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.utils import timezone
from playwright.sync_api import expect

from callcenter.choices import AccountRole, Role
from service.models import AccountReport
from service.services.account_reports import last_month
from tests.callcenter.factories import (
    BusinessCustomerFactory,
    CustomerFactory,
    OrderFactory,
    UserFactory,
)
from tests.e2e.conftest import shot


def _account(advisor: Any) -> Any:
    month = last_month()
    account = BusinessCustomerFactory(
        name="E2E Account",
        company_name="云帆科技 E2E",
        language="en",
        timezone="Asia/Shanghai",
        advisor=advisor,
    )
    contact = CustomerFactory(account=account, account_role=AccountRole.FINANCE, name="E2E Lin")
    placed = timezone.make_aware(dt.datetime.combine(month.replace(day=10), dt.time(12)))
    OrderFactory(customer=account, placed_at=placed, amount=Decimal("100.00"))
    OrderFactory(customer=contact, placed_at=placed, amount=Decimal("50.00"))
    return account


def test_supervisor_generates_and_downloads_the_report(
    logged_in: Callable[..., Any], e2e_db: None
) -> None:
    page = logged_in(Role.SUPERVISOR, "e2e_report_supervisor")
    account = _account(UserFactory(role=Role.AGENT, username="e2e_report_advisor_a"))
    month = f"{last_month():%Y-%m}"

    page.goto(f"/accounts/{account.pk}/report/?month={month}")

    expect(page.get_by_test_id("report-title")).to_contain_text("云帆科技 E2E")
    expect(page.get_by_test_id("report-state")).to_contain_text("Not generated yet")
    expect(page.get_by_test_id("orders-count")).to_have_text("2")
    expect(page.get_by_test_id("orders-amount")).to_have_text("150.00")
    expect(page.locator("canvas[data-report-chart][data-drawn=true]")).to_have_count(1)
    page.get_by_test_id("report-generate").click()

    expect(page.get_by_test_id("report-state")).to_contain_text("Generated")
    report = AccountReport.objects.get(account=account)
    assert report.status == "ready"
    with page.expect_download() as download_info:
        page.get_by_test_id("report-pdf").click()
    path = download_info.value.path()
    with open(path, "rb") as pdf:
        assert pdf.read() == bytes(report.pdf_file.content)
    shot(page, "account-report")


def test_the_advisor_reads_it_and_other_agents_are_refused(
    logged_in: Callable[..., Any], e2e_db: None
) -> None:
    page = logged_in(Role.AGENT, "e2e_report_advisor_b")
    account = _account(page.user)

    page.goto(f"/accounts/{account.pk}/report/")

    expect(page.get_by_test_id("report-stats")).to_be_visible()
    expect(page.get_by_test_id("report-generate")).to_have_count(0)
    other = logged_in(Role.AGENT, "e2e_report_other_agent")
    response = other.goto(f"/accounts/{account.pk}/report/")
    assert response is not None
    assert response.status == 403

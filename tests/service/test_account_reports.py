"""Business accounts' monthly reports: the figures on hand-made data, the PDF, the monthly run
(once per account and month, emails through the guardrails, the advisor's call), roles on the
page, the API and the downloads."""

import base64
import datetime as dt
import json
import re
import zlib
import zoneinfo
from decimal import Decimal
from typing import Any

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from callcenter.choices import AccountRole, CalendarDayKind, CalendarDaySource, TicketKind
from callcenter.errors import ApplicationError
from callcenter.models import CalendarDay, Customer, Ticket
from callcenter.services.privacy import customer_erase
from care.choices import StepChannel, TouchKind
from outreach.choices import TaskStatus
from outreach.models import OutreachTask
from outreach.reasons import SkipReason
from outreach.services.dispatch import dispatch_due
from service.models import AccountReport, AccountReportPdf, AccountReportStatus, TicketSla
from service.services.account_report_data import account_reports_data
from service.services.account_report_pdf import account_report_pdf
from service.services.account_reports import (
    account_report_generate,
    account_reports_run_month,
    nth_business_day,
)
from service.tasks import account_reports_monthly_task
from tests.callcenter.factories import (
    BusinessCustomerFactory,
    CustomerFactory,
    EmailFactory,
    OrderFactory,
    TicketFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
JUNE = dt.date(2025, 6, 1)
# The monthly run on 1 July 2025 (a Tuesday), 06:15 in Shanghai; emails go out at 10:00.
RUN_AT = dt.datetime(2025, 7, 1, 6, 15, tzinfo=SHANGHAI)
MORNING = dt.datetime(2025, 7, 1, 10, 0, tzinfo=SHANGHAI)


def _at(day: int, hour: int = 12, month: int = 6) -> dt.datetime:
    return dt.datetime(2025, month, day, hour, tzinfo=SHANGHAI)


def _account(**fields: Any) -> Customer:
    defaults: dict[str, Any] = {
        "name": "Acme",
        "company_name": "Acme Ltd",
        "timezone": "Asia/Shanghai",
        "language": "en",
    }
    defaults.update(fields)
    return BusinessCustomerFactory(**defaults)


def _contact(account: Customer, role: str, **fields: Any) -> Customer:
    return CustomerFactory(account=account, account_role=role, **fields)


def _ticket(customer: Customer, opened: dt.datetime, **sla: Any) -> Ticket:
    ticket = TicketFactory(
        customer=customer,
        opened_at=opened,
        kind=TicketKind.COMPLAINT,
        resolved_at=sla.get("resolved_at"),
        status="resolved" if sla.get("resolved_at") else "open",
    )
    if sla:
        TicketSla.objects.create(ticket=ticket, **sla)
    return ticket


def _pdf_strings(pdf: bytes) -> bytes:
    """The bytes of every string shown on the PDF's pages (content streams decoded, string
    literals unescaped), to search for a text in its font's encoding."""
    shown = b""
    for match in re.finditer(rb"stream\r?\n(.*?)endstream", pdf, re.S):
        raw = match.group(1).strip()
        if raw.endswith(b"~>"):
            raw = base64.a85decode(raw[:-2])
        try:
            raw = zlib.decompress(raw)
        except zlib.error:
            continue
        for literal in re.finditer(rb"\((.*?)(?<!\\)\)\s*Tj", raw, re.S):
            shown += re.sub(
                rb"\\([0-7]{1,3}|.)",
                lambda m: (
                    bytes([int(m.group(1), 8)])
                    if m.group(1)[:1].isdigit()
                    else {b"n": b"\n", b"r": b"\r", b"t": b"\t"}.get(m.group(1), m.group(1))
                ),
                literal.group(1),
            )
    return shown


def test_figures_add_the_contacts_orders_and_count_sla_met_per_target() -> None:
    # given an account, two contacts and a stranger, with orders in and around June
    account = _account()
    finance = _contact(account, AccountRole.FINANCE, name="Lin")
    user = _contact(account, AccountRole.USER, name="Zhou")
    stranger = CustomerFactory()
    OrderFactory(customer=account, placed_at=_at(3), amount=Decimal("100.00"), category="cloud")
    OrderFactory(customer=finance, placed_at=_at(10), amount=Decimal("50.50"), category="cloud")
    OrderFactory(customer=user, placed_at=_at(30, 23), amount=Decimal("20.00"), category="sms")
    OrderFactory(customer=user, placed_at=_at(1, 0, month=7), amount=Decimal("7.00"))
    OrderFactory(customer=user, placed_at=_at(12, month=5), amount=Decimal("30.00"))
    OrderFactory(customer=finance, placed_at=_at(5), amount=Decimal("9.00"), status="refunded")
    OrderFactory(customer=stranger, placed_at=_at(5), amount=Decimal("999.00"))
    # tickets of June: first response met, breached and late; resolution met and late
    _ticket(
        account,
        _at(2),
        first_response_due_at=_at(2, 13),
        first_response_at=_at(2, 12),
        resolution_due_at=_at(3),
        resolved_at=_at(2, 18),
    )
    _ticket(
        finance,
        _at(4),
        first_response_due_at=_at(4, 13),
        first_response_breached_at=_at(4, 13),
        first_response_at=_at(4, 15),
        resolution_due_at=_at(5),
        resolved_at=_at(6),
    )
    _ticket(user, _at(6), first_response_due_at=_at(6, 13), first_response_at=_at(6, 14))
    _ticket(user, _at(8))
    _ticket(stranger, _at(8), first_response_due_at=_at(8, 13))

    # when
    data = account_reports_data(account_ids=[account.pk], month=JUNE, now=RUN_AT)[account.pk]

    # then the account's and its contacts' paid June orders (the 30th, 23:00 local, included)
    orders = data["orders"]
    assert (orders["count"], orders["amount"]) == (3, "170.50")
    assert (orders["own_count"], orders["own_amount"]) == (1, "100.00")
    assert (orders["contacts_count"], orders["contacts_amount"]) == (2, "70.50")
    by_month = {point["month"]: point for point in orders["by_month"]}
    assert len(orders["by_month"]) == 12
    assert orders["by_month"][0]["month"] == "2024-07"
    assert orders["by_month"][-1]["month"] == "2025-06"
    assert by_month["2025-05"] == {"month": "2025-05", "count": 1, "amount": "30.00"}
    assert orders["categories"][0] == {"category": "cloud", "count": 2, "amount": "150.50"}
    # four tickets, three with a first-response target: one met, two missed
    tickets = data["tickets"]
    assert tickets["opened"] == 4
    assert tickets["first_response"] == {"met": 1, "missed": 2, "percent": 33.3}
    assert tickets["resolution"] == {"met": 1, "missed": 1, "percent": 50.0}
    assert tickets["resolved"] == 2
    assert tickets["by_kind"] == [{"kind": "complaint", "opened": 4, "resolved": 2}]
    assert [c["name"] for c in data["contacts"]] == ["Lin", "Zhou"]


def test_figures_show_the_chosen_attributes_for_the_month(settings: Any) -> None:
    settings.ACCOUNT_REPORT_FIGURES = [
        {"key": "savings", "label": "Savings", "label_zh_hans": "节省金额"},
        {"key": "usage", "label": "Usage"},
        {"key": "absent", "label": "Absent"},
    ]
    account = _account(attributes={"savings": {"2025-06": 1200, "2025-05": 900}, "usage": 87})

    data = account_reports_data(account_ids=[account.pk], month=JUNE, now=RUN_AT)[account.pk]

    assert data["figures"] == [
        {"key": "savings", "value": 1200},
        {"key": "usage", "value": 87},
        {"key": "absent", "value": None},
    ]


def test_a_person_is_not_a_business_account() -> None:
    person = CustomerFactory()

    assert account_reports_data(account_ids=[person.pk], month=JUNE, now=RUN_AT) == {}


@pytest.mark.parametrize(
    ("language", "company"), [("en", "Acme Ltd"), ("zh-hans", "上海云帆科技有限公司")]
)
def test_the_pdf_is_a_pdf_showing_the_account_name(language: str, company: str) -> None:
    account = _account(company_name=company, language=language)
    OrderFactory(customer=account, placed_at=_at(3), amount=Decimal("100.00"))
    _ticket(account, _at(2))
    data = account_reports_data(account_ids=[account.pk], month=JUNE, now=RUN_AT)[account.pk]

    pdf = account_report_pdf(data, language=language)

    assert pdf.startswith(b"%PDF-")
    assert pdf.rstrip().endswith(b"%%EOF")
    # every text is set in the CID font the readers provide (Chinese included)
    assert b"/STSong-Light" in pdf
    assert b"/Encoding /UniGB-UCS2-H" in pdf
    assert company.encode("utf-16-be") in _pdf_strings(pdf)
    # the same figures give the same bytes (the stored checksum means something)
    assert account_report_pdf(data, language=language) == pdf


def test_a_chinese_account_gets_its_report_in_chinese() -> None:
    account = _account(company_name="云帆科技", language="zh-hans")
    data = account_reports_data(account_ids=[account.pk], month=JUNE, now=RUN_AT)[account.pk]

    shown = _pdf_strings(account_report_pdf(data, language="zh-hans"))

    assert "月度报告".encode("utf-16-be") in shown
    assert "Monthly report".encode("utf-16-be") not in shown


@pytest.fixture
def advisor() -> Any:
    return UserFactory(username="advisor", role="agent")


def _sendable(account: Customer, role: str, **fields: Any) -> Customer:
    contact = _contact(account, role, timezone="Asia/Shanghai", **fields)
    EmailFactory(customer=contact)
    return contact


def test_the_monthly_run_makes_each_report_once_and_sends_it_once(advisor: Any) -> None:
    # given an account with an advisor, its decision maker, an opted-out finance contact and a
    # user (no report for users), and a public holiday within the call's three business days
    account = _account(advisor=advisor)
    EmailFactory(customer=account)
    boss = _sendable(account, AccountRole.DECISION_MAKER)
    _sendable(account, AccountRole.FINANCE, email_opt_out=True)
    _sendable(account, AccountRole.USER)
    CalendarDay.objects.create(
        day=dt.date(2025, 7, 3),
        kind=CalendarDayKind.HOLIDAY,
        name="Test holiday",
        source=CalendarDaySource.ADMIN,
    )

    # when the run goes twice
    first = account_reports_run_month(month=JUNE, now=RUN_AT)
    second = account_reports_run_month(month=JUNE, now=RUN_AT)

    # then one report, one email (the decision maker), one call for the advisor
    report = AccountReport.objects.get(account=account)
    done = {"accounts": 1, "failed": 0, "more": 0}
    assert first == {**done, "generated": 1, "emails": 1, "calls": 1}
    assert second == {**done, "generated": 0, "emails": 0, "calls": 0}
    assert report.status == AccountReportStatus.READY
    assert report.month == JUNE
    assert report.pdf_size == len(bytes(report.pdf_file.content)) > 0
    assert (report.email_count, report.notified_at) == (1, RUN_AT)
    emails = OutreachTask.objects.filter(channel=StepChannel.EMAIL)
    assert [task.customer_id for task in emails] == [boss.pk]
    email = emails.get()
    assert email.touch_kind == TouchKind.SERVICE
    assert email.subject == "Monthly report 2025-06: Acme Ltd"
    assert f"/reports/{report.token}.pdf" in email.body
    call = OutreachTask.objects.get(channel=StepChannel.CALL)
    assert report.call_task_id == call.pk
    assert (call.customer_id, call.assignee_id) == (account.pk, advisor.pk)
    assert "Acme Ltd" in call.body
    # Tuesday 1 July + 3 business days, the 3rd a holiday: Monday the 7th, 18:00
    assert call.deadline_at == dt.datetime(2025, 7, 7, 18, tzinfo=SHANGHAI)
    # the page says it was sent
    assert "to 1 recipient" in _page(advisor, account).content.decode()


def test_the_email_goes_out_through_the_guardrails(advisor: Any) -> None:
    account = _account(advisor=advisor)
    boss = _sendable(account, AccountRole.DECISION_MAKER)
    finance = _sendable(account, AccountRole.FINANCE)
    account_reports_run_month(month=JUNE, now=RUN_AT)
    # the finance contact opts out after the report was made, before it is sent
    Customer.objects.filter(pk=finance.pk).update(email_opt_out=True)

    # at 06:15 it is quiet hours in Shanghai: nothing goes out yet
    dispatch_due(now=RUN_AT)
    assert mail.outbox == []
    dispatch_due(now=MORNING)

    report = AccountReport.objects.get(account=account)
    assert len(mail.outbox) == 1
    sent = mail.outbox[0]
    assert sent.to == [boss.contact_points.get().value]
    assert sent.subject == "Monthly report 2025-06: Acme Ltd"
    # the link is the recipient's tracked link to the PDF
    assert "/l/" in sent.body
    skipped = OutreachTask.objects.get(customer=finance)
    assert (skipped.status, skipped.reason) == (TaskStatus.SKIPPED, SkipReason.OPTED_OUT)
    assert OutreachTask.objects.get(customer=boss).status == TaskStatus.SENT
    assert report.status == AccountReportStatus.READY


def test_without_reachable_contacts_the_account_itself_gets_the_email() -> None:
    account = _account(call_opt_out=True)
    EmailFactory(customer=account)
    _sendable(account, AccountRole.DECISION_MAKER, do_not_contact=True)

    counts = account_reports_run_month(month=JUNE, now=RUN_AT)

    assert counts["emails"] == 1
    assert OutreachTask.objects.get(channel=StepChannel.EMAIL).customer_id == account.pk
    # the account opted out of calls: no walk-through call
    assert counts["calls"] == 0
    assert not OutreachTask.objects.filter(channel=StepChannel.CALL).exists()


def test_nobody_reachable_gets_no_email() -> None:
    account = _account()
    _contact(account, AccountRole.DECISION_MAKER)  # no email address

    assert account_reports_run_month(month=JUNE, now=RUN_AT)["emails"] == 0
    assert AccountReport.objects.get(account=account).email_count == 0


def test_business_days_skip_weekends_and_holidays_and_count_make_up_days() -> None:
    CalendarDay.objects.create(
        day=dt.date(2025, 10, 11),
        kind=CalendarDayKind.WORKDAY,
        name="Make-up",
        source=CalendarDaySource.ADMIN,
    )
    CalendarDay.objects.create(
        day=dt.date(2025, 10, 10),
        kind=CalendarDayKind.HOLIDAY,
        name="Holiday",
        source=CalendarDaySource.ADMIN,
    )
    # Thursday 9 October: Friday is a holiday, Saturday a make-up working day
    assert nth_business_day(dt.date(2025, 10, 9), 1) == dt.date(2025, 10, 11)
    assert nth_business_day(dt.date(2025, 10, 9), 2) == dt.date(2025, 10, 13)


def test_regenerating_rewrites_the_same_report(supervisor_user: Any) -> None:
    account = _account()
    first = account_report_generate(account=account, month=JUNE, user=supervisor_user)
    OrderFactory(customer=account, placed_at=_at(3), amount=Decimal("10.00"))

    second = account_report_generate(account=account, month=JUNE, user=supervisor_user)

    assert second.pk == first.pk
    assert second.version == 2
    assert second.data["orders"]["amount"] == "10.00"
    assert second.pdf_sha256 != first.pdf_sha256
    assert AccountReport.objects.count() == 1
    assert not OutreachTask.objects.exists()


# Roles --------------------------------------------------------------------------------------


@pytest.fixture
def accounts(advisor: Any) -> dict[str, Any]:
    account = _account(advisor=advisor)
    report = account_report_generate(
        account=account, month=JUNE, user=UserFactory(role="supervisor")
    )
    return {"account": account, "report": report, "other_agent": UserFactory(role="agent")}


def _page(user: Any, account: Customer, query: str = "?month=2025-06") -> Any:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client.get(reverse("account-report", kwargs={"pk": account.pk}) + query)


def test_page_shows_the_report_to_supervisors_and_the_advisor_only(
    accounts: dict[str, Any], advisor: Any, supervisor_user: Any
) -> None:
    account = accounts["account"]

    shown = _page(advisor, account)
    assert shown.status_code == 200
    assert "Acme Ltd" in shown.content.decode()
    assert 'data-testid="report-generate"' not in shown.content.decode()
    assert 'data-testid="report-generate"' in _page(supervisor_user, account).content.decode()
    assert _page(accounts["other_agent"], account).status_code == 403
    assert _page(None, account).status_code == 302
    assert _page(supervisor_user, CustomerFactory()).status_code == 404


def test_page_refuses_a_bad_month(accounts: dict[str, Any], supervisor_user: Any) -> None:
    assert _page(supervisor_user, accounts["account"], "?month=2025-13").status_code == 400
    assert _page(supervisor_user, accounts["account"], "?month=june").status_code == 400


def test_page_generate_is_for_supervisors(
    accounts: dict[str, Any], advisor: Any, supervisor_user: Any
) -> None:
    account = accounts["account"]
    url = reverse("account-report-generate", kwargs={"pk": account.pk})
    client = Client()
    client.force_login(advisor)
    assert client.post(url, {"month": "2025-05"}).status_code == 403
    client.force_login(supervisor_user)

    response = client.post(url, {"month": "2025-05"})

    assert response.status_code == 302
    assert response["Location"].endswith("?month=2025-05")
    assert AccountReport.objects.filter(account=account, month=dt.date(2025, 5, 1)).exists()
    # a month to come is refused and makes nothing
    client.post(url, {"month": "2999-01"})
    assert AccountReport.objects.count() == 2


def _page_queries(client: Client, account: Customer) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert _page_as(client, account).status_code == 200
    return len(queries)


def _page_as(client: Client, account: Customer) -> Any:
    return client.get(reverse("account-report", kwargs={"pk": account.pk}) + "?month=2025-06")


def test_page_queries_do_not_grow_with_the_reports(
    accounts: dict[str, Any], supervisor_user: Any
) -> None:
    account = accounts["account"]
    client = Client()
    client.force_login(supervisor_user)
    _page_as(client, account)
    one = _page_queries(client, account)
    for month in (2, 3, 4, 5):
        AccountReport.objects.create(
            account=account, month=dt.date(2025, month, 1), token=f"t{month}"
        )

    assert _page_queries(client, account) == one


def _api(user: Any) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def test_api_lists_and_downloads_for_the_advisor_and_supervisors(
    accounts: dict[str, Any], advisor: Any, supervisor_user: Any
) -> None:
    account, report = accounts["account"], accounts["report"]
    url = reverse("api-account-reports", kwargs={"pk": account.pk})
    pdf_url = reverse("api-account-report-pdf", kwargs={"pk": account.pk, "month": "2025-06"})

    listed = _api(advisor).get(url)
    assert listed.status_code == 200
    assert [row["month"] for row in listed.json()] == ["2025-06"]
    assert listed.json()[0]["pdf_url"] == pdf_url
    assert listed.json()[0]["pdf_sha256"] == report.pdf_sha256
    downloaded = _api(advisor).get(pdf_url)
    assert downloaded.status_code == 200
    assert downloaded["Content-Type"] == "application/pdf"
    assert downloaded.content == bytes(report.pdf_file.content)
    assert _api(supervisor_user).get(pdf_url).status_code == 200
    assert _api(accounts["other_agent"]).get(url).status_code == 403
    assert _api(accounts["other_agent"]).get(pdf_url).status_code == 403
    assert _api(None).get(pdf_url).status_code in (401, 403)
    missing = reverse("api-account-report-pdf", kwargs={"pk": account.pk, "month": "2025-01"})
    assert _api(advisor).get(missing).status_code == 404


def test_api_generates_for_supervisors_only(
    accounts: dict[str, Any], advisor: Any, supervisor_user: Any
) -> None:
    account = accounts["account"]
    url = reverse("api-account-reports", kwargs={"pk": account.pk})

    assert _api(advisor).post(url, {"month": "2025-05"}, format="json").status_code == 403
    created = _api(supervisor_user).post(url, {"month": "2025-05"}, format="json")
    assert created.status_code == 201
    assert created.json()["month"] == "2025-05"
    assert created.json()["status"] == "ready"
    for bad in ("2025-13", "May", "2999-01", ""):
        response = _api(supervisor_user).post(url, {"month": bad}, format="json")
        assert response.status_code == 400, bad
    assert AccountReport.objects.count() == 2
    person = CustomerFactory()
    other = reverse("api-account-reports", kwargs={"pk": person.pk})
    assert _api(supervisor_user).post(other, {"month": "2025-05"}, format="json").status_code == 404


def test_the_emailed_link_downloads_the_pdf_without_login(accounts: dict[str, Any]) -> None:
    report = accounts["report"]

    response = Client().get(reverse("account-report-public", kwargs={"token": report.token}))

    assert response.status_code == 200
    assert response.content == bytes(report.pdf_file.content)
    wrong = Client().get(reverse("account-report-public", kwargs={"token": "x" * 43}))
    assert wrong.status_code == 404


def test_the_customer_page_links_the_reports_for_those_who_may_open_them(
    accounts: dict[str, Any], advisor: Any, supervisor_user: Any
) -> None:
    account = accounts["account"]
    url = reverse("customer-detail", kwargs={"pk": account.pk})
    client = Client()

    client.force_login(supervisor_user)
    shown = client.get(url).content.decode()
    assert 'data-testid="account-report-link"' in shown
    assert "2025-06" in shown
    client.force_login(advisor)
    assert 'data-testid="account-report-link"' in client.get(url).content.decode()
    client.force_login(accounts["other_agent"])
    assert 'data-testid="account-report-link"' not in client.get(url).content.decode()
    client.force_login(supervisor_user)
    person = reverse("customer-detail", kwargs={"pk": CustomerFactory().pk})
    assert 'id="account-reports"' not in client.get(person).content.decode()


def test_a_report_made_during_the_month_is_made_again_before_it_is_sent(
    supervisor_user: Any,
) -> None:
    account = _account()
    EmailFactory(customer=account)
    early = account_report_generate(account=account, month=JUNE, user=supervisor_user, now=_at(15))
    OrderFactory(customer=account, placed_at=_at(20), amount=Decimal("80.00"))

    counts = account_reports_run_month(month=JUNE, now=RUN_AT)

    report = AccountReport.objects.get(pk=early.pk)
    assert counts["generated"] == 1
    assert report.data["orders"]["amount"] == "80.00"
    assert report.version == 2
    assert report.notified_at == RUN_AT


def test_a_report_that_fails_is_recorded_sends_nothing_and_is_made_by_the_next_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    account = _account()
    EmailFactory(customer=account)

    def broken(data: dict[str, Any], *, language: str) -> bytes:
        raise ValueError("no room on the page")

    monkeypatch.setattr("service.services.account_reports.account_report_pdf", broken)
    first = account_reports_run_month(month=JUNE, now=RUN_AT)
    report = AccountReport.objects.get(account=account)
    assert first["failed"] == 1
    assert report.status == AccountReportStatus.FAILED
    assert "no room on the page" in report.error
    assert report.notified_at is None
    assert not OutreachTask.objects.exists()

    monkeypatch.setattr("service.services.account_reports.account_report_pdf", account_report_pdf)
    second = account_reports_run_month(month=JUNE, now=RUN_AT)

    report.refresh_from_db()
    assert (second["generated"], second["emails"]) == (1, 1)
    assert (report.status, report.error) == (AccountReportStatus.READY, "")


def test_the_monthly_task_runs_the_month_it_is_given() -> None:
    account = _account()

    counts = account_reports_monthly_task.apply(kwargs={"month": "2025-06"}).get()

    assert counts["generated"] == 1
    assert AccountReport.objects.get(account=account).month == JUNE


def test_a_run_out_of_time_stops_and_the_next_goes_on() -> None:
    accounts = [_account(), _account(), _account()]

    first = account_reports_run_month(month=JUNE, now=RUN_AT, chunk=1, time_budget=0)
    second = account_reports_run_month(month=JUNE, now=RUN_AT, chunk=1)

    assert (first["generated"], first["more"]) == (1, 1)
    assert (second["generated"], second["more"]) == (2, 0)
    assert AccountReport.objects.filter(account__in=accounts, status="ready").count() == 3


def test_erasing_a_contact_deletes_the_reports_that_named_them(supervisor_user: Any) -> None:
    account = _account()
    contact = _contact(account, AccountRole.FINANCE, name="Lin")
    other = _account()
    account_report_generate(account=account, month=JUNE, user=supervisor_user)
    kept = account_report_generate(account=other, month=JUNE, user=supervisor_user)

    result = customer_erase(customer=contact)

    assert result.changed["account_reports"] == 1
    assert list(AccountReport.objects.values_list("pk", flat=True)) == [kept.pk]
    assert AccountReportPdf.objects.filter(report=kept).exists()
    assert AccountReportPdf.objects.count() == 1


def test_the_subject_export_of_an_account_carries_its_reports(
    supervisor_user: Any, tmp_path: Any
) -> None:
    account = _account(external_id="ACME-1")
    account_report_generate(account=account, month=JUNE, user=supervisor_user)
    output = tmp_path / "subject.json"

    call_command("export_subject", "ACME-1", "--output", str(output))

    exported = json.loads(output.read_text(encoding="utf-8"))
    [report] = exported["related"]["service.accountreport.account"]
    assert report["data"]["account"]["company_name"] == "Acme Ltd"


def test_a_supervisor_sends_a_finished_months_report_now_once(
    advisor: Any, supervisor_user: Any
) -> None:
    # given an account whose decision maker can receive email
    account = _account(advisor=advisor)
    boss = _sendable(account, AccountRole.DECISION_MAKER)

    # when a supervisor generates June's report and sends it, twice
    first = account_report_generate(
        account=account, month=JUNE, user=supervisor_user, send=True, now=RUN_AT
    )
    again = account_report_generate(
        account=account, month=JUNE, user=supervisor_user, send=True, now=RUN_AT
    )

    # then it went out once, as the monthly run sends it, and the run sends nothing more
    assert again.pk == first.pk
    assert (first.email_count, first.notified_at) == (1, RUN_AT)
    emails = OutreachTask.objects.filter(channel=StepChannel.EMAIL)
    assert [task.customer_id for task in emails] == [boss.pk]
    assert OutreachTask.objects.filter(channel=StepChannel.CALL).count() == 1
    assert account_reports_run_month(month=JUNE, now=RUN_AT)["emails"] == 0


def test_the_current_months_report_is_not_sent_early(supervisor_user: Any) -> None:
    account = _account()

    with pytest.raises(ApplicationError) as refused:
        account_report_generate(
            account=account, month=dt.date(2025, 7, 1), user=supervisor_user, send=True, now=RUN_AT
        )

    assert refused.value.extra["field"] == "send"
    assert not AccountReport.objects.exists()
    assert not OutreachTask.objects.exists()

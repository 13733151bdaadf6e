"""Business accounts' monthly value reports: generating them, sending them, and who sees them.

Each report is one `AccountReport` row per account and month (unique). Generating computes the
figures (service.services.account_report_data, a few statements per chunk of accounts), renders
the PDF (service.services.account_report_pdf) and stores both with the PDF's SHA-256.

Sending happens once per report (`notified_at`), in the transaction that records it:
- an email task per decision-maker and finance contact who can receive one (active, not
  opted out of email or of every contact, with an email address), or, when none can, to the
  account's own email address. The outreach dispatcher sends it and applies the guardrails
  again at send time (consent, quiet hours in the recipient's time zone). The email carries a
  link to the PDF, not the PDF: the channel backends send plain text without attachments,
  and a link keeps the mail small, is tracked (outreach.services.links counts the opening) and
  serves the report as stored. The link's random token is the only key to it.
- a call task for the account's advisor, "walk through the monthly report", due now and to be
  done within ACCOUNT_REPORT_CALL_BUSINESS_DAYS business days, assigned as care's "advisor"
  steps are (the advisor when they are available and have room that day, else it waits in the
  general queue). Not created when the account opted out of calls.
Both are service touches (the customer's own account's report: the frequency cap of proactive
messages does not hold them back) with idempotency keys derived from the report, so a second
run creates nothing twice.

The monthly run (`account_reports_run_month`, beat on the 1st) walks active business
accounts in chunks by id, one transaction per chunk: insert the missing reports (ON CONFLICT DO
NOTHING), lock the chunk's unfinished ones (SKIP LOCKED: two runs share the work), generate,
then send. Reports not sent yet are made again first (one a supervisor generated during the
month then shows the whole month). A report whose PDF failed is marked failed with the error
(shown on the page) and retried by the next run or a supervisor.
"""

import datetime as dt
import hashlib
import logging
import secrets
import time
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from psycopg import sql

from callcenter.choices import (
    AccountRole,
    ContactKind,
    CustomerKind,
    CustomerStatus,
)
from callcenter.errors import ApplicationError, ApplicationForbidden
from callcenter.models import CalendarDay, ContactPoint, Customer
from callcenter.roles import MANAGER_ROLES, STAFF_ROLES, has_role
from care.choices import AssigneeRule, StepChannel, TouchKind
from outreach.models import OutreachTask
from outreach.services.capacity import center_zone
from outreach.services.tasks import TaskSpec, outreach_tasks_create
from service.models import AccountReport, AccountReportPdf, AccountReportStatus
from service.services.account_report_data import account_reports_data, add_months
from service.services.account_report_pdf import account_report_pdf

logger = logging.getLogger("service.account_reports")

# Accounts per transaction of the monthly run: each holds its figures (a few kilobytes) and
# its PDF (tens of kilobytes) in memory until the chunk is written.
ACCOUNT_CHUNK = 50
# Contacts who receive the report by email.
REPORT_RECIPIENT_ROLES = (AccountRole.DECISION_MAKER, AccountRole.FINANCE)
# The advisor's call is to be made by this time of the last business day (call center's clock).
CALL_DEADLINE_TIME = dt.time(18, 0)
# Oldest month a report can be asked for.
EARLIEST_MONTH = dt.date(2000, 1, 1)

AnyUser = User | AnonymousUser

SUBJECTS_SQL = sql.SQL(
    "UPDATE {table} t SET subject = v.subject "
    "FROM unnest(%s::text[], %s::text[]) AS v(key, subject) "
    "WHERE t.idempotency_key = v.key AND t.subject = ''"
).format(table=sql.Identifier(OutreachTask._meta.db_table))
# The `days`-th working day after `start` (the holiday calendar, else Monday to Friday).
BUSINESS_DAY_SQL = sql.SQL(
    "SELECT g.d::date FROM generate_series(%(start)s::date + 1, %(start)s::date + 90, "
    "interval '1 day') AS g(d) LEFT JOIN {table} c ON c.day = g.d::date "
    "WHERE CASE WHEN c.kind = 'workday' THEN true WHEN c.kind = 'holiday' THEN false "
    "ELSE extract(isodow FROM g.d) < 6 END ORDER BY g.d OFFSET %(skip)s LIMIT 1"
).format(table=sql.Identifier(CalendarDay._meta.db_table))


def parse_month(value: str) -> dt.date:
    """'YYYY-MM' as the month's first day; ApplicationError when it is not one."""
    try:
        year, number = value.strip().split("-")
        if len(year) != 4 or len(number) != 2:
            raise ValueError(value)
        month = dt.date(int(year), int(number), 1)
    except (ValueError, AttributeError) as exc:
        raise ApplicationError(
            _("Give the month as YYYY-MM, e.g. 2026-11."), extra={"field": "month"}
        ) from exc
    return month


def last_month(now: dt.datetime | None = None) -> dt.date:
    """The month before the current one on the call center's clock."""
    today = timezone.localtime(now or timezone.now(), center_zone()).date()
    return add_months(today, -1)


def _check_month(month: dt.date, now: dt.datetime) -> None:
    this_month = timezone.localtime(now, center_zone()).date().replace(day=1)
    if month > this_month or month < EARLIEST_MONTH:
        raise ApplicationError(
            _("Reports cover months from 2000 up to the current month."), extra={"field": "month"}
        )


def can_view_account_reports(user: AnyUser, account: Customer) -> bool:
    """Supervisors and admins see every account's reports; an agent only those of the accounts
    they advise."""
    if has_role(user, MANAGER_ROLES):
        return True
    return has_role(user, STAFF_ROLES) and account.advisor_id == user.pk


def account_reports_check_view(user: AnyUser, account: Customer) -> None:
    if not can_view_account_reports(user, account):
        raise ApplicationForbidden(_("Only the account's advisor and supervisors see its reports."))


def business_account_get(pk: int) -> Customer | None:
    """The active business account `pk` (None when there is none)."""
    return (
        Customer.objects.filter(pk=pk, kind=CustomerKind.BUSINESS, status=CustomerStatus.ACTIVE)
        .select_related("advisor")
        .first()
    )


def account_report_download_url(report: AccountReport) -> str:
    """The public address of the report's PDF, as emailed (its token is the key)."""
    path = reverse("account-report-public", kwargs={"token": report.token})
    return settings.TRACKED_LINK_BASE_URL.rstrip("/") + path


def _new_token() -> str:
    return secrets.token_urlsafe(32)


def _render(report: AccountReport, data: dict[str, Any], now: dt.datetime) -> bytes | None:
    """Put `data` on `report` (in memory; the caller saves) and return its PDF (None when it
    failed: the report says why)."""
    report.data = data
    report.language = report.account.language
    try:
        pdf = account_report_pdf(data, language=report.language)
    except Exception as exc:
        # One account's report must not stop the others: it fails visibly and is retried.
        logger.exception("account report %s failed", report.pk)
        report.status = AccountReportStatus.FAILED
        report.error = f"{exc!r}"[:2000]
        return None
    report.pdf_sha256 = hashlib.sha256(pdf).hexdigest()
    report.pdf_size = len(pdf)
    report.status = AccountReportStatus.READY
    report.error = ""
    report.version += 1
    report.generated_at = now
    report.updated_at = now
    return pdf


def _save_pdfs(pdfs: dict[int, bytes]) -> None:
    """Write the PDFs of these reports (by report id), replacing older ones (one INSERT)."""
    AccountReportPdf.objects.bulk_create(
        [AccountReportPdf(report_id=pk, content=pdf) for pk, pdf in pdfs.items()],
        update_conflicts=True,
        unique_fields=["report"],
        update_fields=["content"],
    )


RENDERED_FIELDS = [
    "data",
    "language",
    "pdf_sha256",
    "pdf_size",
    "status",
    "error",
    "version",
    "generated_at",
    "generated_by",
    "updated_at",
]


@transaction.atomic
def account_report_generate(
    *,
    account: Customer,
    month: dt.date,
    user: User,
    send: bool = False,
    now: dt.datetime | None = None,
) -> AccountReport:
    """Generate (or regenerate) the report of `account` for `month` on a supervisor's request:
    the figures as they are now and a new PDF. With `send`, a finished month's report not sent
    yet also goes out now, as the monthly run sends it (emails and the advisor's call, through
    the guardrails; once: a report sent before is not sent again)."""
    if not has_role(user, MANAGER_ROLES):
        raise ApplicationForbidden(_("Only supervisors and admins generate reports."))
    if account.kind != CustomerKind.BUSINESS or account.status != CustomerStatus.ACTIVE:
        raise ApplicationError(_("Reports are made for active business accounts only."))
    now = now or timezone.now()
    month = month.replace(day=1)
    _check_month(month, now)
    if send and month >= timezone.localtime(now, center_zone()).date().replace(day=1):
        raise ApplicationError(
            _("Only a finished month's report is sent; this month's is sent on the 1st."),
            extra={"field": "send"},
        )
    AccountReport.objects.bulk_create(
        [AccountReport(account=account, month=month, token=_new_token())], ignore_conflicts=True
    )
    report = (
        AccountReport.objects.select_for_update()
        .select_related("account")
        .get(account=account, month=month)
    )
    data = account_reports_data(account_ids=[account.pk], month=month, now=now)[account.pk]
    pdf = _render(report, data, now)
    report.generated_by = user
    report.save(update_fields=RENDERED_FIELDS)
    if pdf is not None:
        _save_pdfs({report.pk: pdf})
    if report.status == AccountReportStatus.FAILED:
        raise ApplicationError(
            _("The report could not be made: %(error)s") % {"error": report.error}
        )
    if send:
        account_reports_notify(reports=[report], now=now)
    return report


def account_reports_run_month(
    *,
    month: dt.date,
    now: dt.datetime | None = None,
    chunk: int = ACCOUNT_CHUNK,
    time_budget: float | None = None,
) -> dict[str, int]:
    """Generate and send the reports of every active business account for `month` (the
    monthly beat; safe to run twice or concurrently). Returns counts; `more` is 1 when it
    stopped after `time_budget` seconds, accounts perhaps left (a rerun goes on: finished
    reports are skipped)."""
    now = now or timezone.now()
    month = month.replace(day=1)
    counts = {"accounts": 0, "generated": 0, "failed": 0, "emails": 0, "calls": 0, "more": 0}
    started = time.monotonic()
    after = 0
    while True:
        ids = list(
            Customer.objects.filter(
                kind=CustomerKind.BUSINESS, status=CustomerStatus.ACTIVE, pk__gt=after
            )
            .order_by("pk")
            .values_list("pk", flat=True)[:chunk]
        )
        if not ids:
            return counts
        after = ids[-1]
        counts["accounts"] += len(ids)
        for key, value in _run_chunk(ids, month=month, now=now).items():
            counts[key] += value
        # At least a chunk per run, so every run makes progress.
        if time_budget is not None and time.monotonic() - started > time_budget:
            counts["more"] = 1
            return counts


@transaction.atomic
def _run_chunk(ids: list[int], *, month: dt.date, now: dt.datetime) -> dict[str, int]:
    counts = {"generated": 0, "failed": 0, "emails": 0, "calls": 0}
    AccountReport.objects.bulk_create(
        [AccountReport(account_id=pk, month=month, token=_new_token()) for pk in ids],
        ignore_conflicts=True,
    )
    reports = list(
        AccountReport.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(account_id__in=ids, month=month)
        .filter(~Q(status=AccountReportStatus.READY) | Q(notified_at__isnull=True))
        .select_related("account")
        .order_by("pk")
    )
    # Everything not sent yet is made again, so what goes out has the month's final figures
    # (a supervisor may have generated it while the month was still running).
    to_make = reports
    if to_make:
        data = account_reports_data(
            account_ids=[r.account_id for r in to_make], month=month, now=now
        )
        pdfs: dict[int, bytes] = {}
        for report in to_make:
            pdf = _render(report, data[report.account_id], now)
            if pdf is None:
                counts["failed"] += 1
            else:
                counts["generated"] += 1
                pdfs[report.pk] = pdf
        AccountReport.objects.bulk_update(to_make, RENDERED_FIELDS)
        _save_pdfs(pdfs)
    ready = [r for r in reports if r.status == AccountReportStatus.READY and r.notified_at is None]
    if ready:
        sent = account_reports_notify(reports=ready, now=now)
        counts["emails"] += sent["emails"]
        counts["calls"] += sent["calls"]
    return counts


def _recipients(account_ids: list[int]) -> dict[int, list[int]]:
    """Who gets each account's report by email: its decision-maker and finance contacts who
    can receive email, else the account itself when it can (one query)."""
    has_email = ContactPoint.objects.filter(
        customer_id=OuterRef("pk"), kind=ContactKind.EMAIL, is_active=True
    )
    reachable = Customer.objects.filter(
        Exists(has_email),
        status=CustomerStatus.ACTIVE,
        do_not_contact=False,
        email_opt_out=False,
    )
    rows = reachable.filter(
        Q(account_id__in=account_ids, account_role__in=REPORT_RECIPIENT_ROLES)
        | Q(pk__in=account_ids)
    ).values_list("pk", "account_id")
    contacts: dict[int, list[int]] = {}
    itself: set[int] = set()
    for pk, account_id in rows:
        if pk in account_ids:
            itself.add(pk)
        else:
            contacts.setdefault(account_id, []).append(pk)
    fallback = {pk: [pk] for pk in itself}
    return {pk: sorted(contacts.get(pk) or fallback.get(pk, [])) for pk in account_ids}


def nth_business_day(start: dt.date, days: int) -> dt.date:
    """The `days`-th working day after `start`: Monday to Friday unless the holiday calendar
    says a holiday, and make-up working days at the weekend (one query)."""
    with connection.cursor() as cursor:
        cursor.execute(BUSINESS_DAY_SQL, {"start": start, "skip": max(days, 1) - 1})
        row = cursor.fetchone()
    return row[0] if row else start + dt.timedelta(days=days)


def _email_text(report: AccountReport, link: str) -> tuple[str, str]:
    account = report.account
    with translation.override(report.language or account.language):
        company = account.company_name or account.name
        month = f"{report.month:%Y-%m}"
        subject = _("Monthly report %(month)s: %(account)s") % {
            "month": month,
            "account": company,
        }
        body = _(
            "Hello,\n\nThe monthly report of %(account)s for %(month)s is ready: orders, "
            "service level and key figures. Download it (PDF) here:\n%(link)s\n\n"
            "Your advisor will call you to walk through it."
        ) % {"account": company, "month": month, "link": link}
    return subject, body


def _call_script(report: AccountReport) -> str:
    data = report.data
    with translation.override(report.language or report.account.language):
        return _(
            "Walk %(account)s through their monthly report of %(month)s: %(orders)s orders "
            "worth %(amount)s, %(tickets)s tickets opened, first response on time "
            "%(first)s, resolution on time %(resolution)s. Report: %(link)s"
        ) % {
            "account": report.account.company_name or report.account.name,
            "month": f"{report.month:%Y-%m}",
            "orders": data["orders"]["count"],
            "amount": data["orders"]["amount"],
            "tickets": data["tickets"]["opened"],
            "first": _percent_text(data["tickets"]["first_response"]["percent"]),
            "resolution": _percent_text(data["tickets"]["resolution"]["percent"]),
            "link": account_report_download_url(report),
        }


def _percent_text(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}%"


@transaction.atomic
def account_reports_notify(
    *, reports: list[AccountReport], now: dt.datetime | None = None
) -> dict[str, int]:
    """Create the email tasks and the advisor's call task of ready reports not sent yet, and
    mark them sent; keys make a repeat create nothing. Returns how many of each."""
    now = now or timezone.now()
    reports = [r for r in reports if r.status == AccountReportStatus.READY and not r.notified_at]
    if not reports:
        return {"emails": 0, "calls": 0}
    recipients = _recipients([r.account_id for r in reports])
    due_day = nth_business_day(
        timezone.localtime(now, center_zone()).date(), settings.ACCOUNT_REPORT_CALL_BUSINESS_DAYS
    )
    deadline = max(dt.datetime.combine(due_day, CALL_DEADLINE_TIME, center_zone()), now)
    specs: list[TaskSpec] = []
    subjects: dict[str, str] = {}
    emails: dict[int, int] = {}
    for report in reports:
        link = account_report_download_url(report)
        subject, body = _email_text(report, link)
        for customer_id in recipients[report.account_id]:
            key = f"account-report:{report.pk}:email:{customer_id}"
            subjects[key] = subject
            specs.append(
                TaskSpec(
                    customer_id=customer_id,
                    channel=StepChannel.EMAIL,
                    due_at=now,
                    deadline_at=deadline,
                    idempotency_key=key,
                    touch_kind=TouchKind.SERVICE,
                    body=body,
                )
            )
        emails[report.pk] = len(recipients[report.account_id])
        account = report.account
        if not (account.do_not_contact or account.call_opt_out):
            specs.append(
                TaskSpec(
                    customer_id=account.pk,
                    channel=StepChannel.CALL,
                    due_at=now,
                    deadline_at=deadline,
                    idempotency_key=f"account-report:{report.pk}:call",
                    touch_kind=TouchKind.SERVICE,
                    body=_call_script(report),
                    assignee_rule=AssigneeRule.ADVISOR,
                )
            )
    tasks = {task.idempotency_key: task for task in outreach_tasks_create(specs=specs)}
    # Task specs carry no subject: it is written in the same transaction, before any
    # dispatcher can see the tasks (only on tasks this call created, whose subject is empty).
    if subjects:
        with connection.cursor() as cursor:
            cursor.execute(SUBJECTS_SQL, [list(subjects), list(subjects.values())])
    calls = 0
    for report in reports:
        report.call_task = tasks.get(f"account-report:{report.pk}:call")
        calls += report.call_task is not None
        report.email_count = emails[report.pk]
        report.notified_at = now
    AccountReport.objects.bulk_update(reports, ["call_task", "email_count", "notified_at"])
    return {"emails": sum(emails.values()), "calls": calls}

"""Decisions for business accounts' monthly reports: the page, generating, the API, the PDF and
the public download of an emailed link."""

import datetime as dt
from typing import Any

from service.services.account_reports import account_report_generate
from tests.callcenter.factories import BusinessCustomerFactory
from tests.matrix import AGENT, MANAGERS, PUBLIC, STAFF, SUPERVISOR, Entry, _page

EXPECTATIONS: dict[str, Entry] = {
    # The report of an account: supervisors, admins and the account's advisor (the fixture's
    # agent advises the fixture account; any other agent is refused, tests/service).
    "account-report": _page("business_account", get=STAFF),
    "account-report-generate": _page("business_account", post=MANAGERS),
    "api-account-reports": Entry(methods={"get": STAFF, "post": MANAGERS}, pk="business_account"),
    "api-account-report-pdf": Entry(
        methods={"get": STAFF},
        pk="business_account",
        more_kwargs=(("month", "account_report_month"),),
    ),
    # The link emailed to the account's contacts: its random token is the credential.
    "account-report-public": Entry(
        methods={"get": PUBLIC}, pk="account_report_token", kwarg="token"
    ),
}


def extra_objects(base: dict[str, Any]) -> dict[str, Any]:
    """A business account advised by the fixture's agent, with a generated report."""
    account = BusinessCustomerFactory(advisor=base["users"][AGENT])
    report = account_report_generate(
        account=account, month=dt.date(2025, 6, 1), user=base["users"][SUPERVISOR]
    )
    return {
        "business_account": account.pk,
        "account_report_month": f"{report.month:%Y-%m}",
        "account_report_token": report.token,
    }

"""The service app's rows in subject erasure (callcenter.services.privacy).

A business account's reports name the account and its contacts (in their figures and their
PDF). Erasing the account deletes its reports; erasing a contact deletes the reports of the
account they belong to, which named them (the next run or a supervisor makes them again,
without the erased name). The export finds the reports from the model metadata (their
figures; the PDFs are rows of their own)."""

import datetime as dt

from django.db.models import Q

from callcenter.models import Customer
from callcenter.services.privacy import SubjectData, subject_data_parts
from service.models import AccountReport


def service_subject_erase(ids: list[int], now: dt.datetime) -> dict[str, int]:
    """Delete the reports of the erased accounts and of the accounts of erased contacts."""
    accounts = Customer.objects.filter(pk__in=ids, account__isnull=False).values("account_id")
    deleted = AccountReport.objects.filter(
        Q(account_id__in=ids) | Q(account_id__in=accounts)
    ).delete()
    return {"account_reports": deleted[1].get(AccountReport._meta.label, 0)}


SERVICE_SUBJECT_DATA = SubjectData(
    decisions={"service.accountreport.account": "delete"},
    erase=service_subject_erase,
)


def register() -> None:
    """Add the service app's erasure decisions and statements (from ServiceConfig.ready)."""
    subject_data_parts.register("service-account-reports", SERVICE_SUBJECT_DATA, order=50)

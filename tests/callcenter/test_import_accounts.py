"""The customers import's account columns: contacts join business accounts stored or in the
same file, roles change, and bad references are reported per line with nothing imported."""

import io

import pytest

from callcenter.choices import AccountRole, CustomerStatus, ImportStatus
from callcenter.models import Customer
from callcenter.services.imports import csv_import
from tests.callcenter.factories import BusinessCustomerFactory, CustomerFactory

pytestmark = pytest.mark.django_db

HEADER = "external_id,name,kind,company_name,account_external_id,account_role"


def _import(*lines: str):
    text = "\n".join([HEADER, *lines]) + "\n"
    return csv_import(kind="customers", file=io.BytesIO(text.encode()), file_name="c.csv")


def _link(external_id: str) -> tuple[str | None, str]:
    customer = Customer.objects.select_related("account").get(external_id=external_id)
    return (customer.account.external_id if customer.account else None, customer.account_role)


def test_contacts_join_accounts_stored_or_in_the_same_file() -> None:
    BusinessCustomerFactory(external_id="B1")
    CustomerFactory(external_id="P3", name="Stored")

    run = _import(
        "P1,Ann,,,B1,finance",
        "P2,Bob,,,B2,",
        "B2,Acme,business,Acme Ltd,,",
        "P3,,,,B1,decision_maker",
    )

    assert run.status == ImportStatus.SUCCEEDED, run.errors
    assert _link("P1") == ("B1", AccountRole.FINANCE)
    assert _link("P2") == ("B2", AccountRole.OTHER)
    assert _link("P3") == ("B1", AccountRole.DECISION_MAKER)
    assert run.updated == 1


def test_a_role_alone_changes_the_role_and_empty_cells_keep_the_link() -> None:
    company = BusinessCustomerFactory(external_id="B1")
    CustomerFactory(external_id="P1", account=company, account_role=AccountRole.USER)
    CustomerFactory(external_id="P2", account=company, account_role=AccountRole.USER)

    run = _import("P1,,,,,hr", "P2,New Name,,,,")

    assert run.status == ImportStatus.SUCCEEDED, run.errors
    assert _link("P1") == ("B1", AccountRole.HR)
    assert _link("P2") == ("B1", AccountRole.USER)


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("P1,Ann,,,NOPE,", 'account_external_id: unknown business account "NOPE"'),
        ("P1,Ann,,,P1,", "account_external_id: a customer cannot be a contact of itself"),
        ("P1,Ann,,,PERSON,", 'account_external_id: customer "PERSON" is not a business account'),
        ("P1,Ann,,,MERGED,", 'account_external_id: account "MERGED" was merged into customer B1'),
        (
            "P1,Ann,business,Ann Co,B1,",
            "account_external_id: only a person can be a contact of a business account",
        ),
        ("P1,Ann,,,,hr", "account_role: a role needs an account_external_id"),
        ("P1,Ann,,,B1,ceo", 'account_role: "ceo" is not one of decision_maker'),
    ],
)
def test_bad_account_references_are_reported_and_nothing_is_imported(row, reason) -> None:
    company = BusinessCustomerFactory(external_id="B1")
    CustomerFactory(external_id="PERSON")
    BusinessCustomerFactory(external_id="MERGED", status=CustomerStatus.MERGED, merged_into=company)

    run = _import("P0,Fine,,,B1,user", row)

    assert run.status == ImportStatus.REJECTED
    assert len(run.errors) == 1
    assert run.errors[0].startswith(f"line 3: {reason}")
    assert not Customer.objects.filter(external_id__in=["P0", "P1"]).exists()

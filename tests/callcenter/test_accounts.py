"""Business accounts: linking a person to an account (and its refusals), keeping the link valid
when customers change kind or are merged."""

import pytest

from callcenter.choices import AccountRole, CustomerKind, CustomerStatus
from callcenter.errors import ApplicationError
from callcenter.models import AuditLog, Customer
from callcenter.services.customers import customer_account_set, customer_update
from callcenter.services.identity import customer_merge
from tests.callcenter.factories import BusinessCustomerFactory, CustomerFactory

pytestmark = pytest.mark.django_db


def _linked(customer: Customer) -> tuple[int | None, str]:
    customer.refresh_from_db()
    return customer.account_id, customer.account_role


def test_a_person_becomes_a_contact_and_leaves_audited(supervisor_user) -> None:
    company = BusinessCustomerFactory()
    person = CustomerFactory()

    customer_account_set(
        customer=person, account=company, role=AccountRole.FINANCE, changed_by=supervisor_user
    )
    assert _linked(person) == (company.pk, AccountRole.FINANCE)
    assert list(company.contacts.all()) == [person]

    customer_account_set(customer=person, account=None, changed_by=supervisor_user)
    assert _linked(person) == (None, "")
    entries = AuditLog.objects.filter(action="customer.account", object_id=str(person.pk))
    assert entries.count() == 2
    assert entries.order_by("id").first().data["account_role"] == AccountRole.FINANCE


def test_a_role_defaults_to_other_and_unchanged_link_is_not_audited() -> None:
    company = BusinessCustomerFactory()
    person = CustomerFactory()

    customer_account_set(customer=person, account=company)
    customer_account_set(customer=person, account=company, role=AccountRole.OTHER)

    assert _linked(person) == (company.pk, AccountRole.OTHER)
    assert AuditLog.objects.filter(action="customer.account").count() == 1


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("business_contact", "Only a person"),
        ("person_account", "is not a business account"),
        ("itself", "contact of itself"),
        ("merged_account", "was merged into"),
        ("bad_role", "Unknown role"),
    ],
)
def test_refusals_change_nothing(case: str, message: str) -> None:
    company = BusinessCustomerFactory()
    person = CustomerFactory()
    customer, account, role = person, company, AccountRole.USER
    if case == "business_contact":
        customer = BusinessCustomerFactory()
    elif case == "person_account":
        account = CustomerFactory()
    elif case == "itself":
        customer = account
    elif case == "merged_account":
        survivor = BusinessCustomerFactory()
        Customer.objects.filter(pk=company.pk).update(
            status=CustomerStatus.MERGED, merged_into=survivor
        )
    else:
        role = "ceo"

    with pytest.raises(ApplicationError, match=message):
        customer_account_set(customer=customer, account=account, role=role)

    assert _linked(customer) == (None, "")
    assert not AuditLog.objects.filter(action="customer.account").exists()


def test_a_role_without_an_account_is_refused() -> None:
    with pytest.raises(ApplicationError, match="needs a business account"):
        customer_account_set(customer=CustomerFactory(), account=None, role=AccountRole.HR)


def test_kind_changes_that_break_a_link_are_refused() -> None:
    company = BusinessCustomerFactory()
    person = CustomerFactory()
    customer_account_set(customer=person, account=company, role=AccountRole.HR)

    with pytest.raises(ApplicationError, match="contact of a business account"):
        customer_update(customer=person, kind=CustomerKind.BUSINESS, company_name="X")
    with pytest.raises(ApplicationError, match="has contacts"):
        customer_update(customer=company, kind=CustomerKind.PERSON)

    assert Customer.objects.get(pk=person.pk).kind == CustomerKind.PERSON
    assert Customer.objects.get(pk=company.pk).kind == CustomerKind.BUSINESS


def test_merging_accounts_moves_the_contacts_to_the_survivor(supervisor_user) -> None:
    survivor, merged = BusinessCustomerFactory(), BusinessCustomerFactory()
    a, b = CustomerFactory(), CustomerFactory()
    customer_account_set(customer=a, account=merged, role=AccountRole.DECISION_MAKER)
    customer_account_set(customer=b, account=survivor, role=AccountRole.USER)

    record = customer_merge(survivor=survivor, merged=merged, merged_by=supervisor_user)

    assert _linked(a) == (survivor.pk, AccountRole.DECISION_MAKER)
    assert set(survivor.contacts.values_list("pk", flat=True)) == {a.pk, b.pk}
    assert record.moved["callcenter.customer.account"] == 1


def test_merging_a_contact_carries_its_account_to_a_person_survivor(supervisor_user) -> None:
    company = BusinessCustomerFactory()
    survivor, merged = CustomerFactory(), CustomerFactory()
    customer_account_set(customer=merged, account=company, role=AccountRole.FINANCE)

    customer_merge(survivor=survivor, merged=merged, merged_by=supervisor_user)

    assert _linked(survivor) == (company.pk, AccountRole.FINANCE)


def test_merging_an_account_into_its_own_contact_or_a_person_unlinks(supervisor_user) -> None:
    company = BusinessCustomerFactory()
    contact, other = CustomerFactory(), CustomerFactory()
    customer_account_set(customer=contact, account=company, role=AccountRole.USER)
    customer_account_set(customer=other, account=company, role=AccountRole.HR)

    record = customer_merge(survivor=contact, merged=company, merged_by=supervisor_user)

    assert _linked(contact) == (None, "")
    assert _linked(other) == (None, "")
    assert record.moved["callcenter.customer.account:unlinked"] == 1

"""Constraints the database itself enforces on the customer-profile models."""

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from callcenter.choices import ContactKind, CustomerKind, SurveyKind
from tests.callcenter.factories import (
    CustomerFactory,
    EmailFactory,
    OrderFactory,
    PhoneFactory,
    SurveyFactory,
)

pytestmark = pytest.mark.django_db


def test_an_active_phone_belongs_to_one_customer() -> None:
    # given
    PhoneFactory(value="+8613800138000")
    # when / then
    with pytest.raises(IntegrityError), transaction.atomic():
        PhoneFactory(value="+8613800138000")


def test_an_inactive_phone_may_repeat() -> None:
    PhoneFactory(value="+8613800138000", is_active=False)
    PhoneFactory(value="+8613800138000")


def test_an_email_may_be_shared_by_several_customers() -> None:
    EmailFactory(value="family@example.com")
    EmailFactory(value="family@example.com")


def test_a_business_needs_a_company_name() -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        CustomerFactory(kind=CustomerKind.BUSINESS, company_name="")


def test_order_amount_cannot_be_negative() -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        OrderFactory(amount=Decimal("-1.00"))


@pytest.mark.parametrize(
    ("kind", "score", "ok"),
    [
        (SurveyKind.NPS, 0, True),
        (SurveyKind.NPS, 10, True),
        (SurveyKind.NPS, 11, False),
        (SurveyKind.CSAT, 0, False),
        (SurveyKind.CSAT, 5, True),
        (SurveyKind.CSAT, 6, False),
    ],
)
def test_survey_score_ranges(kind: str, score: int, ok: bool) -> None:
    if ok:
        SurveyFactory(kind=kind, score=score)
    else:
        with pytest.raises(IntegrityError), transaction.atomic():
            SurveyFactory(kind=kind, score=score)


def test_external_ids_are_unique_per_system() -> None:
    customer = CustomerFactory()
    PhoneFactory(customer=customer, kind=ContactKind.EXTERNAL, system="shop", value="42")
    PhoneFactory(kind=ContactKind.EXTERNAL, system="erp", value="42")
    with pytest.raises(IntegrityError), transaction.atomic():
        PhoneFactory(kind=ContactKind.EXTERNAL, system="shop", value="42")

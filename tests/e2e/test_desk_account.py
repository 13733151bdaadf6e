"""A business contact's call pops the account on the agent desk, live: the account, its
industry and advisor, the open tickets across its contacts and the other stakeholders with
their roles (phones masked for the agent)."""

from collections.abc import Callable
from typing import Any

from playwright.sync_api import expect

from callcenter.choices import AccountRole
from callcenter.services.customers import customer_account_set, customer_create
from tests.callcenter.factories import TicketFactory, UserFactory
from tests.e2e.conftest import shot
from tests.e2e.test_desk import POP_TIMEOUT_MS, _open_desk, telephony  # noqa: F401


def test_a_contacts_call_pops_the_account(
    logged_in: Callable[..., Any],
    telephony: Callable[..., Any],  # noqa: F811
) -> None:
    advisor = UserFactory(username="e2e_advisor", first_name="Lei", last_name="Zhao")
    company = customer_create(
        name="远航物流 E2E",
        kind="business",
        company_name="远航物流有限公司",
        industry="Logistics",
        advisor=advisor,
    )
    caller = customer_create(name="Caller E2E", phones=["13800138456"])
    cfo = customer_create(name="Finance E2E", phones=["13900139456"])
    customer_account_set(customer=caller, account=company, role=AccountRole.USER)
    customer_account_set(customer=cfo, account=company, role=AccountRole.FINANCE)
    TicketFactory(customer=cfo, subject="Invoice dispute E2E")
    page = _open_desk(logged_in)

    response = telephony(
        event="ringing", call_id="e2e-call-acct", caller="13800138456", agent="e2e_desk_agent"
    )

    assert response.status_code == 202, response.text
    account = page.locator(f"#desk-card-{caller.pk} #desk-account")
    expect(account).to_be_visible(timeout=POP_TIMEOUT_MS)
    expect(account).to_contain_text("远航物流有限公司")
    expect(account).to_contain_text("Logistics")
    expect(account).to_contain_text("Lei Zhao")
    expect(account).to_contain_text("Invoice dispute E2E")
    expect(account).to_contain_text("Finance E2E")
    expect(account).to_contain_text("+8613*****9456")
    expect(account).not_to_contain_text("13900139456")
    shot(page, "desk-account")

"""Duplicates in the browser, in English and Chinese: a supervisor finds duplicates from the
empty page, reviews the evidence and what moves, and confirms the merge."""

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import expect

from callcenter.choices import CustomerStatus, MergeProposalStatus, Role
from callcenter.models import Customer, MergeProposal
from tests.callcenter.factories import CustomerFactory, EmailFactory, OrderFactory
from tests.e2e.conftest import shot

WORDS = {
    "en-US": {
        "empty": "No duplicate proposals",
        "evidence": "Same email",
        "orders": "Orders",
        "merged": "was merged into",
    },
    "zh-CN": {
        "empty": "没有重复客户建议",
        "evidence": "相同邮箱",
        "orders": "订单",
        "merged": "已合并到",
    },
}


@pytest.mark.parametrize("locale", ["en-US", "zh-CN"])
def test_find_review_and_confirm_a_merge(logged_in: Callable[..., Any], locale: str) -> None:
    words = WORDS[locale]
    tag = locale[:2]
    kept = CustomerFactory(name=f"E2E Dup {tag}", city="")
    other = CustomerFactory(name=f"E2E Dup {tag}.", city="")
    email = f"dup-{tag}@example.com"
    EmailFactory(customer=kept, value=email)
    EmailFactory(customer=other, value=email)
    OrderFactory(customer=other)
    OrderFactory(customer=other)
    page = logged_in(Role.SUPERVISOR, f"e2e_dup_{tag}", locale=locale)

    # find: the empty page offers the finder
    page.goto("/duplicates/")
    expect(page.get_by_test_id("no-duplicates")).to_contain_text(words["empty"])
    page.get_by_test_id("find-duplicates").click()

    # review: the pair with its evidence in words
    row = page.locator(f"tr[data-proposal]:has-text('{kept.name}')")
    expect(row).to_contain_text(f"{words['evidence']} {email}")
    expect(row).not_to_contain_text("'kind'")
    shot(page, f"duplicates-list-{tag}")
    row.get_by_test_id("review-merge").click()

    # confirm: what moves to the kept customer
    moves = page.locator("#merge-moves")
    expect(moves.locator("tr", has_text=words["orders"])).to_contain_text("2")
    expect(page.get_by_test_id("survivor")).to_contain_text(kept.name)
    shot(page, f"duplicates-confirm-{tag}")
    page.get_by_test_id("confirm-merge").click()

    page.wait_for_url(f"**/customers/{kept.pk}/")
    expect(page.locator(".flash-success")).to_contain_text(words["merged"])
    other.refresh_from_db()
    assert (other.status, other.merged_into_id) == (CustomerStatus.MERGED, kept.pk)
    proposal = MergeProposal.objects.get(customer_a=kept, customer_b=other)
    assert proposal.status == MergeProposalStatus.MERGED
    assert Customer.objects.get(pk=kept.pk).orders.count() == 2
    # The tombstone protects its survivor from deletion; let the cleanup delete both.
    Customer.objects.filter(pk=other.pk).update(merged_into=None, status=CustomerStatus.ACTIVE)

"""The supervisor workspace in a real browser: the rule builder with its live preview and
errors, Refresh now with the progress bar reaching done, the CSV export, and the server's 403
for agents."""

import re
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import expect

from callcenter.choices import Role
from segments.models import Segment
from tests.callcenter.factories import CustomerFactory
from tests.e2e.conftest import shot

# The first request imports every URL module; on a busy machine that alone can take longer
# than Playwright's navigation timeout.
WARM_UP_TIMEOUT = 180


@pytest.fixture(autouse=True)
def _warm_server(live_url: str) -> None:
    with urllib.request.urlopen(live_url + "/healthz", timeout=WARM_UP_TIMEOUT) as response:  # noqa: S310 local test server
        assert response.status == 200


def test_supervisor_builds_a_rule_segment_with_the_builder(logged_in: Callable[..., Any]) -> None:
    for name in ("Builder A", "Builder B", "Builder C"):
        CustomerFactory(name=name, city="E2E-Builderville")
    page = logged_in(Role.SUPERVISOR)

    page.goto("/segments/new/")
    page.fill("input[name=name]", "E2E builder segment")
    builder = page.locator("[data-rule-builder]")
    builder.get_by_role("button", name="Add condition").click()
    condition = builder.locator(".rb-condition").first
    condition.locator("select.rb-field").select_option("city")
    condition.locator("select.rb-cmp").select_option("eq")
    condition.locator("input.rb-value").fill("E2E-Builderville")

    expect(builder.locator(".rb-count")).to_have_text("3")

    # A bad value: the server's refusal appears next to that condition, not elsewhere.
    builder.get_by_role("button", name="Add condition").first.click()
    second = builder.locator(".rb-condition").nth(1)
    second.locator("select.rb-field").select_option("birthday_month")
    second.locator("select.rb-cmp").select_option("eq")
    second.locator("input.rb-value").fill("13")
    expect(second.locator(".rb-node-error")).to_contain_text("birthday_month")
    expect(condition.locator(".rb-node-error")).to_be_hidden()
    shot(page, "segments-rule-builder")
    second.get_by_role("button", name="Remove").click()
    expect(builder.locator(".rb-count")).to_have_text("3")

    page.get_by_role("button", name="Save segment").click()

    page.wait_for_url(re.compile(r"/segments/\d+/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("E2E builder segment")
    segment = Segment.objects.get(name="E2E builder segment")
    assert segment.rule == {
        "op": "and",
        "children": [{"field": "city", "cmp": "eq", "value": "E2E-Builderville"}],
    }

"""The supervisor workspace in a real browser: the rule builder with its live preview and
errors, Refresh now with the progress bar reaching done, the CSV export, and the server's 403
for agents."""

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from callcenter.choices import Role
from callcenter.services.demo import demo_data_create
from segments.choices import RunStatus, SegmentKind
from segments.models import RefreshRun, Segment
from tests.callcenter.factories import CustomerFactory
from tests.e2e.conftest import shot

# A refresh of a few hundred customers takes seconds; the worker may still be starting.
REFRESH_TIMEOUT_MS = 120_000


def test_supervisor_builds_a_rule_segment_with_the_builder(logged_in: Callable[..., Any]) -> None:
    for name in ("Builder A", "Builder B", "Builder C"):
        CustomerFactory(name=name, city="E2E-Builderville")
    page = logged_in(Role.SUPERVISOR)

    previews: list[int] = []
    page.on(
        "response",
        lambda response: previews.append(response.status) if "preview" in response.url else None,
    )
    page.goto("/segments/new/")
    page.fill("input[name=name]", "E2E builder segment")
    builder = page.locator("[data-rule-builder]")
    # An empty tree is not sent for counting: a hint, no error, before the first edit.
    expect(builder.locator(".rb-preview")).to_contain_text("Add a condition to count")
    expect(builder.locator(".rb-node-error:visible")).to_have_count(0)
    assert previews == []
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
    # The members are there at once, not at the next refresh.
    expect(page.get_by_test_id("segment-size")).to_contain_text("3")
    expect(page.locator("#members tbody tr")).to_have_count(3)
    expect(page.locator("#members")).to_contain_text("Builder B")
    segment = Segment.objects.get(name="E2E builder segment")
    assert segment.rule == {
        "op": "and",
        "children": [{"field": "city", "cmp": "eq", "value": "E2E-Builderville"}],
    }


def test_a_large_base_computes_in_the_worker_and_the_page_polls_the_count_in_chinese(
    logged_in: Callable[..., Any], real_worker: str, settings: Any
) -> None:
    # As above the in-request limit: the worker computes the members and the page polls.
    settings.SEGMENT_COMPUTE_SYNC_MAX_CUSTOMERS = -1
    for name in ("Polling A", "Polling B"):
        CustomerFactory(name=name, city="E2E-Pollingtown")
    page = logged_in(Role.SUPERVISOR, locale="zh-CN")
    responses: list[str] = []
    page.on("response", lambda response: responses.append(response.url))

    page.goto("/segments/new/")
    page.fill("input[name=name]", "E2E 轮询分群")
    builder = page.locator("[data-rule-builder]")
    builder.locator("button.rb-add-condition").first.click()
    condition = builder.locator(".rb-condition").first
    condition.locator("select.rb-field").select_option("city")
    condition.locator("select.rb-cmp").select_option("eq")
    condition.locator("input.rb-value").fill("E2E-Pollingtown")
    expect(builder.locator(".rb-count")).to_have_text("2")
    page.get_by_role("button", name="保存分群").click()

    page.wait_for_url(re.compile(r"/segments/\d+/$"))
    expect(page.locator(".flash")).to_contain_text("正在计算成员")
    size = page.get_by_test_id("segment-size")
    expect(size).to_contain_text("2", timeout=REFRESH_TIMEOUT_MS)
    expect(size).not_to_contain_text("计算中")
    assert any("/size/" in url for url in responses)
    page.reload()
    expect(page.locator("#members tbody tr")).to_have_count(2)
    shot(page, "segments-computed-by-worker-zh")


def test_refresh_now_reaches_done_and_the_pages_show_the_result(
    logged_in: Callable[..., Any], real_worker: str
) -> None:
    demo_data_create(customers=300, seed=5)
    page = logged_in(Role.SUPERVISOR)

    # none, unless a test before left some
    earlier = RefreshRun.objects.count()
    earlier_succeeded = RefreshRun.objects.filter(status=RunStatus.SUCCEEDED).count()
    page.goto("/segments/refresh/")
    history = page.locator("#run-history")
    runs = history.locator("tbody tr")
    expect(runs).to_have_count(earlier)
    page.get_by_test_id("refresh-now").click()
    bar = page.locator("#refresh-progress")
    expect(bar).to_be_visible()
    # the history lists the run from the start, not only once it has finished
    expect(runs).to_have_count(earlier + 1)
    expect(page.get_by_test_id("refresh-done")).to_be_visible(timeout=REFRESH_TIMEOUT_MS)
    expect(bar.locator("progress")).to_have_attribute("value", "100")
    expect(history).to_contain_text("Succeeded")
    # a second refresh at once, while the worker may still be finishing the first: trends get
    # a second point, the history lists both runs
    page.get_by_test_id("refresh-now").click()
    expect(runs).to_have_count(earlier + 2)
    succeeded = history.locator("tbody tr .badge-green")
    expect(succeeded).to_have_count(earlier_succeeded + 2, timeout=REFRESH_TIMEOUT_MS)
    expect(page.get_by_test_id("refresh-done")).to_be_visible()
    shot(page, "segments-refresh")

    page.goto("/dashboard/")
    expect(page.get_by_test_id("scores-as-of")).to_be_visible()
    expect(page.locator(".rf-cell a").first).to_be_visible()
    expect(page.locator("canvas[data-chart=distribution]").first).to_be_visible()
    shot(page, "segments-dashboard")
    page.locator(".rf-cell a").first.click()
    expect(page.locator("table tbody tr").first).to_be_visible()

    page.goto("/segments/")
    expect(page.locator("table")).to_contain_text("Active")
    expect(page.locator("canvas.sparkline").first).to_be_visible()
    shot(page, "segments-list")

    active = Segment.objects.get(kind=SegmentKind.LIFECYCLE, key="active")
    page.goto(f"/segments/{active.pk}/")
    expect(page.locator("#members tbody tr").first).to_be_visible()
    shot(page, "segments-detail")
    with page.expect_download() as download_info:
        page.get_by_test_id("export-csv").click()
    download = download_info.value
    header = Path(download.path()).read_text(encoding="utf-8").splitlines()[0]
    assert header.startswith("external_id,name")
    assert header.endswith(",as_of")
    assert download.suggested_filename.startswith(active.slug)

    page.goto("/clusters/")
    expect(page.get_by_role("heading", name="Clusters and churn")).to_be_visible()
    shot(page, "segments-clusters-churn")


def test_agents_get_403_from_the_server_on_the_rule_editor_and_the_export(
    logged_in: Callable[..., Any],
) -> None:
    segment = Segment.objects.get(kind=SegmentKind.TIER, key="high")
    page = logged_in(Role.AGENT)

    editor = page.goto("/segments/new/")
    export = page.goto(f"/api/segments/{segment.pk}/export/")

    assert editor is not None
    assert editor.status == 403
    assert export is not None
    assert export.status == 403
    assert page.locator("nav.nav").get_by_text("Segments").count() == 0

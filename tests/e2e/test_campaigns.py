"""A supervisor's campaign in the browser: create it for a segment, check the audience before
launch, launch it (a real Celery worker starts the run), watch the progress panel fill in by
itself, pause it; an agent is refused the page."""

from collections.abc import Callable
from typing import Any

from django.utils import timezone
from playwright.sync_api import expect

from callcenter.choices import Role
from care.models import Campaign
from outreach.models import OutreachTask
from tests.care.campaign_fixtures import customers, journey, segment_with
from tests.e2e.conftest import shot

# The run starts in the worker and the panel polls every few seconds.
WORKER_TIMEOUT_MS = 60_000


def test_supervisor_launches_a_campaign_to_a_segment_and_watches_it(
    logged_in: Callable[..., Any], real_worker: str
) -> None:
    members = customers(12)
    members[0].sms_opt_out = True
    members[0].save()
    segment = segment_with(members, slug="e2e-dormant-big-spenders")
    journey(name="E2E win back")
    page = logged_in(Role.SUPERVISOR, "e2e_campaign_supervisor")

    page.goto("/care/campaigns/")
    page.get_by_role("link", name="New campaign").first.click()
    page.fill("#id_name", "E2E dormant big spenders")
    page.select_option("#id_rule", label="E2E win back")
    page.check("input[name=audience][value=segment]")
    page.select_option("#id_segment", str(segment.pk))
    # Starting now (the form suggests the next full hour).
    page.fill("#id_starts_at", timezone.localtime().strftime("%Y-%m-%dT%H:%M"))
    page.fill("#id_holdout_percent", "25")
    page.fill("#id_sms_per_hour", "100")
    shot(page, "campaign-form")
    page.click("[data-save]")

    # The audience before launch: 12 members, 3 held out, one opted out of SMS.
    expect(page.locator("[data-members]")).to_have_text("12")
    expect(page.locator("[data-treated]")).to_have_text("9")
    sms = page.locator("tr[data-channel=sms]")
    expect(sms.locator("[data-reachable]")).to_have_text("11")
    expect(page.locator("[data-campaign-status]")).to_have_text("Draft")
    shot(page, "campaign-preview")

    page.click("[data-launch]")
    expect(page.locator(".flash-success")).to_contain_text("launched")
    # The worker starts the run; the progress panel refreshes itself until it shows the work.
    expect(page.locator("[data-queued]")).to_have_text("9", timeout=WORKER_TIMEOUT_MS)
    page.reload()
    expect(page.locator("[data-campaign-status]")).to_have_text("Running")
    expect(page.locator("tr[data-run] td").nth(2)).to_have_text("12")
    shot(page, "campaign-running")

    page.click("[data-pause]")
    expect(page.locator("[data-campaign-status]")).to_have_text("Paused")
    # The worker holds the tasks; the panel says "Pausing…" until then, and polls.
    expect(page.locator("[data-held]")).to_have_text("9", timeout=WORKER_TIMEOUT_MS)
    expect(page.locator("[data-work-pending]")).to_have_count(0, timeout=WORKER_TIMEOUT_MS)
    # The same page in Chinese.
    page.get_by_role("button", name="简体中文").click()
    page.wait_for_load_state()
    expect(page.locator("[data-campaign-status]")).to_have_text("已暂停")
    expect(page.locator("#campaign-progress h2")).to_have_text("进度")
    shot(page, "campaign-paused-zh")

    campaign = Campaign.objects.get(name="E2E dormant big spenders")
    assert OutreachTask.objects.filter(enrollment__rule=campaign.rule, status="held").count() == 9


def test_an_agent_is_refused_the_campaign_pages(logged_in: Callable[..., Any]) -> None:
    page = logged_in(Role.AGENT, "e2e_campaign_agent")
    response = page.goto("/care/campaigns/")
    assert response is not None
    assert response.status == 403


def test_supervisor_targets_a_campaign_at_a_rule_tree_built_in_the_builder(
    logged_in: Callable[..., Any],
) -> None:
    for customer in customers(4):
        customer.city = "E2E-Campaignville"
        customer.save()
    journey(name="E2E rule-tree journey")
    page = logged_in(Role.SUPERVISOR, "e2e_campaign_builder")

    page.goto("/care/campaigns/new/")
    page.fill("#id_name", "E2E by rule tree")
    page.select_option("#id_rule", label="E2E rule-tree journey")
    page.check("input[name=audience][value=rule]")
    expect(page.locator("#id_segment")).to_be_hidden()
    builder = page.locator("[data-rule-builder]")
    builder.get_by_role("button", name="Add condition").click()
    condition = builder.locator(".rb-condition").first
    condition.locator("select.rb-field").select_option("city")
    condition.locator("select.rb-cmp").select_option("eq")
    condition.locator("input.rb-value").fill("E2E-Campaignville")
    expect(builder.locator(".rb-count")).to_have_text("4")
    page.click("[data-save]")

    expect(page.locator("[data-members]")).to_have_text("4")
    campaign = Campaign.objects.get(name="E2E by rule tree")
    assert campaign.segment_id is None
    assert campaign.audience_rule is not None

"""The first hour of each role on a fresh demo, in English and in Chinese, as a new user plays
it in the browser, with a screenshot at every step in `test-artifacts/first-hour/<language>/`
(`<role>-<nn>-<step>.png`; the README names the folder).

- admin: the empty care rules page offers the default care plans; installed, the playbook's
  rules are listed by their names in the page's language; one is opened, a step's wait and the
  hold-out are changed through the form and the rule is switched on; its history tells both
  changes in words.
- supervisor: the dashboard, not scored yet, offers the first refresh; it runs in the real
  worker to done and the dashboard shows the scored customers; the builder makes a rule
  segment whose members are there as soon as it is saved, each with why in words; Refresh now
  runs again to done and the segment keeps its members.
- agent: on a demo made alive by the real demo start (the playbook, its queues and rules, a
  replayed day of care work whose last complaints wait as calls), the desk pops the caller's
  card live when the phone system rings; then a call the complaint rule put in the agent's
  queue is worked to done and the "calls due" badge follows.

The words asserted are written here in both languages (not read from the catalogue), so a
missing or English translation fails the Chinese run.
"""

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from callcenter.choices import ContactKind, CustomerStatus
from callcenter.models import ContactPoint
from callcenter.services.demo import demo_seed
from care.models import CareRule
from outreach.selectors import agent_queue, agent_queue_counts
from segments.models import Segment, SegmentMembership
from service.services.demo import demo_start
from tests.e2e.conftest import PASSWORD, shot
from tests.e2e.test_desk import POP_TIMEOUT_MS, telephony  # noqa: F401 - a fixture
from tests.e2e.test_segments import REFRESH_TIMEOUT_MS

FIRST_HOUR = Path(settings.BASE_DIR) / "test-artifacts" / "first-hour"
DEMO_CUSTOMERS = 150
# The browser's language and the language cookie a user's switch sets.
LANGUAGES = {"en": "en-US", "zh-hans": "zh-CN"}

# What each page says, in each language.
WORDS: dict[str, dict[str, str]] = {
    "en": {
        "care rules": "Care rules",
        "no rules": "No care rules yet.",
        "install": "Install the default care plans",
        "installed": "Default care plans installed",
        "complaint rule": "Complaint: apology and follow-up",
        "inactive": "Inactive",
        "save": "Save changes",
        "saved": "saved.",
        "active": "Active",
        "history": "Version history",
        "what changed": "What changed",
        "changes": "Changes from version 1 to 2",
        "delay": "Step 2: delay",
        "hold-out": "Control group share",
        "active switch": "Switched on",
        "yes": "Yes",
        "dashboard": "Dashboard",
        "not scored": "Not scored yet: run the first refresh",
        "first refresh": "Run the first refresh",
        "succeeded": "Succeeded",
        "refresh now": "Refresh now",
        "none scored": "0 scored customers",
        "scored": r"[1-9][\d,]* scored customers",
        "new segment": "New rule segment",
        "add condition": "Add condition",
        "save segment": "Save segment",
        "why": "Spend in window",
        "more than": "is more than 1,000",
        "desk": "Agent desk",
        "ringing": "Ringing",
        "my queue": "My queue",
        "due": "{n} calls due",
        "one due": "1 call due",
        "complete": "Complete",
        "reached": "Reached",
        "time left": r"^\d+[dhm]( \d+[hm])? left$",
    },
    "zh-hans": {
        "care rules": "关怀规则",
        "no rules": "还没有关怀规则。",
        "install": "安装默认关怀计划",
        "installed": "已安装默认关怀计划",
        "complaint rule": "投诉：致歉并跟进",
        "inactive": "未启用",
        "save": "保存更改",
        "saved": "已保存",
        "active": "已启用",
        "history": "版本历史",
        "what changed": "查看变更",
        "changes": "从版本 1 到版本 2 的变更",
        "delay": "步骤 2：延迟",
        "hold-out": "对照组比例",
        "active switch": "启用",
        "yes": "是",
        "dashboard": "仪表盘",
        "not scored": "尚未评分：运行首次刷新",
        "first refresh": "运行首次刷新",
        "succeeded": "成功",
        "refresh now": "立即刷新",
        "none scored": "0 位已评分客户",
        "scored": r"[1-9][\d,]* 位已评分客户",
        "new segment": "新建规则分群",
        "add condition": "添加条件",
        "save segment": "保存分群",
        "why": "窗口期内消费",
        "more than": "高于 1,000",
        "desk": "坐席工作台",
        "ringing": "振铃中",
        "my queue": "我的队列",
        "due": "{n} 个电话待拨打",
        "one due": "1 个电话待拨打",
        "complete": "完成",
        "reached": "已接通",
        "time left": r"^剩余 \d+ (天|小时|分钟?)( \d+ (小时|分))?$",
    },
}


@dataclass
class Album:
    """The screenshots of one role's hour in one language, numbered in the order taken."""

    page: Any
    language: str
    role: str
    taken: int = 0

    def __call__(self, step: str) -> Path:
        self.taken += 1
        name = f"{self.role}-{self.taken:02}-{step}"
        return shot(self.page, name, folder=FIRST_HOUR / self.language)


def _login(new_page: Callable[..., Any], live_url: str, username: str, language: str) -> Any:
    """A demo user logged in through the form, with the browser and the language cookie in
    `language` (as the language switch leaves it)."""
    page = new_page(locale=LANGUAGES[language])
    page.context.add_cookies([{"name": "django_language", "value": language, "url": live_url}])
    page.goto("/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/accounts/login/" not in url)
    expect(page.locator("html")).to_have_attribute("lang", "en" if language == "en" else "zh-CN")
    return page


def _first_hour(
    new_page: Callable[..., Any], live_url: str, username: str, role: str, language: str
) -> tuple[Any, dict[str, str], Album]:
    """The demo users and a small demo world as `make run` seeds them, and `username` logged
    in: the page, the words of `language`, the album of the role's screenshots."""
    demo_seed(customers=DEMO_CUSTOMERS, password=PASSWORD, if_empty=False)
    page = _login(new_page, live_url, username, language)
    return page, WORDS[language], Album(page, language, role)


@pytest.fixture
def fresh_segments(e2e_db: None) -> Iterator[None]:
    """The built-in segments as in a fresh database (no size, never refreshed), and as they
    were after the test: a refresh updates these rows, which the clean-up does not put back."""
    kept = list(Segment.objects.values_list("pk", "size", "last_refreshed_at"))
    Segment.objects.update(size=0, last_refreshed_at=None)
    try:
        yield
    finally:
        for pk, size, refreshed in kept:
            Segment.objects.filter(pk=pk).update(size=size, last_refreshed_at=refreshed)


@pytest.mark.parametrize("language", LANGUAGES)
def test_admin_installs_the_playbook_and_edits_a_rule(
    new_page: Callable[..., Any], live_url: str, e2e_db: None, language: str
) -> None:
    page, words, album = _first_hour(new_page, live_url, "admin", "admin", language)

    page.goto("/care/rules/")
    expect(page.get_by_role("heading", level=1)).to_have_text(words["care rules"])
    expect(page.locator(".empty-state")).to_contain_text(words["no rules"])
    install = page.locator("[data-install-playbook]")
    expect(install).to_have_text(words["install"])
    album("empty-care-rules")

    install.click()
    expect(page.locator(".flash-success")).to_contain_text(words["installed"])
    rule = CareRule.objects.get(playbook_key="complaint-opened")
    row = page.locator(f"tr[data-rule='{rule.slug}']")
    expect(row).to_contain_text(words["complaint rule"])
    expect(row).to_contain_text(words["inactive"])
    assert page.locator("tr[data-rule]").count() == CareRule.objects.count() > 5
    album("playbook-installed")

    row.locator(f"a[href$='/{rule.pk}/edit/']").click()
    expect(page.locator("#id_name")).to_have_value(words["complaint rule"])
    # The follow-up call waits two hours after the apology; one customer in ten is held out.
    call_step = page.locator("[data-step]").nth(1)
    call_step.locator("input[name$='-delay_value']").fill("2")
    call_step.locator("select[name$='-delay_unit']").select_option("hours")
    page.fill("#id_holdout_percent", "10")
    album("rule-edited")
    page.locator("[data-save]").click()
    expect(page.locator(".flash-success")).to_contain_text(words["saved"])
    expect(page.locator("[data-rule-status]")).to_have_text(words["inactive"])
    page.locator("[data-activate]").click()
    expect(page.locator("[data-rule-status]")).to_have_text(words["active"])
    album("rule-switched-on")

    rule.refresh_from_db()
    assert rule.is_active
    assert rule.holdout_share == pytest.approx(0.1)
    call = rule.steps.get(position=2)
    assert (call.delay_value, call.delay_unit) == (2, "hours")

    page.get_by_role("link", name=words["history"]).click()
    versions = page.locator(".care-versions li")
    expect(versions).to_have_count(3)
    # The newest change first: the rule switched on.
    diff = page.locator(".care-diff")
    expect(diff).to_contain_text(words["active switch"])
    expect(diff.locator(".care-after").first).to_have_text(words["yes"])
    album("rule-history-switched-on")
    page.get_by_role("link", name=words["what changed"]).last.click()
    expect(page.locator(".card-head h2").first).to_have_text(words["changes"])
    expect(diff).to_contain_text(words["delay"])
    expect(diff).to_contain_text(words["hold-out"])
    expect(diff).to_contain_text("10%")
    album("rule-history-edited")


@pytest.mark.parametrize("language", LANGUAGES)
def test_supervisor_runs_the_first_refresh_and_builds_a_segment(
    new_page: Callable[..., Any],
    live_url: str,
    real_worker: str,
    fresh_segments: None,
    language: str,
) -> None:
    page, words, album = _first_hour(new_page, live_url, "supervisor", "supervisor", language)

    page.goto("/dashboard/")
    expect(page.get_by_role("heading", level=1)).to_have_text(words["dashboard"])
    expect(page.get_by_test_id("not-scored")).to_contain_text(words["not scored"])
    expect(page.locator(".page-header")).to_contain_text(words["none scored"])
    first_refresh = page.get_by_test_id("first-refresh")
    expect(first_refresh).to_have_text(words["first refresh"])
    album("dashboard-not-scored")

    first_refresh.click()
    page.wait_for_url(re.compile(r"/segments/refresh/$"))
    expect(page.get_by_test_id("refresh-done")).to_be_visible(timeout=REFRESH_TIMEOUT_MS)
    expect(page.locator("#run-history")).to_contain_text(words["succeeded"])
    album("first-refresh-done")

    page.goto("/dashboard/")
    expect(page.get_by_test_id("not-scored")).to_have_count(0)
    expect(page.get_by_test_id("scores-as-of")).to_be_visible()
    expect(page.locator(".page-header")).to_contain_text(re.compile(words["scored"]))
    expect(page.locator("canvas[data-chart=distribution]").first).to_be_visible()
    album("dashboard-scored")

    page.goto("/segments/new/")
    expect(page.get_by_role("heading", level=1)).to_have_text(words["new segment"])
    page.fill("input[name=name]", "E2E big spenders")
    builder = page.locator("[data-rule-builder]")
    expect(builder.locator(".rb-node-error:visible")).to_have_count(0)
    builder.get_by_role("button", name=words["add condition"]).first.click()
    condition = builder.locator(".rb-condition").first
    condition.locator("select.rb-field").select_option("monetary")
    condition.locator("select.rb-cmp").select_option("gt")
    condition.locator("input.rb-value").fill("1000")
    count = builder.locator(".rb-count")
    expect(count).to_have_text(re.compile(r"^[1-9][\d,]*$"))
    previewed = count.inner_text()
    album("builder")

    page.get_by_role("button", name=words["save segment"]).click()
    page.wait_for_url(re.compile(r"/segments/\d+/$"))
    # The members are there at once: no refresh ran since the save.
    segment = Segment.objects.get(name="E2E big spenders")
    members = SegmentMembership.objects.filter(segment=segment, exited_at=None).count()
    assert f"{members:,}" == previewed
    expect(page.get_by_test_id("segment-size")).to_contain_text(previewed)
    why = page.locator("#members tbody tr .seg-why").first
    expect(why).to_contain_text(words["why"])
    expect(why).to_contain_text(words["more than"])
    album("segment-members-why")

    # Refresh now: the scheduled refresh's work on demand; the new segment keeps its members.
    page.goto("/segments/refresh/")
    refresh_now = page.get_by_test_id("refresh-now")
    expect(refresh_now).to_have_text(words["refresh now"])
    refresh_now.click()
    history = page.locator("#run-history")
    expect(history.locator("tbody tr")).to_have_count(2)
    succeeded = history.locator("tbody tr .badge-green")
    expect(succeeded).to_have_count(2, timeout=REFRESH_TIMEOUT_MS)
    expect(succeeded.first).to_have_text(words["succeeded"])
    expect(page.get_by_test_id("refresh-done")).to_be_visible()
    album("refresh-now-done")
    page.goto(f"/segments/{segment.pk}/")
    expect(page.get_by_test_id("segment-size")).to_contain_text(previewed)


@pytest.mark.parametrize("language", LANGUAGES)
def test_agent_gets_a_ring_and_works_a_call_from_the_playbook(
    new_page: Callable[..., Any],
    live_url: str,
    telephony: Callable[..., Any],  # noqa: F811 - the fixture imported above
    fresh_segments: None,
    language: str,
) -> None:
    page, words, album = _first_hour(new_page, live_url, "agent1", "agent", language)
    # The real start: its guard holds (every customer is demo data, the settings allow it).
    result = demo_start(history_days=1)
    assert result.started, result.note
    agent = get_user_model().objects.get(username="agent1")
    queued = agent_queue(user=agent).filter(step__rule__playbook_key="complaint-opened")
    assert queued.exists(), "the demo's last complaints wait as calls in agent1's queues"
    due = agent_queue_counts(user=agent)["due"]
    caller = (
        ContactPoint.objects.filter(
            kind=ContactKind.PHONE, is_active=True, customer__status=CustomerStatus.ACTIVE
        )
        .select_related("customer")
        .order_by("pk")
        .first()
    )
    assert caller is not None

    page.goto("/desk/")
    expect(page.get_by_role("heading", level=1)).to_have_text(words["desk"])
    expect(page.locator("#desk-live")).to_have_attribute("data-state", "live")
    album("desk-waiting")

    response = telephony(
        event="ringing", call_id="e2e-first-hour", caller=caller.value, agent="agent1"
    )
    assert response.status_code == 202, response.text
    card = page.locator(f"#desk-card-{caller.customer_id}")
    expect(card).to_be_visible(timeout=POP_TIMEOUT_MS)
    expect(card.locator(".desk-name")).to_contain_text(caller.customer.name)
    expect(page.locator("#call-log-items")).to_contain_text(words["ringing"])
    album("desk-ring-popped")

    page.goto("/queue/")
    expect(page.get_by_role("heading", level=1)).to_have_text(words["my queue"])
    badge = page.get_by_test_id("calls-due")
    expect(badge).to_have_text(words["due"].format(n=due) if due > 1 else words["one due"])
    task = queued.order_by("pk").first()
    assert task is not None
    row = page.locator(f"#task-{task.pk}")
    expect(row).to_contain_text(task.customer.name)
    expect(row.locator(".countdown")).to_have_text(re.compile(words["time left"]))
    album("queue")

    row.locator("select[name=outcome]").first.select_option("reached")
    row.locator("input[name=notes]").fill("已致歉，客户接受补发方案")
    row.get_by_role("button", name=words["complete"]).click()
    expect(page.locator(f"#task-{task.pk}.row-done")).to_contain_text(words["reached"])
    left = due - 1
    if left:
        expect(badge).to_have_text(words["due"].format(n=left) if left > 1 else words["one due"])
    else:
        expect(badge).to_have_count(0)
    album("call-done")
    task.refresh_from_db()
    assert (task.status, task.outcome, task.assignee_id) == ("done", "reached", agent.pk)

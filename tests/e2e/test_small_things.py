"""Small things a user notices, measured in a real browser, in English and Chinese: the dark
sidebar runs to the bottom of a long page; the site icon answers where browsers ask; cluster
cards hold their values at a desktop and a phone's width; both lifecycle charts of the dashboard
paint a stage in one colour; the queue's "calls due" badge follows the work without a reload;
the desk's ids are unique and its labels find their fields; the phone-sized desk shows its
Look up button."""

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from callcenter.choices import Role
from segments.choices import LifecycleStage, RunStatus, SegmentKind, ValueTier
from segments.colours import LIFECYCLE_COLOURS
from segments.models import ClusterProfile, RefreshRun, Segment, SegmentSnapshot
from tests.callcenter.factories import CustomerFactory, PhoneFactory
from tests.e2e.conftest import shot
from tests.outreach.factories import CallTaskFactory
from tests.segments.factories import CustomerMetricsFactory, SegmentFactory

LANGUAGES = {"en": "en-US", "zh": "zh-CN"}
PHONE_VIEWPORT = {"width": 390, "height": 844}
DESKTOP_VIEWPORT = {"width": 1440, "height": 900}
LOOK_UP = "#desk form.search-bar button[type=submit]"


def _page(logged_in: Callable[..., Any], role: str, name: str, language: str) -> Any:
    return logged_in(role, f"e2e_small_{name}_{language}", locale=LANGUAGES[language])


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_sidebar_runs_the_full_height_of_a_long_page(
    logged_in: Callable[..., Any], language: str
) -> None:
    for number in range(60):
        SegmentFactory(name=f"E2E long page segment {number:02}")
    page = _page(logged_in, Role.SUPERVISOR, "sidebar", language)

    page.goto("/segments/")

    sizes = page.evaluate(
        """() => {
          const aside = document.querySelector("aside.sidebar").getBoundingClientRect();
          return {document: document.documentElement.scrollHeight, viewport: innerHeight,
                  top: aside.top + scrollY, bottom: aside.bottom + scrollY};
        }"""
    )
    assert sizes["document"] > 2 * sizes["viewport"], sizes  # a long page indeed
    assert sizes["top"] == 0
    assert sizes["bottom"] >= sizes["document"] - 1, sizes
    shot(page, f"small-sidebar-long-page-{language}")
    # Scrolled to the bottom, the navigation is still in view beside the content.
    page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")
    assert page.evaluate("scrollY") > sizes["viewport"]
    inner = page.evaluate(
        "(() => { const box = document.querySelector('.sidebar-inner').getBoundingClientRect();"
        " return {top: box.top, bottom: box.bottom}; })()"
    )
    assert abs(inner["top"]) < 1
    assert abs(inner["bottom"] - sizes["viewport"]) < 1
    expect(page.locator(".sidebar .brand")).to_be_in_viewport()


def test_the_site_icon_answers_where_browsers_ask(logged_in: Callable[..., Any]) -> None:
    page = _page(logged_in, Role.AGENT, "icon", "en")
    page.goto("/")

    icons = page.eval_on_selector_all(
        "link[rel~=icon], link[rel=apple-touch-icon]", "links => links.map(link => link.href)"
    )
    direct = page.goto("/favicon.ico")

    assert len(icons) == 3
    for href in icons:
        answer = page.request.get(href)
        assert answer.status == 200, href
        assert answer.headers["content-type"].startswith("image/"), href
    assert direct is not None
    assert direct.status == 200
    assert direct.url.endswith("img/favicon.ico")
    assert direct.header_value("content-type") in ("image/x-icon", "image/vnd.microsoft.icon")
    assert direct.body()[:4] == b"\x00\x00\x01\x00"


def _clusters() -> None:
    run = RefreshRun.objects.create(as_of=timezone.now(), window_days=365)
    labels = (
        "Recent frequent high spenders, in touch, complaint-prone",
        "近期高频高消费客户，常联系，易投诉",
        "Lapsed occasional low spenders",
        "Average customers",
    )
    for number, label in enumerate(labels):
        ClusterProfile.objects.create(
            run=run, number=number, label=label, size=1_234_567 // (number + 1),
            mean_recency_days=1234.5, mean_frequency=123.45, mean_monetary=98_765_432.1,
            mean_r=4.46, mean_f=3.33, mean_m=4.99, mean_complaints=12.34, silhouette=0.42,
        )  # fmt: skip


@pytest.mark.parametrize("language", LANGUAGES)
def test_cluster_cards_hold_their_values(logged_in: Callable[..., Any], language: str) -> None:
    _clusters()
    page = _page(logged_in, Role.SUPERVISOR, "clusters", language)

    for viewport, width in ((DESKTOP_VIEWPORT, "desktop"), (PHONE_VIEWPORT, "phone")):
        page.set_viewport_size(viewport)
        page.goto("/clusters/")
        expect(page.locator(".cluster-card")).to_have_count(4)

        overflowing = page.eval_on_selector_all(
            ".cluster-card",
            """cards => cards.flatMap((card, index) => {
              const box = card.getBoundingClientRect();
              const out = [...card.querySelectorAll("*")].filter(child => {
                const inner = child.getBoundingClientRect();
                return inner.right > box.right + 0.5 || inner.left < box.left - 0.5;
              }).map(child => child.tagName + ": " + child.textContent.trim());
              if (card.scrollWidth > card.clientWidth) out.push("card scrolls");
              return out.map(what => index + " " + what);
            })""",
        )
        assert overflowing == [], (width, overflowing)
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
        shot(page, f"small-clusters-{width}-{language}")


def _scored_with_history() -> None:
    stages, tiers = list(LifecycleStage.values), list(ValueTier.values)
    for index in range(18):
        CustomerMetricsFactory(
            customer=CustomerFactory(name=f"E2E colour {index}"),
            lifecycle_stage=stages[index % len(stages)],
            value_tier=tiers[index % len(tiers)],
        )
    for days_ago in (3, 2, 1):
        run = RefreshRun.objects.create(
            as_of=timezone.now(), window_days=365, status=RunStatus.SUCCEEDED
        )
        for position, segment in enumerate(Segment.objects.filter(kind=SegmentKind.LIFECYCLE)):
            SegmentSnapshot.objects.create(
                segment=segment,
                run=run,
                taken_at=timezone.now() - dt.timedelta(days=days_ago),
                size=position + days_ago,
                entered=0,
                exited=0,
            )


@pytest.mark.parametrize("language", LANGUAGES)
def test_both_lifecycle_charts_paint_each_stage_in_its_one_colour(
    logged_in: Callable[..., Any], language: str
) -> None:
    _scored_with_history()
    page = _page(logged_in, Role.SUPERVISOR, "colours", language)

    page.goto("/dashboard/")
    page.wait_for_function(
        "() => window.Chart && document.querySelectorAll('canvas[data-chart]').length"
        " && [...document.querySelectorAll('canvas[data-key^=lifecycle]')]"
        ".every(canvas => Chart.getChart(canvas))"
    )

    painted = page.evaluate(
        """() => {
          const chart = key => Chart.getChart(document.querySelector(`canvas[data-key="${key}"]`));
          const doughnut = chart("lifecycle"), lines = chart("lifecycle_series");
          return {
            doughnut: Object.fromEntries(doughnut.data.labels.map(
              (label, i) => [label, doughnut.data.datasets[0].backgroundColor[i]])),
            lines: Object.fromEntries(lines.data.datasets.map(set => [set.label, set.borderColor])),
          };
        }"""
    )
    assert len(painted["doughnut"]) == len(LifecycleStage.values)
    assert painted["lines"] == painted["doughnut"]
    assert sorted(painted["doughnut"].values()) == sorted(LIFECYCLE_COLOURS.values())
    shot(page, f"small-dashboard-colours-{language}")


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_calls_due_badge_goes_when_the_call_is_done(
    logged_in: Callable[..., Any], language: str
) -> None:
    page = _page(logged_in, Role.AGENT, "badge", language)
    due = timezone.now() - dt.timedelta(minutes=5)
    task = CallTaskFactory(
        assignee=page.user, due_at=due, deadline_at=due + dt.timedelta(hours=2),
        customer=CustomerFactory(name="E2E badge customer"),
    )  # fmt: skip
    one_due = {"en": "1 call due", "zh": "1 个电话待拨打"}[language]

    page.goto("/queue/")
    badge = page.get_by_test_id("calls-due")
    expect(badge).to_have_text(one_due)
    page.evaluate("window.sameDocument = true")
    shot(page, f"small-badge-before-{language}")

    row = page.locator(f"#task-{task.pk}")
    row.locator("select[name=outcome]").first.select_option("reached")
    row.locator("button[type=submit]").first.click()

    expect(page.locator(f"#task-{task.pk}.row-done")).to_be_visible()
    expect(badge).to_have_count(0)
    expect(page.get_by_test_id("queue-counts")).to_have_count(1)
    assert page.evaluate("window.sameDocument") is True  # no reload happened
    shot(page, f"small-badge-after-{language}")
    page.reload()
    expect(page.get_by_test_id("queue-counts")).to_have_count(1)
    expect(badge).to_have_count(0)


def _caller(name: str, number: str) -> Any:
    customer = CustomerFactory(name=name)
    PhoneFactory(customer=customer, value=f"+86{number}")
    return customer


def _look_up(page: Any, number: str) -> None:
    """Look the number up with the desk's manual form."""
    page.locator("#desk input[name=phone]").fill(number)
    page.locator(LOOK_UP).click()


DUPLICATE_IDS = """() => {
  const seen = {};
  document.querySelectorAll("[id]").forEach(node => { seen[node.id] = (seen[node.id] || 0) + 1; });
  const labels = [...document.querySelectorAll("label[for]")].map(label => label.htmlFor)
    .filter(id => !document.getElementById(id));
  return {duplicate_ids: Object.keys(seen).filter(id => seen[id] > 1).sort(),
          labels_without_target: [...new Set(labels)].sort()};
}"""


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_desk_card_has_unique_ids_and_labels_find_their_fields(
    logged_in: Callable[..., Any], language: str
) -> None:
    customer = _caller("E2E 唯一编号", "13800138777")
    page = _page(logged_in, Role.AGENT, "ids", language)
    page.goto("/desk/")

    _look_up(page, "13800138777")
    expect(page.locator(".desk-card")).to_contain_text("E2E 唯一编号")

    assert page.evaluate(DUPLICATE_IDS) == {"duplicate_ids": [], "labels_without_target": []}
    # Each form's "Notes" label focuses that form's own field.
    page.locator("label[for=log-notes]").click()
    assert page.evaluate("document.activeElement.id") == "log-notes"
    page.locator("details:has(#callback-notes) > summary").click()
    page.locator("label[for=callback-notes]").click()
    assert page.evaluate("document.activeElement.id") == "callback-notes"
    for path in ("/queue/", f"/customers/{customer.pk}/"):
        page.goto(path)
        assert page.evaluate(DUPLICATE_IDS) == {"duplicate_ids": [], "labels_without_target": []}


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_phone_sized_desk_shows_its_look_up_button(
    logged_in: Callable[..., Any], language: str
) -> None:
    _caller("E2E 手机查找", "13800138999")
    page = _page(logged_in, Role.AGENT, "mobile", language)
    page.set_viewport_size(PHONE_VIEWPORT)

    page.goto("/desk/")
    button = page.locator(LOOK_UP)

    expect(button).to_be_visible()
    expect(button).to_have_text({"en": "Look up", "zh": "查询"}[language])
    box = button.bounding_box()
    assert box is not None
    assert box["x"] >= 0
    assert box["x"] + box["width"] <= PHONE_VIEWPORT["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_VIEWPORT["width"]
    shot(page, f"small-mobile-desk-{language}")
    _look_up(page, "13800138999")
    expect(page.locator(".desk-card")).to_contain_text("E2E 手机查找")
    # The card it brings fits the phone's width too.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_VIEWPORT["width"]
    shot(page, f"small-mobile-desk-card-{language}")

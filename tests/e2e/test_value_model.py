"""The value model section of the clusters-and-churn page in a real browser: the hold-out chart
drawn by Chart.js beside its table, in English and in Chinese."""

from collections.abc import Callable
from typing import Any

from playwright.sync_api import expect

from callcenter.choices import Role
from segments.models import ValueModel
from tests.e2e.conftest import shot
from tests.segments.value_fits import ValueModelFitFactory


def _fit() -> None:
    # Versions above any a test before may have left (rows are cleaned up, but be safe).
    latest = ValueModel.objects.order_by("-version").values_list("version", flat=True).first()
    version = (latest or 0) + 1
    ValueModel.objects.filter(is_current=True).update(is_current=False)
    ValueModelFitFactory(version=version)


def _chart_drawn(page: Any) -> None:
    chart = page.locator('canvas[data-chart="holdout"]')
    expect(chart).to_be_visible()
    expect(chart).to_have_attribute("data-drawn", "1")
    # Chart.js owns the canvas and has sized and painted it: two datasets of three bars.
    bars = page.evaluate(
        """() => {
            const canvas = document.querySelector('canvas[data-chart="holdout"]');
            const chart = Chart.getChart(canvas);
            return chart ? chart.data.datasets.map((d) => d.data.length) : null;
        }"""
    )
    assert bars == [3, 3]
    box = chart.bounding_box()
    assert box is not None
    assert box["width"] > 100
    assert box["height"] > 50


def test_supervisor_sees_the_value_model_chart_and_table(logged_in: Callable[..., Any]) -> None:
    _fit()
    page = logged_in(Role.SUPERVISOR)

    page.goto("/clusters/")

    section = page.locator('[data-testid="value-model"]')
    expect(section.get_by_role("heading", name="Value model")).to_be_visible()
    _chart_drawn(page)
    table = page.locator('[data-testid="holdout-table"]')
    expect(table).to_be_visible()
    expect(table.locator("tbody tr")).to_have_count(3)
    expect(table.locator("tbody tr").last).to_contain_text("7+")
    expect(page.locator('[data-testid="holdout-error"]')).to_contain_text("0.8%")
    expect(page.locator('[data-testid="value-model-parameters"]')).to_contain_text("gamma")
    expect(section.get_by_role("button", name="Retrain value model")).to_be_visible()
    shot(page, "value-model")


def test_the_value_model_section_in_chinese(logged_in: Callable[..., Any], live_url: str) -> None:
    _fit()
    page = logged_in(Role.SUPERVISOR, "e2e_value_zh")
    page.context.add_cookies([{"name": "django_language", "value": "zh-hans", "url": live_url}])

    page.goto("/clusters/")

    section = page.locator('[data-testid="value-model"]')
    expect(section.get_by_role("heading", name="价值模型")).to_be_visible()
    _chart_drawn(page)
    expect(page.locator('[data-testid="holdout-table"]')).to_contain_text("复购次数")
    expect(page.locator('[data-testid="holdout-error"]')).to_contain_text("总数误差")
    expect(section.get_by_role("button", name="重新训练价值模型")).to_be_visible()
    shot(page, "value-model-zh")

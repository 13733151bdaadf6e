"""The desk page when its live stream is limited: replaced by the same agent's newer desks it
says so and stays quiet until asked."""

import time
from collections.abc import Callable
from typing import Any

from playwright.sync_api import expect

from callcenter.choices import Role
from tests.e2e.conftest import shot

EVENTS_PATH = "/desk/events/"


def _count_stream_requests(page: Any) -> list[str]:
    opened: list[str] = []
    page.on(
        "request",
        lambda request: opened.append(request.url) if EVENTS_PATH in request.url else None,
    )
    return opened


def _desk(page: Any) -> Any:
    page.goto("/desk/")
    expect(page.locator("#desk-live")).to_have_attribute("data-state", "live")
    return page


def test_a_desk_replaced_by_newer_ones_says_so_and_does_not_reconnect_by_itself(
    logged_in: Callable[..., Any],
) -> None:
    # given the agent's desk, then three more of their desks in other tabs
    first = _desk(logged_in(Role.AGENT, "e2e_many_tabs"))
    opened = _count_stream_requests(first)
    others = [_desk(first.context.new_page()) for _ in range(3)]

    # then the first says its calls go elsewhere, and stays so
    notice = first.locator("#desk-replaced")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("Live calls now go to the desk you opened in another window")
    expect(first.locator("#desk-live")).to_have_attribute("data-state", "replaced")
    shot(first, "desk-replaced")
    time.sleep(3)
    assert opened == []
    expect(first.locator("#desk-live")).to_have_attribute("data-state", "replaced")

    # when the agent takes the calls back there, the oldest other tab is the one replaced
    first.get_by_role("button", name="Receive calls here").click()
    expect(first.locator("#desk-live")).to_have_attribute("data-state", "live")
    expect(notice).to_be_hidden()
    assert len(opened) == 1
    expect(others[0].locator("#desk-replaced")).to_be_visible()
    for page in others[1:]:
        expect(page.locator("#desk-live")).to_have_attribute("data-state", "live")


def test_the_replaced_notice_is_translated(logged_in: Callable[..., Any]) -> None:
    first = _desk(logged_in(Role.AGENT, "e2e_tabs_zh", locale="zh-CN"))
    for _ in range(3):
        _desk(first.context.new_page())

    expect(first.locator("#desk-replaced")).to_contain_text("实时来电")
    expect(first.get_by_role("button", name="在此接收来电")).to_be_visible()

"""The Simplified Chinese UI: switched with the language switch, every main page shows no
English text the catalogue knows a translation for."""

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from callcenter.choices import Role
from tests.callcenter.factories import CustomerFactory
from tests.e2e.conftest import shot

MAIN_PAGES = {
    "home": "/",
    "customers": "/customers/",
    "desk": "/desk/",
    "queue": "/queue/",
    "queues": "/queues/",
    "tickets": "/tickets/",
    "dashboard": "/dashboard/",
    "segments": "/segments/",
    "segment-new": "/segments/new/",
    "refresh": "/segments/refresh/",
    "clusters": "/clusters/",
    "next-best-actions": "/next-best-actions/",
    "next-best-action-new": "/next-best-actions/new/",
    "care-rules": "/care/rules/",
    "care-templates": "/care/templates/",
    "care-effectiveness": "/care/effectiveness/",
    "care-campaigns": "/care/campaigns/",
    "care-campaign-new": "/care/campaigns/new/",
    "sla-report": "/service/sla/report/",
    "scorecards": "/service/scorecards/",
    "settings": "/manage/settings/",
    "users": "/manage/users/",
    "audit": "/manage/audit/",
    "import": "/import/",
    "duplicates": "/duplicates/",
    "tokens": "/manage/users/tokens/",
    "sla-policies": "/service/sla/policies/",
    "sla-policy-new": "/service/sla/policies/new/",
    "calendars": "/service/calendars/",
    "calendar-new": "/service/calendars/new/",
}
CATALOGUE = Path(settings.BASE_DIR) / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"


def _english_msgids() -> set[str]:
    """Catalogue entries that are plain English phrases (no placeholders or markup)."""
    text = CATALOGUE.read_text(encoding="utf-8")
    ids = set()
    for match in re.finditer(r'^msgid "(.+)"$', text, flags=re.MULTILINE):
        msgid = match.group(1)
        if re.fullmatch(r"[A-Za-z][A-Za-z ,.'-]{2,}", msgid) and " " in msgid:
            ids.add(msgid)
    return ids


def _visible_lines(page: Any) -> set[str]:
    main = page.locator("body").inner_text()
    return {line.strip() for line in main.splitlines() if line.strip()}


@pytest.mark.parametrize("name", list(MAIN_PAGES))
def test_main_pages_show_no_untranslated_text(logged_in: Callable[..., Any], name: str) -> None:
    CustomerFactory(name="王小明")
    page = logged_in(Role.ADMIN, f"e2e_zh_{name.replace('-', '_')}")
    page.get_by_role("button", name="简体中文").click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "zh-CN"

    response = page.goto(MAIN_PAGES[name])

    assert response is not None
    assert response.status == 200
    untranslated = sorted(_visible_lines(page) & _english_msgids())
    assert not untranslated, f"{MAIN_PAGES[name]} shows English text: {untranslated}"
    shot(page, f"zh-{name}")

"""The template editor in the browser: the live SMS count takes links as the short links they
are sent as, placeholders that may be missing are inserted with a fallback, and the preview
shows a sample order for a customer who has none."""

from collections.abc import Callable
from typing import Any

from django.conf import settings
from playwright.sync_api import expect

from callcenter.choices import Language, Role
from care.services.templates import template_create
from tests.callcenter.factories import CustomerFactory
from tests.e2e.conftest import shot

LINK = "https://shop.example.cn/campaigns/2026/summer/" + "a" * 120


def test_the_editor_counts_links_as_short_links_and_previews_samples(
    logged_in: Callable[..., Any],
) -> None:
    template = template_create(
        name="E2E summer",
        slug="e2e-summer",
        channel="sms",
        variants={"en": {"body": "Summer sale"}},
    )
    CustomerFactory(name="E2E Li Lei", external_id="E2E-LINKS-1", language=Language.EN)
    page = logged_in(Role.ADMIN, "e2e_links_admin")
    page.goto(f"/care/templates/{template.pk}/")

    # The live count: 13 + 166 characters as written (2 parts), one part as sent.
    body = page.locator("textarea[data-language=en]")
    body.fill(f"Summer sale: {LINK}")
    short = f"{str(settings.TRACKED_LINK_BASE_URL).rstrip('/')}/l/xxxxxxxxxxx"
    card = page.locator("[data-variant=en]")
    expect(card.locator("[data-sms-count]")).to_contain_text(
        f"{len('Summer sale: ' + short)} characters (GSM-7) · SMS parts: 1"
    )

    # A placeholder that may be missing goes in with a fallback to fill.
    body.fill("Your favourite: ")
    page.locator('[data-placeholder^="customer.top_category"]').click()
    expect(body).to_have_value('Your favourite: {{ customer.top_category|default:"…" }}')

    # The preview of a customer without orders shows a sample order, and says so.
    body.fill('{{ order.product|default:"your order" }} {{ order.number }}')
    page.fill("#picker-q", "E2E Li Lei")
    page.get_by_role("button", name="E2E Li Lei").click()
    page.click("[data-preview]")
    rendered = page.locator("[data-rendered]")
    expect(rendered).to_contain_text("Sample product SO-20260001")
    expect(rendered.locator("[data-samples]")).to_contain_text("a sample order is shown")
    shot(page, "care-template-samples")

"""Every page of every role, in Chinese: no English words, no wrapped table headers, no time
labels that depend on the browser's time zone.

The pages are the HTML pages of the permission matrix (`tests/matrix/`) a role may GET, so a
new page is walked as soon as it has a permission decision; detail pages point at real rows of
a seeded world (demo data, the playbook, a refresh, the duplicate finder). To walk a page that
needs an object the world does not know yet, add a builder to `WORLD_OBJECTS`; to leave a URL
out, add it to `SKIPPED` with the reason.

The browser runs in a time zone far from `TIME_ZONE`: pages with charts are opened a second
time in `TIME_ZONE`, and their time labels (chart ticks and visible text) must not change.
"""

import datetime as dt
import re
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db.models import Count
from django.urls import reverse
from django.utils import timezone, translation

from callcenter.choices import ImportKind, ImportStatus, Role
from callcenter.generated import generated_text
from callcenter.models import (
    AgentProfile,
    ContactPoint,
    Customer,
    ImportRun,
    Interaction,
    MergeProposal,
    Order,
    Ticket,
)
from callcenter.services.demo import demo_data_create, demo_users_ensure
from callcenter.templatetags.crm import initials
from tests.e2e.conftest import ACTION_TIMEOUT_MS, PASSWORD
from tests.test_permission_matrix import EXPECTATIONS

ROLES = (Role.ADMIN.value, Role.SUPERVISOR.value, Role.AGENT.value)
# A browser time zone far from Asia/Shanghai, so a label drawn in it cannot pass for one drawn
# in TIME_ZONE.
BROWSER_TIME_ZONE = "America/Los_Angeles"

# URLs of the matrix that are not pages a person reads, each with why.
SKIPPED = {
    "api-docs": "Swagger UI, the API's own English documentation",
    "desk-events": "server-sent event stream, not a page",
    "desk-card": "fragment of the desk, needs a caller; shown inside /desk/",
    "dashboard-cell": "fragment of the dashboard's RFM grid, needs a cell",
    "customer-segments-fragment": "fragment loaded into the customer page (walked there)",
    "customer-timeline": "fragment loaded into the customer page (walked there)",
    "care-customer-picker": "fragment of the template editor, needs a search",
    "care-dashboard-kpis": "fragment loaded into the effectiveness page (walked there)",
    "care-campaign-progress": "fragment loaded into the campaign page (walked there)",
    "segment-refresh-progress": "fragment loaded into the refresh page (walked there)",
}

# Words that are right in the Chinese UI, each with why. Codes and product names only; words
# of customer data that users typed are allowed from the world's own rows (`typed_words`), and
# code (`<code>`, `<kbd>`, `<samp>`) and values marked `translate="no"` (time zone names,
# template slugs, routing skills) are not read.
ALLOWED_WORDS = {
    # Names of methods and measures Chinese call centers use as they are.
    "RFM",  # recency, frequency, monetary
    "FM",  # the RFM grid's axis: R against FM
    "NPS",  # net promoter score
    "CSAT",  # customer satisfaction score
    "SLA",  # service level agreement
    "KPI",
    "VIP",
    "BG",  # BG/NBD, the value model's name
    "NBD",
    "AUC",  # the churn model's holdout measure
    "ISO",  # ISO 8601 dates and ISO weekdays, as the help texts name the standard
    "Newcombe",  # the confidence interval's method is named after its author
    # Channels, systems and technical names written in Latin letters in Chinese too.
    "SMS",
    "API",
    "REST",
    "BI",
    "CRM",
    "IVR",
    "CTI",
    "CSV",
    "PDF",
    "ID",
    "URL",
    "JSON",
    "Django",  # the "Django admin" tile names the framework's admin site
    "WeChat",
    "WeCom",
    "B2C",  # the default SLA policy for consumers, a code of the trade
    "vip",  # the routing skill code admins type (help texts name it)
    "YYYY",  # the date format hint of date lists (YYYY-MM-DD)
    "MM",
    "DD",
    "MB",  # unit of the upload limit
    # Currency codes.
    "CNY",
    "USD",
    # Opt-out keywords customers text back; they work in English too.
    "STOP",
    "UNSUBSCRIBE",
    "TD",
    # The language switch names English in English.
    "English",
}

_WORD = re.compile(r"[A-Za-z][A-Za-z'’]+")
# Tokens that are data, not words: e-mail addresses, addresses, identifiers with digits,
# codes with underscores or dots, phone numbers.
_DATA_TOKEN = re.compile(r"\S*[@/_\d.:]\S*")
_TIME = re.compile(r"\b\d{1,2}:\d{2}\b|\b\d{1,2}\s?(?:AM|PM|am|pm)\b")

_HEADER_LINES_JS = """
() => [...document.querySelectorAll('th')].filter(th => th.offsetParent !== null).map(th => {
  const tops = [];
  const walker = document.createTreeWalker(th, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const range = document.createRange();
    range.selectNodeContents(walker.currentNode);
    for (const rect of range.getClientRects()) {
      if (rect.width > 0 && !tops.some(top => Math.abs(top - rect.top) < 4)) tops.push(rect.top);
    }
  }
  return {text: th.innerText.trim(), lines: tops.length};
})
"""
_CHART_LABELS_JS = """
() => (window.Chart ? Object.values(Chart.instances) : []).map(chart => {
  const scales = Object.values(chart.scales || {});
  return scales.map(scale => (scale.ticks || []).map(tick => String(tick.label))).flat();
}).flat()
"""
# The page's text, visible or not yet (other tabs, a trigger's fields shown when chosen), with
# placeholders, titles and labels; left out: code, values marked translate="no", <noscript>
# (raw markup while scripts run), and text marked as written in another language (a
# template's English text for English customers).
_TEXT_JS = """
() => {
  const skip = 'code, kbd, samp, script, style, noscript, [translate="no"], '
    + '[lang]:not([lang|="zh"])';
  const texts = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    if (node.textContent.trim() && !node.parentElement.closest(skip)) texts.push(node.textContent);
  }
  for (const el of document.querySelectorAll('[placeholder], [title], [aria-label]')) {
    if (el.closest(skip)) continue;
    for (const name of ['placeholder', 'title', 'aria-label']) {
      if (el.getAttribute(name)) texts.push(el.getAttribute(name));
    }
  }
  return texts;
}
"""


def _first_pk(queryset: Any) -> int:
    row = queryset.order_by("pk").first()
    assert row is not None, f"the seeded world has no {queryset.model.__name__}"
    return int(row.pk)


def _campaign() -> int:
    from care.choices import EventType
    from care.services.campaigns import campaign_create
    from care.services.rules import care_rule_create
    from care.services.templates import template_create
    from segments.models import Segment

    sms = template_create(
        name="年终回访短信", channel="sms", variants={"zh-hans": {"body": "感谢您的支持"}}
    )
    rule = care_rule_create(
        name="年终回访",
        trigger_type=EventType.CAMPAIGN,
        steps=[{"channel": "sms", "template_id": sms.pk, "sla_minutes": 60}],
    )
    campaign = campaign_create(
        created_by=None,
        name="双十二回访",
        rule=rule.pk,
        segment=_first_pk(Segment.objects.all()),
        starts_at=timezone.now() + dt.timedelta(days=1),
    )
    return int(campaign.pk)


def _routing_rule() -> int:
    from outreach.models import Queue, RoutingRule

    queue = Queue.objects.order_by("pk").first()
    assert queue is not None, "the playbook installs queues"
    return int(RoutingRule.objects.create(name="大客户工单", queue=queue).pk)


def _call_reason() -> int:
    from outreach.models import CallReasonSetting

    return int(CallReasonSetting.objects.get_or_create(reason="账单疑问")[0].pk)


def _import_run() -> int:
    run = ImportRun.objects.create(
        kind=ImportKind.CUSTOMERS,
        file_name="customers.csv",
        status=ImportStatus.SUCCEEDED,
        rows=1200,
        created=1196,
        updated=4,
        finished_at=timezone.now(),
        seconds=3.5,
    )
    return int(run.pk)


def _customer() -> int:
    """The customer with the most history, so the customer page shows every panel."""
    rows = Customer.objects.filter(kind="person").annotate(
        n_tickets=Count("tickets", distinct=True), n_orders=Count("orders", distinct=True)
    )
    return int(rows.order_by("-n_tickets", "-n_orders", "pk").first().pk)  # type: ignore[union-attr]


def _business_account() -> int:
    """A Chinese account (the report page shows the report in the account's language) with
    contacts, advised by the agent (an agent sees the reports of the accounts they advise)."""
    account = (
        Customer.objects.filter(kind="business", language="zh-hans", contacts__isnull=False)
        .order_by("pk")
        .first()
    )
    assert account is not None, "the demo data has no Chinese business account with contacts"
    account.advisor = get_user_model().objects.get(username="agent1")
    account.save(update_fields=["advisor"])
    return int(account.pk)


def _segment() -> int:
    """A rule segment (built-in ones have no editor), named as a user would."""
    from segments.services.segments import segment_create

    segment = segment_create(
        name="高价值沉睡客户",
        created_by=None,
        rule={
            "op": "and",
            "children": [
                {"field": "value_tier", "cmp": "eq", "value": "high"},
                {"field": "lifecycle_stage", "cmp": "eq", "value": "dormant"},
            ],
        },
    )
    return int(segment.pk)


def _world_objects() -> dict[str, Callable[[], Any]]:
    from care.models import CareRule, MessageTemplate
    from segments.models import NextBestAction, RefreshRun
    from service.models import BusinessCalendar, SlaPolicy

    return {
        "customer": _customer,
        "ticket": lambda: _first_pk(Ticket.objects.filter(kind="complaint")),
        "segment": _segment,
        "refresh_run": lambda: _first_pk(RefreshRun.objects.all()),
        "next_best_action": lambda: _first_pk(NextBestAction.objects.all()),
        "rule": lambda: _first_pk(CareRule.objects.exclude(playbook_key="")),
        "template": lambda: _first_pk(MessageTemplate.objects.all()),
        "campaign": _campaign,
        "routing_rule": _routing_rule,
        "call_reason": _call_reason,
        "import_run": _import_run,
        "managed_user": lambda: _first_pk(get_user_model().objects.filter(username="agent1")),
        "sla_policy": lambda: _first_pk(SlaPolicy.objects.all()),
        "business_calendar": lambda: _first_pk(BusinessCalendar.objects.all()),
        "business_account": _business_account,
        "merge_proposal": lambda: _first_pk(MergeProposal.objects.filter(status="open")),
    }


WORLD_OBJECTS = _world_objects


def seed_world() -> dict[str, Any]:
    """Demo data, the playbook, a refresh and the duplicate finder; the ids detail pages use."""
    demo_users_ensure(password=PASSWORD)
    demo_data_create(customers=150)
    call_command("install_playbook", verbosity=0)
    call_command("refresh_segments", verbosity=0)
    call_command("find_duplicates", verbosity=0)
    return {name: build() for name, build in WORLD_OBJECTS().items()}


def role_pages(role: str, ids: dict[str, Any]) -> list[tuple[str, str]]:
    """The (URL name, URL) of the pages `role` may open, from the permission matrix."""
    urls = []
    for name, entry in EXPECTATIONS.items():
        if not entry.page or role not in entry.methods.get("get", ()) or name in SKIPPED:
            continue
        missing = [key for key in (entry.pk, *dict(entry.more_kwargs).values()) if key]
        unknown = [key for key in missing if key not in ids]
        assert not unknown, f"{name}: add a builder for {unknown} to WORLD_OBJECTS"
        urls.append((name, reverse(name, kwargs=entry.url_kwargs(ids))))
    return urls


def typed_words() -> set[str]:
    """Words of the data users typed (names, notes, subjects, categories): shown as typed.
    Values the product generated (the catalogue translates them) are not typed data."""
    words: set[str] = set()
    users = get_user_model().objects.all()
    sources: Iterable[Any] = (
        Customer.objects.values_list("name", "company_name", "industry", "city"),
        Customer.objects.values_list("attributes"),
        ContactPoint.objects.values_list("label").distinct(),
        Order.objects.values_list("category", "channel", "product").distinct(),
        Interaction.objects.values_list("notes", "outcome", "reason").distinct(),
        Ticket.objects.values_list("subject", "description"),
        users.values_list("first_name", "last_name", "username"),
        [(user.get_full_name(),) for user in users],
        AgentProfile.objects.values_list("team"),
    )
    for rows in sources:
        for row in rows:
            for value in row:
                # A custom attribute's values are data; its keys are codes.
                text = (
                    " ".join(map(str, value.values()))
                    if isinstance(value, dict)
                    else str(value or "")
                )
                with translation.override("zh-hans"):
                    if generated_text(text) != text:
                        continue
                words.update(_WORD.findall(text))
                words.add(initials(text))  # avatars show a name's initials
    return words


# Keywords and patterns users type literally, quoted or shown as a pattern in help texts:
# "end", step-<序号>.
_LITERAL = re.compile(r"\"[^\"\s]{1,40}\"|[A-Za-z]+-<[^>]{1,20}>")


def english_words(texts: Iterable[str], allowed: set[str]) -> set[str]:
    found = set()
    for text in texts:
        for token in _LITERAL.sub(" ", text).split():
            if _DATA_TOKEN.fullmatch(token):
                continue
            for word in _WORD.findall(token):
                if word not in allowed and word not in ALLOWED_WORDS:
                    found.add(word)
    return found


def _login(browser: Any, live_url: str, username: str, time_zone: str) -> Any:
    context = browser.new_context(
        base_url=live_url,
        locale="zh-CN",
        timezone_id=time_zone,
        viewport={"width": 1440, "height": 900},
    )
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    context.add_cookies([{"name": "django_language", "value": "zh-hans", "url": live_url}])
    page = context.new_page()
    page.goto("/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/accounts/login/" not in url)
    return page


def _time_labels(page: Any) -> tuple[list[str], list[str]]:
    ticks = page.evaluate(_CHART_LABELS_JS)
    texts = _TIME.findall(page.locator("body").inner_text())
    return ticks, texts


def _check_page(page: Any, name: str, url: str, allowed: set[str]) -> list[str]:
    problems = []
    response = page.goto(url)
    page.wait_for_load_state("networkidle")
    if response is None or response.status != 200:
        return [f"{url}: status {response.status if response else None}"]
    lang = page.locator("html").get_attribute("lang")
    if lang and lang != "zh-CN":  # fragments loaded by HTMX have no <html lang>
        problems.append(f"{url}: not in Chinese ({lang})")
    english = english_words(page.evaluate(_TEXT_JS), allowed)
    if english:
        problems.append(f"{url}: English words {sorted(english)}")
    headers = page.evaluate(_HEADER_LINES_JS)
    wrapped = [h["text"] for h in headers if h["lines"] > 1 and 0 < len(h["text"]) <= 12]
    if wrapped:
        problems.append(f"{url}: table headers wrap {wrapped}")
    return problems


def test_every_page_of_every_role_reads_in_chinese(
    browser: Any, live_url: str, e2e_db: None
) -> None:
    ids = seed_world()
    allowed = typed_words()
    users = {"admin": "admin", "supervisor": "supervisor", "agent": "agent1"}
    problems: list[str] = []
    walked = 0
    for role in ROLES:
        page = _login(browser, live_url, users[role], BROWSER_TIME_ZONE)
        local = None
        for name, url in role_pages(role, ids):
            walked += 1
            problems += [f"[{role}] {p}" for p in _check_page(page, name, url, allowed)]
            ticks, texts = _time_labels(page)
            if not ticks:
                continue
            if local is None:
                local = _login(browser, live_url, users[role], settings.TIME_ZONE)
            local.goto(url)
            local.wait_for_load_state("networkidle")
            local_ticks, local_texts = _time_labels(local)
            moved = sorted(set(ticks) ^ set(local_ticks)) + sorted(set(texts) ^ set(local_texts))
            if moved:
                problems.append(f"[{role}] {url}: time labels follow the browser: {moved}")
        page.context.close()
        if local is not None:
            local.context.close()
    assert walked > 60
    assert not problems, "\n".join(problems)


def test_skipped_urls_are_matrix_pages() -> None:
    """A skipped URL that is no longer a page of the matrix is a stale entry."""
    pages = {name for name, entry in EXPECTATIONS.items() if entry.page and "get" in entry.methods}
    assert set(SKIPPED) <= pages, sorted(set(SKIPPED) - pages)

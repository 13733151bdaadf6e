"""Stored XSS and formula injection: script-like text in customers, contact points, notes,
tickets, surveys, templates, segments, care rules, tasks and CSV-import cells renders inert on
every page an admin can open, and every CSV export neutralizes formula-like cells.

The pages are not listed here: they are walked from the URL configuration (as the permission
matrix does, with its fixture objects), so pages added later are covered too.
"""

import csv
import io
from typing import Any
from urllib.parse import quote

import pytest
from django.db.models import Q
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from callcenter.choices import Role
from callcenter.models import (
    ContactPoint,
    Customer,
    ImportRun,
    Interaction,
    SurveyResponse,
    Ticket,
    TicketUpdate,
)
from callcenter.services.imports import csv_import
from care.models import CareRule, MessageTemplate, TemplateVariant
from outreach.models import OutreachTask
from segments.models import NextBestAction, Segment
from tests.callcenter.factories import CustomerFactory, PhoneFactory, UserFactory
from tests.matrix import ADMIN
from tests.segments.factories import CustomerMetricsFactory
from tests.test_permission_matrix import EXPECTATIONS, ROUTES, objects  # noqa: F401 - the matrix's fixture objects

SCRIPT = "<script>alert(1)</script>"
ATTRIBUTE = '"><img src=x onerror=alert(1)>'
PAYLOAD = f"{SCRIPT}{ATTRIBUTE}"
# What must never reach a page unescaped (the quote-breaking payload without its quote).
DANGEROUS = (SCRIPT, "<img src=x onerror=alert(1)>")
FORMULAS = ('=HYPERLINK("http://evil.example","x")', "+1+2", "-1+2", "@SUM(A1)", "\tx", "\rx")


def _poison(ids: dict[str, Any]) -> None:
    """Put the payload into every free-text field the fixture objects and a few more have."""
    Customer.objects.update(name=PAYLOAD, city=PAYLOAD, region=PAYLOAD, attributes={"x": PAYLOAD})
    ContactPoint.objects.update(label=PAYLOAD[:50], raw_value=PAYLOAD)
    Interaction.objects.update(notes=PAYLOAD, reason=PAYLOAD, outcome=PAYLOAD[:100])
    Ticket.objects.update(subject=PAYLOAD, description=PAYLOAD)
    TicketUpdate.objects.create(
        ticket_id=ids["ticket"], kind="responded", at=timezone.now(), text=PAYLOAD
    )
    SurveyResponse.objects.update(comment=PAYLOAD)
    Segment.objects.filter(pk=ids["segment"]).update(name=PAYLOAD, description=PAYLOAD)
    CareRule.objects.update(name=PAYLOAD, description=PAYLOAD)
    NextBestAction.objects.update(name=PAYLOAD, action_text=PAYLOAD, reason_text=PAYLOAD)
    MessageTemplate.objects.update(name=PAYLOAD, description=PAYLOAD)
    template = MessageTemplate.objects.get(pk=ids["template"])
    TemplateVariant.objects.update_or_create(
        template=template, language="en", defaults={"subject": PAYLOAD, "body": PAYLOAD}
    )
    OutreachTask.objects.update(subject=PAYLOAD, body=PAYLOAD, notes=PAYLOAD, last_error=PAYLOAD)
    # Through the CSV import: one accepted file, one rejected with the payload in its errors.
    good = 'external_id,name,city\nXSS-1,"' + PAYLOAD.replace('"', '""') + f'",{SCRIPT}\n'
    csv_import(kind="customers", file=io.BytesIO(good.encode()), file_name=f"{SCRIPT}.csv")
    bad = f"external_id,name,birthday\nXSS-2,x,{SCRIPT}\n"
    csv_import(kind="customers", file=io.BytesIO(bad.encode()), file_name=f"{SCRIPT}.csv")
    assert ImportRun.objects.filter(file_name__contains="script").count() == 2


def _admin_get_urls(ids: dict[str, Any], *, pages_only: bool = False) -> list[str]:
    urls = []
    for route in ROUTES:
        entry = EXPECTATIONS.get(route.key)
        if entry is None or ADMIN not in entry.methods.get("get", ()):
            continue
        if pages_only and not entry.page:
            continue
        urls.append(reverse(route.key, kwargs=entry.url_kwargs(ids)))
    return urls


def _body(response: Any) -> str:
    if response.streaming:
        return b"".join(response.streaming_content).decode("utf-8", "replace")
    return response.content.decode("utf-8", "replace")


@pytest.mark.django_db
def test_script_like_text_renders_inert_on_every_page(request: pytest.FixtureRequest) -> None:
    ids = request.getfixturevalue("objects")["ids"]
    _poison(ids)
    client = Client()
    client.force_login(UserFactory(role=Role.ADMIN, username="xss_admin", is_staff=True))
    customer_id = ids["customer"]
    urls = [
        *_admin_get_urls(ids),
        # pages that echo a search query back
        *(f"{url}?q={quote(PAYLOAD)}" for url in _admin_get_urls(ids, pages_only=True)),
        "/admin/callcenter/customer/",
        f"/admin/callcenter/customer/{customer_id}/change/",
        "/admin/callcenter/ticket/",
        "/admin/callcenter/importrun/",
        "/admin/care/messagetemplate/",
    ]
    checked, shown, failures = 0, 0, []
    for url in urls:
        response = client.get(url)
        if response.status_code >= 500:
            failures.append(f"{url}: {response.status_code}")
            continue
        if "html" not in response.get("Content-Type", ""):
            continue
        checked += 1
        body = _body(response)
        failures += [f"{url}: {bad!r} unescaped" for bad in DANGEROUS if bad in body]
        shown += "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert not failures, "\n".join(failures)
    assert checked >= 10, f"only {checked} HTML pages were checked"
    # and the payload did reach pages (escaped), so the check was not vacuous
    assert shown >= 5, f"the payload was shown on only {shown} pages"


@pytest.mark.django_db
def test_every_csv_export_is_safe_against_formula_injection(
    request: pytest.FixtureRequest,
) -> None:
    ids = request.getfixturevalue("objects")["ids"]
    for index, formula in enumerate(FORMULAS):
        customer = CustomerFactory(name=formula, external_id=f"F{index}{formula.strip()[:1]}")
        PhoneFactory(customer=customer)
        CustomerMetricsFactory(customer=customer)
    client = Client()
    client.force_login(UserFactory(role=Role.ADMIN, username="csv_admin", is_staff=True))
    exported, failures = 0, []
    for url in _admin_get_urls(ids):
        response = client.get(url)
        if "csv" not in response.get("Content-Type", "") or response.status_code != 200:
            continue
        exported += 1
        for row in csv.reader(io.StringIO(_body(response))):
            for cell in row:
                if any(formula in cell for formula in FORMULAS) and not cell.startswith("'"):
                    failures.append(f"{url}: formula cell {cell!r}")
    assert not failures, "\n".join(failures)
    assert exported >= 1
    assert Customer.objects.filter(Q(name__in=FORMULAS)).count() == len(FORMULAS)

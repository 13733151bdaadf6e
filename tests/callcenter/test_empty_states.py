"""Every empty list and dashboard says what its emptiness means through the one empty-state
include, and offers the action that fills it only to the roles the server lets do it."""

import pytest
from django.test import Client
from django.urls import reverse

from callcenter.choices import Role
from care.models import CareRule, MessageTemplate
from outreach.models import RoutingRule
from service.models import BusinessCalendar, SlaPolicy
from tests.callcenter.factories import UserFactory

pytestmark = pytest.mark.django_db


def _page(role: str, name: str) -> str:
    client = Client()
    client.force_login(UserFactory(role=role, username=f"empty_{role}"))
    response = client.get(reverse(name))
    assert response.status_code == 200, name
    return response.content.decode()


def _action(name: str) -> str:
    return f'action="{reverse(name)}"'


def _link(name: str) -> str:
    return f'href="{reverse(name)}"'


@pytest.fixture(autouse=True)
def _nothing_installed() -> None:
    """The empty states under test: no rules, templates, policies, calendars or routes."""
    CareRule.objects.all().delete()
    MessageTemplate.objects.all().delete()
    RoutingRule.objects.all().delete()
    SlaPolicy.objects.all().delete()
    BusinessCalendar.objects.all().delete()


# (page, role, what it says, what must be there, what must not be there)
CASES = [
    (
        "care-rules",
        Role.ADMIN,
        "No care rules yet.",
        [_action("care-playbook-install"), "data-install-playbook", _link("care-rule-create")],
        [],
    ),
    (
        "care-rules",
        Role.SUPERVISOR,
        "No care rules yet.",
        ["An admin can install the default care plans."],
        [_action("care-playbook-install"), _link("care-rule-create")],
    ),
    (
        "care-templates",
        Role.ADMIN,
        "No templates yet.",
        [_action("care-playbook-install"), _link("care-template-create")],
        [],
    ),
    (
        "care-templates",
        Role.SUPERVISOR,
        "No templates yet.",
        [_link("care-template-create"), "An admin can install the default care plans."],
        [_action("care-playbook-install")],
    ),
    (
        "service-sla-policies",
        Role.ADMIN,
        "No SLA policies yet",
        [_action("service-sla-defaults-install"), "data-install-defaults"],
        [],
    ),
    (
        "service-sla-policies",
        Role.SUPERVISOR,
        "No SLA policies yet",
        ["An admin can install the default policies."],
        [_action("service-sla-defaults-install")],
    ),
    (
        "service-calendars",
        Role.ADMIN,
        "No business calendars yet",
        [_link("service-calendar-create")],
        [],
    ),
    (
        "service-calendars",
        Role.SUPERVISOR,
        "No business calendars yet",
        [],
        [_link("service-calendar-create")],
    ),
    (
        "routing-rules",
        Role.ADMIN,
        "No routing rules yet",
        [_link("routing-rule-create")],
        [],
    ),
    (
        "care-campaigns",
        Role.SUPERVISOR,
        "No campaigns yet.",
        [_link("care-campaign-create")],
        [],
    ),
    (
        "dashboard",
        Role.SUPERVISOR,
        "Not scored yet: run the first refresh",
        [_action("segment-refresh"), 'data-testid="first-refresh"'],
        [],
    ),
    (
        "merge-proposals",
        Role.SUPERVISOR,
        "No duplicate proposals",
        [_action("merge-proposals-find"), 'data-testid="find-duplicates"'],
        [],
    ),
]


@pytest.mark.parametrize(
    ("name", "role", "says", "present", "absent"),
    CASES,
    ids=[f"{case[0]}-{case[1]}" for case in CASES],
)
def test_empty_state_says_what_it_means_and_offers_the_allowed_action(
    name: str, role: str, says: str, present: list[str], absent: list[str]
) -> None:
    html = _page(role, name)
    box = html[html.index('<div class="empty-state"') :]

    assert says in box
    for needle in present:
        assert needle in box, needle
    for needle in absent:
        assert needle not in box, needle
    assert box.count('class="empty-state"') == 1


def test_the_first_refresh_button_starts_the_refresh_as_refresh_now_does() -> None:
    html = _page(Role.SUPERVISOR, "dashboard")

    assert f'<form method="post" action="{reverse("segment-refresh")}"' in html
    assert "csrfmiddlewaretoken" in html

"""Admins issue API tokens from the tokens page (the key shown once, the old token ended,
audited); others are refused and nothing is issued."""

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token

from callcenter.choices import Role
from callcenter.models import AuditLog
from tests.callcenter.factories import UserFactory

pytestmark = pytest.mark.django_db

ISSUE_URL = reverse("manage-token-issue")


def _client(role: str) -> Client:
    client = Client()
    client.force_login(UserFactory(role=role, username=f"tok_{role}"))
    return client


def test_admin_issues_a_token_that_works_and_sees_the_key_once() -> None:
    integration = UserFactory(role=Role.AGENT, username="pbx")
    old = Token.objects.create(user=integration)
    client = _client(Role.ADMIN)

    page = client.get(reverse("manage-tokens")).content.decode()
    response = client.post(ISSUE_URL, {"user": integration.pk})

    assert f'action="{ISSUE_URL}"' in page
    assert f'value="{integration.pk}"' in page
    token = Token.objects.get(user=integration)
    assert token.key != old.key
    html = response.content.decode()
    assert response.status_code == 200
    assert token.key in html
    assert "no-store" in response["Cache-Control"]
    assert token.key not in client.get(reverse("manage-tokens")).content.decode()
    api = Client().get(reverse("api-customer-list"), HTTP_AUTHORIZATION=f"Token {token.key}")
    assert api.status_code == 200
    refused = Client().get(reverse("api-customer-list"), HTTP_AUTHORIZATION=f"Token {old.key}")
    assert refused.status_code in (401, 403)
    entry = AuditLog.objects.get(action="token.issue")
    assert entry.data == {"username": "pbx", "replaced": True}
    assert token.key not in str(entry.data)


@pytest.mark.parametrize("role", [Role.AGENT, Role.SUPERVISOR])
def test_others_are_refused(role: str) -> None:
    target = UserFactory(role=Role.AGENT, username="target")

    response = _client(role).post(ISSUE_URL, {"user": target.pk})

    assert response.status_code == 403
    assert not Token.objects.exists()


@pytest.mark.parametrize("user", ["", "²", "999999999", "inactive", "norole"])
def test_bad_choices_issue_nothing(user: str) -> None:
    inactive = UserFactory(role=Role.AGENT, username="gone", is_active=False)
    norole = UserFactory(username="norole")
    value = {"inactive": str(inactive.pk), "norole": str(norole.pk)}.get(user, user)

    response = _client(Role.ADMIN).post(ISSUE_URL, {"user": value}, follow=True)

    assert response.status_code == 200
    assert 'class="flash flash-error"' in response.content.decode()
    assert not Token.objects.exists()

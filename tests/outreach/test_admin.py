"""The outreach admin pages load, and the retry action resends only never-sent failures."""

import pytest
from django.test import Client
from django.urls import reverse

from outreach.choices import TaskStatus
from tests.callcenter.factories import UserFactory
from tests.outreach.factories import CallTaskFactory, QueueFactory, TaskFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_(client: Client) -> Client:
    user = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(user)
    return client


@pytest.mark.parametrize("model", ["outreachtask", "queue", "inboundmessage"])
def test_changelists_and_forms_load(admin_client_: Client, model: str) -> None:
    task = CallTaskFactory(queue=QueueFactory(slug="general"), breached_at=None)
    TaskFactory(status=TaskStatus.FAILED, last_error="HTTP 500")
    changelist = admin_client_.get(reverse(f"admin:outreach_{model}_changelist"))
    assert changelist.status_code == 200
    if model == "outreachtask":
        change = admin_client_.get(reverse("admin:outreach_outreachtask_change", args=[task.pk]))
        assert change.status_code == 200
        filtered = admin_client_.get(
            reverse("admin:outreach_outreachtask_changelist"), {"breached_at__isempty": "1"}
        )
        assert filtered.status_code == 200


def test_retry_action(admin_client_: Client) -> None:
    failed = TaskFactory(status=TaskStatus.FAILED, attempts=5, last_error="HTTP 500")
    response = admin_client_.post(
        reverse("admin:outreach_outreachtask_changelist"),
        {"action": "retry_failed", "_selected_action": [failed.pk]},
        follow=True,
    )
    assert response.status_code == 200
    failed.refresh_from_db()
    assert (failed.status, failed.attempts) == (TaskStatus.PENDING, 0)

"""Fixtures of the fault tests: the loopback SMS gateway and settings pointing at it (shared
with the outreach tests), and committed database access for other processes and connections."""

from collections.abc import Iterator
from typing import Any

import pytest
from django.apps import apps
from django.db import connection
from django.db.models import Max
from django.test.utils import setup_databases

from tests.outreach.conftest import committed, gateway, http_sms  # noqa: F401 - fixtures

# Models a committed fault test may write, dependants first; rows above the marks taken before
# the test are deleted afterwards (rows of data migrations are older, so they stay).
COMMITTED_MODELS = (
    "segments.SegmentSnapshot",
    "segments.SegmentMembership",
    "segments.CustomerMetrics",
    "segments.RefreshRun",
    "outreach.OutreachTask",
    "outreach.InboundMessage",
    "care.Enrollment",
    "care.Event",
    "care.CareRuleVersion",
    "care.CareStep",
    "care.CareRule",
    "care.TemplateVariant",
    "care.MessageTemplate",
    "care.CareSettings",
    "outreach.Queue",
    "callcenter.SurveyResponse",
    "callcenter.Ticket",
    "callcenter.Order",
    "callcenter.Interaction",
    "callcenter.ConsentChange",
    "callcenter.ContactPoint",
    "callcenter.Customer",
    "callcenter.AuditLog",
    "authtoken.Token",
    "auth.User",
)


@pytest.fixture
def committed_rows(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """Real commits, visible to other connections and processes; the rows the test added are
    deleted afterwards (unlike `transactional_db`, which would also flush the data
    migrations' rows for every later test under --reuse-db)."""
    with django_db_blocker.unblock():
        if not connection.settings_dict["NAME"].startswith("test_"):
            setup_databases(verbosity=0, interactive=False, keepdb=True, aliases={"default"})
        assert connection.settings_dict["NAME"].startswith("test_")
        models = [apps.get_model(label) for label in COMMITTED_MODELS]
        marks = {model: model.objects.aggregate(top=Max("pk"))["top"] or 0 for model in models}
        try:
            yield
        finally:
            connection.close()  # a test may have broken it on purpose
            for model in models:
                model.objects.filter(pk__gt=marks[model]).delete()
            connection.close()

"""The role groups exist with the permissions each role needs."""

import pytest
from django.contrib.auth.models import Group

pytestmark = pytest.mark.django_db


def test_role_groups_exist_with_permissions() -> None:
    groups = {group.name: group for group in Group.objects.prefetch_related("permissions")}
    assert set(groups) >= {"admin", "supervisor", "agent"}
    admin_perms = {p.codename for p in groups["admin"].permissions.all()}
    agent_perms = {p.codename for p in groups["agent"].permissions.all()}
    assert "delete_customer" in admin_perms
    assert "delete_customer" not in agent_perms
    assert "view_customer" in agent_perms

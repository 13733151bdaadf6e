"""Roles are the Django groups `admin`, `supervisor` and `agent`; checks used by views and APIs."""

from collections.abc import Iterable
from typing import TYPE_CHECKING, TypeGuard

from django.contrib.auth.models import AnonymousUser, User
from django.utils.translation import gettext_lazy as _
from rest_framework.permissions import SAFE_METHODS, BasePermission

from callcenter.choices import Role

if TYPE_CHECKING:
    # Types only: rest_framework.views reads DEFAULT_AUTHENTICATION_CLASSES at import, and
    # callcenter.authentication imports this module.
    from rest_framework.request import Request
    from rest_framework.views import APIView

_ROLES = frozenset(Role.values)
# The attribute of a user object caching its role names (not a field of the user model).
_ROLE_CACHE = "_role_names"


def user_roles(user: User | AnonymousUser) -> frozenset[str]:
    """The role names of `user`; superusers hold every role. Cached on the user object."""
    if not user.is_authenticated:
        return frozenset()
    cached = getattr(user, _ROLE_CACHE, None)
    if cached is None:
        names = (
            ()
            if user.is_superuser
            else user.groups.filter(name__in=Role.values).values_list("name", flat=True)
        )
        cached = user_roles_preload(user, names)
    return cached


def user_roles_preload(user: User, group_names: Iterable[str]) -> frozenset[str]:
    """Cache on `user` the roles its `group_names` (loaded by the caller with the user) give;
    superusers hold every role. Returns them."""
    roles = _ROLES if user.is_superuser else frozenset(group_names) & _ROLES
    setattr(user, _ROLE_CACHE, roles)
    return roles


def user_roles_forget(user: User) -> None:
    """Drop the roles cached on `user`, after its groups changed."""
    setattr(user, _ROLE_CACHE, None)


def has_role(user: User | AnonymousUser, roles: Iterable[str]) -> TypeGuard[User]:
    """True when `user` holds at least one of `roles` (so is a signed-in user)."""
    return bool(user_roles(user) & set(roles))


STAFF_ROLES = (Role.ADMIN, Role.SUPERVISOR, Role.AGENT)
MANAGER_ROLES = (Role.ADMIN, Role.SUPERVISOR)


class HasRole(BasePermission):
    """DRF permission: the user must hold one of the view's `allowed_roles` (default: any)."""

    message = _("Your role does not allow this.")

    def has_permission(self, request: "Request", view: "APIView") -> bool:
        allowed = getattr(view, "allowed_roles", STAFF_ROLES)
        return has_role(request.user, allowed)


class IsAgent(HasRole):
    """Any call-center role: agents, supervisors and admins."""

    def has_permission(self, request: "Request", view: "APIView") -> bool:
        return has_role(request.user, STAFF_ROLES)


class IsSupervisor(HasRole):
    """Supervisors and admins."""

    def has_permission(self, request: "Request", view: "APIView") -> bool:
        return has_role(request.user, MANAGER_ROLES)


class IsAdmin(HasRole):
    """Admins only."""

    def has_permission(self, request: "Request", view: "APIView") -> bool:
        return has_role(request.user, (Role.ADMIN,))


class SupervisorsReadAdminsWrite(HasRole):
    """Configuration that admins edit and supervisors consult: reads for supervisors and
    admins, writes for admins only."""

    def has_permission(self, request: "Request", view: "APIView") -> bool:
        if request.method in SAFE_METHODS:
            return has_role(request.user, MANAGER_ROLES)
        return has_role(request.user, (Role.ADMIN,))

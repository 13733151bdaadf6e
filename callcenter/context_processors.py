"""Template context shared by every page."""

from django.http import HttpRequest

from callcenter.choices import Role
from callcenter.roles import user_roles


def roles(request: HttpRequest) -> dict[str, object]:
    """Expose the user's roles so the navigation shows what the role may open."""
    names = user_roles(request.user)
    return {
        "user_roles": names,
        "is_admin": Role.ADMIN in names,
        "is_supervisor": bool(names & {Role.ADMIN, Role.SUPERVISOR}),
        "is_agent": bool(names),
    }

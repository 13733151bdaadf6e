"""Authentication backends: the django-axes lockout check in front of the model backend."""

from typing import Any

from axes.backends import AxesStandaloneBackend
from django.http import HttpRequest


class LoginLockoutBackend(AxesStandaloneBackend):
    """Refuses logins of a locked-out username and IP pair (django-axes).

    Web logins (login page, admin) always carry the request. Calls without one (management
    commands, the shell) have no client to lock out and fall through to the next backend.
    """

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> None:
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)

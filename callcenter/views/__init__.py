"""HTML pages of the customer-profile domain, and the access check every page uses.

Page modules (e.g. `callcenter.views.customers`) import `role_required` from here; the URL
configuration imports those modules directly, so this package does not re-export them.
"""

from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.views.decorators.http import require_GET

from callcenter.http import AuthenticatedHttpRequest
from callcenter.roles import STAFF_ROLES, has_role

# A page view; the desk's event stream answers with a StreamingHttpResponse.
View = Callable[..., HttpResponseBase]


def role_required(roles: Iterable[str] = STAFF_ROLES) -> Callable[[View], View]:
    """Require a logged-in user holding one of `roles` (default: any call-center role).

    Anonymous visitors are sent to the login page; logged-in users without such a role get 403.
    """
    allowed = frozenset(roles)

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not has_role(request.user, allowed):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return login_required(wrapper)

    return decorator


@require_GET
@role_required()
def home(request: AuthenticatedHttpRequest) -> HttpResponse:
    """A small landing page: the quick search and the areas the user's role may open."""
    return render(request, "callcenter/home.html")

"""HTML pages of the customer-profile domain, and the access check every page uses.

Page modules (e.g. `callcenter.views.customers`) import `role_required` from here; the URL
configuration imports those modules directly, so this package does not re-export them.
"""

from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any, TypeVar, cast

from asgiref.sync import iscoroutinefunction, sync_to_async
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.views.decorators.http import require_GET

from callcenter.http import AuthenticatedHttpRequest
from callcenter.roles import STAFF_ROLES, has_role

# A page view (the desk's event stream: an async one, answering a StreamingHttpResponse).
View = TypeVar("View", bound=Callable[..., Any])


def role_required(roles: Iterable[str] = STAFF_ROLES) -> Callable[[View], View]:
    """Require a logged-in user holding one of `roles` (default: any call-center role).

    Anonymous visitors are sent to the login page; logged-in users without such a role get 403.
    An async view is checked the same way, its user and roles read without blocking the loop.
    """
    allowed = frozenset(roles)

    def decorator(view: View) -> View:
        if iscoroutinefunction(view):

            @wraps(view)
            async def async_wrapper(
                request: HttpRequest, *args: Any, **kwargs: Any
            ) -> HttpResponseBase:
                user = await request.auser()
                if not await sync_to_async(has_role)(user, allowed):
                    raise PermissionDenied
                return await view(request, *args, **kwargs)

            return cast(View, login_required(async_wrapper))

        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not has_role(request.user, allowed):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return cast(View, login_required(wrapper))

    return decorator


@require_GET
@role_required()
def home(request: AuthenticatedHttpRequest) -> HttpResponse:
    """A small landing page: the quick search and the areas the user's role may open."""
    return render(request, "callcenter/home.html")

"""Request types for code behind login, so that `request.user` is typed as a `User`.

`HttpRequest.user` and DRF's `Request.user` are `User | AnonymousUser`. A page behind
`role_required`, an admin action and an API whose permission class requires a role run only
for a signed-in user, so they annotate `request` with these subclasses instead (the
`AuthenticatedHttpRequest` pattern django-stubs documents). A generic API view whose inherited
handlers take a plain `Request` declares `request: AuthenticatedRequest` on the class, for
`self.request`. These narrow the type only: no request is an instance of them.
"""

from django.contrib.auth.models import User
from django.http import HttpRequest
from rest_framework.request import Request


class AuthenticatedHttpRequest(HttpRequest):
    """A Django request whose user is signed in."""

    user: User


class AuthenticatedRequest(Request):
    """A DRF request whose user is authenticated."""

    user: User

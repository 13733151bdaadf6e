"""API tokens (admins): who holds one, when it expires; revoke one. Revocations are audited."""

from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST
from rest_framework.authtoken.models import Token

from callcenter.choices import Role
from callcenter.http import AuthenticatedHttpRequest
from callcenter.selectors.tokens import TokenExpiry, api_token_list
from callcenter.services.tokens import api_token_revoke
from callcenter.services.users import user_role
from callcenter.views import role_required

if TYPE_CHECKING:
    # Types only: on Python 3.11 WithAnnotations[Model, TypedDict] fails at runtime.
    from django_stubs_ext import WithAnnotations

User = get_user_model()
TOKENS_PER_PAGE = 50


@require_GET
@role_required((Role.ADMIN,))
def token_list_view(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Every API token: its user and role, when it was issued and when it expires."""
    # Typed explicitly: the plugin's annotated model loses `expires_at` through the generic.
    paginator: Paginator[WithAnnotations[Token, TokenExpiry]] = Paginator(
        api_token_list(), TOKENS_PER_PAGE
    )
    page = paginator.get_page(request.GET.get("page"))
    now = timezone.now()
    rows = [
        {
            "user": token.user,
            "role": user_role(token.user),
            "created": token.created,
            "expires_at": token.expires_at,
            "expired": token.expires_at <= now,
        }
        for token in page.object_list
    ]
    context = {
        "page": page,
        "rows": rows,
        "query": "",
        "token_ttl_days": settings.API_TOKEN_TTL_DAYS,
    }
    return render(request, "manage/tokens.html", context)


@require_POST
@role_required((Role.ADMIN,))
def token_revoke_view(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Revoke the API token of user `pk`: its next request is refused."""
    user = get_object_or_404(User, pk=pk)
    if api_token_revoke(user=user, revoked_by=request.user):
        messages.success(
            request, _("The API token of %(name)s is revoked.") % {"name": user.get_username()}
        )
    else:
        messages.info(request, _("%(name)s has no API token.") % {"name": user.get_username()})
    return redirect("manage-tokens")

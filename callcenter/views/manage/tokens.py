"""API tokens (admins): who holds one, when it expires; issue one (its key shown once) and
revoke one. Both are audited."""

from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST
from rest_framework.authtoken.models import Token

from callcenter.choices import Role
from callcenter.errors import ApplicationError
from callcenter.http import AuthenticatedHttpRequest
from callcenter.numbers import whole_number
from callcenter.selectors.tokens import TokenExpiry, api_token_list
from callcenter.services.tokens import api_token_issue, api_token_revoke
from callcenter.services.users import user_role
from callcenter.views import role_required

if TYPE_CHECKING:
    # Types only: on Python 3.11 WithAnnotations[Model, TypedDict] fails at runtime.
    from django_stubs_ext import WithAnnotations

User = get_user_model()
TOKENS_PER_PAGE = 50


def _token_holders() -> QuerySet[Any]:
    """Who may be issued a token: active users with a call-center role."""
    return (
        User.objects.filter(is_active=True)
        .filter(Q(is_superuser=True) | Q(groups__name__in=Role.values))
        .distinct()
        .order_by("username")
    )


def _render_tokens(
    request: AuthenticatedHttpRequest, *, issued: dict[str, Any] | None = None
) -> HttpResponse:
    """The token list with the issue form; `issued` (user and key) shows a new key once."""
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
        "holders": _token_holders(),
        "issued": issued,
    }
    return render(request, "manage/tokens.html", context)


@require_GET
@role_required((Role.ADMIN,))
def token_list_view(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Every API token: its user and role, when it was issued and when it expires."""
    return _render_tokens(request)


@never_cache
@require_POST
@role_required((Role.ADMIN,))
def token_issue_view(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Issue the chosen user a new token (ending their old one) and show its key this once:
    the page answers the POST itself, so the key is never stored in a message or session."""
    user = User.objects.filter(pk=whole_number(request.POST.get("user")) or 0).first()
    if user is None:
        messages.error(request, _("Choose a user to issue the token to."))
        return redirect("manage-tokens")
    try:
        token = api_token_issue(user=user, issued_by=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("manage-tokens")
    return _render_tokens(request, issued={"user": user, "key": token.key})


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

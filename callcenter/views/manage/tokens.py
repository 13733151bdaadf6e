"""API tokens (admins): who holds one, when it expires; revoke one. Revocations are audited."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from callcenter.choices import Role
from callcenter.selectors.tokens import api_token_list
from callcenter.services.tokens import api_token_revoke
from callcenter.services.users import user_role
from callcenter.views import role_required

User = get_user_model()
TOKENS_PER_PAGE = 50


@require_GET
@role_required((Role.ADMIN,))
def token_list_view(request: HttpRequest) -> HttpResponse:
    """Every API token: its user and role, when it was issued and when it expires."""
    page = Paginator(api_token_list(), TOKENS_PER_PAGE).get_page(request.GET.get("page"))
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
def token_revoke_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Revoke the API token of user `pk`: its next request is refused."""
    user = get_object_or_404(User, pk=pk)
    if api_token_revoke(user=user, revoked_by=request.user):
        messages.success(
            request, _("The API token of %(name)s is revoked.") % {"name": user.get_username()}
        )
    else:
        messages.info(request, _("%(name)s has no API token.") % {"name": user.get_username()})
    return redirect("manage-tokens")

"""Users and roles: list, create, change role, (de)activate, profile and queues, password.

The apps above add their fields to the forms and a column to the list through
`callcenter.forms_manage.user_form_parts` (outreach: the call queues an agent works).
"""

from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Prefetch, Q
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from callcenter.choices import Role
from callcenter.forms_manage import (
    PasswordSetForm,
    UserCreateForm,
    UserFilterForm,
    UserProfileForm,
    UserRoleForm,
    user_form_parts,
)
from callcenter.http import AuthenticatedHttpRequest
from callcenter.models import AgentProfile, AuditLog
from callcenter.services.users import (
    user_active_set,
    user_create,
    user_password_set,
    user_profile_update,
    user_role,
    user_role_set,
)
from callcenter.views import role_required
from callcenter.views.manage.audit import ACTION_LABELS
from callcenter.views.manage.settings import _add_error

User = get_user_model()
USERS_PER_PAGE = 25
# Audit entries shown on a user's page.
USER_HISTORY = 10
# Columns of the user list before the parts' own: user, role, status, extension, last login.
USER_LIST_COLUMNS = 5


def _users() -> Any:
    """Users with their role groups, agent profile and what the parts show (the queues): a
    query for the page, one for the groups and one per part's prefetch."""
    return (
        User.objects.select_related("agent_profile")
        .prefetch_related(
            Prefetch("groups", queryset=Group.objects.filter(name__in=Role.values)),
            *[prefetch for part in user_form_parts for prefetch in part.list_prefetch()],
        )
        .order_by("username")
    )


def _part_templates() -> list[str]:
    return [part.template for part in user_form_parts]


def _parts_save(*, user: Any, data: dict[str, Any], changed_by: Any) -> bool:
    """Save every part's fields (each part runs, whatever the others did); whether any changed."""
    changed = [part.save(user=user, data=data, changed_by=changed_by) for part in user_form_parts]
    return any(changed)


@require_http_methods(["GET"])
@role_required((Role.ADMIN,))
def user_list_view(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Every account with its role, status, last login, extension and queues."""
    form = UserFilterForm(request.GET or None)
    users = _users()
    if form.is_valid():
        query = form.cleaned_data["q"].strip()
        if query:
            users = users.filter(
                Q(username__icontains=query)
                | Q(first_name__icontains=query)
                | Q(last_name__icontains=query)
                | Q(email__icontains=query)
                | Q(agent_profile__extension=query)
            )
        if form.cleaned_data["role"]:
            users = users.filter(groups__name=form.cleaned_data["role"])
        if form.cleaned_data["status"]:
            users = users.filter(is_active=form.cleaned_data["status"] == "active")
    page = Paginator(users, USERS_PER_PAGE).get_page(request.GET.get("page"))
    rows = [{"user": user, "role": user_role(user)} for user in page.object_list]
    query = request.GET.copy()
    query.pop("page", None)
    columns = [{"title": part.list_title, "cell": part.list_cell} for part in user_form_parts]
    context = {
        "form": form,
        "page": page,
        "rows": rows,
        "query": query.urlencode(),
        "part_columns": columns,
        "columns": USER_LIST_COLUMNS + len(columns),
    }
    return render(request, "manage/users.html", context)


@require_http_methods(["GET", "POST"])
@role_required((Role.ADMIN,))
def user_create_view(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Create an account with a role, optional extension and queues."""
    form = UserCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic():
                user = user_create(
                    created_by=request.user,
                    username=data["username"],
                    password=data["password"],
                    role=data["role"],
                    first_name=data["first_name"],
                    last_name=data["last_name"],
                    email=data["email"],
                    extension=data["extension"].strip(),
                )
                _parts_save(user=user, data=data, changed_by=request.user)
        except ValidationError as error:
            _add_error(form, error)
        else:
            messages.success(request, _("User %(name)s created.") % {"name": user.get_username()})
            return redirect("manage-user", pk=user.pk)
    status = 400 if request.method == "POST" else 200
    context = {"form": form, "part_templates": _part_templates()}
    return render(request, "manage/user_create.html", context, status=status)


def _profile_initial(user: Any) -> dict[str, Any]:
    profile = AgentProfile.objects.filter(user=user).first()
    initial = {
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "extension": (profile.extension or "") if profile else "",
        "is_available": profile.is_available if profile else True,
        "daily_task_limit": profile.daily_task_limit if profile else None,
    }
    for part in user_form_parts:
        initial.update(part.initial(user))
    return initial


def _save(action: str, form: Any, request: AuthenticatedHttpRequest, user: Any) -> str | None:
    """Apply one valid form; returns the success message, or None with errors on the form."""
    data = form.cleaned_data if form is not None else {}
    try:
        with transaction.atomic():
            if action == "profile":
                changed = user_profile_update(
                    user=user,
                    changed_by=request.user,
                    first_name=data["first_name"],
                    last_name=data["last_name"],
                    email=data["email"],
                    extension=data["extension"],
                    is_available=data["is_available"],
                    daily_task_limit=data["daily_task_limit"],
                )
                moved = _parts_save(user=user, data=data, changed_by=request.user)
                return _("Profile saved.") if changed or moved else _("Nothing changed.")
            if action == "role":
                user_role_set(user=user, role=data["role"], changed_by=request.user)
                return _("Role saved.")
            if action == "password":
                user_password_set(user=user, password=data["password"], changed_by=request.user)
                return _("Password changed.")
            is_active = action == "activate"
            user_active_set(user=user, is_active=is_active, changed_by=request.user)
            return _("User reactivated.") if is_active else _("User deactivated.")
    except ValidationError as error:
        if form is None:
            messages.error(request, " ".join(error.messages))
        else:
            _add_error(form, error)
        return None


@require_http_methods(["GET", "POST"])
@role_required((Role.ADMIN,))
def user_detail_view(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """One account: profile and queues, role, status, password, recent audited changes."""
    user = get_object_or_404(User, pk=pk)
    action = request.POST.get("action") if request.method == "POST" else None
    forms: dict[str, Any] = {
        "profile": UserProfileForm(initial=_profile_initial(user)),
        "role": UserRoleForm(initial={"role": user_role(user)}),
        "password": PasswordSetForm(),
    }
    if action is not None:
        if action not in (*forms, "activate", "deactivate"):
            return HttpResponse(_("Unknown action."), status=400)
        form = None
        if action in forms:
            form = forms[action] = type(forms[action])(request.POST)
        if form is None or form.is_valid():
            message = _save(action, form, request, user)
            if message is not None:
                messages.success(request, message)
                return redirect("manage-user", pk=user.pk)
            if form is None:
                return redirect("manage-user", pk=user.pk)
    history = [
        {"entry": entry, "label": ACTION_LABELS.get(entry.action, entry.action)}
        for entry in AuditLog.objects.filter(object_type="user", object_id=str(user.pk))
        .select_related("actor")
        .order_by("-at", "-id")[:USER_HISTORY]
    ]
    context = {
        "subject": user,
        "role": user_role(user),
        "forms": forms,
        "failed": action,
        "is_self": user.pk == request.user.pk,
        "history": history,
        "part_templates": _part_templates(),
    }
    return render(request, "manage/user_detail.html", context, status=400 if action else 200)

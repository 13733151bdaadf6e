"""Managing staff accounts: create, role, active flag, password, agent profile. All audited.

A user holds one call-center role (one of the groups `admin`, `supervisor`, `agent`). Admins
cannot lock themselves out (drop their own admin role or deactivate themselves), and the last
active admin cannot be demoted or deactivated by anyone.
"""

from axes.utils import reset as axes_reset
from django.contrib.auth.models import Group, User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from callcenter.choices import Role
from callcenter.models import AgentProfile
from callcenter.roles import user_roles_forget
from callcenter.services.audit import audit_log_record


def user_role(user: User) -> str | None:
    """The user's call-center role (the highest one if several groups are held)."""
    names = {group.name for group in user.groups.all()}
    for role in (Role.ADMIN, Role.SUPERVISOR, Role.AGENT):
        if role in names:
            return role.value
    return None


def _other_active_admins(user: User) -> bool:
    return User.objects.filter(is_active=True, groups__name=Role.ADMIN).exclude(pk=user.pk).exists()


def _groups_set(user: User, role: str | None) -> None:
    roles = Group.objects.filter(name__in=Role.values)
    user.groups.remove(*roles)
    if role:
        user.groups.add(Group.objects.get(name=role))


@transaction.atomic
def user_create(
    *,
    created_by: User | None,
    username: str,
    password: str,
    role: str,
    first_name: str = "",
    last_name: str = "",
    email: str = "",
    extension: str = "",
) -> User:
    """Create an active staff account with one role; agents may get a telephony extension."""
    username = username.strip()
    errors: dict[str, list[str]] = {}
    if not username:
        errors["username"] = [_("Enter a user name.")]
    elif User.objects.filter(username__iexact=username).exists():
        errors["username"] = [_("This user name is taken.")]
    if role not in Role.values:
        errors["role"] = [_("Choose a role.")]
    if extension and AgentProfile.objects.filter(extension=extension).exists():
        errors["extension"] = [_("Another user has this extension.")]
    candidate = User(username=username, first_name=first_name, last_name=last_name, email=email)
    try:
        validate_password(password, candidate)
    except ValidationError as exc:
        errors["password"] = list(exc.messages)
    if errors:
        raise ValidationError(errors)
    user = User.objects.create_user(
        username=username,
        password=password,
        email=email,
        first_name=first_name,
        last_name=last_name,
    )
    _groups_set(user, role)
    if extension:
        AgentProfile.objects.create(user=user, extension=extension)
    audit_log_record(
        actor=created_by,
        action="user.create",
        object_type="user",
        object_id=user.pk,
        data={
            "after": {
                "username": username,
                "role": role,
                "email": email,
                "extension": extension,
            }
        },
    )
    return user


@transaction.atomic
def user_role_set(*, user: User, role: str, changed_by: User | None) -> bool:
    """Give `user` exactly the role `role`; returns whether it changed."""
    if role not in Role.values:
        raise ValidationError({"role": _("Choose a role.")})
    before = user_role(user)
    if before == role:
        return False
    if before == Role.ADMIN:
        if changed_by is not None and changed_by.pk == user.pk:
            raise ValidationError({"role": _("You cannot remove your own admin role.")})
        if user.is_active and not _other_active_admins(user):
            raise ValidationError({"role": _("The last active admin must stay an admin.")})
    _groups_set(user, role)
    user_roles_forget(user)
    audit_log_record(
        actor=changed_by,
        action="user.role",
        object_type="user",
        object_id=user.pk,
        data={"username": user.get_username(), "before": {"role": before}, "after": {"role": role}},
    )
    return True


@transaction.atomic
def user_active_set(*, user: User, is_active: bool, changed_by: User | None) -> bool:
    """Deactivate (the user can no longer log in; history is kept) or reactivate an account."""
    if user.is_active == is_active:
        return False
    if not is_active:
        if changed_by is not None and changed_by.pk == user.pk:
            raise ValidationError(_("You cannot deactivate yourself."))
        if user_role(user) == Role.ADMIN and not _other_active_admins(user):
            raise ValidationError(_("The last active admin cannot be deactivated."))
    user.is_active = is_active
    user.save(update_fields=["is_active"])
    audit_log_record(
        actor=changed_by,
        action="user.activate" if is_active else "user.deactivate",
        object_type="user",
        object_id=user.pk,
        data={
            "username": user.get_username(),
            "before": {"active": not is_active},
            "after": {"active": is_active},
        },
    )
    return True


@transaction.atomic
def user_password_set(*, user: User, password: str, changed_by: User | None) -> None:
    """An admin sets a new password (checked by the password validators; never logged).

    The user's other sessions end (Django checks the password hash of a session), so does the
    user's API token (callcenter.receivers), and a login lockout after wrong passwords is lifted
    so the new password works at once.
    """
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise ValidationError({"password": list(exc.messages)}) from exc
    user.set_password(password)
    user.save(update_fields=["password"])
    axes_reset(username=user.get_username())
    audit_log_record(
        actor=changed_by,
        action="user.password",
        object_type="user",
        object_id=user.pk,
        data={"username": user.get_username()},
    )


@transaction.atomic
def user_profile_update(
    *,
    user: User,
    changed_by: User | None,
    first_name: str,
    last_name: str,
    email: str,
    extension: str,
    is_available: bool = True,
    daily_task_limit: int | None = None,
) -> bool:
    """Change name, email and the agent profile: extension (empty: none), whether the agent
    takes call tasks, daily call-task limit (None: the care default). True when anything changed.
    """
    extension = extension.strip()
    profile = AgentProfile.objects.filter(user=user).first()
    if (
        extension
        and AgentProfile.objects.filter(extension=extension).exclude(user_id=user.pk).exists()
    ):
        raise ValidationError({"extension": _("Another user has this extension.")})
    before = {
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "extension": (profile.extension or "") if profile else "",
        "is_available": profile.is_available if profile else True,
        "daily_task_limit": profile.daily_task_limit if profile else None,
    }
    after = {
        "first_name": first_name,
        "last_name": last_name,
        "email": email,
        "extension": extension,
        "is_available": is_available,
        "daily_task_limit": daily_task_limit,
    }
    changed = sorted(key for key in after if after[key] != before[key])
    if not changed:
        return False
    user.first_name, user.last_name, user.email = first_name, last_name, email
    user.save(update_fields=["first_name", "last_name", "email"])
    profile_fields = {"extension", "is_available", "daily_task_limit"}
    if profile_fields & set(changed):
        if profile is None:
            profile = AgentProfile(user=user)
        profile.extension = extension or None
        profile.is_available = is_available
        profile.daily_task_limit = daily_task_limit
        profile.save()
    audit_log_record(
        actor=changed_by,
        action="user.update",
        object_type="user",
        object_id=user.pk,
        data={
            "username": user.get_username(),
            "before": {key: before[key] for key in changed},
            "after": {key: after[key] for key in changed},
        },
    )
    return True

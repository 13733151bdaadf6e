"""API tokens: issuing one (an admin, on /manage/users/tokens/), how long they live, and ending
them (an admin's revocation, a password change).

A user has at most one token (DRF's authtoken). It is refused API_TOKEN_TTL_DAYS after it was
issued (`callcenter.authentication`, 401 "token expired"), an admin can revoke it (audited),
and it ends with any change of the user's password: the admin's reset on /manage/users/, the
Django admin, `manage.py changepassword`, the user's own change. Each of these sets the
password with `set_password` and saves the user; `callcenter.receivers` sees that save, so a
path added later is covered too. Django's silent re-hashing of a password at login (a stronger
hasher, more iterations) is not a change and keeps the token.
"""

from django.contrib.auth.models import User
from django.db import transaction
from django.utils.translation import gettext as _
from rest_framework.authtoken.models import Token

from callcenter.errors import ApplicationError
from callcenter.roles import user_roles
from callcenter.services.audit import audit_log_record

# Why a token ended, and the audit log's action for it.
REVOKED_BY_ADMIN = "revoked"
REVOKED_BY_PASSWORD_CHANGE = "password_changed"  # noqa: S105 a reason, not a password
REVOKE_ACTIONS = {
    REVOKED_BY_ADMIN: "token.revoke",
    REVOKED_BY_PASSWORD_CHANGE: "token.password_change",
}


@transaction.atomic
def api_token_revoke(
    *, user: User, revoked_by: User | None, reason: str = REVOKED_BY_ADMIN
) -> bool:
    """End `user`'s API token, if any (audited, the action saying why: REVOKE_ACTIONS); True
    when there was one. The next request with it is refused."""
    deleted, _rows = Token.objects.filter(user_id=user.pk).delete()
    if not deleted:
        return False
    audit_log_record(
        actor=revoked_by,
        action=REVOKE_ACTIONS[reason],
        object_type="user",
        object_id=user.pk,
        data={"username": user.get_username()},
    )
    return True


@transaction.atomic
def api_token_issue(*, user: User, issued_by: User) -> Token:
    """Issue `user` a new API token, ending the one they held (a user has at most one);
    audited without the key. The key is shown once, to the admin who issued it."""
    if not user.is_active:
        raise ApplicationError(_("%(name)s is deactivated.") % {"name": user.get_username()})
    if not user_roles(user):
        raise ApplicationError(
            _("%(name)s has no call-center role, so a token would open nothing.")
            % {"name": user.get_username()}
        )
    replaced, _deleted = Token.objects.filter(user_id=user.pk).delete()
    token = Token.objects.create(user=user)
    audit_log_record(
        actor=issued_by,
        action="token.issue",
        object_type="user",
        object_id=user.pk,
        data={"username": user.get_username(), "replaced": bool(replaced)},
    )
    return token

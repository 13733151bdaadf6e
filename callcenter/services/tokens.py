"""API tokens: how long they live, and ending them (an admin's revocation, a password change).

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
from rest_framework.authtoken.models import Token

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
    deleted, _ = Token.objects.filter(user_id=user.pk).delete()
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

"""Signal receivers of the customer-profile domain (connected in CallcenterConfig.ready)."""

from typing import Any

from django.contrib.auth.models import User

from callcenter.services.tokens import REVOKED_BY_PASSWORD_CHANGE, api_token_revoke


def api_tokens_end_with_password(
    sender: type, instance: User, created: bool, **kwargs: Any
) -> None:
    """post_save of the user model: a save after `set_password` ends the user's API token, so
    a token never outlives the password it was issued under, whichever path changed it.
    Django keeps the new raw password in `_password` until that save is done, and clears it
    before saving a mere re-hash (a stronger hasher at login), which keeps the token."""
    if created or getattr(instance, "_password", None) is None:
        return
    api_token_revoke(user=instance, revoked_by=None, reason=REVOKED_BY_PASSWORD_CHANGE)

"""System checks of the signed integrations: retired settings, shared secrets, the rate limit."""

import os
from typing import Any

from django.conf import settings
from django.core.checks import Error, Warning
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from callcenter.signatures import RETIRED_SECRET_SETTING, SECRET_SETTINGS, integration_secrets
from callcenter.throttling import SignedRequestThrottle


def retired_webhook_secret_check(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """The one secret all webhooks shared is no longer read: say so while it is still set,
    rather than refuse every signed request without a word."""
    if RETIRED_SECRET_SETTING not in os.environ and not hasattr(settings, RETIRED_SECRET_SETTING):
        return []
    return [
        Error(
            f"{RETIRED_SECRET_SETTING} is set but no longer read: each integration now signs "
            f"with secrets of its own ({', '.join(SECRET_SETTINGS.values())}), over the "
            "method and path as well as the timestamp and body.",
            hint=f"Move the secret to the integrations that use it (best: a new secret each), "
            f"update the callers' signing, and remove {RETIRED_SECRET_SETTING}.",
            id="callcenter.E101",
        )
    ]


def integration_secrets_distinct_check(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """Deployment check: a secret listed for two integrations lets either speak for the other."""
    owners: dict[str, list[str]] = {}
    for integration, setting in SECRET_SETTINGS.items():
        for secret in integration_secrets(integration):
            owners.setdefault(secret, []).append(setting)
    shared = sorted({", ".join(names) for names in owners.values() if len(names) > 1})
    return [
        Warning(
            f"The same secret is listed in {names}.",
            hint="Give each integration a secret of its own.",
            id="callcenter.W101",
        )
        for names in shared
    ]


def webhook_throttle_rate_check(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """A malformed WEBHOOK_THROTTLE_RATE fails at startup, not on the first webhook."""
    scope = SignedRequestThrottle.scope
    rate = api_settings.DEFAULT_THROTTLE_RATES.get(scope)
    try:
        # parse_rate reads nothing of its instance: called unbound, with no throttle built.
        SimpleRateThrottle.parse_rate(None, rate)  # type: ignore[arg-type]
        if rate is None:
            raise ValueError(rate)
    except (ValueError, KeyError, TypeError):
        return [
            Error(
                f"DEFAULT_THROTTLE_RATES[{scope!r}] (WEBHOOK_THROTTLE_RATE) is {rate!r}.",
                hint='Use requests per period, e.g. "1200/min" (s, min, hour or day).',
                id="callcenter.E102",
            )
        ]
    return []

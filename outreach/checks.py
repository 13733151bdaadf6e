"""System checks: a channel switched on but not configured fails at startup, not at 3 a.m."""

from typing import Any

from django.conf import settings
from django.core.checks import Error, Warning
from django.core.exceptions import ImproperlyConfigured

from care.choices import StepChannel
from outreach.backends import channel_backend


def outreach_backends_check(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """Build the SMS and automated-call backends; report a misconfiguration as an error."""
    problems: list[Any] = []
    for channel in (StepChannel.SMS, StepChannel.AUTO_CALL):
        try:
            channel_backend(channel)
        except ImproperlyConfigured as exc:
            problems.append(Error(str(exc), id="outreach.E001"))
    return problems


def outreach_webhook_secret_check(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """Deployment check: without a shared secret every webhook call is refused."""
    if getattr(settings, "OUTREACH_WEBHOOK_SECRET", ""):
        return []
    return [
        Warning(
            "OUTREACH_WEBHOOK_SECRET is empty: delivery receipts and inbound SMS are refused.",
            hint="Set it to the secret shared with the SMS gateway.",
            id="outreach.W001",
        )
    ]

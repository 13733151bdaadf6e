"""System checks: a channel switched on but not configured fails at startup, not at 3 a.m."""

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, Warning
from django.core.exceptions import ImproperlyConfigured
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from callcenter.choices import Integration
from callcenter.signatures import integration_secrets
from care.choices import StepChannel
from outreach.backends import channel_backend
from outreach.services.weixin_crypto import aes_key_decode


def outreach_backends_check(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """Build the SMS and automated-call backends; report a misconfiguration as an error."""
    problems: list[Any] = []
    for channel in (StepChannel.SMS, StepChannel.AUTO_CALL, StepChannel.WECHAT, StepChannel.WECOM):
        try:
            channel_backend(channel)
        except ImproperlyConfigured as exc:
            problems.append(Error(str(exc), id="outreach.E001"))
    return problems


def outreach_webhook_secret_check(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """Deployment check: without a secret of the SMS gateway every receipt and inbound SMS is
    refused (call events and care events may come with a user's token instead)."""
    if integration_secrets(Integration.SMS):
        return []
    return [
        Warning(
            "SMS_WEBHOOK_SECRETS is empty: delivery receipts and inbound SMS are refused.",
            hint="Set it to the secret the SMS gateway signs its webhooks with.",
            id="outreach.W001",
        )
    ]


def outreach_voice_secret_check(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """Deployment check: automated calls placed through a voice platform whose results would
    all be refused (the console backend places no call, so it needs no secret)."""
    backend = str(getattr(settings, "AUTO_CALL_BACKEND", "console") or "console")
    if backend == "console" or integration_secrets(Integration.VOICE):
        return []
    return [
        Warning(
            "VOICE_WEBHOOK_SECRETS is empty: the results of automated calls are refused.",
            hint="Set it to the secret the voice platform signs its call results with.",
            id="outreach.W002",
        )
    ]


def outreach_wechat_callback_check(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """Deployment check: WeChat messages sent through the API whose receipts, replies and
    opt-outs would all be refused for want of the push token."""
    backend = str(getattr(settings, "WECHAT_BACKEND", "console") or "console")
    if backend != "api" or str(getattr(settings, "WECHAT_CALLBACK_TOKEN", "") or ""):
        return []
    return [
        Warning(
            "WECHAT_CALLBACK_TOKEN is empty: WeChat receipts, replies and opt-outs are refused.",
            hint="Set it to the token of the Official Account's server configuration.",
            id="outreach.W003",
        )
    ]


def outreach_tracked_link_check(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """TRACKED_LINK_BASE_URL must be an http(s) address and TRACKED_LINK_THROTTLE_RATE a rate:
    wrong, they fail at startup rather than at a customer's click."""
    problems: list[Any] = []
    base = urlsplit(str(settings.TRACKED_LINK_BASE_URL))
    if base.scheme not in ("http", "https") or not base.netloc:
        problems.append(
            Error(
                f"TRACKED_LINK_BASE_URL is {settings.TRACKED_LINK_BASE_URL!r}.",
                hint="Set it to this site's public address, e.g. https://crm.example.com.",
                id="outreach.E002",
            )
        )
    rate = api_settings.DEFAULT_THROTTLE_RATES.get("tracked_link")
    try:
        # parse_rate reads nothing of its instance: called unbound, with no throttle built.
        SimpleRateThrottle.parse_rate(None, rate)  # type: ignore[arg-type]
        if rate is None:
            raise ValueError(rate)
    except (ValueError, KeyError, TypeError):
        problems.append(
            Error(
                f"DEFAULT_THROTTLE_RATES['tracked_link'] (TRACKED_LINK_THROTTLE_RATE) is {rate!r}.",
                hint='Use requests per period, e.g. "600/min" (s, min, hour or day).',
                id="outreach.E003",
            )
        )
    return problems


def outreach_tracked_link_deploy_check(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """Deployment check: tracked links must point at an address customers can reach."""
    host = urlsplit(str(settings.TRACKED_LINK_BASE_URL)).hostname or ""
    if host in ("localhost", "127.0.0.1", "::1"):
        return [
            Warning(
                "TRACKED_LINK_BASE_URL points at this machine: links in messages lead nowhere.",
                hint="Set it to this site's public address, e.g. https://crm.example.com.",
                id="outreach.W004",
            )
        ]
    return []


def outreach_wecom_callback_check(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """Deployment check: WeCom messages sent through the API while its callback (contacts
    lost, replies, opt-outs) would be refused for want of the token or the EncodingAESKey."""
    backend = str(getattr(settings, "WECOM_BACKEND", "console") or "console")
    if backend != "api":
        return []
    missing = [
        name
        for name in ("WECOM_CALLBACK_TOKEN", "WECOM_CALLBACK_AES_KEY")
        if not str(getattr(settings, name, "") or "")
    ]
    if not missing:
        return []
    return [
        Warning(
            f"{', '.join(missing)} empty: WeCom contact changes, replies and opt-outs are refused.",
            hint="Set them to the Token and EncodingAESKey of the WeCom app's API receiving.",
            id="outreach.W005",
        )
    ]


def outreach_callback_keys_check(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """An EncodingAESKey that is set but cannot be one (not 43 base64 characters of a 32-byte
    key) fails at startup instead of refusing every encrypted push."""
    problems: list[Any] = []
    for name in ("WECHAT_CALLBACK_AES_KEY", "WECOM_CALLBACK_AES_KEY"):
        value = str(getattr(settings, name, "") or "")
        if not value:
            continue
        try:
            aes_key_decode(value)
        except ValueError as exc:
            problems.append(Error(f"{name} is not an EncodingAESKey: {exc}", id="outreach.E004"))
    return problems

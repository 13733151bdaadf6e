"""System checks: a channel switched on but not configured fails at startup, not at 3 a.m."""

from typing import Any

from django.conf import settings
from django.core.checks import Error, Warning
from django.core.exceptions import ImproperlyConfigured

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
            id="outreach.W004",
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
            problems.append(Error(f"{name} is not an EncodingAESKey: {exc}", id="outreach.E002"))
    return problems

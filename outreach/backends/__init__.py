"""Channel backends and how settings choose them.

`SMS_BACKEND` is "console", "file", "http", "twilio" or the dotted path of a ChannelBackend
class (instantiated without arguments). Automated calls go to a voice platform the same way,
chosen by `AUTO_CALL_BACKEND` ("console", "file", "http" or a dotted path): the backend records
the call request (number, script, idempotency key) with the platform, which dials and plays
the script; the platform's request id is the task's provider message id. Email always goes
through Django's EMAIL_BACKEND. WeChat Official Account template messages and WeCom
messages to external contacts are chosen by `WECHAT_BACKEND` and `WECOM_BACKEND` ("console",
"file", "api" for Tencent's API, or a dotted path; see `weixin.py`).

A backend switched on but not configured raises ImproperlyConfigured when it is built; the
system check `outreach.E001` builds them at startup (`manage.py check`, runserver, migrate).
"""

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from care.choices import StepChannel

from .base import ChannelBackend, PermanentSendError, SendError, TransientSendError
from .console import ConsoleBackend
from .email import DjangoEmailBackend
from .file import FileBackend
from .http import HttpGatewayBackend
from .twilio import TwilioBackend
from .weixin import RecipientUnreachable, WeChatTemplateBackend, WeComExternalBackend

__all__ = [
    "ChannelBackend",
    "ConsoleBackend",
    "DjangoEmailBackend",
    "FileBackend",
    "HttpGatewayBackend",
    "PermanentSendError",
    "RecipientUnreachable",
    "SendError",
    "TransientSendError",
    "TwilioBackend",
    "WeChatTemplateBackend",
    "WeComExternalBackend",
    "channel_backend",
]


def _setting(name: str, default: object = "") -> object:
    return getattr(settings, name, default)


def _timeout() -> float:
    return float(str(_setting("SMS_TIMEOUT_SECONDS", 10) or 10))


def _dotted(path: str, setting: str) -> ChannelBackend:
    try:
        backend_class = import_string(path)
    except ImportError as exc:
        raise ImproperlyConfigured(f"{setting}={path!r} cannot be imported: {exc}") from exc
    backend = backend_class()
    if not isinstance(backend, ChannelBackend):
        raise ImproperlyConfigured(f"{setting}={path!r} is not a ChannelBackend.")
    return backend


def _sms_backend() -> ChannelBackend:
    name = str(_setting("SMS_BACKEND", "console") or "console")
    if name == "console":
        return ConsoleBackend(channel="sms")
    if name == "file":
        return FileBackend(path=str(_setting("SMS_FILE_PATH")), channel="sms")
    if name == "http":
        return HttpGatewayBackend(
            url=str(_setting("SMS_GATEWAY_URL")),
            token=str(_setting("SMS_GATEWAY_TOKEN")),
            body_template=str(_setting("SMS_HTTP_BODY_TEMPLATE")),
            timeout=_timeout(),
            setting_prefix="SMS",
        )
    if name == "twilio":
        return TwilioBackend(
            account_sid=str(_setting("SMS_TWILIO_ACCOUNT_SID")),
            auth_token=str(_setting("SMS_TWILIO_AUTH_TOKEN")),
            from_number=str(_setting("SMS_TWILIO_FROM")),
            base_url=str(_setting("SMS_TWILIO_BASE_URL")),
            timeout=_timeout(),
        )
    if "." in name:
        return _dotted(name, "SMS_BACKEND")
    raise ImproperlyConfigured(
        f"SMS_BACKEND={name!r}: use console, file, http, twilio or a dotted path."
    )


def _auto_call_backend() -> ChannelBackend:
    name = str(_setting("AUTO_CALL_BACKEND", "console") or "console")
    if name == "console":
        return ConsoleBackend(channel="auto_call")
    if name == "file":
        return FileBackend(path=str(_setting("AUTO_CALL_FILE_PATH")), channel="auto_call")
    if name == "http":
        return HttpGatewayBackend(
            url=str(_setting("AUTO_CALL_GATEWAY_URL")),
            token=str(_setting("AUTO_CALL_GATEWAY_TOKEN")),
            body_template=str(_setting("AUTO_CALL_HTTP_BODY_TEMPLATE")),
            timeout=_timeout(),
            setting_prefix="AUTO_CALL",
        )
    if "." in name:
        return _dotted(name, "AUTO_CALL_BACKEND")
    raise ImproperlyConfigured(
        f"AUTO_CALL_BACKEND={name!r}: use console, file, http or a dotted path."
    )


def _weixin_backend(channel: str) -> ChannelBackend:
    setting = f"{channel.upper()}_BACKEND"
    name = str(_setting(setting, "console") or "console")
    if name == "console":
        return ConsoleBackend(channel=channel)
    if name == "file":
        return FileBackend(path=str(_setting(f"{channel.upper()}_FILE_PATH")), channel=channel)
    if name == "api" and channel == StepChannel.WECHAT:
        return WeChatTemplateBackend(
            app_id=str(_setting("WECHAT_APP_ID")),
            secret=str(_setting("WECHAT_APP_SECRET")),
            template_id=str(_setting("WECHAT_TEMPLATE_ID")),
            base_url=str(_setting("WECHAT_API_BASE_URL")),
            template_data=str(_setting("WECHAT_TEMPLATE_DATA")),
            url=str(_setting("WECHAT_TEMPLATE_URL")),
            timeout=_timeout(),
        )
    if name == "api":
        return WeComExternalBackend(
            corp_id=str(_setting("WECOM_CORP_ID")),
            secret=str(_setting("WECOM_SECRET")),
            sender=str(_setting("WECOM_SENDER")),
            base_url=str(_setting("WECOM_API_BASE_URL")),
            timeout=_timeout(),
        )
    if "." in name:
        return _dotted(name, setting)
    raise ImproperlyConfigured(f"{setting}={name!r}: use console, file, api or a dotted path.")


def channel_backend(channel: str) -> ChannelBackend:
    """Build the backend of an automated channel from the current settings."""
    if channel == StepChannel.SMS:
        return _sms_backend()
    if channel == StepChannel.EMAIL:
        return DjangoEmailBackend()
    if channel == StepChannel.AUTO_CALL:
        return _auto_call_backend()
    if channel in (StepChannel.WECHAT, StepChannel.WECOM):
        return _weixin_backend(channel)
    raise ImproperlyConfigured(f"No send backend for channel {channel!r}.")

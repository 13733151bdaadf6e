"""A Twilio-compatible SMS backend (Twilio itself, or any gateway speaking its Messages API).

POSTs the form `To`, `From`, `Body` to `{base}/2010-04-01/Accounts/{sid}/Messages.json` with
HTTP basic auth (account sid, auth token) and the task's `Idempotency-Key` header; the answer's
`sid` is the message id. Errors are classified as in the generic HTTP backend.
"""

import base64
from urllib.parse import quote, urlencode

from django.core.exceptions import ImproperlyConfigured

from .base import ChannelBackend
from .http import message_id_from, post, require_http_url

DEFAULT_BASE_URL = "https://api.twilio.com"


class TwilioBackend(ChannelBackend):
    """Sends through the Messages resource of a Twilio-compatible API."""

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        from_number: str,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = 10.0,
    ) -> None:
        missing = [
            name
            for name, value in (
                ("SMS_TWILIO_ACCOUNT_SID", account_sid),
                ("SMS_TWILIO_AUTH_TOKEN", auth_token),
                ("SMS_TWILIO_FROM", from_number),
            )
            if not value
        ]
        if missing:
            raise ImproperlyConfigured(f"SMS_BACKEND=twilio needs {', '.join(missing)} to be set.")
        base = require_http_url(base_url or DEFAULT_BASE_URL, "SMS_TWILIO_BASE_URL").rstrip("/")
        self.url = f"{base}/2010-04-01/Accounts/{quote(account_sid, safe='')}/Messages.json"
        credentials = base64.b64encode(f"{account_sid}:{auth_token}".encode()).decode()
        self.authorization = f"Basic {credentials}"
        self.from_number = from_number
        self.timeout = timeout

    def send(self, *, to: str, body: str, subject: str = "", idempotency_key: str) -> str:
        form = urlencode({"To": to, "From": self.from_number, "Body": body}).encode()
        headers = {
            "Authorization": self.authorization,
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
            "Idempotency-Key": idempotency_key,
        }
        _status, raw = post(url=self.url, data=form, headers=headers, timeout=self.timeout)
        return message_id_from(raw, default=idempotency_key)

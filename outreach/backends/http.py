"""A generic HTTP SMS (or voice) gateway: POST a JSON body built from a template.

Configured by URL, an auth token sent as `Authorization: Bearer <token>`, a JSON body
template whose string values may hold the placeholders {to}, {body}, {subject} and
{idempotency_key}, and a timeout. The idempotency key also travels as the `Idempotency-Key`
header, which gateways that deduplicate use to answer a repeated send with the first result.

Timeouts, connection errors, 408/425/429 and 5xx answers are transient (retried with backoff);
other 4xx answers are permanent.
"""

import json
import re
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

from .base import ChannelBackend, PermanentSendError, TransientSendError

DEFAULT_BODY_TEMPLATE = '{"to": "{to}", "text": "{body}", "reference": "{idempotency_key}"}'
PLACEHOLDER = re.compile(r"\{(to|body|subject|idempotency_key)\}")
TRANSIENT_STATUSES = frozenset({408, 425, 429})
# Keys under which gateways commonly return their message id, tried in this order.
ID_KEYS = ("message_id", "messageId", "id", "sid", "reference")
MAX_ERROR_BODY = 300


def require_http_url(url: str, setting: str) -> str:
    """Return `url` if it is an absolute http(s) URL, else raise ImproperlyConfigured."""
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ImproperlyConfigured(f"{setting} must be an http(s) URL, got {url!r}.")
    return url


def fill_template(template: Any, values: dict[str, str]) -> Any:
    """Replace placeholders in every string of a parsed JSON template (one pass, so a message
    text that itself contains "{to}" is sent as written)."""
    if isinstance(template, str):
        return PLACEHOLDER.sub(lambda match: values[match.group(1)], template)
    if isinstance(template, dict):
        return {key: fill_template(value, values) for key, value in template.items()}
    if isinstance(template, list):
        return [fill_template(value, values) for value in template]
    return template


def post(*, url: str, data: bytes, headers: dict[str, str], timeout: float) -> tuple[int, bytes]:
    """POST `data`, mapping network failures and error statuses to SendErrors."""
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read()[:MAX_ERROR_BODY].decode("utf-8", "replace")
        message = f"HTTP {exc.code} from gateway: {detail}"
        if exc.code in TRANSIENT_STATUSES or exc.code >= 500:
            raise TransientSendError(message) from exc
        raise PermanentSendError(message) from exc
    except TimeoutError as exc:
        raise TransientSendError(f"gateway timed out after {timeout}s") from exc
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, TimeoutError):
            raise TransientSendError(f"gateway timed out after {timeout}s") from exc
        raise TransientSendError(f"gateway unreachable: {exc.reason}") from exc
    except OSError as exc:
        raise TransientSendError(f"gateway connection failed: {exc}") from exc


def message_id_from(raw: bytes, default: str) -> str:
    """The provider id from a JSON answer, or `default` when the answer carries none."""
    try:
        answer = json.loads(raw or b"{}")
    except ValueError:
        return default
    if isinstance(answer, dict):
        for key in ID_KEYS:
            if answer.get(key):
                return str(answer[key])[:128]
    return default


class HttpGatewayBackend(ChannelBackend):
    """POSTs a JSON body built from `body_template` to `url`."""

    def __init__(
        self,
        *,
        url: str,
        token: str = "",
        body_template: str = DEFAULT_BODY_TEMPLATE,
        timeout: float = 10.0,
        setting_prefix: str = "SMS",
    ) -> None:
        self.url = require_http_url(url, f"{setting_prefix}_GATEWAY_URL")
        self.token = token
        self.timeout = timeout
        try:
            self.template = json.loads(body_template or DEFAULT_BODY_TEMPLATE)
        except ValueError as exc:
            raise ImproperlyConfigured(
                f"{setting_prefix}_HTTP_BODY_TEMPLATE is not valid JSON: {exc}"
            ) from exc
        if not isinstance(self.template, dict):
            raise ImproperlyConfigured(f"{setting_prefix}_HTTP_BODY_TEMPLATE must be an object.")

    def send(self, *, to: str, body: str, subject: str = "", idempotency_key: str) -> str:
        values = {"to": to, "body": body, "subject": subject, "idempotency_key": idempotency_key}
        payload = json.dumps(fill_template(self.template, values), ensure_ascii=False)
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Accept": "application/json",
            "Idempotency-Key": idempotency_key,
        }
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        _status, raw = post(
            url=self.url, data=payload.encode("utf-8"), headers=headers, timeout=self.timeout
        )
        return message_id_from(raw, default=idempotency_key)

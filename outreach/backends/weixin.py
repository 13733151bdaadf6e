"""WeChat Official Account template messages and WeCom messages to external contacts.

Both Tencent APIs work the same way: an access token fetched with the app's credentials
(`GET /cgi-bin/token` for WeChat, `GET /cgi-bin/gettoken` for WeCom, answering
`{"access_token", "expires_in"}`), then JSON POSTs with `?access_token=...` that answer
`{"errcode", "errmsg", ...}` (errcode 0 is success, HTTP status 200 either way).

The token is shared by every worker: it is cached in Redis until shortly before it expires
and fetched again under a Redis lock, so one worker refreshes it while the others wait and
reuse the new one (Tencent caps token fetches per day and a fetch invalidates older tokens).
A send answered "token invalid or expired" (40001, 40014, 42001) refreshes the token once and
is retried once.

Errors: a system-busy or rate-limit errcode (-1, 45009, 45011) and network failures are
transient; "the user cannot get this message" (WeChat 43004 not following, 40003 unknown
openid; WeCom 40096 unknown external contact, or the contact in `fail_list`) raises
RecipientUnreachable, which the dispatcher answers with the step's fallback channel (43004
also records the customer's WeChat opt-out); any other errcode is permanent, its code kept in
the task's error.
"""

import hashlib
import json
import logging
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlencode

import redis
from django.core.exceptions import ImproperlyConfigured

from callcenter.redis_client import redis_client

from .base import ChannelBackend, PermanentSendError, TransientSendError
from .http import MAX_ERROR_BODY, fill_template, post, require_http_url

logger = logging.getLogger("outreach.send")

TOKEN_ERRORS = frozenset({40001, 40014, 42001})
TRANSIENT_ERRORS = frozenset({-1, 45009, 45011})
# Refresh this long before Tencent's expiry, so a token never dies between read and use.
TOKEN_MARGIN_SECONDS = 300
MIN_TOKEN_SECONDS = 60
# The refresh lock: held for one token fetch at most, waited for a little longer.
LOCK_TIMEOUT_SECONDS = 15
LOCK_WAIT_SECONDS = 20
TOKEN_KEY = "outreach:weixin:token:{name}:{app}"  # noqa: S105 a cache key, not a secret
# WeCom takes no idempotency key: the msgid of each send is remembered under the task's key
# for a day, so a task recovered from a dead worker is not sent a second time.
SENT_KEY = "outreach:weixin:sent:{name}:{key}"
SENT_TTL_SECONDS = 24 * 3600
DEFAULT_WECHAT_BASE_URL = "https://api.weixin.qq.com"
DEFAULT_WECOM_BASE_URL = "https://qyapi.weixin.qq.com"
DEFAULT_TEMPLATE_DATA = '{"content": "{body}"}'


class RecipientUnreachable(PermanentSendError):
    """The provider says this user cannot get the message (unsubscribed, blocked, unknown);
    `opted_out` when the user withdrew (WeChat 43004), so consent is recorded."""

    def __init__(self, message: str, *, code: int, opted_out: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.opted_out = opted_out


def get_json(*, url: str, timeout: float) -> dict[str, Any]:
    """GET a JSON object, mapping network failures and error statuses to SendErrors."""
    request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            raw = response.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read()[:MAX_ERROR_BODY].decode("utf-8", "replace")
        message = f"HTTP {exc.code} from the token endpoint: {detail}"
        if exc.code >= 500 or exc.code == 429:
            raise TransientSendError(message) from exc
        raise PermanentSendError(message) from exc
    except (TimeoutError, urllib.error.URLError, OSError) as exc:
        raise TransientSendError(f"token endpoint unreachable: {exc}") from exc
    return _object(raw)


def _object(raw: bytes) -> dict[str, Any]:
    try:
        answer = json.loads(raw or b"{}")
    except ValueError as exc:
        raise TransientSendError(f"answer is not JSON: {raw[:MAX_ERROR_BODY]!r}") from exc
    if not isinstance(answer, dict):
        raise TransientSendError(f"answer is not a JSON object: {raw[:MAX_ERROR_BODY]!r}")
    return answer


def _errcode(answer: dict[str, Any]) -> int:
    try:
        return int(answer.get("errcode") or 0)
    except (TypeError, ValueError):
        return -1


class WeixinBackend(ChannelBackend):
    """What the WeChat and WeCom backends share: the token cache and the errcode mapping."""

    name = ""  # "wechat" or "wecom": the setting prefix and the token key
    token_path = ""
    send_path = ""
    unreachable_codes: frozenset[int] = frozenset()
    opted_out_codes: frozenset[int] = frozenset()

    def __init__(self, *, base_url: str, app_id: str, secret: str, timeout: float) -> None:
        self.base = require_http_url(base_url, f"{self.name.upper()}_API_BASE_URL").rstrip("/")
        self.app_id = app_id
        self.secret = secret
        self.timeout = timeout
        self.key = TOKEN_KEY.format(name=self.name, app=app_id)

    # Token ----------------------------------------------------------------------------------

    def token_query(self) -> dict[str, str]:
        raise NotImplementedError

    def fetch_token(self) -> tuple[str, int]:
        """Ask the provider for a new token: (token, seconds it lives)."""
        url = f"{self.base}{self.token_path}?{urlencode(self.token_query())}"
        answer = get_json(url=url, timeout=self.timeout)
        code = _errcode(answer)
        if code:
            message = f"token fetch: errcode {code}: {answer.get('errmsg', '')}"
            if code in TRANSIENT_ERRORS:
                raise TransientSendError(message)
            raise PermanentSendError(message)
        token = answer.get("access_token")
        if not isinstance(token, str) or not token:
            raise TransientSendError("token fetch: the answer has no access_token")
        try:
            lifetime = int(answer.get("expires_in") or 7200)
        except (TypeError, ValueError):
            lifetime = 7200
        return token, lifetime

    def _cached(self) -> str:
        value = redis_client().get(self.key)
        return value.decode() if isinstance(value, bytes) else str(value or "")

    def access_token(self) -> str:
        """The cached token, fetched when there is none."""
        try:
            cached = self._cached()
        except redis.exceptions.RedisError as exc:
            raise TransientSendError(f"{self.name} token cache: {exc}") from exc
        return cached or self.refresh_token(stale=None)

    def refresh_token(self, *, stale: str | None) -> str:
        """Fetch a new token under the lock, unless another worker already replaced `stale`
        (or, with no stale token, already stored one) while this one waited."""
        client = redis_client()
        try:
            with client.lock(
                f"{self.key}:lock", timeout=LOCK_TIMEOUT_SECONDS, blocking_timeout=LOCK_WAIT_SECONDS
            ):
                current = self._cached()
                if current and current != stale:
                    return current
                token, lifetime = self.fetch_token()
                ttl = max(lifetime - TOKEN_MARGIN_SECONDS, MIN_TOKEN_SECONDS)
                client.set(self.key, token, ex=ttl)
                return token
        except redis.exceptions.LockError as exc:
            raise TransientSendError(f"{self.name} token refresh lock: {exc}") from exc
        except redis.exceptions.RedisError as exc:
            # Redis down: nothing was sent yet, so a later attempt is safe.
            raise TransientSendError(f"{self.name} token cache: {exc}") from exc

    # Send -----------------------------------------------------------------------------------

    def payload(self, *, to: str, body: str, subject: str, idempotency_key: str) -> dict[str, Any]:
        raise NotImplementedError

    def check_answer(self, answer: dict[str, Any], *, to: str) -> None:
        """Raise for an answer that is a success in errcode but not for this recipient."""

    def _post(self, token: str, payload: dict[str, Any]) -> dict[str, Any]:
        url = f"{self.base}{self.send_path}?{urlencode({'access_token': token})}"
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json; charset=utf-8"}
        _status, raw = post(url=url, data=data, headers=headers, timeout=self.timeout)
        return _object(raw)

    def send(self, *, to: str, body: str, subject: str = "", idempotency_key: str) -> str:
        payload = self.payload(to=to, body=body, subject=subject, idempotency_key=idempotency_key)
        token = self.access_token()
        answer = self._post(token, payload)
        if _errcode(answer) in TOKEN_ERRORS:
            # Revoked or expired before our cache said so (e.g. fetched elsewhere): once.
            answer = self._post(self.refresh_token(stale=token), payload)
        code = _errcode(answer)
        if code:
            message = f"{self.name} errcode {code}: {answer.get('errmsg', '')}"[:500]
            if code in self.unreachable_codes:
                raise RecipientUnreachable(
                    message, code=code, opted_out=code in self.opted_out_codes
                )
            if code in TRANSIENT_ERRORS:
                raise TransientSendError(message)
            raise PermanentSendError(message)
        self.check_answer(answer, to=to)
        message_id = answer.get("msgid")
        return str(message_id)[:128] if message_id not in (None, "") else idempotency_key


class WeChatTemplateBackend(WeixinBackend):
    """Official Account template messages: `POST /cgi-bin/message/template/send` with
    `{touser: openid, template_id, url?, client_msg_id, data: {key: {value}}}`.

    `data` comes from WECHAT_TEMPLATE_DATA, a JSON object of the template's keywords whose
    values may hold {body}, {subject}, {to} and {idempotency_key}; each becomes
    `{"value": ...}`. `client_msg_id` (derived from the task's idempotency key) makes WeChat
    drop a repeated send of the same task.
    """

    name = "wechat"
    token_path = "/cgi-bin/token"  # noqa: S105 a URL path
    send_path = "/cgi-bin/message/template/send"
    unreachable_codes = frozenset({43004, 40003})
    opted_out_codes = frozenset({43004})

    def __init__(
        self,
        *,
        app_id: str,
        secret: str,
        template_id: str,
        base_url: str = DEFAULT_WECHAT_BASE_URL,
        template_data: str = DEFAULT_TEMPLATE_DATA,
        url: str = "",
        timeout: float = 10.0,
    ) -> None:
        missing = [
            name
            for name, value in (
                ("WECHAT_APP_ID", app_id),
                ("WECHAT_APP_SECRET", secret),
                ("WECHAT_TEMPLATE_ID", template_id),
            )
            if not value
        ]
        if missing:
            raise ImproperlyConfigured(f"WECHAT_BACKEND=api needs {', '.join(missing)} to be set.")
        super().__init__(
            base_url=base_url or DEFAULT_WECHAT_BASE_URL,
            app_id=app_id,
            secret=secret,
            timeout=timeout,
        )
        self.template_id = template_id
        self.url = url
        try:
            self.data = json.loads(template_data or DEFAULT_TEMPLATE_DATA)
        except ValueError as exc:
            raise ImproperlyConfigured(f"WECHAT_TEMPLATE_DATA is not valid JSON: {exc}") from exc
        if not isinstance(self.data, dict) or not all(
            isinstance(value, str) for value in self.data.values()
        ):
            raise ImproperlyConfigured(
                'WECHAT_TEMPLATE_DATA must be an object of texts, e.g. {"thing2": "{body}"}.'
            )

    def token_query(self) -> dict[str, str]:
        return {"grant_type": "client_credential", "appid": self.app_id, "secret": self.secret}

    def payload(self, *, to: str, body: str, subject: str, idempotency_key: str) -> dict[str, Any]:
        values = {"to": to, "body": body, "subject": subject, "idempotency_key": idempotency_key}
        filled = fill_template(self.data, values)
        payload: dict[str, Any] = {
            "touser": to,
            "template_id": self.template_id,
            "client_msg_id": hashlib.sha256(idempotency_key.encode()).hexdigest()[:32],
            "data": {key: {"value": value} for key, value in filled.items()},
        }
        if self.url:
            payload["url"] = self.url
        return payload


class WeComExternalBackend(WeixinBackend):
    """WeCom messages to an external contact (a customer who added one of our staff):
    `POST /cgi-bin/externalcontact/add_msg_template` with `{chat_type: "single",
    external_userid: [id], sender?, text: {content}}`, answering `{errcode, msgid,
    fail_list}`. A contact in `fail_list` (no longer a contact of the sender) is unreachable.
    The API takes no idempotency key, so the msgid is remembered in Redis under the task's
    key (SENT_KEY) and a resend of the task answers it without sending again.
    """

    name = "wecom"
    token_path = "/cgi-bin/gettoken"  # noqa: S105 a URL path
    send_path = "/cgi-bin/externalcontact/add_msg_template"
    unreachable_codes = frozenset({40096, 84061})
    opted_out_codes: frozenset[int] = frozenset()

    def __init__(
        self,
        *,
        corp_id: str,
        secret: str,
        sender: str = "",
        base_url: str = DEFAULT_WECOM_BASE_URL,
        timeout: float = 10.0,
    ) -> None:
        missing = [
            name
            for name, value in (("WECOM_CORP_ID", corp_id), ("WECOM_SECRET", secret))
            if not value
        ]
        if missing:
            raise ImproperlyConfigured(f"WECOM_BACKEND=api needs {', '.join(missing)} to be set.")
        super().__init__(
            base_url=base_url or DEFAULT_WECOM_BASE_URL,
            app_id=corp_id,
            secret=secret,
            timeout=timeout,
        )
        self.sender = sender

    def token_query(self) -> dict[str, str]:
        return {"corpid": self.app_id, "corpsecret": self.secret}

    def send(self, *, to: str, body: str, subject: str = "", idempotency_key: str) -> str:
        key = SENT_KEY.format(
            name=self.name, key=hashlib.sha256(idempotency_key.encode()).hexdigest()
        )
        client = redis_client()
        try:
            earlier = client.get(key)
        except redis.exceptions.RedisError as exc:
            raise TransientSendError(f"wecom sent-message cache: {exc}") from exc
        if earlier:
            return earlier.decode() if isinstance(earlier, bytes) else str(earlier)
        message_id = super().send(
            to=to, body=body, subject=subject, idempotency_key=idempotency_key
        )
        try:
            client.set(key, message_id, ex=SENT_TTL_SECONDS)
        except redis.exceptions.RedisError:
            # The message went out and the task records it; only a later recovery of this
            # very task could repeat it.
            logger.warning("wecom msgid %s not remembered for %s", message_id, idempotency_key)
        return message_id

    def payload(self, *, to: str, body: str, subject: str, idempotency_key: str) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "chat_type": "single",
            "external_userid": [to],
            "text": {"content": f"{subject}\n{body}" if subject else body},
        }
        if self.sender:
            payload["sender"] = self.sender
        return payload

    def check_answer(self, answer: dict[str, Any], *, to: str) -> None:
        if to in (answer.get("fail_list") or []):
            raise RecipientUnreachable(
                f"wecom: {to} is not an external contact the message can go to", code=0
            )

"""What the WeChat Official Account's server push tells us: template-message receipts,
messages from followers (replies and opt-out words) and unfollows.

WeChat signs each push with `signature` = sha1 of the sorted, concatenated [token, timestamp,
nonce] in the query string (token = WECHAT_CALLBACK_TOKEN, the one set in the Official
Account's server configuration), and posts an XML body in plain-text mode:

- `Event=TEMPLATESENDJOBFINISH` with `MsgID` and `Status` ("success", "failed:user block",
  "failed: system failed"): the receipt of a template message we sent; "user block" also
  records the follower's WeChat opt-out (they switched our messages off).
- `MsgType=text` with `MsgId` and `Content`: an opt-out word (退订, TD, STOP and the care
  settings' words) records the WeChat opt-out and is answered with a passive reply saying so;
  any other text is recorded and announced as "customer_replied" (channel "wechat"), like an
  SMS reply.
- `Event=unsubscribe`: the follower unfollowed; recorded as their WeChat opt-out.

Everything else (other events, images, voice) is acknowledged and ignored.

In encrypted ("safe") mode (`encrypt_type=aes` in the query string) the body is an envelope
whose <Encrypt> holds the same XML, encrypted with WECHAT_CALLBACK_AES_KEY for our app id
(outreach.services.weixin_crypto); `msg_signature` signs it, and a passive reply goes back
encrypted in the same way.
"""

import datetime as dt
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol
from xml.etree.ElementTree import Element, SubElement, tostring  # noqa: S405 building, not parsing

from defusedxml import ElementTree  # type: ignore[import-untyped]
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from callcenter.choices import ConsentChannel, ConsentSource, ContactKind, CustomerStatus
from callcenter.errors import ApplicationError
from callcenter.models import ContactPoint, Customer
from callcenter.services.customers import customer_consent_set
from care.choices import StepChannel
from care.models import CareSettings
from outreach.choices import InboundAction, TaskStatus
from outreach.models import InboundMessage, OutreachTask
from outreach.services.replies import customer_reply_announce
from outreach.services.webhooks import fold_text, stop_words
from outreach.services.weixin_crypto import (
    SIGNATURE_TOLERANCE_SECONDS,
    CallbackRejected,
    aes_key_decode,
    envelope_build,
    envelope_read,
    message_decrypt,
    msg_signature_verify,
    signature_precheck,
)

# A push whose timestamp is further than this from our clock is refused (a replayed capture).
SIGNATURE_TOLERANCE = dt.timedelta(seconds=SIGNATURE_TOLERANCE_SECONDS)
MAX_BODY_BYTES = 64 * 1024
RECEIPT_SUCCESS = "success"
RECEIPT_BLOCKED = "failed:user block"
INBOUND_ID_PREFIX = "wechat:"


def wechat_signature(*, token: str, timestamp: str, nonce: str) -> str:
    """The signature WeChat sends: sha1 of the sorted, concatenated token, timestamp, nonce."""
    joined = "".join(sorted([token, timestamp, nonce]))
    return hashlib.sha1(joined.encode(), usedforsecurity=False).hexdigest()


def wechat_signature_verify(
    *, token: str, timestamp: str, nonce: str, signature: str, now: float | None = None
) -> None:
    """Raise CallbackRejected unless `signature` is WeChat's for these values and the
    timestamp is within SIGNATURE_TOLERANCE of our clock."""
    if not token:
        raise CallbackRejected("WECHAT_CALLBACK_TOKEN is not set")
    expected = wechat_signature(token=token, timestamp=timestamp, nonce=nonce)
    if not signature or not hmac.compare_digest(expected, signature.lower()):
        raise CallbackRejected("bad signature")
    try:
        sent = int(timestamp)
    except ValueError as exc:
        raise CallbackRejected("bad timestamp") from exc
    if abs((now if now is not None else time.time()) - sent) > SIGNATURE_TOLERANCE.total_seconds():
        raise CallbackRejected("stale timestamp")


@dataclass(frozen=True)
class WeChatPush:
    """The fields of a push we act on (empty when absent)."""

    to_user: str
    from_user: str
    msg_type: str
    event: str
    msg_id: str
    status: str
    content: str


def push_fields(body: bytes) -> Callable[[str], str]:
    """The text of each field of a pushed <xml> message (WeChat's or WeCom's, decrypted): a
    reader by element name, "" for a missing one. Anything that is not such a message, or is
    too large, is an ApplicationError (400)."""
    if len(body) > MAX_BODY_BYTES:
        raise ApplicationError(_("The message is too large."), extra={"field": "body"})
    try:
        root = ElementTree.fromstring(body)
    except Exception as exc:  # defusedxml raises ParseError and its own refusals
        raise ApplicationError(
            _("The body is not valid XML: %(error)s") % {"error": exc}, extra={"field": "body"}
        ) from exc
    if root.tag != "xml":
        raise ApplicationError(_("The root element must be <xml>."), extra={"field": "body"})

    def text(name: str) -> str:
        node = root.find(name)
        return (node.text or "").strip() if node is not None else ""

    return text


def wechat_push_parse(body: bytes) -> WeChatPush:
    """Parse a plain-text-mode push, raising ApplicationError (400) for anything else."""
    text = push_fields(body)
    if text("Encrypt") and not text("MsgType"):
        raise ApplicationError(
            _("An encrypted push must come with encrypt_type=aes in the query string."),
            extra={"field": "Encrypt"},
        )
    push = WeChatPush(
        to_user=text("ToUserName"),
        from_user=text("FromUserName"),
        msg_type=text("MsgType"),
        event=text("Event"),
        msg_id=text("MsgID") or text("MsgId"),
        status=text("Status"),
        content=text("Content"),
    )
    for field, value in (("FromUserName", push.from_user), ("MsgType", push.msg_type)):
        if not value:
            raise ApplicationError(
                _("%(field)s is missing.") % {"field": field}, extra={"field": field}
            )
    if push.msg_type == "event" and push.event == "TEMPLATESENDJOBFINISH":
        for field, value in (("MsgID", push.msg_id), ("Status", push.status)):
            if not value:
                raise ApplicationError(
                    _("%(field)s is missing.") % {"field": field}, extra={"field": field}
                )
    if push.msg_type == "text" and not push.msg_id:
        raise ApplicationError(_("%(field)s is missing.") % {"field": "MsgId"})
    return push


def contact_owner(*, kind: str, value: str) -> Customer | None:
    """The customer whose active contact point of `kind` this is (the survivor of a merge)."""
    point = (
        ContactPoint.objects.filter(kind=kind, value=value, is_active=True)
        .select_related("customer")
        .order_by("-is_primary", "id")
        .first()
    )
    if point is None:
        return None
    customer = point.customer
    if customer.status == CustomerStatus.MERGED and customer.merged_into_id:
        return Customer.objects.get(pk=customer.merged_into_id)
    return customer


def _follower(openid: str) -> Customer | None:
    """The customer whose WeChat openid this is."""
    return contact_owner(kind=ContactKind.WECHAT, value=openid)


def _opt_out(customer: Customer, source: str, note: str) -> bool:
    return customer_consent_set(
        customer=customer,
        channel=ConsentChannel.WECHAT,
        opted_out=True,
        source=source,
        note=note[:255],
    )


def _receipt(push: WeChatPush, now: dt.datetime) -> int:
    tasks = OutreachTask.objects.filter(channel=StepChannel.WECHAT, provider_message_id=push.msg_id)
    if push.status == RECEIPT_SUCCESS:
        return tasks.filter(
            status__in=[TaskStatus.SENT, TaskStatus.FAILED], delivered_at__isnull=True
        ).update(status=TaskStatus.DELIVERED, delivered_at=now, last_error="", updated_at=now)
    updated = tasks.filter(status=TaskStatus.SENT).update(
        status=TaskStatus.FAILED,
        last_error=(_("Delivery failed: %(error)s") % {"error": push.status})[:2000],
        updated_at=now,
    )
    if push.status == RECEIPT_BLOCKED:
        customer = _follower(push.from_user)
        if customer is not None:
            _opt_out(customer, ConsentSource.INBOUND_WECHAT, f"template {push.msg_id} blocked")
    return updated


def opt_out_reply_text(customer: Customer) -> str:
    with translation.override(customer.language):
        return _("You have been unsubscribed and will receive no more WeChat messages from us.")


def _passive_reply(push: WeChatPush, content: str, now: dt.datetime) -> bytes:
    """A text message answered in the push's response, as WeChat's passive reply format."""
    root = Element("xml")
    for name, value in (
        ("ToUserName", push.from_user),
        ("FromUserName", push.to_user),
        ("CreateTime", str(int(now.timestamp()))),
        ("MsgType", "text"),
        ("Content", content),
    ):
        SubElement(root, name).text = value
    return tostring(root, encoding="unicode").encode()


@dataclass(frozen=True)
class PushResult:
    """What a push did: `action` for the caller's log and tests, `reply` the response body."""

    action: str
    reply: bytes = b"success"
    updated: int = 0
    message: InboundMessage | None = None


@transaction.atomic
def wechat_push_receive(*, body: bytes, now: dt.datetime | None = None) -> PushResult:
    """Apply one verified push (see the module docstring)."""
    push = wechat_push_parse(body)
    now = now or timezone.now()
    if push.msg_type == "event" and push.event == "TEMPLATESENDJOBFINISH":
        return PushResult(action="receipt", updated=_receipt(push, now))
    if push.msg_type == "event" and push.event == "unsubscribe":
        customer = _follower(push.from_user)
        changed = customer is not None and _opt_out(
            customer, ConsentSource.INBOUND_WECHAT, "unfollowed the Official Account"
        )
        return PushResult(action="unsubscribed" if changed else "ignored")
    if push.msg_type != "text":
        return PushResult(action="ignored")
    return _text_message(push, now)


class PushedText(Protocol):
    """What a WeChat or WeCom text push carries for its inbound message (read-only)."""

    @property
    def from_user(self) -> str: ...

    @property
    def content(self) -> str: ...

    @property
    def msg_id(self) -> str: ...


def inbound_record(
    *,
    channel: str,
    id_prefix: str,
    push: PushedText,
    customer: Customer | None,
    action: str,
    now: dt.datetime,
) -> InboundMessage | None:
    """Record a text pushed by WeChat or WeCom as an inbound message, once: None when this push
    was recorded before (Tencent repeats a push it got no answer to in time)."""
    try:
        with transaction.atomic():
            return InboundMessage.objects.create(
                channel=channel,
                from_number=push.from_user[:64],
                body=push.content,
                received_at=now,
                customer=customer,
                action=action,
                provider_message_id=f"{id_prefix}{push.msg_id}"[:128],
            )
    except IntegrityError:
        return None


def _text_message(push: WeChatPush, now: dt.datetime) -> PushResult:
    customer = _follower(push.from_user)
    is_stop = fold_text(push.content) in stop_words(CareSettings.load())
    if customer is None:
        action = InboundAction.UNKNOWN_SENDER
    else:
        action = InboundAction.OPTED_OUT if is_stop else InboundAction.REPLY
    message = inbound_record(
        channel=StepChannel.WECHAT,
        id_prefix=INBOUND_ID_PREFIX,
        push=push,
        customer=customer,
        action=action,
        now=now,
    )
    if message is None:
        # A repeated push: acknowledged, nothing redone.
        return PushResult(action="duplicate")
    if customer is None:
        return PushResult(action=action, message=message)
    if action == InboundAction.REPLY:
        customer_reply_announce(
            customer=customer, message=message, channel=StepChannel.WECHAT, now=now
        )
        return PushResult(action=action, message=message)
    changed = _opt_out(customer, ConsentSource.INBOUND_WECHAT, f"WeChat: {push.content[:100]}")
    reply = _passive_reply(push, opt_out_reply_text(customer), now) if changed else b"success"
    return PushResult(action=action, message=message, reply=reply)


def _nonce() -> str:
    return str(secrets.randbelow(10**10))


@dataclass(frozen=True)
class CallbackKeys:
    """What opens an encrypted push: the token, the EncodingAESKey and our receiveid (the app
    id for WeChat, the corp id for WeCom), with the setting names for error messages."""

    token: str
    encoding_aes_key: str
    receive_id: str
    key_setting: str
    receive_id_setting: str


def encrypted_push_open(
    *, keys: CallbackKeys, body: bytes, timestamp: str, nonce: str, signature: str
) -> bytes:
    """The plaintext XML of an encrypted push, after checking `msg_signature`, the timestamp
    and the receiveid (CallbackRejected) and decrypting it (MessageMalformed)."""
    signature_precheck(token=keys.token, timestamp=timestamp, signature=signature)
    encrypt = envelope_read(body)
    return encrypted_text_open(
        keys=keys, encrypt=encrypt, timestamp=timestamp, nonce=nonce, signature=signature
    )


def encrypted_text_open(
    *, keys: CallbackKeys, encrypt: str, timestamp: str, nonce: str, signature: str
) -> bytes:
    """The plaintext of one ciphertext (an envelope's <Encrypt> or WeCom's `echostr`)."""
    msg_signature_verify(
        token=keys.token, timestamp=timestamp, nonce=nonce, encrypt=encrypt, signature=signature
    )
    if not keys.receive_id:
        raise CallbackRejected(f"{keys.receive_id_setting} is not set")
    try:
        key = aes_key_decode(keys.encoding_aes_key)
    except ValueError as exc:
        raise CallbackRejected(f"{keys.key_setting} is not usable: {exc}") from exc
    return message_decrypt(key=key, encrypt=encrypt, receive_id=keys.receive_id)


def encrypted_reply(*, keys: CallbackKeys, message: bytes, now: dt.datetime) -> bytes:
    """A passive reply encrypted for the receiveid, in the documented envelope."""
    return envelope_build(
        token=keys.token,
        key=aes_key_decode(keys.encoding_aes_key),
        receive_id=keys.receive_id,
        message=message,
        timestamp=str(int(now.timestamp())),
        nonce=_nonce(),
    )


def wechat_secure_push_receive(
    *,
    keys: CallbackKeys,
    body: bytes,
    timestamp: str,
    nonce: str,
    signature: str,
    now: dt.datetime | None = None,
) -> PushResult:
    """Apply one push of WeChat's encrypted mode: open it, apply it as a plain push, and
    encrypt the passive reply (if any) back. Nothing is written before it is opened."""
    plain = encrypted_push_open(
        keys=keys, body=body, timestamp=timestamp, nonce=nonce, signature=signature
    )
    now = now or timezone.now()
    result = wechat_push_receive(body=plain, now=now)
    if result.reply == b"success":
        return result
    return PushResult(
        action=result.action,
        reply=encrypted_reply(keys=keys, message=result.reply, now=now),
        updated=result.updated,
        message=result.message,
    )

"""What WeCom's callback ("接收消息与事件") tells us about external contacts.

Every callback is encrypted (outreach.services.weixin_crypto) with WECOM_CALLBACK_AES_KEY for
our corp id (WECOM_CORP_ID) and signed with WECOM_CALLBACK_TOKEN; the API opens it with
`encrypted_push_open` before anything here runs. The plaintext XML:

- `Event=change_external_contact`, `ChangeType=del_follow_user` (the customer deleted our
  member) or `del_external_contact` (our member deleted the customer), with `UserID` (the
  member) and `ExternalUserID`: the customer can no longer be messaged through that member, so
  their WeCom opt-out is recorded (source "provider", the note says which change and member),
  as WeChat's 43004 is; the dispatcher then falls back or skips. When WECOM_SENDER is set,
  only changes of that member count (the others' contacts are not the one we send through).
- `MsgType=text` from an external contact we know (their `external_userid` is a WeCom contact
  point): an opt-out word records the WeCom opt-out, any other text is recorded and announced
  as "customer_replied" (channel "wecom"), like an SMS or WeChat reply. WeCom pushes an app's
  callback the messages written to the app; a customer's chat with a member reaches it only
  through a relay (the conversation archive or WeChat Customer Service, neither built here).
  Texts from anyone else (members writing to the app) are acknowledged and ignored.

WeCom reports no per-message result of `add_msg_template` by callback (only
`get_groupmsg_send_result` can be polled), so receipts stay what the send itself returned.
Everything else is acknowledged and ignored; WeCom wants an empty answer.
"""

import datetime as dt
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from callcenter.choices import ConsentChannel, ConsentSource, ContactKind
from callcenter.errors import ApplicationError
from callcenter.models import Customer
from callcenter.services.customers import customer_consent_set
from care.choices import StepChannel
from care.models import CareSettings
from outreach.choices import InboundAction
from outreach.services.replies import customer_reply_announce
from outreach.services.webhooks import fold_text, stop_words
from outreach.services.weixin_callbacks import (
    PushResult,
    contact_owner,
    inbound_record,
    push_fields,
)

INBOUND_ID_PREFIX = "wecom:"
CONTACT_CHANGE_EVENT = "change_external_contact"
# The changes after which the customer cannot be messaged through the member any more.
CONTACT_LOST_CHANGES = ("del_follow_user", "del_external_contact")


@dataclass(frozen=True)
class WeComPush:
    """The fields of a callback we act on (empty when absent)."""

    from_user: str
    msg_type: str
    event: str
    change_type: str
    user_id: str
    external_user_id: str
    msg_id: str
    content: str


def wecom_push_parse(body: bytes) -> WeComPush:
    """Parse the decrypted XML of a callback, raising ApplicationError (400) for anything
    that is not one."""
    text = push_fields(body)
    push = WeComPush(
        from_user=text("FromUserName"),
        msg_type=text("MsgType"),
        event=text("Event"),
        change_type=text("ChangeType"),
        user_id=text("UserID"),
        external_user_id=text("ExternalUserID"),
        msg_id=text("MsgId"),
        content=text("Content"),
    )
    required = [("MsgType", push.msg_type)]
    if push.msg_type == "event" and push.event == CONTACT_CHANGE_EVENT:
        required += [("ChangeType", push.change_type), ("ExternalUserID", push.external_user_id)]
    if push.msg_type == "text":
        required += [("FromUserName", push.from_user), ("MsgId", push.msg_id)]
    for field, value in required:
        if not value:
            raise ApplicationError(
                _("%(field)s is missing.") % {"field": field}, extra={"field": field}
            )
    return push


def _opt_out(customer: Customer, source: str, note: str) -> bool:
    return customer_consent_set(
        customer=customer,
        channel=ConsentChannel.WECOM,
        opted_out=True,
        source=source,
        note=note[:255],
    )


def _contact_lost(push: WeComPush, sender: str) -> PushResult:
    if sender and push.user_id != sender:
        return PushResult(action="ignored", reply=b"")
    customer = contact_owner(kind=ContactKind.WECOM, value=push.external_user_id)
    changed = customer is not None and _opt_out(
        customer,
        ConsentSource.PROVIDER,
        f"WeCom {push.change_type} (member {push.user_id or '?'})",
    )
    return PushResult(action="unreachable" if changed else "ignored", reply=b"")


def _text_message(push: WeComPush, now: dt.datetime) -> PushResult:
    customer = contact_owner(kind=ContactKind.WECOM, value=push.from_user)
    if customer is None:
        return PushResult(action="ignored", reply=b"")
    is_stop = fold_text(push.content) in stop_words(CareSettings.load())
    action = InboundAction.OPTED_OUT if is_stop else InboundAction.REPLY
    message = inbound_record(
        channel=StepChannel.WECOM,
        id_prefix=INBOUND_ID_PREFIX,
        push=push,
        customer=customer,
        action=action,
        now=now,
    )
    if message is None:
        # A repeated callback: acknowledged, nothing redone.
        return PushResult(action="duplicate", reply=b"")
    if action == InboundAction.OPTED_OUT:
        _opt_out(customer, ConsentSource.INBOUND_WECHAT, f"WeCom: {push.content[:100]}")
        return PushResult(action=action, message=message, reply=b"")
    customer_reply_announce(customer=customer, message=message, channel=StepChannel.WECOM, now=now)
    return PushResult(action=action, message=message, reply=b"")


@transaction.atomic
def wecom_push_receive(
    *, body: bytes, sender: str = "", now: dt.datetime | None = None
) -> PushResult:
    """Apply one opened callback (see the module docstring); `sender` is WECOM_SENDER."""
    push = wecom_push_parse(body)
    now = now or timezone.now()
    if push.msg_type == "event" and push.event == CONTACT_CHANGE_EVENT:
        if push.change_type in CONTACT_LOST_CHANGES:
            return _contact_lost(push, sender)
        return PushResult(action="ignored", reply=b"")
    if push.msg_type == "text":
        return _text_message(push, now)
    return PushResult(action="ignored", reply=b"")

"""Email through Django's configured email backend (SMTP, console, locmem in tests).

SMTP has no idempotency key, so the task's key becomes the Message-ID header: a resend after
a lost answer carries the same Message-ID, which receiving servers and clients deduplicate.
"""

import hashlib
import smtplib

from django.conf import settings
from django.core.mail import EmailMessage

from .base import ChannelBackend, PermanentSendError, TransientSendError


def message_id_for(idempotency_key: str) -> str:
    """A stable RFC 5322 Message-ID derived from the task's idempotency key."""
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]
    domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2] or "localhost"
    return f"<{digest}@{domain}>"


class DjangoEmailBackend(ChannelBackend):
    """Sends one plain-text email with django.core.mail."""

    def send(self, *, to: str, body: str, subject: str = "", idempotency_key: str) -> str:
        message_id = message_id_for(idempotency_key)
        message = EmailMessage(
            subject=subject,
            body=body,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[to],
            headers={"Message-ID": message_id, "X-Idempotency-Key": idempotency_key},
        )
        try:
            message.send(fail_silently=False)
        except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused) as exc:
            raise PermanentSendError(f"mail server refused the message: {exc}") from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise TransientSendError(f"mail server error: {exc}") from exc
        return message_id

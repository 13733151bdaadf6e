"""Development backend: appends each message as one JSON line to a file.

Like a real provider it honours the idempotency key: a key already in the file is not written
again and gets its first message id back, so a developer can watch retries and recoveries.
"""

import fcntl
import hashlib
import json
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from .base import ChannelBackend


class FileBackend(ChannelBackend):
    """Appends `{"at", "channel", "to", "subject", "body", "idempotency_key", "id"}` lines."""

    def __init__(self, *, path: str, channel: str = "sms") -> None:
        if not path:
            raise ImproperlyConfigured(
                f"The {channel} file backend needs a file path "
                f"({channel.upper()}_FILE_PATH / SMS_FILE_PATH)."
            )
        self.path = Path(path)
        self.channel = channel

    def send(self, *, to: str, body: str, subject: str = "", idempotency_key: str) -> str:
        message_id = "file:" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:24]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a+", encoding="utf-8") as handle:
            # One writer at a time, so concurrent dispatchers neither interleave lines nor both
            # miss the other's copy of the same key.
            fcntl.flock(handle, fcntl.LOCK_EX)
            handle.seek(0)
            for line in handle:
                if line.strip() and json.loads(line).get("idempotency_key") == idempotency_key:
                    return message_id
            record = {
                "at": timezone.now().isoformat(),
                "channel": self.channel,
                "to": to,
                "subject": subject,
                "body": body,
                "idempotency_key": idempotency_key,
                "id": message_id,
            }
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        return message_id

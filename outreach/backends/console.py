"""Development backend: writes each message to the log instead of sending it."""

import logging

from .base import ChannelBackend

logger = logging.getLogger("outreach.send")


class ConsoleBackend(ChannelBackend):
    """Logs the message; the idempotency key doubles as the message id."""

    def __init__(self, *, channel: str = "sms") -> None:
        self.channel = channel

    def send(self, *, to: str, body: str, subject: str = "", idempotency_key: str) -> str:
        logger.info(
            "%s to %s [%s]%s: %s",
            self.channel,
            to,
            idempotency_key,
            f" ({subject})" if subject else "",
            body,
        )
        return f"console:{idempotency_key}"

"""The interface every channel backend implements, and the two errors it may raise.

A backend sends one message and returns the provider's message id. It must pass
`idempotency_key` to the provider (header, reference field or message id) so that sending the
same task twice (a retry after a timeout, a task recovered from a dead worker) delivers once.
"""

from abc import ABC, abstractmethod


class SendError(Exception):
    """A send that did not go through; `str(exc)` is kept on the task as its last error."""


class TransientSendError(SendError):
    """Worth retrying later: timeouts, connection errors, 5xx, rate limits."""


class PermanentSendError(SendError):
    """Retrying cannot help: invalid number, rejected credentials, 4xx."""


class ChannelBackend(ABC):
    """Sends one message on a channel (SMS, automated call)."""

    @abstractmethod
    def send(self, *, to: str, body: str, subject: str = "", idempotency_key: str) -> str:
        """Send `body` to `to`; return the provider message id or raise a SendError."""

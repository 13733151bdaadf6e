"""Signing test requests as an integration does (callcenter.signatures): the headers for a
body sent with a method to a path, under a secret."""

import hashlib
import hmac
import time


def signed_headers(
    body: bytes,
    *,
    secret: str,
    path: str,
    method: str = "POST",
    timestamp: int | str | None = None,
) -> dict[str, str]:
    """`X-Timestamp` and `X-Signature` (as Django test-client extra headers): the hex
    HMAC-SHA256 of f"{timestamp}.{METHOD}.{path}.{body}"."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    message = f"{stamp}.{method.upper()}.{path}.".encode() + body
    digest = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return {"HTTP_X_TIMESTAMP": stamp, "HTTP_X_SIGNATURE": digest}

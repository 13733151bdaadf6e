"""WXBizMsgCrypt, the message encryption of WeCom callbacks and of the WeChat Official
Account's encrypted ("safe") push mode, on the `cryptography` package.

- `msg_signature` = sha1 of the sorted, concatenated [token, timestamp, nonce, encrypt].
- AES key = base64decode(EncodingAESKey + "="), 32 bytes; AES-256-CBC with IV = the key's
  first 16 bytes; PKCS#7 padding to a multiple of 32 bytes.
- Plaintext = 16 random bytes + 4-byte big-endian length of msg + msg + receiveid; receiveid
  is the WeCom corp id or the Official Account's app id and must be ours.

A signature, timestamp or receiveid that does not hold raises CallbackRejected (answered 403);
a body that cannot be decoded or decrypted raises MessageMalformed (answered 400).
"""

import base64
import binascii
import hashlib
import hmac
import os
import struct
import time
from xml.etree.ElementTree import Element, SubElement, tostring  # noqa: S405 building, not parsing

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from defusedxml import ElementTree  # type: ignore[import-untyped]

# A push whose timestamp is further than this (seconds) from our clock is refused.
SIGNATURE_TOLERANCE_SECONDS = 5 * 60
ENCODING_AES_KEY_LENGTH = 43
AES_KEY_BYTES = 32
# WXBizMsgCrypt pads to 32 bytes (not AES's 16-byte block); PKCS7 takes bits.
PADDING_BLOCK_BITS = 32 * 8
RANDOM_BYTES = 16
LENGTH_BYTES = 4
MAX_ENVELOPE_BYTES = 128 * 1024


class CallbackRejected(Exception):
    """A push whose signature, timestamp or receiveid does not hold (answered 403)."""


class MessageMalformed(Exception):
    """A push whose body cannot be read, decoded or decrypted (answered 400); `field` names
    the part at fault."""

    def __init__(self, message: str, *, field: str = "Encrypt") -> None:
        super().__init__(message)
        self.field = field


def aes_key_decode(encoding_aes_key: str) -> bytes:
    """The 32-byte AES key of a 43-character EncodingAESKey; ValueError if it is not one."""
    if len(encoding_aes_key) != ENCODING_AES_KEY_LENGTH:
        raise ValueError(
            f"an EncodingAESKey has {ENCODING_AES_KEY_LENGTH} characters, "
            f"not {len(encoding_aes_key)}"
        )
    try:
        key = base64.b64decode(encoding_aes_key + "=", validate=True)
    except binascii.Error as exc:
        raise ValueError(f"the EncodingAESKey is not base64: {exc}") from exc
    if len(key) != AES_KEY_BYTES:
        raise ValueError(f"the EncodingAESKey decodes to {len(key)} bytes, not {AES_KEY_BYTES}")
    return key


def msg_signature(*, token: str, timestamp: str, nonce: str, encrypt: str) -> str:
    """sha1 of the sorted, concatenated token, timestamp, nonce and ciphertext."""
    joined = "".join(sorted([token, timestamp, nonce, encrypt]))
    return hashlib.sha1(joined.encode(), usedforsecurity=False).hexdigest()


def signature_precheck(
    *, token: str, timestamp: str, signature: str, now: float | None = None
) -> None:
    """What can be refused before the body is read: no token configured, no signature, a
    timestamp that is not one or further than SIGNATURE_TOLERANCE_SECONDS from our clock."""
    if not token:
        raise CallbackRejected("no callback token is set")
    if not signature:
        raise CallbackRejected("msg_signature is missing")
    try:
        sent = int(timestamp)
    except ValueError as exc:
        raise CallbackRejected("bad timestamp") from exc
    if abs((now if now is not None else time.time()) - sent) > SIGNATURE_TOLERANCE_SECONDS:
        raise CallbackRejected("stale timestamp")


def msg_signature_verify(
    *,
    token: str,
    timestamp: str,
    nonce: str,
    encrypt: str,
    signature: str,
    now: float | None = None,
) -> None:
    """Raise CallbackRejected unless `signature` signs these values with `token` and the
    timestamp is within SIGNATURE_TOLERANCE_SECONDS of our clock."""
    signature_precheck(token=token, timestamp=timestamp, signature=signature, now=now)
    expected = msg_signature(token=token, timestamp=timestamp, nonce=nonce, encrypt=encrypt)
    if not hmac.compare_digest(expected, signature.lower()):
        raise CallbackRejected("bad msg_signature")


def _cipher(key: bytes) -> Cipher[modes.CBC]:
    return Cipher(algorithms.AES(key), modes.CBC(key[:16]))


def message_encrypt(
    *, key: bytes, message: bytes, receive_id: str, random: bytes | None = None
) -> str:
    """The base64 ciphertext of `message` for `receive_id` (as WeChat and WeCom make it)."""
    random = random if random is not None else os.urandom(RANDOM_BYTES)
    if len(random) != RANDOM_BYTES:
        raise ValueError(f"the random prefix has {RANDOM_BYTES} bytes")
    plain = random + struct.pack(">I", len(message)) + message + receive_id.encode()
    padder = padding.PKCS7(PADDING_BLOCK_BITS).padder()
    padded = padder.update(plain) + padder.finalize()
    encryptor = _cipher(key).encryptor()
    return base64.b64encode(encryptor.update(padded) + encryptor.finalize()).decode()


def message_decrypt(*, key: bytes, encrypt: str, receive_id: str) -> bytes:
    """The message inside `encrypt`. MessageMalformed if it is not base64, not whole AES
    blocks, badly padded or shorter than its stated length; CallbackRejected if it was
    encrypted for another receiveid."""
    try:
        cipher_text = base64.b64decode(encrypt, validate=True)
    except binascii.Error as exc:
        raise MessageMalformed(f"the ciphertext is not base64: {exc}") from exc
    if not cipher_text or len(cipher_text) % 16:
        raise MessageMalformed("the ciphertext is not a whole number of AES blocks")
    decryptor = _cipher(key).decryptor()
    padded = decryptor.update(cipher_text) + decryptor.finalize()
    unpadder = padding.PKCS7(PADDING_BLOCK_BITS).unpadder()
    try:
        plain = unpadder.update(padded) + unpadder.finalize()
    except ValueError as exc:
        raise MessageMalformed("bad padding (wrong EncodingAESKey?)") from exc
    header = RANDOM_BYTES + LENGTH_BYTES
    if len(plain) < header:
        raise MessageMalformed("the plaintext is shorter than its header")
    (length,) = struct.unpack(">I", plain[RANDOM_BYTES:header])
    if header + length > len(plain):
        raise MessageMalformed("the plaintext is shorter than its stated length")
    received_for = plain[header + length :]
    if not hmac.compare_digest(received_for, receive_id.encode()):
        raise CallbackRejected("the message was encrypted for another receiveid")
    return plain[header : header + length]


def envelope_read(body: bytes) -> str:
    """The <Encrypt> text of a posted envelope (<xml><ToUserName/><Encrypt/>...</xml>)."""
    if len(body) > MAX_ENVELOPE_BYTES:
        raise MessageMalformed("the message is too large", field="body")
    try:
        root = ElementTree.fromstring(body)
    except Exception as exc:  # defusedxml raises ParseError and its own refusals
        raise MessageMalformed(f"the body is not valid XML: {exc}", field="body") from exc
    if root.tag != "xml":
        raise MessageMalformed("the root element must be <xml>", field="body")
    encrypt = (root.findtext("Encrypt") or "").strip()
    if not encrypt:
        raise MessageMalformed("Encrypt is missing")
    return encrypt


def envelope_build(
    *, token: str, key: bytes, receive_id: str, message: bytes, timestamp: str, nonce: str
) -> bytes:
    """A passive reply encrypted as documented: <xml><Encrypt/><MsgSignature/><TimeStamp/>
    <Nonce/></xml>."""
    encrypt = message_encrypt(key=key, message=message, receive_id=receive_id)
    root = Element("xml")
    for name, value in (
        ("Encrypt", encrypt),
        (
            "MsgSignature",
            msg_signature(token=token, timestamp=timestamp, nonce=nonce, encrypt=encrypt),
        ),
        ("TimeStamp", timestamp),
        ("Nonce", nonce),
    ):
        SubElement(root, name).text = value
    return tostring(root, encoding="unicode").encode()

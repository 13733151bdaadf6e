"""WXBizMsgCrypt on `cryptography`: a vector built here with the documented layout, round
trips, and each way a push can be wrong raising its own clear error."""

import base64
import hashlib
import struct
import time

import pytest
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from defusedxml import ElementTree  # type: ignore[import-untyped]

from outreach.services.weixin_crypto import (
    CallbackRejected,
    MessageMalformed,
    aes_key_decode,
    envelope_build,
    envelope_read,
    message_decrypt,
    message_encrypt,
    msg_signature,
    msg_signature_verify,
)

# 43 characters, as an EncodingAESKey is (these are WeCom's documentation's example).
ENCODING_AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
KEY = base64.b64decode(ENCODING_AES_KEY + "=")
CORP_ID = "wx5823bf96d3bd56c7"
RANDOM = bytes(range(16))


def _documented_ciphertext(message: bytes, receive_id: str, *, pad_to: int = 32) -> str:
    """The ciphertext built step by step as the documentation describes it, independently
    of the module: random(16) + big-endian length(4) + msg + receiveid, PKCS#7 to 32 bytes,
    AES-256-CBC with the key's first 16 bytes as IV, base64."""
    plain = RANDOM + struct.pack(">I", len(message)) + message + receive_id.encode()
    padder = padding.PKCS7(pad_to * 8).padder()
    padded = padder.update(plain) + padder.finalize()
    encryptor = Cipher(algorithms.AES(KEY), modes.CBC(KEY[:16])).encryptor()
    return base64.b64encode(encryptor.update(padded) + encryptor.finalize()).decode()


def test_the_key_is_the_base64_of_the_encoding_aes_key() -> None:
    assert aes_key_decode(ENCODING_AES_KEY) == KEY
    assert len(KEY) == 32


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("short", "43 characters"),
        ("!" * 43, "not base64"),
    ],
)
def test_a_key_that_is_not_an_encoding_aes_key_is_refused(value: str, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        aes_key_decode(value)


def test_the_documented_vector_decrypts() -> None:
    message = "<xml><Content>你好</Content></xml>".encode()
    encrypt = _documented_ciphertext(message, CORP_ID)

    assert message_decrypt(key=KEY, encrypt=encrypt, receive_id=CORP_ID) == message


def test_encryption_matches_the_documented_layout_and_round_trips() -> None:
    message = b"<xml><MsgType>text</MsgType></xml>"

    encrypt = message_encrypt(key=KEY, message=message, receive_id=CORP_ID, random=RANDOM)

    assert encrypt == _documented_ciphertext(message, CORP_ID)
    assert message_decrypt(key=KEY, encrypt=encrypt, receive_id=CORP_ID) == message
    # padded to a multiple of 32 bytes, not AES's 16
    assert len(base64.b64decode(encrypt)) % 32 == 0


def test_two_encryptions_differ_by_their_random_prefix() -> None:
    first = message_encrypt(key=KEY, message=b"x", receive_id=CORP_ID)
    second = message_encrypt(key=KEY, message=b"x", receive_id=CORP_ID)
    assert first != second
    assert message_decrypt(key=KEY, encrypt=second, receive_id=CORP_ID) == b"x"


def test_a_message_for_another_receiveid_is_rejected() -> None:
    encrypt = _documented_ciphertext(b"<xml/>", "ww-other-corp")
    with pytest.raises(CallbackRejected, match="receiveid"):
        message_decrypt(key=KEY, encrypt=encrypt, receive_id=CORP_ID)


def test_bad_padding_is_malformed() -> None:
    # padded to 16 bytes (AES's block) where WXBizMsgCrypt pads to 32: the last byte then
    # claims a padding the block does not have
    plain = RANDOM + struct.pack(">I", 3) + b"abc" + CORP_ID.encode()  # 41 bytes -> pad 7
    padded = plain + bytes([7]) * 7
    assert len(padded) == 48
    encryptor = Cipher(algorithms.AES(KEY), modes.CBC(KEY[:16])).encryptor()
    encrypt = base64.b64encode(encryptor.update(padded) + encryptor.finalize()).decode()
    with pytest.raises(MessageMalformed, match="padding"):
        message_decrypt(key=KEY, encrypt=encrypt, receive_id=CORP_ID)


def test_the_wrong_key_is_malformed_not_a_crash() -> None:
    encrypt = _documented_ciphertext(b"<xml/>", CORP_ID)
    other = aes_key_decode("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG")
    with pytest.raises(MessageMalformed, match="wrong EncodingAESKey"):
        message_decrypt(key=other, encrypt=encrypt, receive_id=CORP_ID)


@pytest.mark.parametrize(
    ("encrypt", "error"),
    [
        ("not base64 at all!", "not base64"),
        (base64.b64encode(b"0123456789").decode(), "AES blocks"),
        ("", "AES blocks"),
    ],
)
def test_bad_ciphertext_is_malformed(encrypt: str, error: str) -> None:
    with pytest.raises(MessageMalformed, match=error):
        message_decrypt(key=KEY, encrypt=encrypt, receive_id=CORP_ID)


def test_a_length_beyond_the_plaintext_is_malformed() -> None:
    plain = RANDOM + struct.pack(">I", 10_000) + b"abc"
    padder = padding.PKCS7(256).padder()
    padded = padder.update(plain) + padder.finalize()
    encryptor = Cipher(algorithms.AES(KEY), modes.CBC(KEY[:16])).encryptor()
    encrypt = base64.b64encode(encryptor.update(padded) + encryptor.finalize()).decode()
    with pytest.raises(MessageMalformed, match="stated length"):
        message_decrypt(key=KEY, encrypt=encrypt, receive_id=CORP_ID)


class TestSignature:
    def test_is_sha1_of_the_four_sorted_values(self) -> None:
        expected = hashlib.sha1(b"".join(sorted([b"tok", b"123", b"n", b"ENC"]))).hexdigest()  # noqa: S324
        assert msg_signature(token="tok", timestamp="123", nonce="n", encrypt="ENC") == expected

    def test_a_good_signature_passes(self) -> None:
        stamp = str(int(time.time()))
        signature = msg_signature(token="tok", timestamp=stamp, nonce="n", encrypt="ENC")
        msg_signature_verify(
            token="tok", timestamp=stamp, nonce="n", encrypt="ENC", signature=signature
        )

    @pytest.mark.parametrize(
        ("change", "error"),
        [
            ({"encrypt": "TAMPERED"}, "bad msg_signature"),
            ({"token": ""}, "no callback token"),
            # The clock 10 minutes after the signature, taken when the test runs (a moment
            # fixed at collection drifts towards "fresh" on a slow run).
            ({"now_after": 600}, "stale"),
        ],
    )
    def test_tampering_or_staleness_is_rejected(self, change: dict, error: str) -> None:
        signed_at = time.time()
        values = {"token": "tok", "timestamp": str(int(signed_at)), "nonce": "n", "encrypt": "ENC"}
        signature = msg_signature(**values)
        changed = {key: value for key, value in change.items() if key != "now_after"}
        now = signed_at + change["now_after"] if "now_after" in change else None
        with pytest.raises(CallbackRejected, match=error):
            msg_signature_verify(**{**values, **changed}, signature=signature, now=now)

    def test_a_missing_signature_is_rejected_before_anything_else(self) -> None:
        with pytest.raises(CallbackRejected, match="msg_signature is missing"):
            msg_signature_verify(
                token="tok", timestamp=str(int(time.time())), nonce="n", encrypt="E", signature=""
            )


class TestEnvelope:
    def test_reply_envelope_is_signed_and_opens_to_the_message(self) -> None:
        body = envelope_build(
            token="tok",
            key=KEY,
            receive_id=CORP_ID,
            message="<xml><Content>好</Content></xml>".encode(),
            timestamp="1409304348",
            nonce="xxxxxx",
        )
        root = ElementTree.fromstring(body)
        encrypt = root.findtext("Encrypt")
        assert root.findtext("TimeStamp") == "1409304348"
        assert root.findtext("Nonce") == "xxxxxx"
        assert root.findtext("MsgSignature") == msg_signature(
            token="tok", timestamp="1409304348", nonce="xxxxxx", encrypt=encrypt
        )
        assert envelope_read(body) == encrypt
        opened = message_decrypt(key=KEY, encrypt=encrypt, receive_id=CORP_ID)
        assert opened == "<xml><Content>好</Content></xml>".encode()

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            (b"not xml", "body"),
            (b"<other><Encrypt>x</Encrypt></other>", "body"),
            (b"<xml><ToUserName>x</ToUserName></xml>", "Encrypt"),
        ],
    )
    def test_unreadable_envelopes_name_the_field(self, body: bytes, field: str) -> None:
        with pytest.raises(MessageMalformed) as caught:
            envelope_read(body)
        assert caught.value.field == field

"""SASL encodings for AUTH (RFC 4954): PLAIN, LOGIN, CRAM-MD5, XOAUTH2.

Everything is base64 of UTF-8 bytes without line breaks (RFC 4954 4, RFC 4616 2):
``base64 <<< $USER`` adds a newline and ``openssl base64`` wraps lines, both wrong.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

# Preference when the user does not name a mechanism: challenge-response before
# plain text. XOAUTH2 needs a token, not a password, so it is never a default.
MECHANISM_PREFERENCE = ("CRAM-MD5", "PLAIN", "LOGIN")
SUPPORTED_MECHANISMS = ("PLAIN", "LOGIN", "CRAM-MD5", "XOAUTH2")


def b64encode_text(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def b64decode_bytes(data: str) -> bytes:
    """Decode base64 (missing padding tolerated); ValueError with a readable message."""
    cleaned = "".join(data.split())
    if cleaned == "=":  # RFC 4954 4: "=" is an empty response
        return b""
    try:
        return base64.b64decode(cleaned + "=" * (-len(cleaned) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"not valid base64: {cleaned[:40]!r}") from exc


def b64decode_text(data: str) -> str:
    return b64decode_bytes(data).decode("utf-8", errors="backslashreplace")


def decode_challenge(text: str) -> str | None:
    """The decoded text of a 334 challenge, or None when it isn't base64 text."""
    text = text.strip()
    if not text or any(char.isspace() for char in text):
        return None  # plain words such as "Go ahead", not a challenge
    try:
        return b64decode_text(text)
    except ValueError:
        return None


def plain_response(username: str, password: str, authzid: str = "") -> str:
    """RFC 4616: authzid NUL authcid NUL passwd."""
    return b64encode_text(f"{authzid}\x00{username}\x00{password}")


def cram_md5_response(username: str, password: str, challenge_b64: str) -> str:
    """RFC 2195: user SP hex(HMAC-MD5(password, challenge))."""
    challenge = b64decode_bytes(challenge_b64)
    digest = hmac.new(password.encode("utf-8"), challenge, hashlib.md5).hexdigest()
    return b64encode_text(f"{username} {digest}")


def xoauth2_response(username: str, token: str) -> str:
    """Google/Microsoft XOAUTH2 initial response."""
    return b64encode_text(f"user={username}\x01auth=Bearer {token}\x01\x01")


def choose_mechanism(advertised: tuple[str, ...]) -> str | None:
    upper = {mech.upper() for mech in advertised}
    for mech in MECHANISM_PREFERENCE:
        if mech in upper:
            return mech
    return None

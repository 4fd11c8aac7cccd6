"""What a user types during AUTH, computed with the standard library only.

Independent of smtpshell's own encoders (protocol/auth.py), so that a test never
checks that code against itself; importable by the interop smoke tests, which
check the servers and must not depend on smtpshell at all.
"""

from __future__ import annotations

import base64


def b64(text: str | bytes) -> str:
    """Base64 of the UTF-8 bytes, no line breaks: what AUTH wants (RFC 4954 4)."""
    raw = text.encode("utf-8") if isinstance(text, str) else text
    return base64.b64encode(raw).decode("ascii")

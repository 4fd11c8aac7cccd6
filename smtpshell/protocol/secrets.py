"""Which part of a client line is a credential: the one rule (RFC 4954).

The session (what its events show), the shell (masking and history), the
transcript parser and the recorder all ask :func:`secret_start`, so a line is
secret in all of them or in none.
"""

from __future__ import annotations

import re

# RFC 4954 4: "*" alone cancels an exchange; it is not a credential.
CANCEL = "*"

_AUTH_WITH_RESPONSE = re.compile(r"\s*auth[ \t]+\S+[ \t]+(?=\S)", re.IGNORECASE)


def secret_start(line: str, auth_pending: bool = False) -> int | None:
    """Where the credential in ``line`` begins, or None when it holds none.

    - While an AUTH exchange waits for a response (a 334 is pending), the whole line
      is one (RFC 4954 4), except ``*`` that cancels the exchange.
    - ``AUTH MECHANISM INITIAL-RESPONSE``: from the initial response on (RFC 4954 4).

    A leading backslash (the shell's "send this line as typed") changes nothing:
    ``\\AUTH PLAIN <base64>`` is as secret as ``AUTH PLAIN <base64>``.
    """
    if auth_pending:
        return None if line.strip() == CANCEL else 0
    offset = 1 if line.startswith("\\") else 0
    match = _AUTH_WITH_RESPONSE.match(line, offset)
    return match.end() if match else None


def split_secret(line: str, auth_pending: bool = False) -> tuple[str, bool]:
    """``(the part that may be shown, whether anything was held back)``.

    ``AUTH PLAIN dGVzdA==`` gives ``("AUTH PLAIN", True)``; a response to a 334
    gives ``("", True)``.
    """
    start = secret_start(line, auth_pending)
    if start is None:
        return line, False
    return line[:start].rstrip(), True

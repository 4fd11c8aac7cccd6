"""Which part of a client line is a credential (protocol/secrets.py, RFC 4954 4)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smtpshell.protocol.secrets import CANCEL, secret_start, split_secret


@pytest.mark.parametrize(
    ("line", "public"),
    [
        ("AUTH PLAIN dGVzdAB0ZXN0ADEyMzQ=", "AUTH PLAIN"),
        ("auth plain dGVzdAB0ZXN0ADEyMzQ=", "auth plain"),
        ("Auth Plain x", "Auth Plain"),
        ("  AUTH   PLAIN   dGVzdA==  ", "  AUTH   PLAIN"),
        ("AUTH\tPLAIN\tdGVzdA==", "AUTH\tPLAIN"),
        ("AUTH PLAIN =", "AUTH PLAIN"),  # "=" is an empty initial response
        ("AUTH XOAUTH2 dXNlcj1hAWF1dGg9QmVhcmVyIHQBAQ== extra", "AUTH XOAUTH2"),
        ("\\AUTH PLAIN dGVzdA==", "\\AUTH PLAIN"),  # the shell's "send as typed"
    ],
)
def test_an_initial_response_is_held_back(line: str, public: str) -> None:
    assert split_secret(line) == (public, True)


@pytest.mark.parametrize(
    "line",
    [
        "AUTH PLAIN",
        "AUTH LOGIN",
        "AUTH CRAM-MD5 ",
        "AUTH",
        "",
        "MAIL FROM:<a> AUTH=<>",
        "NOAUTH PLAIN x",
        "AUTHX PLAIN x",
    ],
)
def test_lines_without_a_credential_are_shown_whole(line: str) -> None:
    assert secret_start(line) is None
    assert split_secret(line) == (line, False)


@pytest.mark.parametrize("line", ["dXNlcg==", "", "QUIT", "AUTH PLAIN x"])
def test_while_auth_is_pending_the_whole_line_is_secret(line: str) -> None:
    assert split_secret(line, auth_pending=True) == ("", True)


@pytest.mark.parametrize("line", [CANCEL, " * ", "*\t"])
def test_the_cancelling_star_is_not_a_credential(line: str) -> None:
    assert split_secret(line, auth_pending=True) == (line, False)


@given(st.text())
def test_the_shown_part_is_a_prefix_and_the_rest_is_never_shown(line: str) -> None:
    public, held = split_secret(line)
    assert line.startswith(public)
    if held:
        start = secret_start(line)
        assert start is not None and line[start:].strip()
        assert public == line[:start].rstrip()

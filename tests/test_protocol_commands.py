"""Client command lines: verbs, validation against injection, encoding (RFC 5321, RFC 4954)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smtpshell.errors import CommandRejected, SmtpShellError
from smtpshell.protocol.commands import (
    SMTP_VERBS,
    check_command,
    check_data_line,
    encode_command,
    verb_of,
)

# ---------------------------------------------------------------------- verb_of


@pytest.mark.parametrize(
    ("line", "verb"),
    [
        ("MAIL FROM:<a@example.com>", "MAIL"),
        ("mail from:<a@example.com>", "MAIL"),
        ("Rcpt To:<b@example.com>", "RCPT"),
        ("  ehlo client.example", "EHLO"),
        ("\tquit", "QUIT"),
        (" \t noop", "NOOP"),
        ("DATA", "DATA"),
        ("data", "DATA"),
        ("STARTTLS", "STARTTLS"),
        ("MAIL\tFROM:<a>", "MAIL"),
        ("AUTH PLAIN dGVzdA==", "AUTH"),
        ("x-exps foo", "X-EXPS"),
        ("", ""),
        ("   ", ""),
    ],
)
def test_verb_of(line: str, verb: str) -> None:
    assert verb_of(line) == verb


def test_smtp_verbs_contains_the_rfc_5321_verbs() -> None:
    for verb in ("HELO", "EHLO", "MAIL", "RCPT", "DATA", "RSET", "VRFY", "EXPN", "HELP"):
        assert verb in SMTP_VERBS
    for verb in ("NOOP", "QUIT", "STARTTLS", "AUTH", "BDAT", "LHLO", "ETRN"):
        assert verb in SMTP_VERBS
    assert all(verb == verb.upper() for verb in SMTP_VERBS)


def test_verb_of_is_in_smtp_verbs_for_common_commands() -> None:
    for line in ("helo x", " mail from:<>", "rcpt to:<a@b>", "rset", "quit"):
        assert verb_of(line) in SMTP_VERBS


# --------------------------------------------------------------- check_command


@pytest.mark.parametrize(
    ("char", "name"),
    [
        ("\r", "CR"),
        ("\n", "LF"),
        ("\x00", "NUL"),
        ("\x1b", "ESC"),
        ("\x7f", "DEL"),
        ("\x01", "0x01"),
        ("\x0b", "0x0B"),
        ("\x0c", "0x0C"),
        ("\x1f", "0x1F"),
    ],
)
def test_control_characters_rejected(char: str, name: str) -> None:
    line = f"MAIL FROM:<a@example.com>{char}RCPT TO:<victim@example.com>"
    with pytest.raises(CommandRejected, match=name) as info:
        check_command(line)
    # A ValueError too, so generic callers catch it.
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, SmtpShellError)
    with pytest.raises(ValueError):
        encode_command(line)


@pytest.mark.parametrize("position", ["start", "middle", "end"])
@pytest.mark.parametrize("char", ["\r", "\n", "\x00", "\r\n"])
def test_line_breaks_rejected_anywhere(char: str, position: str) -> None:
    base = "NOOP"
    line = {"start": char + base, "middle": "NO" + char + "OP", "end": base + char}[position]
    with pytest.raises(CommandRejected):
        encode_command(line)


def test_smuggled_second_command_rejected() -> None:
    # CPython bpo-43124 style: a CRLF in an argument would start a new command.
    with pytest.raises(CommandRejected, match="CR"):
        encode_command("MAIL FROM:<a@example.com>\r\nRCPT TO:<x@example.com>")


def test_tab_allowed() -> None:
    check_command("MAIL\tFROM:<a@example.com>")
    assert encode_command("NOOP\targ") == b"NOOP\targ\r\n"


@pytest.mark.parametrize(
    "line",
    [
        "",
        "NOOP",
        "MAIL FROM:<jörg@exämple.com> SMTPUTF8",
        "HELO \u2028 odd but not a C0 control",
        "RCPT TO:<a@b> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;a+2Bb@c",
        "VRFY \x80\x9f",  # C1 code points are multi-byte in UTF-8, no CR/LF on the wire
        "~!@#$%^&*()_+{}|:\"<>?`-=[]\\;',./ ",
    ],
)
def test_printable_and_non_ascii_allowed(line: str) -> None:
    check_command(line)


def test_error_message_is_one_line() -> None:
    with pytest.raises(CommandRejected) as info:
        check_command("a\nb")
    assert "\n" not in str(info.value)
    assert "\r" not in str(info.value)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_check_command_property(line: str) -> None:
    bad = any((ord(c) < 0x20 and c != "\t") or c == "\x7f" for c in line)
    if bad:
        with pytest.raises(CommandRejected):
            check_command(line)
    else:
        check_command(line)


@settings(max_examples=300, deadline=None)
@given(st.text(st.characters(blacklist_categories=("Cs",)), max_size=60))
def test_encoded_command_has_exactly_one_line_ending(line: str) -> None:
    try:
        wire = encode_command(line)
    except CommandRejected:
        return
    assert wire.endswith(b"\r\n")
    body = wire[:-2]
    assert b"\r" not in body
    assert b"\n" not in body
    assert b"\x00" not in body
    assert body.decode("utf-8") == line


# -------------------------------------------------------------- encode_command


def test_encode_command_ascii() -> None:
    assert encode_command("EHLO client.example") == b"EHLO client.example\r\n"


def test_encode_command_utf8() -> None:
    wire = encode_command("MAIL FROM:<jörg@exämple.com> SMTPUTF8")
    assert wire == b"MAIL FROM:<j\xc3\xb6rg@ex\xc3\xa4mple.com> SMTPUTF8\r\n"


def test_encode_command_empty() -> None:
    assert encode_command("") == b"\r\n"


def test_encode_command_keeps_case_and_spaces() -> None:
    assert encode_command("  mail from:<A@B>  ") == b"  mail from:<A@B>  \r\n"


# ------------------------------------------------------------- check_data_line


@pytest.mark.parametrize("bad", ["\r", "\n", "\x00", "a\rb", "a\nb", "a\r\n", "\n.\n", "\r.\r"])
def test_data_line_rejects_cr_lf_nul(bad: str) -> None:
    with pytest.raises(CommandRejected, match="message line") as info:
        check_data_line(bad)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("good", ["", ".", "..", "Subject: hi", "\tfolded", "\x1b[1m esc ok", "ü"])
def test_data_line_allows_other_characters(good: str) -> None:
    check_data_line(good)

"""EHLO capabilities (RFC 5321 4.1.1.1) and SASL encodings (RFC 4954, 4616, 2195)."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smtpshell.protocol.auth import (
    MECHANISM_PREFERENCE,
    SUPPORTED_MECHANISMS,
    b64decode_bytes,
    b64decode_text,
    b64encode_text,
    choose_mechanism,
    cram_md5_response,
    decode_challenge,
    plain_response,
    xoauth2_response,
)
from smtpshell.protocol.ehlo import EXTENSION_HELP, Capabilities, parse_ehlo
from smtpshell.protocol.reply import Reply, ReplyParser

POSTFIX_EHLO = (
    b"250-mail.example.com\r\n"
    b"250-PIPELINING\r\n"
    b"250-SIZE 10240000\r\n"
    b"250-VRFY\r\n"
    b"250-ETRN\r\n"
    b"250-STARTTLS\r\n"
    b"250-AUTH PLAIN LOGIN\r\n"
    b"250-AUTH=PLAIN LOGIN\r\n"
    b"250-ENHANCEDSTATUSCODES\r\n"
    b"250-8BITMIME\r\n"
    b"250-DSN\r\n"
    b"250-SMTPUTF8\r\n"
    b"250 CHUNKING\r\n"
)

# aiosmtpd: the first line is the host name alone, no greeting text.
AIOSMTPD_EHLO = (
    b"250-localhost.localdomain\r\n"
    b"250-SIZE 33554432\r\n"
    b"250-8BITMIME\r\n"
    b"250-SMTPUTF8\r\n"
    b"250-STARTTLS\r\n"
    b"250-AUTH LOGIN PLAIN\r\n"
    b"250 HELP\r\n"
)


def parse_reply(data: bytes) -> Reply:
    parser = ReplyParser()
    parser.feed(data)
    reply = parser.next_reply()
    assert reply is not None
    assert parser.next_reply() is None
    return reply


# ------------------------------------------------------------------------- EHLO


def test_postfix_ehlo() -> None:
    caps = parse_ehlo(parse_reply(POSTFIX_EHLO))
    assert caps.server_name == "mail.example.com"
    assert caps.greeting_text == ""
    assert list(caps.extensions) == [
        "PIPELINING",
        "SIZE",
        "VRFY",
        "ETRN",
        "STARTTLS",
        "AUTH",
        "AUTH=",
        "ENHANCEDSTATUSCODES",
        "8BITMIME",
        "DSN",
        "SMTPUTF8",
        "CHUNKING",
    ]
    assert caps.size_limit == 10240000
    assert caps.params("SIZE") == ("10240000",)
    assert caps.has("STARTTLS")
    assert caps.has("PIPELINING")
    assert caps.params("PIPELINING") == ()
    assert not caps.has("BINARYMIME")
    assert caps.params("BINARYMIME") == ()
    assert caps.auth_mechanisms == ("PLAIN", "LOGIN")
    assert caps.params("AUTH=") == ("PLAIN", "LOGIN")


def test_aiosmtpd_ehlo() -> None:
    caps = parse_ehlo(parse_reply(AIOSMTPD_EHLO))
    assert caps.server_name == "localhost.localdomain"
    assert caps.greeting_text == ""
    assert caps.size_limit == 33554432
    assert caps.auth_mechanisms == ("LOGIN", "PLAIN")
    assert caps.has("HELP")
    assert caps.has("SMTPUTF8")
    assert not caps.has("AUTH=")
    assert choose_mechanism(caps.auth_mechanisms) == "PLAIN"


def test_first_line_greeting_text() -> None:
    reply = Reply(250, ("mx.example.org Hello client [192.0.2.1], pleased to meet you", "HELP"))
    caps = parse_ehlo(reply)
    assert caps.server_name == "mx.example.org"
    assert caps.greeting_text == "Hello client [192.0.2.1], pleased to meet you"


def test_old_auth_syntax_only() -> None:
    caps = parse_ehlo(Reply(250, ("old.example", "AUTH=LOGIN PLAIN")))
    assert caps.auth_mechanisms == ("LOGIN", "PLAIN")
    assert caps.has("AUTH=")
    assert not caps.has("AUTH")


def test_old_and_new_auth_syntax_merged_without_duplicates() -> None:
    caps = parse_ehlo(Reply(250, ("x", "AUTH PLAIN", "AUTH=LOGIN PLAIN", "AUTH CRAM-MD5")))
    assert caps.auth_mechanisms == ("PLAIN", "CRAM-MD5", "LOGIN")
    assert choose_mechanism(caps.auth_mechanisms) == "CRAM-MD5"


def test_size_with_and_without_value() -> None:
    assert parse_ehlo(Reply(250, ("x", "SIZE 52428800"))).size_limit == 52428800
    without = parse_ehlo(Reply(250, ("x", "SIZE")))
    assert without.has("SIZE")
    assert without.size_limit is None
    assert parse_ehlo(Reply(250, ("x", "SIZE 0"))).size_limit == 0
    assert parse_ehlo(Reply(250, ("x", "SIZE lots"))).size_limit is None
    assert parse_ehlo(Reply(250, ("x", "PIPELINING"))).size_limit is None


def test_keywords_are_case_insensitive() -> None:
    caps = parse_ehlo(Reply(250, ("x", "size 1000", "Pipelining", "auth plain login", "sTaRtTlS")))
    assert set(caps.extensions) == {"SIZE", "PIPELINING", "AUTH", "STARTTLS"}
    for keyword in ("size", "SIZE", "Size"):
        assert caps.has(keyword)
        assert caps.params(keyword) == ("1000",)
    assert caps.has("starttls")
    assert caps.size_limit == 1000
    # Parameters keep their case; choose_mechanism does not care.
    assert caps.auth_mechanisms == ("plain", "login")
    assert choose_mechanism(caps.auth_mechanisms) == "PLAIN"


def test_parameters_split_on_any_whitespace() -> None:
    caps = parse_ehlo(Reply(250, ("x", "AUTH  PLAIN\tLOGIN ", "  DSN")))
    assert caps.params("AUTH") == ("PLAIN", "LOGIN")
    assert caps.has("DSN")


def test_blank_extension_lines_ignored() -> None:
    caps = parse_ehlo(Reply(250, ("x", "", "   ", "DSN")))
    assert list(caps.extensions) == ["DSN"]


def test_repeated_keyword_params_accumulate() -> None:
    caps = parse_ehlo(Reply(250, ("x", "AUTH PLAIN", "AUTH LOGIN")))
    assert caps.params("AUTH") == ("PLAIN", "LOGIN")


def test_single_line_ehlo_reply() -> None:
    caps = parse_ehlo(parse_reply(b"250 tiny.example\r\n"))
    assert caps.server_name == "tiny.example"
    assert dict(caps.extensions) == {}
    assert caps.auth_mechanisms == ()
    assert caps.size_limit is None


def test_empty_reply_lines() -> None:
    caps = parse_ehlo(Reply(250, ()))
    assert caps.server_name == ""
    assert dict(caps.extensions) == {}


def test_capabilities_are_read_only() -> None:
    caps = parse_ehlo(Reply(250, ("x", "DSN")))
    with pytest.raises(TypeError):
        caps.extensions["NEW"] = ()  # type: ignore[index]
    default = Capabilities()
    assert default.server_name == ""
    assert not default.has("AUTH")
    assert default.auth_mechanisms == ()


def test_extension_help_keys_are_upper_case() -> None:
    assert all(key == key.upper() for key in EXTENSION_HELP)
    assert "AUTH" in EXTENSION_HELP
    assert "AUTH=" in EXTENSION_HELP


# -------------------------------------------------------------------- base64


def test_b64encode_text() -> None:
    assert b64encode_text("test") == "dGVzdA=="
    assert b64encode_text("") == ""
    assert b64encode_text("ü") == "w7w="
    assert "\n" not in b64encode_text("x" * 200)


@pytest.mark.parametrize(
    ("text", "raw"),
    [
        ("dGVzdA==", b"test"),
        ("dGVzdA=", b"test"),
        ("dGVzdA", b"test"),
        ("dGVzdDE", b"test1"),
        ("dGVzdDEy", b"test12"),
        ("  dGVz\r\ndA==  ", b"test"),
        ("", b""),
        ("=", b""),
        (" = ", b""),
        ("AA==", b"\x00"),
        ("+/8=", b"\xfb\xff"),
    ],
)
def test_b64decode_bytes(text: str, raw: bytes) -> None:
    assert b64decode_bytes(text) == raw


@pytest.mark.parametrize(
    "bad",
    ["dGVzd", "Username:", "dGVz!A==", "dGVz-A==", "dGVz_A==", "==", "dG=VzdA==", "a", "===="],
)
def test_b64decode_invalid(bad: str) -> None:
    with pytest.raises(ValueError, match="not valid base64"):
        b64decode_bytes(bad)


def test_b64decode_text_non_utf8_kept_visible() -> None:
    assert b64decode_text("/w==") == "\\xff"
    assert b64decode_text("w7w=") == "ü"


@settings(max_examples=300, deadline=None)
@given(st.text(st.characters(blacklist_categories=("Cs",)), max_size=50))
def test_base64_text_round_trip(text: str) -> None:
    encoded = b64encode_text(text)
    assert b64decode_text(encoded) == text
    assert b64decode_text(encoded.rstrip("=")) == text


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_b64decode_raises_only_value_error(text: str) -> None:
    with contextlib.suppress(ValueError):
        b64decode_bytes(text)


# ---------------------------------------------------------------- challenges


@pytest.mark.parametrize(
    ("text", "decoded"),
    [
        ("VXNlcm5hbWU6", "Username:"),
        ("UGFzc3dvcmQ6", "Password:"),
        (" VXNlcm5hbWU6 ", "Username:"),
        ("VXNlcm5hbWU", "Username"),  # "=" padding missing
        ("=", ""),
        ("PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+",
         "<1896.697170952@postoffice.reston.mci.net>"),
    ],
)  # fmt: skip
def test_decode_challenge(text: str, decoded: str) -> None:
    assert decode_challenge(text) == decoded


@pytest.mark.parametrize(
    "text", ["", "   ", "Username:", "2.7.0 Authentication", "ready!", "<1.2@host>"]
)
def test_decode_challenge_not_base64(text: str) -> None:
    assert decode_challenge(text) is None


@pytest.mark.parametrize("text", ["Go ahead", "Send it"])
def test_decode_challenge_plain_text_with_spaces(text: str) -> None:
    assert decode_challenge(text) is None


# --------------------------------------------------------------------- PLAIN


def test_plain_rfc_4954_example() -> None:
    # RFC 4954 4: "AUTH PLAIN dGVzdAB0ZXN0ADEyMzQ=" (authzid "test", authcid "test").
    assert plain_response("test", "1234", authzid="test") == "dGVzdAB0ZXN0ADEyMzQ="


def test_plain_ascii() -> None:
    # RFC 4616 2: [authzid] NUL authcid NUL passwd.
    assert plain_response("tim", "tanstaaftanstaaf") == "AHRpbQB0YW5zdGFhZnRhbnN0YWFm"
    assert b64decode_bytes("AHRpbQB0YW5zdGFhZnRhbnN0YWFm") == b"\x00tim\x00tanstaaftanstaaf"


def test_plain_non_ascii_is_utf8() -> None:
    response = plain_response("jörg", "pässwörd")
    assert response == "AGrDtnJnAHDDpHNzd8O2cmQ="
    assert base64.b64decode(response) == b"\x00j\xc3\xb6rg\x00p\xc3\xa4ssw\xc3\xb6rd"


def test_plain_has_no_line_breaks() -> None:
    response = plain_response("u" * 100, "p" * 100)
    assert "\n" not in response
    assert "\r" not in response
    assert base64.b64decode(response) == b"\x00" + b"u" * 100 + b"\x00" + b"p" * 100


# --------------------------------------------------------------------- LOGIN


def test_login_exchange_encodings() -> None:
    assert decode_challenge("VXNlcm5hbWU6") == "Username:"
    assert decode_challenge("UGFzc3dvcmQ6") == "Password:"
    assert b64encode_text("tim") == "dGlt"
    assert b64encode_text("tanstaaftanstaaf") == "dGFuc3RhYWZ0YW5zdGFhZg=="


# ------------------------------------------------------------------ CRAM-MD5

RFC_2195_CHALLENGE = "PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+"
RFC_2195_RESPONSE = "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw"


def test_cram_md5_rfc_2195_example() -> None:
    response = cram_md5_response("tim", "tanstaaftanstaaf", RFC_2195_CHALLENGE)
    assert response == RFC_2195_RESPONSE
    assert b64decode_text(response) == "tim b913a602c7eda7a495b4e6e7334d3890"


def test_cram_md5_challenge_with_surrounding_whitespace() -> None:
    response = cram_md5_response("tim", "tanstaaftanstaaf", f"  {RFC_2195_CHALLENGE}\r\n")
    assert response == RFC_2195_RESPONSE


def test_cram_md5_non_ascii_password() -> None:
    challenge = b64encode_text("<1.2@host>")
    digest = hmac.new("pässwörd".encode(), b"<1.2@host>", hashlib.md5).hexdigest()
    assert b64decode_text(cram_md5_response("jörg", "pässwörd", challenge)) == f"jörg {digest}"


def test_cram_md5_bad_challenge() -> None:
    with pytest.raises(ValueError):
        cram_md5_response("tim", "pw", "not base64!")


# ------------------------------------------------------------------- XOAUTH2


def test_xoauth2_format() -> None:
    response = xoauth2_response(
        "someuser@example.com", "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg"
    )
    assert base64.b64decode(response) == (
        b"user=someuser@example.com\x01auth=Bearer "
        b"ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg\x01\x01"
    )
    # Google's documented example.
    assert response == (
        "dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52"
        "YjNSbGNrQmhkSFJoZG1semRHRXVZMjl0Q2cBAQ=="
    )


# ----------------------------------------------------------- choose_mechanism


@pytest.mark.parametrize(
    ("advertised", "chosen"),
    [
        (("PLAIN", "LOGIN", "CRAM-MD5"), "CRAM-MD5"),
        (("LOGIN", "PLAIN"), "PLAIN"),
        (("LOGIN",), "LOGIN"),
        (("login", "plain"), "PLAIN"),
        (("cram-md5",), "CRAM-MD5"),
        (("XOAUTH2",), None),
        (("XOAUTH2", "LOGIN"), "LOGIN"),
        (("GSSAPI", "NTLM", "SCRAM-SHA-256"), None),
        ((), None),
    ],
)
def test_choose_mechanism(advertised: tuple[str, ...], chosen: str | None) -> None:
    assert choose_mechanism(advertised) == chosen


def test_mechanism_constants() -> None:
    assert MECHANISM_PREFERENCE[0] == "CRAM-MD5"
    assert "XOAUTH2" not in MECHANISM_PREFERENCE
    assert set(MECHANISM_PREFERENCE) <= set(SUPPORTED_MECHANISMS)
    assert "XOAUTH2" in SUPPORTED_MECHANISMS

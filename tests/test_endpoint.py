"""HOST[:PORT] parsing with IPv6 literals, and default ports per TLS mode."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smtpshell.errors import SmtpShellError, UsageError
from smtpshell.protocol.endpoint import Endpoint, TlsMode, parse_endpoint


@pytest.mark.parametrize(
    ("text", "host", "port"),
    [
        ("mail.example.com", "mail.example.com", 25),
        ("mail.example.com:2525", "mail.example.com", 2525),
        ("localhost:587", "localhost", 587),
        ("192.0.2.1", "192.0.2.1", 25),
        ("192.0.2.1:465", "192.0.2.1", 465),
        ("[::1]", "::1", 25),
        ("[::1]:2525", "::1", 2525),
        ("[2001:db8::25]:587", "2001:db8::25", 587),
        ("[fe80::1%eth0]:25", "fe80::1%eth0", 25),
        ("::1", "::1", 25),
        ("2001:db8::1", "2001:db8::1", 25),
        ("::ffff:192.0.2.1", "::ffff:192.0.2.1", 25),
        ("  host:26  ", "host", 26),
        ("host:1", "host", 1),
        ("host:65535", "host", 65535),
        ("host:0025", "host", 25),
        ("[host.example]:99", "host.example", 99),
    ],
)
def test_parse_endpoint(text: str, host: str, port: int) -> None:
    assert parse_endpoint(text, 25) == Endpoint(host, port)


def test_default_port_is_used_only_without_port() -> None:
    assert parse_endpoint("host", 465) == Endpoint("host", 465)
    assert parse_endpoint("[::1]", 587) == Endpoint("::1", 587)
    assert parse_endpoint("::1", 587) == Endpoint("::1", 587)
    assert parse_endpoint("host:25", 465) == Endpoint("host", 25)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("host:abc", "bad port"),
        ("host:", "bad port"),
        ("host:0", "bad port"),
        ("host:65536", "bad port"),
        ("host:99999", "bad port"),
        ("host:-25", "bad port"),
        ("host:+25", "bad port"),
        ("host: 25", "bad port"),
        ("host:2 5", "bad port"),
        ("host:25.0", "bad port"),
        ("[::1]:", "bad port"),
        ("[::1]:x", "bad port"),
        ("[::1]:0", "bad port"),
        ("[::1]:70000", "bad port"),
        ("[::1", "unclosed"),
        ("[", "unclosed"),
        ("[]", "unclosed"),
        ("[]:25", "unclosed"),
        ("[::1]2525", "expected ':PORT'"),
        ("[::1]x", "expected ':PORT'"),
        (":25", "no host"),
        (":", "no host"),
    ],
)
def test_bad_endpoints(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message.replace("[", r"\[")) as info:
        parse_endpoint(text, 25)
    assert isinstance(info.value, SmtpShellError)
    assert "\n" not in str(info.value)


def test_superscript_digit_port_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        parse_endpoint("host:\u00b2", 25)


def test_non_ascii_digit_port_rejected() -> None:
    with pytest.raises(UsageError):
        parse_endpoint("host:\uff12\uff15", 25)


def test_default_ports_per_tls_mode() -> None:
    assert TlsMode.PLAIN.default_port == 25
    assert TlsMode.STARTTLS.default_port == 25
    assert TlsMode.IMPLICIT.default_port == 465
    assert parse_endpoint("host", TlsMode.IMPLICIT.default_port).port == 465
    assert parse_endpoint("host", TlsMode.STARTTLS.default_port).port == 25


def test_tls_mode_values() -> None:
    assert TlsMode("plain") is TlsMode.PLAIN
    assert TlsMode("starttls") is TlsMode.STARTTLS
    assert TlsMode("implicit") is TlsMode.IMPLICIT


@pytest.mark.parametrize(
    ("endpoint", "text"),
    [
        (Endpoint("mail.example.com", 25), "mail.example.com:25"),
        (Endpoint("192.0.2.1", 465), "192.0.2.1:465"),
        (Endpoint("::1", 2525), "[::1]:2525"),
        (Endpoint("2001:db8::1", 25), "[2001:db8::1]:25"),
    ],
)
def test_endpoint_str_round_trips(endpoint: Endpoint, text: str) -> None:
    assert str(endpoint) == text
    assert parse_endpoint(str(endpoint), 1) == endpoint


def test_endpoint_is_frozen() -> None:
    endpoint = Endpoint("h", 25)
    with pytest.raises(AttributeError):
        endpoint.port = 26  # type: ignore[misc]


_host = st.one_of(
    st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?(\.[a-z]{2,6}){0,2}", fullmatch=True),
    st.ip_addresses().map(str),
)


@settings(max_examples=300, deadline=None)
@given(_host, st.integers(1, 65535))
def test_str_round_trip_property(host: str, port: int) -> None:
    endpoint = Endpoint(host, port)
    assert parse_endpoint(str(endpoint), 25) == endpoint


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=30), st.integers(1, 65535))
def test_any_text_gives_endpoint_or_usage_error(text: str, default: int) -> None:
    try:
        endpoint = parse_endpoint(text, default)
    except UsageError:
        return
    assert endpoint.host
    assert 0 < endpoint.port < 65536


@pytest.mark.parametrize(
    "text",
    ["ho\udcffst:25", "ho\u202est", "[::1\x1b]:25", "mail\x00.example", "a b:25", "h\u2028:25"],
    ids=["undecodable byte", "bidi override", "ESC in brackets", "NUL", "space", "LS"],
)
def test_hosts_no_resolver_can_take_are_usage_errors(text: str) -> None:
    """argv holds undecodable bytes as surrogates (PEP 383); the resolver raises
    UnicodeEncodeError on them, so they are refused up front, without echoing them."""
    with pytest.raises(UsageError) as info:
        parse_endpoint(text, 25)
    assert "not UTF-8" in str(info.value)
    assert str(info.value).isprintable()

"""The helper tables rendered to a recording console: what a user reads."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from types import MappingProxyType

import pytest
from rich.console import Console, RenderableType
from rich.theme import Theme

from smtpshell.core.dns import MxHost, MxResult
from smtpshell.core.tls import CertificateInfo, TlsInfo
from smtpshell.protocol.ehlo import Capabilities, parse_ehlo
from smtpshell.protocol.reply import Reply
from smtpshell.render.tables import (
    capabilities_renderable,
    format_size,
    format_ttl,
    help_entry,
    help_table,
    mx_renderable,
    tls_table,
)
from smtpshell.render.theme import STYLES


def rendered(renderable: RenderableType) -> str:
    console = Console(record=True, width=120, theme=Theme(STYLES), color_system=None)
    console.print(renderable)
    return "\n".join(line.rstrip() for line in console.export_text().splitlines())


def rows(text: str) -> list[list[str]]:
    """Table lines split into columns (two or more spaces apart)."""
    import re

    return [re.split(r"\s{2,}", line.strip()) for line in text.splitlines()]


SEED = MxResult(
    "163.com",
    (
        MxHost(10, "163mx01.mxmail.netease.com", ("220.181.14.135",), (), 18000),
        MxHost(10, "163mx02.mxmail.netease.com", ("220.181.14.144",), (), 18000),
        MxHost(50, "163mx00.mxmail.netease.com", ("123.125.50.139",), ("2001:db8::25",), 18000),
    ),
    nameserver="127.0.0.1:5353",
)


def test_mx_table_has_the_seed_columns_in_preference_order() -> None:
    text = rendered(mx_renderable(SEED))
    assert rows(text) == [
        ["MX records for 163.com (answered by 127.0.0.1:5353)"],
        ["Pref", "Host name", "IPv4", "IPv6", "TTL"],
        ["10", "163mx01.mxmail.netease.com", "220.181.14.135", "-", "18000 (5 h)"],
        ["10", "163mx02.mxmail.netease.com", "220.181.14.144", "-", "18000 (5 h)"],
        ["50", "163mx00.mxmail.netease.com", "123.125.50.139", "2001:db8::25", "18000 (5 h)"],
    ]


def test_mx_table_sorts_even_an_unsorted_result_and_lists_every_address() -> None:
    result = MxResult(
        "x.test",
        (
            MxHost(20, "b.x.test", ("192.0.2.2", "192.0.2.3"), ("::2",), 60),
            MxHost(5, "a.x.test", (), (), 60),
        ),
    )
    lines = rows(rendered(mx_renderable(result)))
    assert lines[0] == ["MX records for x.test"]
    assert lines[2] == ["5", "a.x.test", "(no address)", "-", "60 (1 min)"]
    assert lines[3] == ["20", "b.x.test", "192.0.2.2", "::2", "60 (1 min)"]
    assert lines[4] == ["192.0.2.3"]  # the second address on its own line


def test_implicit_mx_says_so() -> None:
    result = MxResult(
        "aonly.test", (MxHost(0, "aonly.test", ("192.0.2.1",), (), 600),), implicit=True
    )
    text = rendered(mx_renderable(result))
    assert "no MX records: aonly.test's own address is its implicit MX (RFC 5321 5.1)" in text
    assert rows(text)[-1] == ["0", "aonly.test", "192.0.2.1", "-", "600 (10 min)"]


def test_null_mx_says_no_mail_and_shows_no_table() -> None:
    text = rendered(mx_renderable(MxResult("nullmx.test", (), null_mx=True)))
    assert text.strip() == "nullmx.test accepts no mail: null MX '0 .' (RFC 7505)"


def test_server_supplied_text_cannot_reach_the_terminal_raw() -> None:
    result = MxResult("x.test", (MxHost(1, "evil\x1b[2J[bold]x", ("192.0.2.1",), (), 1),))
    text = rendered(mx_renderable(result))
    assert "\x1b" not in text
    assert "evil\\x1b[2J[bold]x" in text  # escaped, and no markup interpreted


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (0, "0"),
        (1, "1 (1 s)"),
        (300, "300 (5 min)"),
        (3600, "3600 (1 h)"),
        (5400, "5400 (1 h 30 min)"),
        (18000, "18000 (5 h)"),
        (90061, "90061 (1 d 1 h)"),
    ],
)
def test_format_ttl(seconds: int, shown: str) -> None:
    assert format_ttl(seconds) == shown


@pytest.mark.parametrize(
    ("octets", "shown"),
    [
        (0, "0 (no fixed limit)"),
        (512, "512 bytes"),
        (1024, "1024 (1 KiB)"),
        (10240000, "10240000 (9.8 MiB)"),
        (52428800, "52428800 (50 MiB)"),
        (3 << 30, "3221225472 (3 GiB)"),
    ],
)
def test_format_size(octets: int, shown: str) -> None:
    assert format_size(octets) == shown


EHLO = Reply(
    250,
    (
        "mx.example.test greets you",
        "SIZE 52428800",
        "PIPELINING",
        "AUTH PLAIN LOGIN CRAM-MD5",
        "AUTH=LOGIN",
        "STARTTLS",
        "8BITMIME",
        "SMTPUTF8",
        "CHUNKING",
        "DSN",
        "ENHANCEDSTATUSCODES",
        "X-WIDGETS blue green",
    ),
)


def test_capabilities_table_explains_each_extension_in_order() -> None:
    text = rendered(capabilities_renderable(parse_ehlo(EHLO)))
    assert rows(text) == [
        ["EHLO reply from mx.example.test: greets you"],
        ["Extension", "Parameters", "Meaning"],
        ["SIZE", "52428800 (50 MiB)", "maximum message size (RFC 1870)"],
        ["PIPELINING", "commands may be sent in batches (RFC 2920)"],
        ["AUTH", "PLAIN LOGIN CRAM-MD5", "SASL authentication (RFC 4954)"],
        ["AUTH=", "LOGIN", "SASL authentication, pre-standard syntax"],
        ["STARTTLS", "upgrade to TLS (RFC 3207)"],
        ["8BITMIME", "8-bit message bodies (RFC 6152)"],
        ["SMTPUTF8", "UTF-8 addresses and headers (RFC 6531)"],
        ["CHUNKING", "BDAT instead of DATA (RFC 3030)"],
        ["DSN", "delivery status notifications (RFC 3461)"],
        ["ENHANCEDSTATUSCODES", "x.y.z status codes in replies (RFC 2034)"],
        ["X-WIDGETS", "blue green", "(unknown extension)"],
    ]


@pytest.mark.parametrize(
    ("line", "shown"),
    [("SIZE", "(no limit given)"), ("SIZE 0", "0 (no fixed limit)"), ("SIZE big", "big")],
)
def test_size_without_a_usable_number(line: str, shown: str) -> None:
    text = rendered(capabilities_renderable(parse_ehlo(Reply(250, ("x", line)))))
    assert rows(text)[2] == ["SIZE", shown, "maximum message size (RFC 1870)"]


def test_auth_missing_before_tls_gets_a_hint_and_none_after() -> None:
    caps = parse_ehlo(Reply(250, ("x", "STARTTLS")))
    assert "no AUTH before TLS: type STARTTLS, then EHLO again" in rendered(
        capabilities_renderable(caps)
    )
    assert "no AUTH before TLS" not in rendered(capabilities_renderable(caps, tls=True))


def test_ehlo_without_extensions() -> None:
    caps = Capabilities("plain.test", "", MappingProxyType({}))
    text = rendered(capabilities_renderable(caps))
    assert "EHLO reply from plain.test\nno extensions advertised" in text


CERTIFICATE = CertificateInfo(
    subject="CN=mail.example.test",
    issuer="CN=Example CA,O=Example",
    alt_names=("DNS:mail.example.test", "IP:192.0.2.25"),
    not_before=datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC),
    not_after=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    sha256="AB:CD",
)


def test_tls_table_lists_the_session_then_the_certificate() -> None:
    info = TlsInfo("TLSv1.3", "TLS_AES_256_GCM_SHA384", 256, True, CERTIFICATE)
    assert rows(rendered(tls_table(info))) == [
        ["version", "TLSv1.3"],
        ["cipher", "TLS_AES_256_GCM_SHA384 (256 bits)"],
        ["verified", "yes"],
        ["subject", "CN=mail.example.test"],
        ["alt names", "DNS:mail.example.test, IP:192.0.2.25"],
        ["issuer", "CN=Example CA,O=Example"],
        ["valid from", "2025-01-02 03:04:05 UTC"],
        ["valid until", "2026-01-02 03:04:05 UTC"],
        ["SHA-256", "AB:CD"],
    ]


def test_tls_table_without_verification_or_certificate() -> None:
    info = TlsInfo("TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256", 128, False, None)
    assert rows(rendered(tls_table(info))) == [
        ["version", "TLSv1.2"],
        ["cipher", "ECDHE-RSA-AES128-GCM-SHA256 (128 bits)"],
        ["verified", "NO (--insecure)"],
    ]


def test_help_table_and_entry() -> None:
    table = help_table([("? [COMMAND]", "List local commands."), ("tls", "Show TLS.")])
    assert rows(rendered(table)) == [["? [COMMAND]", "List local commands."], ["tls", "Show TLS."]]
    assert rendered(help_entry("mx DOMAIN", "Look up MX.")) == "mx DOMAIN\nLook up MX."


def test_certificate_text_cannot_reach_the_terminal_raw() -> None:
    # Names in a certificate are the server's to choose, escape sequences included.
    cert = replace(
        CERTIFICATE,
        subject="CN=evil\x1b[2J[bold]x",
        issuer="CN=\x1b]52;c;ZXZpbA==\x07",
        alt_names=("DNS:a\x1b[2Jb",),
    )
    text = rendered(tls_table(TlsInfo("TLSv1.3", "X", 256, True, cert)))
    assert "\x1b" not in text and "\x07" not in text
    assert "CN=evil\\x1b[2J[bold]x" in text  # escaped, and no markup interpreted
    assert "CN=\\x1b]52;c;ZXZpbA==\\x07" in text
    assert "DNS:a\\x1b[2Jb" in text


def test_a_long_usage_wraps_between_words() -> None:
    """`connect --help` in a narrow terminal: the terminal itself would cut the usage
    line mid-word (`[-` / `-timeout`); it is wrapped between words instead."""
    import io

    from rich.console import Console

    from smtpshell.render.tables import help_entry

    usage = "connect HOST[:PORT] | --mx DOMAIN [--tls|--starttls] [--helo NAME] [--timeout SECONDS]"
    out = io.StringIO()
    Console(file=out, width=40, soft_wrap=True).print(help_entry(usage, "Connect to a server."))
    lines = out.getvalue().splitlines()
    assert all(len(line) <= 40 and line == line.rstrip() for line in lines), lines
    words = " ".join(lines).split()
    assert words == [*usage.split(), *["Connect", "to", "a", "server."]], lines

"""The DNS layer against a real authoritative server on loopback (tests/dns_responder.py)."""

from __future__ import annotations

import asyncio
import random
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dns_responder import TEST_ZONE, DnsResponder, Records
from hypothesis import given
from hypothesis import strategies as st

from smtpshell.core.dns import (
    NAMESERVER_ENV,
    DnsError,
    DnsTimeoutError,
    InvalidDomainError,
    MxHost,
    MxResult,
    NoSuchDomainError,
    ResolverConfig,
    delivery_order,
    format_nameserver,
    lookup_mx,
    parse_nameserver,
    resolve_addresses,
)


@pytest.fixture(scope="module")
def responder() -> Iterator[DnsResponder]:
    with DnsResponder() as server:
        yield server
    assert not server.errors


@pytest.fixture(scope="module")
def config(responder: DnsResponder) -> ResolverConfig:
    return ResolverConfig(responder.nameserver, timeout=3.0)


def lookup_in(records: Records, domain: str, **faults: Any) -> MxResult:
    """lookup_mx of `domain` against a responder serving just `records`."""
    with DnsResponder(records, **faults) as server:
        result = asyncio.run(lookup_mx(domain, ResolverConfig(server.nameserver, timeout=3.0)))
    assert not server.errors
    return result


# -- MX lookup ------------------------------------------------------------------------------


def test_mx_hosts_sorted_by_preference_with_addresses_and_ttl(
    responder: DnsResponder, config: ResolverConfig
) -> None:
    result = asyncio.run(lookup_mx("mx.test", config))
    assert result == MxResult(
        domain="mx.test",
        hosts=(
            MxHost(5, "dead.mx.test", ("127.0.0.9",), (), 3600),
            MxHost(10, "mx1.mx.test", ("127.0.0.1",), ("::1",), 3600),
            MxHost(10, "mx2.mx.test", ("127.0.0.1",), (), 3600),
            MxHost(20, "backup.mx.test", ("127.0.0.1",), ("::1",), 3600),
        ),
        nameserver=responder.nameserver,
    )


def test_trailing_dot_and_upper_case_are_the_same_domain(config: ResolverConfig) -> None:
    plain = asyncio.run(lookup_mx("mx.test", config))
    assert asyncio.run(lookup_mx("  MX.Test.  ", config)) == plain


def test_domain_behind_cname(config: ResolverConfig) -> None:
    result = asyncio.run(lookup_mx("alias.test", config))
    assert result.domain == "alias.test"
    assert [h.name for h in result.hosts] == [
        h.name for h in asyncio.run(lookup_mx("mx.test", config)).hosts
    ]


def test_mx_host_behind_cname_gets_its_target_addresses() -> None:
    zone: Records = {
        ("c.test", "MX"): [(60, "10 mail.c.test.")],
        ("mail.c.test", "CNAME"): [(60, "real.c.test.")],
        ("real.c.test", "A"): [(60, "192.0.2.1")],
    }
    (host,) = lookup_in(zone, "c.test").hosts
    assert (host.name, host.ipv4, host.ipv6) == ("mail.c.test", ("192.0.2.1",), ())


def test_mx_hosts_without_addresses_are_still_listed() -> None:
    zone: Records = {
        ("d.test", "MX"): [
            (60, "10 gone.d.test."),
            (60, "20 txtonly.d.test."),
            (60, "30 ok.d.test."),
        ],
        ("txtonly.d.test", "TXT"): [(60, '"no address here"')],
        ("ok.d.test", "AAAA"): [(60, "2001:db8::25")],
        ("broken.d.test", "A"): [(60, "192.0.2.9")],
    }
    result = lookup_in(zone, "d.test")
    assert [(h.name, h.ipv4, h.ipv6) for h in result.hosts] == [
        ("gone.d.test", (), ()),
        ("txtonly.d.test", (), ()),
        ("ok.d.test", (), ("2001:db8::25",)),
    ]


def test_mx_host_whose_server_fails_is_listed_without_addresses() -> None:
    zone: Records = {("e.test", "MX"): [(60, "10 broken.e.test.")]}
    faults = {("broken.e.test", "A"): "SERVFAIL", ("broken.e.test", "AAAA"): "SERVFAIL"}
    (host,) = lookup_in(zone, "e.test", faults=faults).hosts
    assert (host.name, host.ipv4, host.ipv6) == ("broken.e.test", (), ())


def test_many_addresses_come_over_tcp_after_truncation() -> None:
    # 60 A records do not fit in 512 bytes: the UDP reply is truncated (TC) and
    # dnspython asks again over TCP, on the same port.
    addresses = [f"192.0.2.{i}" for i in range(1, 61)]
    zone: Records = {
        ("big.test", "MX"): [(60, "10 many.big.test.")],
        ("many.big.test", "A"): [(60, a) for a in addresses],
    }
    with DnsResponder(zone) as server:
        result = asyncio.run(lookup_mx("big.test", ResolverConfig(server.nameserver, timeout=3.0)))
    assert sorted(result.hosts[0].ipv4) == sorted(addresses)
    assert ("tcp", "many.big.test.", "A") in server.queries


def test_idna_domain(config: ResolverConfig) -> None:
    zone: Records = {
        ("xn--bcher-kva.example", "MX"): [(60, "10 mx.xn--bcher-kva.example.")],
        ("mx.xn--bcher-kva.example", "A"): [(60, "192.0.2.25")],
    }
    with DnsResponder(zone) as server:
        idn = ResolverConfig(server.nameserver, timeout=3.0)
        result = asyncio.run(lookup_mx("bücher.example", idn))
        assert asyncio.run(lookup_mx("BÜCHER.example.", idn)).hosts == result.hosts
        assert asyncio.run(lookup_mx("xn--bcher-kva.example", idn)).hosts == result.hosts
    assert result.domain == "bücher.example"
    assert result.hosts == (MxHost(10, "mx.xn--bcher-kva.example", ("192.0.2.25",), (), 60),)


# -- implicit MX, null MX -------------------------------------------------------------------


def test_domain_without_mx_is_its_own_implicit_mx(
    responder: DnsResponder, config: ResolverConfig
) -> None:
    # RFC 5321 5.1: preference 0, the domain itself, its A/AAAA TTL.
    result = asyncio.run(lookup_mx("aonly.test", config))
    assert result == MxResult(
        "aonly.test",
        (MxHost(0, "aonly.test", ("127.0.0.1",), (), 600),),
        implicit=True,
        nameserver=responder.nameserver,
    )
    assert delivery_order(result) == list(result.hosts)


def test_implicit_mx_ttl_is_the_smaller_of_a_and_aaaa() -> None:
    zone: Records = {
        ("both.test", "A"): [(900, "192.0.2.1")],
        ("both.test", "AAAA"): [(120, "::1")],
    }
    result = lookup_in(zone, "both.test")
    assert result.implicit
    assert result.hosts == (MxHost(0, "both.test", ("192.0.2.1",), ("::1",), 120),)


def test_null_mx_accepts_no_mail(responder: DnsResponder, config: ResolverConfig) -> None:
    result = asyncio.run(lookup_mx("nullmx.test", config))
    assert result == MxResult("nullmx.test", (), null_mx=True, nameserver=responder.nameserver)
    assert delivery_order(result) == []


def test_root_target_among_real_mx_is_not_null_mx() -> None:
    # RFC 7505 3 forbids mixing; the real hosts still deserve to be shown.
    zone: Records = {
        ("mixed.test", "MX"): [(60, "0 ."), (60, "10 mx.mixed.test.")],
        ("mx.mixed.test", "A"): [(60, "192.0.2.2")],
    }
    result = lookup_in(zone, "mixed.test")
    assert not result.null_mx
    assert [h.name for h in result.hosts] == ["mx.mixed.test"]


# -- errors ---------------------------------------------------------------------------------


def test_nxdomain(config: ResolverConfig) -> None:
    with pytest.raises(NoSuchDomainError) as caught:
        asyncio.run(lookup_mx("NoSuch.test.", config))
    assert str(caught.value) == "nosuch.test: no such domain (NXDOMAIN)"
    assert caught.value.message == str(caught.value)


def test_nxdomain_of_an_idn_names_it_as_typed(config: ResolverConfig) -> None:
    with pytest.raises(NoSuchDomainError, match=r"^bücher\.test: no such domain \(NXDOMAIN\)$"):
        asyncio.run(lookup_mx("Bücher.test", config))


def test_no_mx_and_no_address(config: ResolverConfig) -> None:
    with pytest.raises(DnsError) as caught:
        asyncio.run(lookup_mx("nomail.test", config))
    assert str(caught.value) == "nomail.test: no MX and no A/AAAA records"


def test_empty_non_terminal_is_nodata_not_nxdomain(config: ResolverConfig) -> None:
    # "test" only has descendants (and SOA/NS): it exists (RFC 8020).
    with pytest.raises(DnsError, match=r"^test: no MX and no A/AAAA records$"):
        asyncio.run(lookup_mx("test", config))


def test_server_failure(config: ResolverConfig) -> None:
    server = DnsResponder(TEST_ZONE, faults={("mx.test", "MX"): "SERVFAIL"})
    with server, pytest.raises(DnsError) as caught:
        asyncio.run(lookup_mx("mx.test", ResolverConfig(server.nameserver, timeout=3.0)))
    assert str(caught.value) == f"mx.test: server failure (SERVFAIL) from {server.nameserver}"


@pytest.mark.parametrize("domain", ["", "   ", ".", "a..b", "x" * 64 + ".test", "two words.test"])
def test_invalid_domain(domain: str, config: ResolverConfig) -> None:
    with pytest.raises(InvalidDomainError) as caught:
        asyncio.run(lookup_mx(domain, config))
    assert isinstance(caught.value, ValueError)
    assert "\n" not in str(caught.value)
    assert "domain" in str(caught.value)


def test_time_out_against_a_black_hole_is_bounded() -> None:
    with DnsResponder(black_hole=True) as hole:
        started = time.monotonic()
        with pytest.raises(DnsTimeoutError) as caught:
            asyncio.run(lookup_mx("mx.test", ResolverConfig(hole.nameserver, timeout=0.5)))
        elapsed = time.monotonic() - started
    assert elapsed < 2
    assert isinstance(caught.value, TimeoutError)
    assert str(caught.value) == f"mx.test: DNS timed out after 0.5 s asking {hole.nameserver}"


def test_time_out_bounds_the_whole_lookup_not_each_query() -> None:
    # The MX answer comes at once; the address queries get only what is left.
    faults = {("mx1.mx.test", "A"): "drop", ("mx1.mx.test", "AAAA"): "drop"}
    with DnsResponder(TEST_ZONE, faults=faults) as server:
        started = time.monotonic()
        with pytest.raises(DnsTimeoutError, match=r"^mx\.test: DNS timed out after 0\.8 s"):
            asyncio.run(lookup_mx("mx.test", ResolverConfig(server.nameserver, timeout=0.8)))
        assert time.monotonic() - started < 1.6


def test_lookup_through_a_port_where_nothing_listens_times_out() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        free_port = probe.getsockname()[1]
    with pytest.raises(DnsError, match=r"^mx\.test: "):
        asyncio.run(lookup_mx("mx.test", ResolverConfig(f"127.0.0.1:{free_port}", timeout=0.5)))


# -- delivery order -------------------------------------------------------------------------


def test_delivery_order_shuffles_only_among_equal_preferences(config: ResolverConfig) -> None:
    result = asyncio.run(lookup_mx("mx.test", config))
    middles = set()
    for seed in range(40):
        order = delivery_order(result, random.Random(seed))
        assert [h.preference for h in order] == [5, 10, 10, 20]
        assert (order[0].name, order[-1].name) == ("dead.mx.test", "backup.mx.test")
        middles.add(tuple(h.name for h in order[1:3]))
        assert order == delivery_order(result, random.Random(seed))  # seeded: repeatable
    assert middles == {("mx1.mx.test", "mx2.mx.test"), ("mx2.mx.test", "mx1.mx.test")}


def test_delivery_order_does_not_reorder_the_result(config: ResolverConfig) -> None:
    result = asyncio.run(lookup_mx("mx.test", config))
    before = result.hosts
    delivery_order(result)
    assert result.hosts == before


# -- resolve_addresses ----------------------------------------------------------------------


def test_resolve_addresses(config: ResolverConfig) -> None:
    assert asyncio.run(resolve_addresses("mx1.mx.test", config)) == (("127.0.0.1",), ("::1",))
    assert asyncio.run(resolve_addresses("aonly.test.", config)) == (("127.0.0.1",), ())


def test_resolve_addresses_of_ip_literals_needs_no_dns() -> None:
    nowhere = ResolverConfig("127.0.0.1:9", timeout=0.1)
    assert asyncio.run(resolve_addresses("192.0.2.7", nowhere)) == (("192.0.2.7",), ())
    assert asyncio.run(resolve_addresses("[2001:db8::1]", nowhere)) == ((), ("2001:db8::1",))


def test_resolve_addresses_errors(config: ResolverConfig) -> None:
    with pytest.raises(NoSuchDomainError, match=r"^gone\.test: no such domain \(NXDOMAIN\)$"):
        asyncio.run(resolve_addresses("gone.test", config))
    with pytest.raises(DnsError, match=r"^nomail\.test: no A/AAAA records$"):
        asyncio.run(resolve_addresses("nomail.test", config))


# -- choosing the resolver ------------------------------------------------------------------


def test_nameserver_from_environment_and_explicit_precedence() -> None:
    one: Records = {("who.test", "A"): [(60, "192.0.2.1")]}
    two: Records = {("who.test", "A"): [(60, "192.0.2.2")]}
    with DnsResponder(one) as first, DnsResponder(two) as second:
        env = {NAMESERVER_ENV: first.nameserver}
        from_env = ResolverConfig.from_env(environ=env)
        explicit = ResolverConfig.from_env(second.nameserver, environ=env)
        assert from_env.nameserver == first.nameserver
        assert explicit.nameserver == second.nameserver
        assert asyncio.run(resolve_addresses("who.test", from_env))[0] == ("192.0.2.1",)
        assert asyncio.run(resolve_addresses("who.test", explicit))[0] == ("192.0.2.2",)


def test_from_env_reads_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(NAMESERVER_ENV, "[::1]:5353")
    assert ResolverConfig.from_env(timeout=2.0) == ResolverConfig("[::1]:5353", 2.0)
    monkeypatch.setenv(NAMESERVER_ENV, "  ")
    assert ResolverConfig.from_env().nameserver is None  # blank: the system resolver
    monkeypatch.delenv(NAMESERVER_ENV)
    assert ResolverConfig.from_env().nameserver is None


def test_garbage_in_the_environment_names_the_variable() -> None:
    with pytest.raises(ValueError, match=rf"^{NAMESERVER_ENV}: 'nope:dns'"):
        ResolverConfig.from_env(environ={NAMESERVER_ENV: "nope:dns"})


@pytest.mark.parametrize("timeout", [0, -1.0, float("inf"), float("nan")])
def test_timeout_must_be_positive(timeout: float) -> None:
    with pytest.raises(ValueError, match="timeout"):
        ResolverConfig(timeout=timeout)


def test_ipv6_nameserver() -> None:
    try:
        server = DnsResponder(host="::1").start()
    except OSError:
        pytest.skip("no IPv6 loopback")
    with server:
        assert server.nameserver.startswith("[::1]:")
        result = asyncio.run(
            lookup_mx("aonly.test", ResolverConfig(server.nameserver, timeout=3.0))
        )
    assert result.hosts[0].ipv4 == ("127.0.0.1",)
    assert result.nameserver == server.nameserver


def test_nameserver_given_by_host_name() -> None:
    # Bind where the system resolves "localhost" first, as the lookup will.
    first = socket.getaddrinfo("localhost", 53, type=socket.SOCK_DGRAM)[0][4][0]
    with DnsResponder(host=str(first)) as server:
        config = ResolverConfig(f"localhost:{server.address[1]}", timeout=3.0)
        assert asyncio.run(lookup_mx("aonly.test", config)).implicit


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1", ("127.0.0.1", 53)),
        (" 127.0.0.1:5353 ", ("127.0.0.1", 5353)),
        ("[::1]:5353", ("::1", 5353)),
        ("[::1]", ("::1", 53)),
        ("::1", ("::1", 53)),
        ("2001:DB8::0001", ("2001:db8::1", 53)),
        ("::1:5353", ("::1:5353", 53)),  # a bare IPv6 address cannot carry a port
        ("ns1.Example.net", ("ns1.example.net", 53)),
        ("localhost:53", ("localhost", 53)),
        ("dns.example:65535", ("dns.example", 65535)),
    ],
)
def test_parse_nameserver(text: str, expected: tuple[str, int]) -> None:
    assert parse_nameserver(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "  ",
        ":53",
        "127.0.0.1:",
        "127.0.0.1:0",
        "127.0.0.1:65536",
        "127.0.0.1:dns",
        "127.0.0.1:５３",  # full-width digits: str.isdigit() says yes, we say no
        "[::1",
        "[::1]5353",
        "[127.0.0.1]:53",
        "[nonsense]:53",
        ":::1",
        "1.2.3",
        "256.1.1.1",
        "bad host",
        "-bad.example",
        "http://127.0.0.1",
    ],
)
def test_parse_nameserver_rejects_garbage(text: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_nameserver(text)
    assert "\n" not in str(caught.value)


def test_config_rejects_a_bad_nameserver_early() -> None:
    with pytest.raises(ValueError, match="port"):
        ResolverConfig("127.0.0.1:99999")


addresses = st.one_of(st.ip_addresses(v=4), st.ip_addresses(v=6)).map(str)


@given(addresses, st.integers(1, 65535))
def test_format_and_parse_nameserver_round_trip(host: str, port: int) -> None:
    assert parse_nameserver(format_nameserver(host, port)) == (host, port)


# -- the responder itself -------------------------------------------------------------------


def test_responder_runs_as_a_script_with_a_zone_file(tmp_path: Path) -> None:
    zone_file = tmp_path / "script.test.zone"
    zone_file.write_text(
        "$ORIGIN script.test.\n$TTL 120\n"
        "@ IN SOA ns hostmaster 1 3600 600 86400 60\n"
        "@ IN MX 10 mail\nmail IN A 192.0.2.42\n"
    )
    script = Path(__file__).with_name("dns_responder.py")
    command = [sys.executable, str(script), "--port", "0", "--zone", str(zone_file)]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            banner = process.stdout.readline()  # "serving on 127.0.0.1:PORT ..."
            nameserver = banner.split()[2]
            result = asyncio.run(lookup_mx("script.test", ResolverConfig(nameserver, timeout=3.0)))
        finally:
            process.terminate()
    assert result.hosts == (MxHost(10, "mail.script.test", ("192.0.2.42",), (), 120),)


def test_responder_survives_garbage(responder: DnsResponder, config: ResolverConfig) -> None:
    host, port = responder.address
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        for junk in (b"", b"\x00", b"\xff" * 12, b"\x12\x34" + b"\x00" * 10 + b"\xc0\x0c" * 40):
            udp.sendto(junk, (host, port))
    with socket.create_connection((host, port), timeout=2) as tcp:
        tcp.sendall(struct.pack("!H", 5) + b"hello" + struct.pack("!H", 300) + b"short")
    assert asyncio.run(lookup_mx("aonly.test", config)).implicit


def test_responder_serves_several_queries_on_one_tcp_connection(responder: DnsResponder) -> None:
    import dns.message
    import dns.query

    host, port = responder.address
    with socket.create_connection((host, port), timeout=2) as tcp:
        for name in ("mx.test", "nullmx.test"):
            dns.query.send_tcp(tcp, dns.message.make_query(name, "MX"), time.time() + 2)
            reply, _ = dns.query.receive_tcp(tcp, time.time() + 2)
            assert reply.answer[0].name.to_text() == f"{name}."

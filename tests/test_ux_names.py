"""Names and time-outs: ``--nameserver`` (and ``SMTPSHELL_NAMESERVER``) answer every
lookup, the address of ``--connect HOST`` and ``connect HOST`` included; ``--timeout``
bounds DNS too; a resolver port where nothing listens is said to refuse, at once."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_runner import run_cli
from dns_responder import DnsResponder
from hostile_server import HostileServer, Peer, TestCA

from smtpshell.server import BackgroundServer

ZONE = {
    ("test", "SOA"): [(3600, "ns.test. hostmaster.test. 1 3600 600 86400 300")],
    ("mail.names.test", "A"): [(300, "127.0.0.1")],
    # Nothing listens on 127.0.0.9: the IPv6 address is the one that answers.
    ("two.names.test", "A"): [(300, "127.0.0.9")],
    ("two.names.test", "AAAA"): [(300, "::1")],
    ("mx.names.test", "MX"): [(300, "10 mail.names.test.")],
}


@pytest.fixture(scope="module")
def dns() -> Iterator[DnsResponder]:
    with DnsResponder(ZONE) as responder:
        yield responder


def test_connect_on_the_command_line_asks_the_configured_nameserver(
    server: BackgroundServer, dns: DnsResponder
) -> None:
    out, err, status = run_cli(
        "--nameserver", dns.nameserver, "--connect", f"mail.names.test:{server.port}",
        stdin="NOOP\nQUIT\n",
    )  # fmt: skip
    assert (status, err) == (0, "")
    assert f"trying mail.names.test [127.0.0.1]:{server.port}..." in out
    assert "220 smtpshell.local" in out and "221 Bye" in out


def test_connect_in_the_shell_asks_the_nameserver_of_the_environment(
    server: BackgroundServer, dns: DnsResponder, tmp_path: Path
) -> None:
    out, err, status = run_cli(
        stdin=f"connect mail.names.test:{server.port}\nNOOP\nQUIT\n",
        environ={"NO_COLOR": "1", "SMTPSHELL_NAMESERVER": dns.nameserver},
    )
    assert (status, err) == (0, "")
    assert f"connected to 127.0.0.1:{server.port}" in out and "221 Bye" in out


def test_each_address_is_tried_ipv4_first() -> None:
    async def greet(peer: Peer) -> None:
        await peer.send(b"220 six.test ESMTP\r\n")
        await peer.command()
        await peer.send(b"221 bye\r\n")

    with DnsResponder(ZONE) as dns, HostileServer(greet, "::1") as six:  # type: ignore[arg-type]
        out, err, status = run_cli(
            "--nameserver", dns.nameserver, "--connect", f"two.names.test:{six.port}",
            stdin="QUIT\n",
        )  # fmt: skip
    assert (status, err) == (0, "")
    assert (
        f"trying two.names.test [127.0.0.9]:{six.port}...\n... connection refused\n"
        f"trying two.names.test [::1]:{six.port}...\nconnected to [::1]:{six.port}\n"
        "220 six.test ESMTP"
    ) in out


def test_tls_verifies_the_name_given_not_the_address(dns: DnsResponder, tmp_path: Path) -> None:
    ca = TestCA(tmp_path)
    # The certificate names the host only: no IP address in it.
    context = ca.issue("mail.names.test", dns_names=["mail.names.test"]).server_context()

    async def smtps(peer: Peer) -> None:
        await peer.start_tls(context)
        await peer.send(b"220 mail.names.test ESMTP\r\n")
        await peer.command()
        await peer.send(b"221 bye\r\n")

    with HostileServer(smtps) as hostile:  # type: ignore[arg-type]
        out, err, status = run_cli(
            "--nameserver", dns.nameserver, "--connect", f"mail.names.test:{hostile.port}",
            "--tls", "--cafile", str(ca.ca_file), stdin="QUIT\n",
        )  # fmt: skip
    assert (status, err) == (0, "")
    assert "certificate verified" in out and "221 bye" in out
    assert hostile.errors == []


def test_connect_mx_lookups_go_to_the_nameserver(
    server: BackgroundServer, dns: DnsResponder
) -> None:
    out, err, status = run_cli(
        "--nameserver", dns.nameserver,
        stdin=f"connect --mx mx.names.test --port {server.port}\nQUIT\n",
    )  # fmt: skip
    assert (status, err) == (0, "")
    assert f"trying mail.names.test [127.0.0.1]:{server.port} (preference 10)..." in out


@pytest.mark.parametrize("lookup", ["mx mx.names.test", "connect mail.names.test"])
def test_timeout_bounds_dns_lookups(lookup: str) -> None:
    with DnsResponder({}, black_hole=True) as hole:
        started = time.monotonic()
        _out, err, status = run_cli(
            "--nameserver", hole.nameserver, "--timeout", "1", stdin=f"{lookup}\n"
        )
        elapsed = time.monotonic() - started
    assert status == 1
    assert f"DNS timed out after 1.0 s asking {hole.nameserver}" in err, err
    assert elapsed < 3, elapsed


def test_connect_time_out_bounds_its_lookup() -> None:
    with DnsResponder({}, black_hole=True) as hole:
        started = time.monotonic()
        _out, err, status = run_cli(
            "--nameserver", hole.nameserver, stdin="connect mail.names.test --timeout 0.5\n"
        )
        elapsed = time.monotonic() - started
    assert status == 1
    assert "mail.names.test: DNS timed out after 0.5 s" in err, err
    assert elapsed < 3, elapsed


def _port_where_nothing_listens() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.mark.parametrize("lookup", ["mx mx.names.test", "connect mail.names.test"])
def test_a_resolver_port_where_nothing_listens_is_refused_at_once(lookup: str) -> None:
    nameserver = f"127.0.0.1:{_port_where_nothing_listens()}"
    started = time.monotonic()
    _out, err, status = run_cli("--nameserver", nameserver, "--timeout", "10", stdin=f"{lookup}\n")
    elapsed = time.monotonic() - started
    assert status == 1
    assert f"connection refused by {nameserver}: no DNS server listens there" in err, err
    assert "timed out" not in err
    assert elapsed < 5, elapsed

"""Telnet habits work: ``smtpshell HOST PORT``, ``connect HOST PORT``, ``quit`` and
``help`` at the idle prompt, a first line that says how to start, a failed
``connect`` that changes nothing, and a plain connection to an implicit-TLS port
that says so at once."""

from __future__ import annotations

import asyncio
import random
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cli_runner import run_cli
from dns_responder import TEST_ZONE, DnsResponder
from hostile_server import HostileServer, Peer, TestCA
from pty_shell import ShellPty, converse

from smtpshell.server import BackgroundServer, free_port

Start = Callable[..., ShellPty]


# -- HOST PORT ----------------------------------------------------------------------


@pytest.mark.parametrize("form", ["HOST PORT", "HOST:PORT", "PORT after options"])
def test_host_and_port_on_the_command_line_as_telnet_takes_them(
    server: BackgroundServer, form: str
) -> None:
    args = {
        "HOST PORT": ["127.0.0.1", str(server.port)],
        "HOST:PORT": [f"127.0.0.1:{server.port}"],
        "PORT after options": ["--timeout", "5", "127.0.0.1", str(server.port), "--no-history"],
    }[form]
    out, err, status = run_cli(*args, stdin="NOOP\nQUIT\n")
    assert (status, err) == (0, "")
    assert f"connected to 127.0.0.1:{server.port}\n220 smtpshell.local" in out
    assert "> NOOP\n250 OK" in out and "221 Bye" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--no-history", "serve"], "serve is a subcommand and goes first"),
        (["--connect", "127.0.0.1", "2525"], "two servers: --connect 127.0.0.1 and 2525"),
        (["127.0.0.1:2525", "25"], "two ports: 127.0.0.1:2525 and 25"),
        (["127.0.0.1", "http"], "port must be a number"),
        (["--demo", "127.0.0.1"], "--demo and HOST exclude each other"),
    ],
)
def test_host_and_port_mistakes_are_usage_errors(args: list[str], message: str) -> None:
    _out, err, status = run_cli(*args)
    assert status == 2
    assert message in err and len(err.splitlines()) == 1, err


def test_a_subcommand_named_first_stays_a_subcommand() -> None:
    out, _err, status = run_cli("replay", "--help")
    assert status == 0 and "usage: smtpshell replay" in out


def test_connect_host_port_inside_the_shell(server: BackgroundServer) -> None:
    out, err, status = run_cli(
        stdin=f"connect 127.0.0.1 {server.port}\nNOOP\nopen 127.0.0.1 nope\nQUIT\n"
    )
    assert status == 1  # the bad port
    assert f"connected to 127.0.0.1:{server.port}" in out and "> NOOP\n250 OK" in out
    assert "error: port must be a number from 1 to 65535, not 'nope'" in err
    assert "221 Bye" in out


# -- the idle prompt ----------------------------------------------------------------


def test_bare_smtpshell_says_how_to_connect_and_get_help_then_quit_and_help_work(
    start_shell: Start,
) -> None:
    sh = start_shell()
    first = sh.expect(r"^(.*)\n")
    assert "connect HOST [PORT]" in first[1] and "help" in first[1], first[1]
    sh.expect(r"smtpshell>")
    converse(
        sh,
        [
            ("help", r"connect HOST\[:PORT\] \| HOST PORT.*\n(.*\n)*.*record FILE"),
            ("HELP record", r"record FILE \[--force\] \| record stop\n"),
            ("\\quit", r"error: not connected"),  # a backslash: meant for a server
        ],
    )
    sh.type("quit")
    assert sh.wait_exit() == 0
    assert "Traceback" not in sh.screen


def test_quit_and_help_go_to_the_server_when_connected(start_shell: Start) -> None:
    async def script(peer: Peer) -> None:
        await peer.send(b"220 hostile ESMTP\r\n")
        assert await peer.command() == "help"
        await peer.send(b"214 2.0.0 the server's own help\r\n")
        assert await peer.command() == "quit"
        await peer.send(b"221 2.0.0 bye\r\n")

    with HostileServer(script) as hostile:  # type: ignore[arg-type]
        sh = start_shell("--connect", f"127.0.0.1:{hostile.port}")
        sh.expect(r"plain>")
        converse(sh, [("help", r"214 2\.0\.0 the server's own help"), ("quit", r"221 2\.0\.0 bye")])
        sh.expect(r"connection closed by the server")
        sh.expect(r"smtpshell>")
        assert sh.close() == 0
    assert hostile.errors == []


def test_piped_quit_at_the_idle_prompt_leaves_with_status_0() -> None:
    out, err, status = run_cli(stdin="help\nquit\nNOOP\n")
    assert (status, err) == (0, "")  # NOOP was never read: quit left
    assert "connect HOST[:PORT]" in out
    assert "Not connected" not in out  # the first line is for a person at a terminal


# -- a failed connect changes nothing -----------------------------------------------


def test_a_failed_connect_keeps_the_current_session(
    start_shell: Start, server: BackgroundServer
) -> None:
    dead = free_port()
    with DnsResponder(TEST_ZONE) as dns:
        sh = start_shell("--nameserver", dns.nameserver, "--connect", f"127.0.0.1:{server.port}")
        here = rf"127\.0\.0\.1:{server.port} plain>"
        sh.expect(here)
        converse(
            sh,
            [
                ("EHLO me", r"250 HELP"),
                (f"connect 127.0.0.1 {dead}", r"error: cannot connect to .*refused"),
                ("", here),
                ("connect --mx nullmx.test", r"error: nullmx\.test accepts no mail"),
                ("", here),
                ("connect nosuch.test", r"error: .*nosuch\.test"),
                ("", here),
                # Still the same conversation: the EHLO of before still counts.
                ("MAIL FROM:<a@example.test>", r"250 OK"),
            ],
        )
    assert "connection closed" not in sh.screen
    assert sh.close() == 0


def test_a_successful_connect_replaces_the_session(
    start_shell: Start, server: BackgroundServer
) -> None:
    sh = start_shell("--connect", f"127.0.0.1:{server.port}")
    sh.expect(rf"{server.port} plain>")
    converse(
        sh,
        [
            (f"connect 127.0.0.1 {server.tls_port} --tls --cafile {server.ca_file}",
             rf"connected to 127\.0\.0\.1:{server.tls_port}.*\n(.*\n)*220 smtpshell\.local.*\n"
             rf"connection to 127\.0\.0\.1:{server.port} closed\n"),
            ("", rf"{server.tls_port} tls>"),
            ("NOOP", r"250 OK"),
        ],
    )  # fmt: skip
    assert sh.close() == 0


# -- implicit TLS on a plain connection ---------------------------------------------


@pytest.fixture
def ca(tmp_path: Path) -> TestCA:
    return TestCA(tmp_path)


@pytest.fixture
def smtps_address() -> Iterator[str]:
    """A loopback address of its own whose port 465 is free (parallel runs differ)."""
    for _ in range(20):
        host = f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(2, 254)}"
        with socket.socket() as probe:
            try:
                probe.bind((host, 465))
            except PermissionError:
                pytest.skip("port 465 needs root (or net.ipv4.ip_unprivileged_port_start)")
            except OSError:
                continue
        yield host
        return
    pytest.fail("no loopback address with port 465 free")


def test_plain_connection_to_port_465_says_at_once_that_it_speaks_tls(
    smtps_address: str, ca: TestCA
) -> None:
    context = ca.issue("localhost", ip_addresses=[smtps_address]).server_context()

    async def smtps(peer: Peer) -> None:
        await peer.start_tls(context)  # waits for a ClientHello, as an SMTPS server does
        await peer.send(b"220 smtps.test ESMTP\r\n")
        await peer.command()
        await peer.send(b"221 bye\r\n")

    with HostileServer(smtps, smtps_address, 465) as hostile:  # type: ignore[arg-type]
        started = time.monotonic()
        out, err, status = run_cli(
            "--connect", f"{smtps_address}:465", "--timeout", "20", stdin="QUIT\n"
        )
        elapsed = time.monotonic() - started
        assert status == 1
        assert f"error: {smtps_address}:465 speaks TLS from the first byte" in err, err
        assert "connect with --tls" in err
        assert elapsed < 5, elapsed  # not the 20 s time-out
        out, err, status = run_cli(
            "--connect",
            f"{smtps_address}:465",
            "--tls",
            "--cafile",
            str(ca.ca_file),
            stdin="QUIT\n",
        )
        assert (status, err) == (0, "")
        assert "220 smtps.test" in out and "221 bye" in out
    assert hostile.errors == []


def test_a_slow_plain_server_on_port_465_is_still_reached(smtps_address: str) -> None:
    async def slow(peer: Peer) -> None:
        await asyncio.sleep(1.5)  # part of the script: a server that greets late
        await peer.send(b"220 slow.test ESMTP\r\n")
        await peer.command()
        await peer.send(b"221 bye\r\n")

    with HostileServer(slow, smtps_address, 465) as hostile:  # type: ignore[arg-type]
        out, err, status = run_cli(
            "--connect", f"{smtps_address}:465", "--timeout", "10", stdin="QUIT\n"
        )
    assert (status, err) == (0, "")
    assert "220 slow.test ESMTP" in out and "221 bye" in out
    assert hostile.errors == []


def test_a_server_answering_with_a_tls_record_is_named_at_once() -> None:
    async def alert(peer: Peer) -> None:
        # A TLS alert (protocol_version) where an SMTP greeting should be.
        await peer.send(b"\x15\x03\x01\x00\x02\x02\x46")
        await peer.drain_client()

    with HostileServer(alert) as hostile:  # type: ignore[arg-type]
        started = time.monotonic()
        out, err, status = run_cli(
            "--connect", f"127.0.0.1:{hostile.port}", "--timeout", "20", stdin="QUIT\n"
        )
        elapsed = time.monotonic() - started
    assert status == 1
    shown = out + err  # said once, as the reason the connection closed
    assert "the server answers in TLS, not in SMTP" in shown and "--tls" in shown, shown
    assert elapsed < 5, elapsed
    assert hostile.clear == b""  # nothing was sent to it

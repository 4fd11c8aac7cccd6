"""Errors a user can act on: a bad --cafile is one line before anything connects, and
a TLS failure names the way out that fits its reason, also through `connect --mx`."""

from __future__ import annotations

import datetime
import functools
import re
import ssl
from pathlib import Path

import pytest
from cli_runner import run_cli
from dns_responder import DnsResponder
from hostile_server import HostileServer, Peer, TestCA, well_behaved


def _connect_with_cafile(cafile: Path, mode: str) -> tuple[str, str, int, int]:
    """Run `smtpshell --connect ... MODE --cafile CAFILE`: output, status and how
    many connections the server saw."""

    async def greet(peer: Peer) -> None:
        await peer.send(b"220 hi\r\n")
        await peer.drain_client()

    with HostileServer(greet) as server:
        out, err, status = run_cli(
            "--connect", f"127.0.0.1:{server.port}", mode, "--cafile", str(cafile)
        )
        connections = len(server.peers)
    return out, err, status, connections


@pytest.mark.parametrize("mode", ["--tls", "--starttls"])
@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("missing", r"no such file"),
        ("directory", r"is a directory, not a file"),
        ("empty", r"holds no certificate"),
        ("key only", r"holds no certificate"),
    ],
)
def test_a_bad_cafile_is_one_line_before_connecting(
    mode: str, kind: str, reason: str, tmp_path: Path
) -> None:
    cafile = tmp_path / "ca.pem"
    if kind == "directory":
        cafile.mkdir()
    elif kind == "empty":
        cafile.write_bytes(b"")
    elif kind == "key only":
        issued = TestCA(tmp_path).issue()
        cafile.write_bytes(issued.key.read_bytes())
    out, err, status, connections = _connect_with_cafile(cafile, mode)
    assert status == 2, err
    assert connections == 0
    assert out == ""
    where = re.escape(str(cafile))
    assert re.fullmatch(rf"smtpshell: error: argument --cafile: {where}: {reason}.*\n", err), err


def test_connect_checks_the_cafile_before_connecting(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.pem"
    _, err, status = run_cli(stdin=f"connect 127.0.0.1:9 --starttls --cafile {missing}\n")
    assert status == 1
    assert f"error: argument --cafile: {missing}: no such file" in err


# --------------------------------------------------------------- TLS failures


def _implicit_tls(context: ssl.SSLContext) -> HostileServer:
    async def script(peer: Peer) -> None:
        await peer.start_tls(context)
        await peer.send(b"220 hostile ESMTP\r\n")
        await peer.drain_client()

    return HostileServer(script)


def _tls_failure(context: ssl.SSLContext, *options: str) -> str:
    with _implicit_tls(context) as server:
        _, err, status = run_cli("--connect", f"127.0.0.1:{server.port}", "--tls", *options)
    assert status == 1
    assert err.count("\n") == 1, err
    return err


def test_an_untrusted_issuer_points_to_cafile(tmp_path: Path) -> None:
    """The one failure a CA file can fix: the chain ends at a CA not trusted here."""
    ca = TestCA(tmp_path)
    err = _tls_failure(ca.issue("x", ip_addresses=["127.0.0.1"]).server_context())
    assert "a self-signed certificate is in the chain" in err and "--cafile" in err


def test_name_mismatch_names_the_certificates_names(tmp_path: Path) -> None:
    """Trusting another CA cannot help: the way out is a name the certificate
    carries."""
    ca = TestCA(tmp_path)
    context = ca.issue("mail.example.test", dns_names=["mail.example.test", "smtp.example.test"])
    err = _tls_failure(context.server_context(), "--cafile", str(ca.ca_file))
    assert "does not match the IP address 127.0.0.1" in err, err
    assert "it is for mail.example.test, smtp.example.test" in err, err
    assert "--cafile" not in err and "--insecure" not in err


def test_expired_certificate_says_since_when(tmp_path: Path) -> None:
    """Nothing on this side can help with an expired certificate: say it and since
    when, and point nowhere."""
    ca = TestCA(tmp_path)
    context = ca.issue("x", ip_addresses=["127.0.0.1"], days_valid=(-30, -3))
    expired = (datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=3)).date()
    err = _tls_failure(context.server_context(), "--cafile", str(ca.ca_file))
    assert f"the certificate expired on {expired.isoformat()}" in err, err
    assert "--cafile" not in err and "--insecure" not in err


def test_connect_mx_says_which_exchanger_answered_and_why_tls_failed(tmp_path: Path) -> None:
    ca = TestCA(tmp_path)
    context = ca.issue("other.test", dns_names=["other.test"]).server_context()

    script = functools.partial(well_behaved, name="mx", extensions=["STARTTLS"], tls=context)

    zone = {("d.test", "MX"): [(60, "10 mx1.d.test.")], ("mx1.d.test", "A"): [(60, "127.0.0.1")]}
    with HostileServer(script) as server, DnsResponder(zone) as dns:
        _, err, status = run_cli(
            "--nameserver", dns.nameserver,
            stdin=f"connect --mx d.test --port {server.port} --starttls --cafile {ca.ca_file}\n",
        )  # fmt: skip
    assert status == 1
    assert "no mail exchanger answered with 220" not in err, err
    assert re.search(
        rf"error: d\.test: mx1\.d\.test \[127\.0\.0\.1\]:{server.port} \(preference 10\) "
        r"answered, but TLS certificate verification failed for mx1\.d\.test: "
        r"the certificate does not match the host name mx1\.d\.test; it is for other\.test",
        err,
    ), err

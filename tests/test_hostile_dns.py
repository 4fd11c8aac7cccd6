"""Hostile DNS answers: MX targets whose names no TLS library can use, and names that
would drive a terminal. The DNS server is a real one on loopback."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from pathlib import Path

import pytest
from dns_responder import DnsResponder
from hostile_server import HostileServer, Script, TestCA, well_behaved
from hostile_strings import leaked

# Labels of raw ESC and BEL bytes (master-file escapes, RFC 1035 5.1): a legal DNS
# name, but no host name (RFC 952/1123) and not IDNA-encodable.
# Written out in text form, each raw byte takes four characters ("\\027"), so a label
# of 30 of them is longer than the 63 that the IDNA codec (and so TLS's SNI) takes.
EVIL = r"\027[2J\027]52\;c\;eA==\007" + r"\027" * 30 + ".evil.test."


def _zone(port_owner: str = "good.evil.test") -> dict[tuple[str, str], list[tuple[int, str]]]:
    return {
        ("evil.test", "MX"): [(60, f"10 {EVIL}"), (60, f"20 {port_owner}.")],
        (EVIL, "A"): [(60, "127.0.0.1")],
        (port_owner, "A"): [(60, "127.0.0.1")],
    }


def _tls_script(ca: TestCA, mode: str) -> Script:
    context = ca.issue("good.evil.test", dns_names=["good.evil.test"]).server_context()
    return functools.partial(
        well_behaved, name="good.evil.test", extensions=["STARTTLS"], tls=context,
        implicit=mode == "--tls",
    )  # fmt: skip


@pytest.mark.parametrize("mode", ["--tls", "--starttls"])
def test_unusable_mx_name_fails_that_mx_and_the_next_is_tried(
    mode: str, tmp_path: Path, data_home: Path
) -> None:
    """RFC 5321 5.1: try the next MX when one fails. An MX name that TLS cannot
    carry as SNI (RFC 6066 3: a host name) fails that MX in one line, no traceback,
    no "Task exception was never retrieved", no 30 s wait."""
    ca = TestCA(tmp_path)
    with HostileServer(_tls_script(ca, mode)) as server, DnsResponder(_zone()) as dns:
        result = subprocess.run(
            [sys.executable, "-m", "smtpshell", "--nameserver", dns.nameserver, "--timeout", "5"],
            input=(
                f"connect --mx evil.test --port {server.port} {mode} --cafile {ca.ca_file}\n"
                "QUIT\n"
            ),
            capture_output=True,
            text=True,
            errors="replace",
            timeout=30,
            env={**os.environ, "XDG_DATA_HOME": str(data_home), "NO_COLOR": "1"},
        )
    shown = result.stdout + result.stderr
    assert "Traceback" not in shown and "never retrieved" not in shown, shown
    assert "good.evil.test" in shown and "221" in shown, shown
    assert not leaked(shown), shown

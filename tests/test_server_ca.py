"""The embedded server's CA is what users pass to --cafile: when it is there but cannot
be used, the server refuses to start rather than silently make a new one."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from cli_runner import run_cli

from smtpshell.cli.status import ExitStatus
from smtpshell.server import ServerError, ensure_certificates

GARBAGE = b"-----BEGIN PRIVATE KEY-----\nnot base64 at all\n-----END PRIVATE KEY-----\n"


def garbage_key(directory: Path) -> Path:
    (directory / "ca-key.pem").write_bytes(GARBAGE)
    return directory / "ca-key.pem"


def directory_for_key(directory: Path) -> Path:
    (directory / "ca-key.pem").unlink()
    (directory / "ca-key.pem").mkdir()
    return directory / "ca-key.pem"


def garbage_certificate(directory: Path) -> Path:
    (directory / "ca.pem").write_bytes(b"not a certificate\n")
    return directory / "ca.pem"


def missing_key(directory: Path) -> Path:
    (directory / "ca-key.pem").unlink()
    return directory / "ca-key.pem"


def key_of_another_ca(directory: Path) -> Path:
    other = ensure_certificates(directory / "other")
    shutil.copyfile(other.ca_file.with_name("ca-key.pem"), directory / "ca-key.pem")
    return directory / "ca-key.pem"


BREAKAGES = [garbage_key, directory_for_key, garbage_certificate, missing_key, key_of_another_ca]


@pytest.mark.parametrize("break_ca", BREAKAGES)
def test_unusable_ca_is_refused_not_replaced(
    tmp_path: Path, break_ca: Callable[[Path], Path]
) -> None:
    ca_file = ensure_certificates(tmp_path).ca_file
    trusted = ca_file.read_bytes()
    broken = break_ca(tmp_path)
    with pytest.raises(ServerError) as refused:
        ensure_certificates(tmp_path)
    message = str(refused.value)
    assert str(broken) in message and f"delete {tmp_path}" in message
    assert "\n" not in message
    if broken != ca_file:
        assert ca_file.read_bytes() == trusted


@pytest.mark.timeout(60)  # before the fix, the server started and waited for Ctrl-C
def test_serve_with_an_unusable_ca_exits_1_naming_the_file(tmp_path: Path) -> None:
    cert_dir = tmp_path / "smtpshell" / "server-tls"
    ca_file = ensure_certificates(cert_dir).ca_file
    trusted = ca_file.read_bytes()
    key = garbage_key(cert_dir)
    out, err, status = run_cli(
        "serve", "--port", "0", "--tls-port", "0", environ={"XDG_DATA_HOME": str(tmp_path)}
    )
    assert status == ExitStatus.FAILURE
    assert err.startswith(f"smtpshell serve: error: cannot use the existing CA: {key}: ")
    assert err.count("\n") == 1
    assert "listening" not in out
    assert ca_file.read_bytes() == trusted


def test_a_key_without_its_certificate_is_no_ca_yet(tmp_path: Path) -> None:
    # Only the first run can leave this (stopped between writing the two files):
    # no client can trust a CA whose certificate was never written.
    paths = ensure_certificates(tmp_path)
    paths.ca_file.unlink()
    assert ensure_certificates(tmp_path).ca_file.exists()

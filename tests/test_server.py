"""The embedded server, over real sockets on 127.0.0.1: no mocks."""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import os
import re
import signal
import smtplib
import socket
import ssl
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_runner import run_cli
from hypothesis import given, settings
from hypothesis import strategies as st
from server_fixtures import (
    RawSmtpClient,
    b64,
    make_config,
    start_server,
    verified_context,
)

from smtpshell.server import (
    BackgroundServer,
    MaildirStore,
    ServerError,
    ensure_certificates,
    free_port,
)
from smtpshell.server.auth import UserDirectory, UserSpecError, parse_user_specs

USERS = {"alice": "wonderland", "zoë": "pässwörd✓"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundServer]:
    """One server with users for the tests that do not need their own configuration."""
    with BackgroundServer(make_config(tmp_path_factory.mktemp("server"), users=USERS)) as srv:
        yield srv


@pytest.fixture
def tls(server: BackgroundServer) -> ssl.SSLContext:
    return verified_context(server.ca_file)


def ehlo_keywords(client: smtplib.SMTP) -> set[str]:
    code, _ = client.ehlo()
    assert code == 250
    return set(client.esmtp_features)


def dot_stuff(message: bytes) -> bytes:
    # RFC 5321 4.5.2: a line that starts with "." gets one more.
    return re.sub(rb"(?m)^\.", b"..", message)


def send_raw_message(
    client: RawSmtpClient, message: bytes, *, mail_from: str = "<a@example.org>"
) -> str:
    assert client.command(f"MAIL FROM:{mail_from} BODY=8BITMIME SMTPUTF8")[0] == 250
    assert client.command("RCPT TO:<b@example.org>")[0] == 250
    assert client.command("DATA")[0] == 354
    client.send(dot_stuff(message) + b".\r\n")
    code, text = client.reply()
    assert code == 250, text
    return text


# -- plain port and STARTTLS --------------------------------------------------------------


def test_plain_connection_offers_starttls_but_not_auth(server: BackgroundServer) -> None:
    with smtplib.SMTP("127.0.0.1", server.port, timeout=5) as client:
        keywords = ehlo_keywords(client)
    assert "starttls" in keywords
    assert "auth" not in keywords
    assert {"8bitmime", "smtputf8"} <= keywords
    assert int(client.esmtp_features["size"]) >= 50 * 1024 * 1024


def test_banner_is_a_normal_esmtp_greeting(server: BackgroundServer) -> None:
    with RawSmtpClient(server.port) as client:
        assert client.greeting == (220, "smtpshell.local ESMTP smtpshell")


def test_auth_before_tls_is_refused(server: BackgroundServer) -> None:
    with RawSmtpClient(server.port) as client:
        client.command("EHLO test")
        code, _ = client.command("AUTH PLAIN " + b64("\0alice\0wonderland"))
    assert code == 538  # RFC 4954 6: encryption required


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN", "CRAM-MD5"])
def test_after_starttls_auth_is_offered_and_works(
    server: BackgroundServer, tls: ssl.SSLContext, mechanism: str
) -> None:
    with smtplib.SMTP("127.0.0.1", server.port, timeout=5) as client:
        client.starttls(context=tls)
        keywords = ehlo_keywords(client)
        assert "starttls" not in keywords  # RFC 3207 4.2
        assert set(client.esmtp_features["auth"].split()) == {"PLAIN", "LOGIN", "CRAM-MD5"}
        client.user, client.password = "alice", "wonderland"
        method = {
            "PLAIN": client.auth_plain,
            "LOGIN": client.auth_login,
            "CRAM-MD5": client.auth_cram_md5,
        }[mechanism]
        code, _ = client.auth(mechanism, method)
    assert code == 235


@pytest.mark.parametrize(("user", "password"), [("alice", "wrong"), ("nobody", "wonderland")])
def test_wrong_credentials_get_535(
    server: BackgroundServer, tls: ssl.SSLContext, user: str, password: str
) -> None:
    with smtplib.SMTP("127.0.0.1", server.port, timeout=5) as client:
        client.starttls(context=tls)
        client.ehlo()
        with pytest.raises(smtplib.SMTPAuthenticationError) as caught:
            client.login(user, password)
    assert caught.value.smtp_code == 535


def test_second_starttls_is_refused(server: BackgroundServer, tls: ssl.SSLContext) -> None:
    with RawSmtpClient(server.port) as client:
        client.command("EHLO test")
        client.starttls(tls)
        client.command("EHLO test")
        assert client.command("STARTTLS")[0] == 503


# -- implicit TLS and certificates --------------------------------------------------------


@pytest.mark.parametrize("host_name", ["127.0.0.1", "localhost"])
def test_implicit_tls_port_verifies_against_the_ca(
    server: BackgroundServer, tls: ssl.SSLContext, host_name: str
) -> None:
    assert server.tls_port is not None
    with smtplib.SMTP_SSL(host_name, server.tls_port, context=tls, timeout=5) as client:
        keywords = ehlo_keywords(client)
        assert "auth" in keywords  # already encrypted, so AUTH is fine here
        assert "starttls" not in keywords
        assert client.login("alice", "wonderland")[0] == 235


def test_implicit_tls_is_not_trusted_without_the_ca(server: BackgroundServer) -> None:
    assert server.tls_port is not None
    untrusting = ssl.create_default_context(cafile=None, capath=None, cadata=None)
    with pytest.raises(ssl.SSLCertVerificationError):
        smtplib.SMTP_SSL("127.0.0.1", server.tls_port, context=untrusting, timeout=5)


def _server_fingerprint(port: int, ca_file: Path) -> str:
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as sock,
        verified_context(ca_file).wrap_socket(sock, server_hostname="127.0.0.1") as tls_sock,
    ):
        der = tls_sock.getpeercert(binary_form=True)
    assert der is not None
    return hashlib.sha256(der).hexdigest()


def test_certificates_are_made_once_and_reused(tmp_path: Path) -> None:
    fingerprints, cas = [], []
    for _ in range(2):
        with start_server(tmp_path) as srv:
            assert srv.tls_port is not None
            fingerprints.append(_server_fingerprint(srv.tls_port, srv.ca_file))
            cas.append(srv.ca_file.read_bytes())
    assert fingerprints[0] == fingerprints[1]
    assert cas[0] == cas[1]
    for key in (tmp_path / "tls").glob("*key.pem"):
        assert key.stat().st_mode & 0o777 == 0o600


def test_expiring_server_certificate_is_reissued_under_the_same_ca(tmp_path: Path) -> None:
    now = datetime.datetime.now(datetime.UTC)
    old = ensure_certificates(tmp_path, now=now - datetime.timedelta(days=825))
    old_ca, old_cert = old.ca_file.read_bytes(), old.cert_file.read_bytes()
    new = ensure_certificates(tmp_path)
    assert new.ca_file.read_bytes() == old_ca
    assert new.cert_file.read_bytes() != old_cert


def test_expired_ca_is_replaced(tmp_path: Path) -> None:
    old = ensure_certificates(tmp_path, now=datetime.datetime(2001, 1, 1, tzinfo=datetime.UTC))
    old_ca = old.ca_file.read_bytes()
    assert ensure_certificates(tmp_path).ca_file.read_bytes() != old_ca


def test_missing_server_key_is_regenerated(tmp_path: Path) -> None:
    paths = ensure_certificates(tmp_path)
    paths.key_file.unlink()
    ensure_certificates(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(paths.cert_file, paths.key_file)  # the pair matches again


# -- AUTH details -------------------------------------------------------------------------


def test_non_ascii_password_with_auth_plain(server: BackgroundServer, tls: ssl.SSLContext) -> None:
    # smtplib encodes passwords as ASCII, so this speaks the protocol by hand.
    with RawSmtpClient(server.port) as client:
        client.command("EHLO test")
        client.starttls(tls)
        client.command("EHLO test")
        assert client.command("AUTH PLAIN " + b64("\0zoë\0pässwörd✓"))[0] == 235


def test_non_ascii_password_with_auth_login(server: BackgroundServer, tls: ssl.SSLContext) -> None:
    with RawSmtpClient(server.port) as client:
        client.command("EHLO test")
        client.starttls(tls)
        client.command("EHLO test")
        # The prompts real servers send (draft-murchison-sasl-login).
        assert client.command("AUTH LOGIN") == (334, b64("Username:"))
        assert client.command(b64("zoë")) == (334, b64("Password:"))
        assert client.command(b64("pässwörd✓"))[0] == 235


def test_non_ascii_password_with_cram_md5(server: BackgroundServer, tls: ssl.SSLContext) -> None:
    with RawSmtpClient(server.port) as client:
        client.command("EHLO test")
        client.starttls(tls)
        client.command("EHLO test")
        code, challenge = client.command("AUTH CRAM-MD5")
        assert code == 334
        digest = hmac.new("pässwörd✓".encode(), base64.b64decode(challenge), "md5").hexdigest()
        assert client.command(b64(f"zoë {digest}"))[0] == 235


def test_auth_abort_with_star(server: BackgroundServer, tls: ssl.SSLContext) -> None:
    with RawSmtpClient(server.port) as client:
        client.command("EHLO test")
        client.starttls(tls)
        client.command("EHLO test")
        assert client.command("AUTH LOGIN")[0] == 334
        assert client.command("*")[0] == 501  # RFC 4954 4
        assert client.command("NOOP")[0] == 250


def test_without_users_no_auth_is_offered(tmp_path: Path) -> None:
    with start_server(tmp_path) as srv, RawSmtpClient(srv.port) as client:
        client.command("EHLO test")
        client.starttls(verified_context(srv.ca_file))
        code, text = client.command("EHLO test")
        assert code == 250 and "AUTH" not in text
        assert client.command("AUTH PLAIN " + b64("\0a\0b"))[0] == 502


def test_auth_plaintext_offers_auth_without_tls(tmp_path: Path) -> None:
    with start_server(tmp_path, users=USERS, auth_plaintext=True) as srv:
        with smtplib.SMTP("127.0.0.1", srv.port, timeout=5) as client:
            assert "auth" in ehlo_keywords(client)
            assert client.login("alice", "wonderland")[0] == 235
        # The classic telnet walkthrough, replayed literally: HELO, then AUTH LOGIN.
        with RawSmtpClient(srv.port) as client:
            assert client.command("HELO localhost")[0] == 250
            assert client.command("AUTH LOGIN")[0] == 334
            assert client.command(b64("alice"))[0] == 334
            assert client.command(b64("wonderland"))[0] == 235


def test_auth_plaintext_is_refused_off_loopback(tmp_path: Path) -> None:
    with pytest.raises(ServerError, match="loopback"):
        start_server(tmp_path, host="0.0.0.0", users=USERS, auth_plaintext=True)


# -- storing messages ---------------------------------------------------------------------

TRICKY_MESSAGE = (
    "From: Zoë <zoe@example.org>\r\n"
    "Subject: =?utf-8?q?caf=C3=A9?=\r\n"
    "\r\n"
    ".leading dot\r\n"
    "..two leading dots\r\n"
    ".\r\n"
    "UTF-8 body: naïve café, 日本語, emoji ✉\r\n"
    f"{'x' * 998}\r\n"  # the longest line RFC 5322 2.1.1 allows
    f".{'y' * 997}\r\n"  # as long, and dot-stuffed on the wire to 999 octets
    "\r\n"
    "last line\r\n"
).encode()


def test_message_is_stored_byte_for_byte(tmp_path: Path) -> None:
    events: list[str] = []
    with start_server(tmp_path, events) as srv, RawSmtpClient(srv.port) as client:
        client.command("EHLO test")
        reply = send_raw_message(client, TRICKY_MESSAGE, mail_from="<zoë@example.org>")
    store = MaildirStore(srv.store)
    [stored] = store.messages()
    assert stored.parent == srv.store / "new"
    assert stored.read_bytes() == TRICKY_MESSAGE
    assert stored.name in reply
    assert stored.stat().st_mode & 0o777 == 0o600
    assert list((srv.store / "tmp").iterdir()) == []
    assert (
        f"stored {stored} from zoë@example.org to b@example.org ({len(TRICKY_MESSAGE)} bytes)"
        in events
    )


def test_several_recipients_and_messages_in_order(tmp_path: Path) -> None:
    events: list[str] = []
    with (
        start_server(tmp_path, events, users=USERS) as srv,
        smtplib.SMTP("127.0.0.1", srv.port, timeout=5) as client,
    ):
        client.starttls(context=verified_context(srv.ca_file))
        client.login("alice", "wonderland")
        for number in range(3):
            body = f"Subject: {number}\r\n\r\nbody {number}\r\n".encode()
            refused = client.sendmail("a@example.org", ["b@example.org", "c@example.org"], body)
            assert refused == {}
    stored = MaildirStore(srv.store).messages()
    assert [path.read_bytes().split(b"\r\n")[0] for path in stored] == [
        b"Subject: 0",
        b"Subject: 1",
        b"Subject: 2",
    ]
    stored_events = [event for event in events if event.startswith("stored ")]
    assert len(stored_events) == 3
    assert "to b@example.org,c@example.org" in stored_events[0]
    assert "authenticated as 'alice'" in stored_events[0]


@settings(max_examples=40, deadline=None)
@given(
    lines=st.lists(
        st.text(
            alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\r\n"),
            max_size=60,
        ).map(lambda text: text.encode("utf-8")),
        max_size=8,
    )
)
def test_any_lines_round_trip(server: BackgroundServer, lines: list[bytes]) -> None:
    message = b"".join(line + b"\r\n" for line in lines)
    with RawSmtpClient(server.port) as client:
        client.command("EHLO test")
        name = send_raw_message(client, message).rsplit(" ", 1)[-1]
    assert (server.store / "new" / name).read_bytes() == message


def test_store_orders_messages_by_delivery(tmp_path: Path) -> None:
    store = MaildirStore(tmp_path / "maildir")
    delivered = [store.deliver(f"{number}\r\n".encode()) for number in range(20)]
    assert store.messages() == delivered
    assert {path.parent.name for path in delivered} == {"new"}


# -- connection life cycle ----------------------------------------------------------------


def test_idle_connection_gets_421(tmp_path: Path) -> None:
    with start_server(tmp_path, idle_timeout=0.3) as srv, RawSmtpClient(srv.port) as client:
        rest = client.read_rest()
    assert rest.startswith(b"421 ")


def test_stopping_says_421_to_connected_clients(tmp_path: Path) -> None:
    srv = start_server(tmp_path)
    with RawSmtpClient(srv.port) as client:
        client.command("EHLO test")
        srv.stop()
        assert client.read_rest().startswith(b"421 ")


def test_port_zero_and_free_port(tmp_path: Path) -> None:
    port = free_port()
    with start_server(tmp_path, port=port, tls_port=None) as srv:
        assert srv.port == port
        assert srv.tls_port is None


def test_port_in_use_is_a_server_error(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        with pytest.raises(ServerError, match="address already in use"):
            start_server(tmp_path, port=port)


# -- the command ----------------------------------------------------------------------------


def run_in_process(argv: list[str], tmp_path: Path) -> tuple[int, str, str]:
    """``smtpshell serve ARGV...`` through the real command line, data kept in tmp_path."""
    out, err, status = run_cli("serve", *argv, environ={"XDG_DATA_HOME": str(tmp_path)})
    return status, out, err


@pytest.mark.parametrize(
    "user", ["alice", ":secret", "alice:", "al ice:secret", "alice:se\x00cret"]
)
def test_bad_user_is_one_line_and_exit_2(tmp_path: Path, user: str) -> None:
    status, _, err = run_in_process(["--port", "0", "--user", user], tmp_path)
    assert status == 2
    assert err.count("\n") == 1 and err.startswith("smtpshell serve: error: ")
    assert "Traceback" not in err


def test_port_in_use_is_one_line_and_exit_1(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = str(busy.getsockname()[1])
        status, _, err = run_in_process(["--port", port, "--store", str(tmp_path / "m")], tmp_path)
    assert status == 1
    assert (
        err
        == f"smtpshell serve: error: cannot listen on 127.0.0.1:{port}: address already in use\n"
    )


def test_unwritable_store_is_one_line_and_exit_1(tmp_path: Path) -> None:
    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("")
    status, _, err = run_in_process(["--port", "0", "--store", str(not_a_directory)], tmp_path)
    assert status == 1
    assert err.count("\n") == 1 and "cannot write to the maildir" in err


def test_same_port_twice_is_a_usage_error(tmp_path: Path) -> None:
    status, _, err = run_in_process(["--port", "2600", "--tls-port", "2600"], tmp_path)
    assert status == 2 and "must differ" in err


def test_user_specs_allow_colons_in_passwords() -> None:
    assert parse_user_specs(["a:b:c", "zoë:pässwörd"]) == {"a": "b:c", "zoë": "pässwörd"}
    with pytest.raises(UserSpecError):
        parse_user_specs(["a:1", "a:2"])


def test_user_directory_compares_utf8_bytes() -> None:
    users = UserDirectory({"zoë": "pässwörd✓"})
    assert users.check_password("zoë".encode(), "pässwörd✓".encode()) == "zoë"
    assert users.check_password("zoë".encode(), "pässwörd✓".encode("latin-1", "replace")) is None
    assert users.check_password(b"nobody", b"") is None


SERVE_SCRIPT = textwrap.dedent(
    """
    import argparse, dataclasses, sys
    from pathlib import Path
    from smtpshell.server.command import config_from_args, configure_parser, serve
    parser = argparse.ArgumentParser(prog="smtpshell serve")
    configure_parser(parser)
    config = config_from_args(parser.parse_args(sys.argv[2:]), Path(sys.argv[1]))
    serve(dataclasses.replace(config, cert_dir=Path(sys.argv[1])), sys.stdout)
    """
)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_serve_runs_until_ctrl_c_and_exits_0(tmp_path: Path, signum: signal.Signals) -> None:
    argv = [
        sys.executable, "-c", SERVE_SCRIPT, str(tmp_path / "tls"),
        "--port", "0", "--tls-port", "0", "--store", str(tmp_path / "maildir"),
        "--user", "alice:wonderland", "--user", "bob:builder",
    ]  # fmt: skip
    # XDG_DATA_HOME too, so nothing could ever reach the real user data directory.
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data"), "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        assert process.stdout is not None
        seen: list[str] = []
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            assert line, (
                f"server exited early: {seen} {process.stderr.read() if process.stderr else ''}"
            )
            seen.append(line)
            if line.startswith("press Ctrl-C"):
                break
        summary = "".join(seen)
        assert "alice, bob" in summary and "wonderland" not in summary and "builder" not in summary
        assert f"--cafile {tmp_path / 'tls' / 'ca.pem'}" in summary
        tls_port = int(re.findall(r"listening on 127\.0\.0\.1:(\d+) \(SMTPS", summary)[0])
        with smtplib.SMTP_SSL(
            "127.0.0.1", tls_port, context=verified_context(tmp_path / "tls" / "ca.pem"), timeout=5
        ) as client:
            client.login("bob", "builder")
            client.sendmail("a@example.org", ["b@example.org"], b"Subject: hi\r\n\r\nhi\r\n")
        process.send_signal(signum)
        out, err = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0
    assert err == ""
    assert re.search(r"^stored .* from a@example\.org to b@example\.org", out, re.MULTILINE)


def test_importing_the_command_does_not_load_heavy_libraries() -> None:
    code = (
        "import sys, smtpshell.server.command, smtpshell.server\n"
        "heavy = [m for m in sys.modules if m.split('.')[0] in ('aiosmtpd', 'cryptography')]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_size_limit_is_advertised_and_enforced(tmp_path: Path, cert_dir: Path) -> None:
    with (
        start_server(tmp_path, cert_dir=cert_dir, size_limit=4096) as server,
        RawSmtpClient(server.port) as client,
    ):
        _, text = client.command("EHLO test")
        assert "SIZE 4096" in text
        assert client.command("MAIL FROM:<a@example.com> SIZE=5000")[0] == 552


def test_serve_size_limit_option_is_checked() -> None:
    _, err, status = run_cli("serve", "--size-limit", "12")
    assert status == 2 and "--size-limit" in err

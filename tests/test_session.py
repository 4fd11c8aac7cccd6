"""The session core against the embedded server and hostile scripted servers."""

from __future__ import annotations

import asyncio
import ssl
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import PASSWORD, USER
from scripted_server import (
    ScriptedServer,
    answer_first_command,
    read_command,
    self_signed_context,
)
from server_fixtures import Recorder, local, stored_messages

from smtpshell.core.events import Closed, Notice, Received, Sent, TlsStarted
from smtpshell.core.session import Session
from smtpshell.core.tls import TlsSettings
from smtpshell.errors import (
    CommandRejected,
    NegativeReply,
    NetworkError,
    NotConnected,
    ReplyTooLong,
    SmtpTimeout,
    StartTlsRefused,
    TlsError,
)
from smtpshell.protocol.auth import plain_response
from smtpshell.protocol.endpoint import Endpoint, TlsMode
from smtpshell.server import BackgroundServer


def test_plain_transaction_stores_message_byte_identical(server: BackgroundServer) -> None:
    body = ["Subject: dots", "", ".leading dot", "..two dots", ".", "ünïcödé", "x" * 998]

    async def scenario() -> None:
        session = Session(timeout=5)
        greeting = await session.connect(local(server.port))
        assert greeting.code == 220
        assert (await session.send("EHLO client.test")).code == 250
        assert session.capabilities is not None and session.capabilities.has("STARTTLS")
        await session.execute("MAIL FROM:<a@example.test>")
        await session.execute("RCPT TO:<b@example.test>")
        assert (await session.send("DATA")).code == 354
        assert session.in_data
        for line in body:
            session.send_data_line(line)  # "." alone is a line of text here: sent as ".."
        reply = await session.end_data()
        assert reply.code == 250
        assert not session.in_data
        await session.send("QUIT")
        await session.close()

    asyncio.run(scenario())
    expected = "\r\n".join(body) + "\r\n"
    assert stored_messages(server) == [expected.encode("utf-8")]


def test_starttls_mid_session_forgets_capabilities(server: BackgroundServer) -> None:
    events = Recorder()

    async def scenario() -> None:
        session = Session(events, timeout=5)
        await session.connect(local(server.port), tls=TlsSettings(cafile=server.ca_file))
        await session.send("EHLO me")
        assert session.capabilities is not None
        assert "PLAIN" not in session.capabilities.auth_mechanisms  # not before TLS
        reply = await session.send("STARTTLS")
        assert reply.code == 220
        assert session.tls is not None and session.tls.verified
        assert session.capabilities is None  # RFC 3207 4.2
        await session.send("EHLO me")
        assert "PLAIN" in session.capabilities.auth_mechanisms
        assert (await session.send(f"AUTH PLAIN {plain_response(USER, PASSWORD)}")).code == 235
        await session.send("QUIT")
        await session.close()

    asyncio.run(scenario())
    assert len(events.of(TlsStarted)) == 1
    secret = [e for e in events.of(Sent) if e.secret]
    assert [e.display for e in secret] == ["AUTH PLAIN ********"]
    assert all(plain_response(USER, PASSWORD) not in repr(e) for e in events.events)


def test_implicit_tls_with_cafile(server: BackgroundServer) -> None:
    async def scenario() -> None:
        session = Session(timeout=5)
        assert server.tls_port is not None
        await session.connect(
            local(server.tls_port), TlsMode.IMPLICIT, TlsSettings(cafile=server.ca_file)
        )
        assert session.tls is not None and session.tls.certificate is not None
        assert "IP:127.0.0.1" in session.tls.certificate.alt_names
        assert len(session.tls.certificate.sha256.split(":")) == 32
        await session.send("QUIT")
        await session.close()

    asyncio.run(scenario())


def test_starttls_mode_negotiates_before_returning(server: BackgroundServer) -> None:
    async def scenario() -> None:
        session = Session(timeout=5)
        await session.connect(
            local(server.port), TlsMode.STARTTLS, TlsSettings(cafile=server.ca_file)
        )
        assert session.tls is not None
        # RFC 3207 4.2: EHLO again inside TLS, so these are the TLS capabilities.
        assert session.capabilities is not None and session.capabilities.auth_mechanisms
        await session.close()

    asyncio.run(scenario())


def test_unknown_issuer_fails_with_one_clear_line(server: BackgroundServer) -> None:
    assert server.tls_port is not None
    with pytest.raises(TlsError) as caught:
        asyncio.run(Session(timeout=5).connect(local(server.tls_port), TlsMode.IMPLICIT))
    message = str(caught.value)
    assert "issuer is unknown" in message and "--cafile" in message and "--insecure" in message
    assert "\n" not in message


def test_self_signed_and_name_mismatch(tmp_path: Path) -> None:
    async def greet(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 hello\r\n")
        await writer.drain()
        await reader.read()

    context = self_signed_context(tmp_path, name="other.test")
    with ScriptedServer(greet, context) as scripted:
        with pytest.raises(TlsError, match=r"self-signed.*--cafile"):
            asyncio.run(Session(timeout=5).connect(local(scripted.port), TlsMode.IMPLICIT))
        # Trusting the certificate itself leaves the name check: 127.0.0.1 isn't other.test.
        settings = TlsSettings(cafile=tmp_path / "self-signed.pem")
        with pytest.raises(TlsError, match="does not match the IP address"):
            asyncio.run(
                Session(timeout=5).connect(local(scripted.port), TlsMode.IMPLICIT, settings)
            )
        # --insecure gets through, and says the certificate was not verified.
        session = Session(timeout=5)

        async def insecure() -> None:
            await session.connect(
                local(scripted.port), TlsMode.IMPLICIT, TlsSettings(insecure=True)
            )
            assert session.tls is not None and not session.tls.verified
            await session.close()

        asyncio.run(insecure())


def test_implicit_tls_to_plain_server_hints_at_the_other_mode(server: BackgroundServer) -> None:
    with pytest.raises(TlsError, match="does not speak TLS on this port: try --starttls"):
        asyncio.run(Session(timeout=5).connect(local(server.port), TlsMode.IMPLICIT))


def test_connection_refused_and_unresolvable() -> None:
    from smtpshell.server import free_port

    port = free_port()
    with pytest.raises(NetworkError, match=f"cannot connect to 127.0.0.1:{port}"):
        asyncio.run(Session(timeout=5).connect(local(port)))
    with pytest.raises(NetworkError, match=r"cannot resolve 'no-such-host\.invalid'"):
        asyncio.run(Session(timeout=5).connect(Endpoint("no-such-host.invalid", 25)))


async def _ehlo_without_starttls(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    writer.write(b"220 plain only\r\n")
    await writer.drain()
    while True:
        command = await read_command(reader)
        if command.upper().startswith("EHLO"):
            writer.write(b"250-plain.test\r\n250 PIPELINING\r\n")
        elif command.upper() == "STARTTLS":
            writer.write(b"454 4.7.0 TLS not available\r\n")
        else:
            writer.write(b"250 ok\r\n")
        await writer.drain()


def test_starttls_required_but_not_offered() -> None:
    with (
        ScriptedServer(_ehlo_without_starttls) as scripted,
        pytest.raises(TlsError, match="does not offer STARTTLS; not continuing in plain"),
    ):
        asyncio.run(Session(timeout=5).connect(local(scripted.port), TlsMode.STARTTLS))


def test_starttls_refused_mid_session_closes() -> None:
    """TLS was asked for: a refusal ends the connection rather than leave a plain
    session that the next line (a credential) would go out on (RFC 3207 4;
    Poddebniak et al. 2021). The reply is still reported."""

    async def scenario(port: int) -> None:
        session = Session(timeout=5)
        await session.connect(local(port))
        with pytest.raises(StartTlsRefused) as refused:
            await session.send("STARTTLS")
        assert refused.value.reply[0].startswith("454")
        assert not session.connected and session.tls is None
        await session.close()

    with ScriptedServer(_ehlo_without_starttls) as scripted:
        asyncio.run(scenario(scripted.port))


def test_bytes_injected_after_starttls_220_are_discarded(server: BackgroundServer) -> None:
    from smtpshell.server.certs import ensure_certificates

    paths = ensure_certificates(server.ca_file.parent)
    from scripted_server import server_context

    context = server_context(paths.cert_file, paths.key_file)
    seen_after_tls: list[str] = []

    async def injector(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 injector\r\n")
        await writer.drain()
        assert (await read_command(reader)) == "STARTTLS"
        # One write: the 220 and a forged reply the client must never believe.
        writer.write(b"220 Ready to start TLS\r\n250-INJECTED\r\n250 AUTH PLAIN\r\n")
        await writer.drain()
        await writer.start_tls(context)
        command = await read_command(reader)
        seen_after_tls.append(command)
        writer.write(b"250-injector.test\r\n250 SIZE 1000\r\n")
        await writer.drain()
        await reader.read()

    events = Recorder()

    async def scenario(port: int) -> None:
        session = Session(events, timeout=5)
        await session.connect(local(port), tls=TlsSettings(cafile=server.ca_file))
        await session.send("STARTTLS")
        assert session.tls is not None
        reply = await session.send("EHLO me")
        assert reply.lines == ("injector.test", "SIZE 1000")
        await session.close()

    with ScriptedServer(injector) as scripted:
        asyncio.run(scenario(scripted.port))
        assert not scripted.errors
    assert seen_after_tls == ["EHLO me"]
    texts = [line for e in events.of(Received) for line in e.reply.lines]
    assert "INJECTED" not in texts
    warnings = [e.text for e in events.of(Notice) if e.level == "warning"]
    assert any("discarded 30 bytes" in w and "injection" in w for w in warnings), warnings


def test_unsolicited_421_and_close_are_reported() -> None:
    async def rude(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 hi\r\n")
        await writer.drain()
        await asyncio.sleep(0.3)
        writer.write(b"421 4.4.2 idle too long, closing\r\n")
        await writer.drain()

    events = Recorder()

    async def scenario(port: int) -> None:
        closed = asyncio.Event()
        session = Session(events, timeout=5)
        session.subscribe(lambda event: closed.set() if isinstance(event, Closed) else None)
        await session.connect(local(port))
        async with asyncio.timeout(5):
            await closed.wait()
        assert not session.connected
        with pytest.raises(NotConnected, match="not connected"):
            await session.send("NOOP")

    with ScriptedServer(rude) as scripted:
        asyncio.run(scenario(scripted.port))
    unsolicited = [e for e in events.of(Received) if e.unsolicited]
    assert [e.reply.code for e in unsolicited] == [421]
    assert [(e.by_peer, e.reason) for e in events.of(Closed)] == [
        (True, "connection closed by the server")
    ]


@pytest.mark.parametrize(
    ("payload", "repeat", "message"),
    [
        (b"250 " + b"x" * 70000 + b"\r\n", False, "reply line longer than 8192 bytes"),
        (b"250-and on\r\n" * 100, True, "reply longer than 32 KiB"),
    ],
    ids=["line-over-64KiB", "never-ending-reply"],
)
def test_oversized_replies_are_bounded(payload: bytes, repeat: bool, message: str) -> None:
    events = Recorder()

    async def scenario(port: int) -> None:
        session = Session(events, timeout=5)
        await session.connect(local(port))
        started = time.monotonic()
        with pytest.raises(ReplyTooLong, match=message):
            await session.send("EHLO me")
        assert time.monotonic() - started < 3
        assert not session.connected
        # The session is usable again: reconnect works.
        await session.connect(local(port))
        assert session.connected
        await session.close()

    with ScriptedServer(answer_first_command(payload, repeat)) as scripted:
        asyncio.run(scenario(scripted.port))
    assert any("connection closed" in e.reason for e in events.of(Closed))


def test_time_out_bounds_the_whole_reply() -> None:
    async def drip(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 slow\r\n")
        await writer.drain()
        await read_command(reader)
        for byte in b"250 this takes forever\r\n":
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(0.2)

    async def scenario(port: int) -> None:
        session = Session(timeout=1)
        await session.connect(local(port))
        started = time.monotonic()
        with pytest.raises(SmtpTimeout, match="no complete reply to NOOP within 1 s"):
            await session.send("NOOP")
        assert time.monotonic() - started < 2
        assert not session.connected

    with ScriptedServer(drip) as scripted:
        asyncio.run(scenario(scripted.port))


def test_silent_server_greeting_time_out() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()

    with (
        ScriptedServer(silent) as scripted,
        pytest.raises(SmtpTimeout, match=r"no complete reply to the greeting within 0\.5 s"),
    ):
        asyncio.run(Session(timeout=0.5).connect(local(scripted.port)))


def test_injection_characters_are_refused_before_sending(server: BackgroundServer) -> None:
    events = Recorder()

    async def scenario() -> None:
        session = Session(events, timeout=5)
        await session.connect(local(server.port))
        for line in ["MAIL FROM:<a@b>\r\nRCPT TO:<x@y>", "NOOP\n", "NOOP\x00", "NOOP\x1b[2J"]:
            with pytest.raises(CommandRejected):
                await session.send(line)
        await session.send("EHLO me")
        assert (await session.send("DATA")).code == 503  # state untouched: no MAIL yet
        await session.close()

    asyncio.run(scenario())
    assert [e.public for e in events.of(Sent)] == ["EHLO me", "DATA"]


def test_checked_path_raises_on_negative_reply(server: BackgroundServer) -> None:
    async def scenario() -> None:
        session = Session(timeout=5)
        await session.connect(local(server.port))
        with pytest.raises(NegativeReply) as caught:
            await session.execute("RCPT TO:<x@example.test>")
        assert caught.value.code == 503 and not caught.value.transient
        await session.close()
        with pytest.raises(NotConnected):
            await session.execute("NOOP")

    asyncio.run(scenario())


def test_streamed_message_normalised_and_stuffed(server: BackgroundServer) -> None:
    # 4 MiB with every kind of line ending and dots at line starts, in odd-sized chunks.
    unit = b"line one\r\n.dot line\n..two\rlast\r\n"
    count = 4 * 1024 * 1024 // len(unit)

    def chunks() -> Any:
        data = unit * count
        for start in range(0, len(data), 65537):
            yield data[start : start + 65537]

    async def scenario() -> None:
        session = Session(timeout=10)
        await session.connect(local(server.port))
        await session.execute("EHLO me")
        await session.execute("MAIL FROM:<a@example.test>")
        await session.execute("RCPT TO:<b@example.test>")
        await session.execute("DATA")
        reply = await session.send_message(chunks())
        assert reply.code == 250
        await session.send("QUIT")
        await session.close()

    asyncio.run(scenario())
    expected = b"line one\r\n.dot line\r\n..two\r\nlast\r\n" * count
    assert stored_messages(server) == [expected]


def test_reconnecting_right_after_tls_keeps_the_new_connection(server: BackgroundServer) -> None:
    async def scenario() -> None:
        session = Session(timeout=5)
        settings = TlsSettings(cafile=server.ca_file)
        for _ in range(3):
            await session.connect(local(server.port), TlsMode.STARTTLS, settings)
            # connect() returns once the old TLS connection is gone: its close, which
            # used to land after the new greeting, cannot touch the new connection.
            await session.connect(local(server.port))
            assert session.connected
            assert (await session.send("NOOP")).code == 250
        await session.close()

    asyncio.run(scenario())


def test_starttls_required_but_refused() -> None:
    async def refuses(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 fickle\r\n")
        await read_command(reader)
        writer.write(b"250-fickle.test\r\n250 STARTTLS\r\n")
        await read_command(reader)
        writer.write(b"454 4.7.0 TLS not available due to temporary reason\r\n")
        await reader.read()

    with (
        ScriptedServer(refuses) as scripted,
        pytest.raises(TlsError, match=r"the server refused STARTTLS: 454 4\.7\.0 TLS not"),
    ):
        asyncio.run(Session(timeout=5).connect(local(scripted.port), TlsMode.STARTTLS))


def test_expired_certificate_is_named(tmp_path: Path) -> None:
    import datetime

    import trustme

    ca = trustme.CA()
    past = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=2)
    leaf = ca.issue_cert("127.0.0.1", not_before=past - datetime.timedelta(days=30), not_after=past)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    leaf.configure_cert(context)
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))

    async def greet(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 hi\r\n")
        await reader.read()

    settings = TlsSettings(cafile=tmp_path / "ca.pem")
    with (
        ScriptedServer(greet, context) as scripted,
        pytest.raises(TlsError, match=r"the certificate expired on \d{4}-\d\d-\d\d"),
    ):
        asyncio.run(Session(timeout=5).connect(local(scripted.port), TlsMode.IMPLICIT, settings))


def test_ipv6_literal_endpoint(tmp_path: Path, cert_dir: Path) -> None:
    from server_fixtures import make_config

    from smtpshell.protocol.endpoint import parse_endpoint

    config = make_config(tmp_path, host="::1", cert_dir=cert_dir, tls_port=None)
    with BackgroundServer(config) as v6:
        endpoint = parse_endpoint(f"[::1]:{v6.port}", 25)

        async def scenario() -> None:
            session = Session(timeout=5)
            await session.connect(endpoint, tls=TlsSettings(cafile=v6.ca_file))
            assert str(session.endpoint) == f"[::1]:{v6.port}"
            await session.send("EHLO me")
            assert (await session.send("STARTTLS")).code == 220  # verified against ::1
            assert session.tls is not None and session.tls.verified
            await session.close()

        asyncio.run(scenario())

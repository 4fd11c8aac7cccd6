"""The guided AUTH exchange (core/authenticate.py) over real sockets.

The embedded server checks PLAIN, LOGIN and CRAM-MD5 for real; scripted servers
play XOAUTH2 and servers that stray from a mechanism.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from auth_text import b64
from scripted_server import ScriptedServer, read_command
from server_fixtures import make_config

from smtpshell.core.authenticate import (
    AuthProtocolError,
    AuthRejected,
    AuthUnavailable,
    BadCredentials,
    UnsupportedMechanism,
    authenticate,
    select_mechanism,
)
from smtpshell.core.events import Event, Origin, Sent
from smtpshell.core.session import Session
from smtpshell.errors import NegativeReply
from smtpshell.protocol.auth import cram_md5_response, plain_response
from smtpshell.protocol.ehlo import parse_ehlo
from smtpshell.protocol.endpoint import Endpoint
from smtpshell.protocol.reply import Reply
from smtpshell.server import BackgroundServer

USERS = {"alice": "wonderland", "bob": "pässwörd-日本", "jörg": "geheim"}


@pytest.fixture(scope="module")
def plain_auth_server(
    tmp_path_factory: pytest.TempPathFactory, cert_dir: Path
) -> Iterator[BackgroundServer]:
    # AUTH offered in plain text (loopback only): TLS is tested in the pty tests.
    config = make_config(
        tmp_path_factory.mktemp("auth"), cert_dir=cert_dir, users=USERS, auth_plaintext=True
    )
    with BackgroundServer(config) as running:
        yield running


async def logged_in(
    port: int, mechanism: str, user: str, secret: str, events: list[Event]
) -> tuple[Reply, Session]:
    session = Session(events.append, timeout=5)
    await session.connect(Endpoint("127.0.0.1", port))
    await session.send("EHLO client.test")
    try:
        return await authenticate(session, mechanism, user, secret), session
    finally:
        await session.close()


def sent(events: list[Event]) -> list[Sent]:
    return [event for event in events if isinstance(event, Sent)]


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN", "CRAM-MD5", "login", "cram-md5"])
@pytest.mark.parametrize("user", ["alice", "bob", "jörg"])
def test_each_mechanism_logs_in_with_utf8_credentials(
    plain_auth_server: BackgroundServer, mechanism: str, user: str
) -> None:
    events: list[Event] = []
    reply, session = asyncio.run(
        logged_in(plain_auth_server.port, mechanism, user, USERS[user], events)
    )
    assert reply.code == 235
    assert not session.auth_pending
    # What was sent is shown, but every credential is redacted by the session.
    shown = [event.display for event in sent(events)[1:]]
    assert shown[0].startswith(f"AUTH {mechanism.upper()}")
    assert all(line.endswith("********") for line in shown[1:])
    everything = " ".join(event.public for event in sent(events))
    for secret in (USERS[user], b64(USERS[user]), plain_response(user, USERS[user]), b64(user)):
        assert secret not in everything
    assert all(event.origin is Origin.AUTO for event in sent(events)[1:])


def test_login_shows_the_exchange_as_in_the_walkthrough(
    plain_auth_server: BackgroundServer,
) -> None:
    events: list[Event] = []
    asyncio.run(logged_in(plain_auth_server.port, "LOGIN", "alice", "wonderland", events))
    assert [event.display for event in sent(events)] == [
        "EHLO client.test",
        "AUTH LOGIN",
        "********",
        "********",
    ]
    assert [e.secret for e in sent(events)] == [False, False, True, True]


def test_plain_sends_one_line_with_a_redacted_initial_response(
    plain_auth_server: BackgroundServer,
) -> None:
    events: list[Event] = []
    asyncio.run(logged_in(plain_auth_server.port, "PLAIN", "bob", USERS["bob"], events))
    assert sent(events)[-1].display == "AUTH PLAIN ********"


def test_wrong_password_is_a_typed_rejection_and_the_session_goes_on(
    plain_auth_server: BackgroundServer,
) -> None:
    async def scenario() -> None:
        session = Session(timeout=5)
        await session.connect(Endpoint("127.0.0.1", plain_auth_server.port))
        await session.send("EHLO client.test")
        for mechanism in ("PLAIN", "LOGIN", "CRAM-MD5"):
            with pytest.raises(AuthRejected) as caught:
                await authenticate(session, mechanism, "alice", "not-the-password")
            assert caught.value.code == 535
            assert isinstance(caught.value, NegativeReply) and not caught.value.transient
            assert str(caught.value).startswith(f"AUTH {mechanism}: server replied 535")
            assert not session.auth_pending
        # Still usable: the right password works on the same connection.
        assert (await authenticate(session, "LOGIN", "alice", "wonderland")).code == 235
        await session.close()

    asyncio.run(scenario())


def test_bad_credentials_are_refused_before_anything_is_sent() -> None:
    async def scenario() -> None:
        session = Session()  # not even connected: nothing may be sent
        for user, secret, mech in [
            ("", "x", "PLAIN"),
            ("a\x00b", "x", "PLAIN"),
            ("alice", "pass\nword", "LOGIN"),
            ("alice", "tok\x01en", "XOAUTH2"),
            ("two words", "x", "CRAM-MD5"),
        ]:
            with pytest.raises(BadCredentials):
                await authenticate(session, mech, user, secret)
        with pytest.raises(UnsupportedMechanism, match="GSSAPI"):
            await authenticate(session, "GSSAPI", "alice", "x")

    asyncio.run(scenario())


# -- scripted servers: XOAUTH2 and servers that stray -------------------------------------

Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter, list[str]], Awaitable[None]]


def against(script: Script, mechanism: str, user: str, secret: str) -> tuple[Any, list[str]]:
    """Run authenticate against a scripted server; (reply or exception, lines it got)."""
    received: list[str] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 scripted\r\n")
        await script(reader, writer, received)
        await reader.read()

    async def scenario(port: int) -> Any:
        session = Session(timeout=5)
        await session.connect(Endpoint("127.0.0.1", port))
        try:
            return await authenticate(session, mechanism, user, secret)
        except Exception as exc:
            return exc
        finally:
            assert not session.auth_pending
            await session.close()

    with ScriptedServer(handler) as server:
        outcome = asyncio.run(scenario(server.port))
    assert not server.errors
    return outcome, received


async def reply_each(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    received: list[str],
    replies: list[bytes],
) -> None:
    for reply in replies:
        received.append(await read_command(reader))
        writer.write(reply)
        await writer.drain()


def test_xoauth2_success_sends_the_bearer_token_as_initial_response() -> None:
    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter, got: list[str]) -> None:
        await reply_each(r, w, got, [b"235 2.7.0 Accepted\r\n"])

    outcome, received = against(script, "XOAUTH2", "me@example.test", "ya29.token")
    assert isinstance(outcome, Reply) and outcome.code == 235
    assert received == [
        "AUTH XOAUTH2 " + b64("user=me@example.test\x01auth=Bearer ya29.token\x01\x01")
    ]


def test_xoauth2_error_challenge_is_answered_empty_and_explained() -> None:
    detail = '{"status":"401","schemes":"bearer","scope":"https://mail.example/"}'

    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter, got: list[str]) -> None:
        challenge = f"334 {b64(detail)}\r\n".encode()
        await reply_each(
            r, w, got, [challenge, b"535 5.7.8 Username and Password not accepted\r\n"]
        )

    outcome, received = against(script, "XOAUTH2", "me@example.test", "expired")
    assert isinstance(outcome, AuthRejected) and outcome.code == 535
    assert '"status":"401"' in str(outcome)
    assert received[1] == ""  # the empty response that ends the exchange


def test_extra_challenge_is_cancelled_with_a_star() -> None:
    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter, got: list[str]) -> None:
        await reply_each(
            r,
            w,
            got,
            [
                b"334 VXNlcm5hbWU6\r\n",
                b"334 UGFzc3dvcmQ6\r\n",
                b"334 QW5kIHlvdXIgUElOPw==\r\n",  # "And your PIN?"
                b"501 5.7.0 Authentication cancelled\r\n",
            ],
        )

    outcome, received = against(script, "LOGIN", "alice", "wonderland")
    assert isinstance(outcome, AuthProtocolError)
    assert "unexpected extra challenge" in str(outcome)
    assert received == ["AUTH LOGIN", b64("alice"), b64("wonderland"), "*"]


def test_cram_md5_with_a_broken_challenge_is_cancelled() -> None:
    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter, got: list[str]) -> None:
        await reply_each(r, w, got, [b"334 !!not-base64!!\r\n", b"501 cancelled\r\n"])

    outcome, received = against(script, "CRAM-MD5", "alice", "wonderland")
    assert isinstance(outcome, AuthProtocolError) and "not base64" in str(outcome)
    assert received == ["AUTH CRAM-MD5", "*"]


def test_cram_md5_answers_the_servers_challenge() -> None:
    challenge = b64("<1896.697170952@postoffice.reston.mci.net>")  # RFC 2195's example

    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter, got: list[str]) -> None:
        await reply_each(r, w, got, [f"334 {challenge}\r\n".encode(), b"235 ok\r\n"])

    outcome, received = against(script, "CRAM-MD5", "tim", "tanstaaftanstaaf")
    assert isinstance(outcome, Reply) and outcome.code == 235
    # RFC 2195 2 gives this very response for this challenge and secret.
    assert received[1] == "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw"
    assert received[1] == cram_md5_response("tim", "tanstaaftanstaaf", challenge)


def test_plain_too_long_for_one_line_goes_after_the_challenge() -> None:
    secret = "s" * 600  # RFC 4954 4: the command would exceed 512 octets

    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter, got: list[str]) -> None:
        await reply_each(r, w, got, [b"334 \r\n", b"235 ok\r\n"])

    outcome, received = against(script, "PLAIN", "alice", secret)
    assert isinstance(outcome, Reply) and outcome.code == 235
    assert received == ["AUTH PLAIN", plain_response("alice", secret)]


# -- choosing a mechanism -------------------------------------------------------------------


def caps(*lines: str) -> Any:
    return parse_ehlo(Reply(250, ("server.test", *lines)))


def test_select_prefers_cram_md5_then_plain_then_login() -> None:
    assert select_mechanism(caps("AUTH LOGIN PLAIN CRAM-MD5")) == "CRAM-MD5"
    assert select_mechanism(caps("AUTH LOGIN PLAIN")) == "PLAIN"
    assert select_mechanism(caps("AUTH=LOGIN")) == "LOGIN"
    assert select_mechanism(caps("AUTH LOGIN PLAIN"), "login") == "LOGIN"


def test_select_explains_what_is_missing() -> None:
    with pytest.raises(AuthUnavailable, match="send EHLO first"):
        select_mechanism(None)
    with pytest.raises(AuthUnavailable, match=r"since TLS started.*send EHLO first"):
        select_mechanism(None, tls=True)
    with pytest.raises(AuthUnavailable, match="does not offer AUTH before TLS: type STARTTLS"):
        select_mechanism(caps("STARTTLS", "8BITMIME"))
    with pytest.raises(AuthUnavailable, match=r"does not offer AUTH$"):
        select_mechanism(caps("8BITMIME"), tls=True)
    with pytest.raises(AuthUnavailable, match=r"does not offer AUTH XOAUTH2 .*offers PLAIN"):
        select_mechanism(caps("AUTH PLAIN"), "xoauth2")
    with pytest.raises(AuthUnavailable, match="offers only GSSAPI"):
        select_mechanism(caps("AUTH GSSAPI"))
    with pytest.raises(UnsupportedMechanism, match="SCRAM-SHA-256"):
        select_mechanism(caps("AUTH SCRAM-SHA-256"), "scram-sha-256")

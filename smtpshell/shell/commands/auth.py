"""Local commands for AUTH: base64 by hand (``b64``, ``unb64``) and a guided ``login``.

``b64`` replaces the walkthroughs' ``echo -n ... | base64``: UTF-8, no trailing
newline, no line wrapping (RFC 4954 4). ``login`` runs the whole exchange and
asks for the password with echo off, so it reaches neither the screen nor the
history.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from smtpshell.core.arguments import ArgumentParser, split_arguments
from smtpshell.core.authenticate import (
    SENDS_SECRET_IN_CLEAR,
    AuthRejected,
    authenticate,
    select_mechanism,
)
from smtpshell.core.events import Origin
from smtpshell.errors import NotConnected, UsageError
from smtpshell.protocol.auth import SUPPORTED_MECHANISMS, b64decode_text, b64encode_text
from smtpshell.protocol.inert import inert
from smtpshell.shell.registry import LocalCommand

if TYPE_CHECKING:
    from smtpshell.shell.context import CommandContext


async def encode_base64(ctx: CommandContext, rest: str) -> None:
    """Base64 of TEXT in UTF-8, for AUTH by hand (no TEXT: asked, not shown); -d decodes."""
    option, _, argument = rest.partition(" ")
    if option == "-d":
        _show_decoded(ctx, argument.strip())
        return
    # Everything after "b64 " is the text, inner spaces included; "--" protects a
    # text that itself starts with "-d".
    text = argument if option == "--" else rest
    if not text:
        # Asked rather than typed on the line: a password typed after "b64" would
        # show on screen and land in the history file.
        text = await ctx.ask("Text to encode (not shown): ", secret=True)
        if not text and not ctx.session.auth_pending:
            ctx.info("(empty text: its base64 is empty too)")
            return
    if ctx.session.auth_pending:
        # A 334 waits (RFC 4954 4): the encoding is the answer. The session sends it
        # as a secret, so it is shown masked and never recorded; not shown here.
        await ctx.session.send(b64encode_text(text))
        return
    ctx.show(b64encode_text(text))


async def decode_base64(ctx: CommandContext, rest: str) -> None:
    """Decode BASE64 and show the text (control characters such as NUL as \\x00)."""
    _show_decoded(ctx, rest)


def _show_decoded(ctx: CommandContext, data: str) -> None:
    if not data:
        raise UsageError("nothing to decode: b64 -d BASE64")
    try:
        text = b64decode_text(data)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    # AUTH PLAIN holds NULs (RFC 4616 2): show them, and never pass ESC through.
    ctx.show(inert(text))


async def login(ctx: CommandContext, rest: str) -> None:
    """Log in: a whole AUTH exchange, the password asked with echo off and redacted."""
    parser = ArgumentParser(prog="login", add_help=False)
    parser.add_argument("user", nargs="?")
    parser.add_argument("--mech", "-m", metavar="MECHANISM")
    parser.add_argument("--plaintext", action="store_true")
    args = parser.parse_args(split_arguments(rest))
    session = ctx.session
    if not session.connected:
        raise NotConnected("not connected: use connect HOST[:PORT] first")
    # Before asking anything: say now if there is nothing to log in with.
    mechanism = select_mechanism(session.capabilities, args.mech, tls=session.tls is not None)
    if not args.plaintext:
        await _agree_to_clear_text(ctx, mechanism)
    username = args.user if args.user is not None else await ctx.ask("Username: ")
    if not username:
        raise UsageError("no user name given")
    # XOAUTH2 carries an OAuth 2.0 access token where the others carry a password.
    question = "Token: " if mechanism == "XOAUTH2" else "Password: "
    secret = await ctx.ask(question, secret=True)
    await _log_in(ctx, mechanism, username, secret)


async def _log_in(ctx: CommandContext, mechanism: str, username: str, secret: str) -> None:
    try:
        await authenticate(ctx.session, mechanism, username, secret)
    except AuthRejected as exc:
        # The server's reply is already on screen, in colour; say what it means.
        ctx.error(f"authentication failed ({exc.code})")
        return
    ctx.info(f"authenticated as {inert(username)} with {mechanism}")


async def connect_profile(ctx: CommandContext, name: str) -> None:
    """``connect --profile NAME``: connect as the profile says and, when it names a
    user, log in with its password (from its environment variable, keyring or
    command; asked when it has none)."""
    import asyncio

    from smtpshell.core.password_sources import resolve_password
    from smtpshell.core.profiles import load_profiles

    path = ctx.profiles_file
    if path is None:
        raise UsageError("no profiles file here: connect HOST[:PORT] instead")
    profile = load_profiles(path).get(name)
    if not await ctx.connect(profile.connect_options()) or not profile.user:
        return
    session = ctx.session
    # Plain or implicit TLS: no EHLO yet. A refusal is on screen already.
    hello = session.capabilities is None
    if hello and (await session.send(f"EHLO {profile.helo}", Origin.AUTO)).code != 250:
        return
    mechanism = select_mechanism(
        session.capabilities, profile.auth_mechanism, tls=session.tls is not None
    )
    if not profile.allow_plain_auth_without_tls:
        await _agree_to_clear_text(ctx, mechanism)
    if profile.has_password_source:
        # A password_command may take its time: not on the event loop.
        found = await asyncio.to_thread(resolve_password, profile, path, ctx.environ)
        for warning in found.warnings:
            ctx.error(f"warning: {warning}")
        secret = found.value
    else:
        secret = await ctx.ask("Password: ", secret=True)
    await _log_in(ctx, mechanism, profile.user, secret)


async def _agree_to_clear_text(ctx: CommandContext, mechanism: str) -> None:
    """Ask before a mechanism sends the secret readable over a network without TLS.

    PLAIN and LOGIN carry the password as base64 (RFC 4616 2, RFC 4954 4) and
    XOAUTH2 a bearer token: anyone on the path can use them. Loopback never leaves
    the machine. A piped session cannot be asked: ``--plaintext`` says yes ahead.
    """
    session = ctx.session
    if session.tls is not None or session.on_loopback or mechanism not in SENDS_SECRET_IN_CLEAR:
        return
    where = inert(str(session.endpoint))
    secret = "token" if mechanism == "XOAUTH2" else "password"
    question = (
        f"no TLS: AUTH {mechanism} would send the {secret} unencrypted to {where}, "
        "readable on the network. Send it?"
    )
    if not await ctx.confirm(question):
        raise UsageError(
            f"not sent: AUTH {mechanism} without TLS sends the {secret} unencrypted to {where} "
            "(type STARTTLS and EHLO first, or use login --plaintext to send it all the same)"
        )


COMMANDS = (
    LocalCommand("b64", encode_base64, usage="b64 [TEXT] | b64 -d BASE64", secret_args=True),
    LocalCommand("unb64", decode_base64, usage="unb64 BASE64", secret_args=True),
    LocalCommand(
        "login",
        login,
        usage=f"login [USER] [--mech {'|'.join(SUPPORTED_MECHANISMS)}] [--plaintext]",
        asks_secret=True,
    ),
)

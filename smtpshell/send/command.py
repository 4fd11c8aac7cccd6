"""``smtpshell send``: compose or take a message and deliver it, from a script or a
terminal, the way ssmtp, ``mail -s`` and a hand-written smtplib script do, with
exit statuses a script can act on (``send/outcome.py``).

The command line (``cli/main.py``) builds the parser with :func:`configure_parser`,
and calls :func:`run`; a transcript recorder, which lives above this layer, comes in
as one more listener.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import io
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, TextIO

from smtpshell.core.arguments import ca_file, port_number, seconds_up_to
from smtpshell.core.options import DEFAULT_HELO, DEFAULT_TIMEOUT, ConnectOptions
from smtpshell.errors import PasswordUnavailable, UnreadableInput, UsageError
from smtpshell.protocol.endpoint import TlsMode
from smtpshell.protocol.inert import inert
from smtpshell.send.outcome import SendStatus, exit_status, report

if TYPE_CHECKING:
    from smtpshell.core.events import Listener
    from smtpshell.core.profiles import Profile
    from smtpshell.protocol.reply import Reply
    from smtpshell.send.message import OutgoingMessage
    from smtpshell.send.redact import Redactor
    from smtpshell.send.routing import Route
    from smtpshell.send.transaction import Delivery, Policy

DESCRIPTION = """\
Send a message: composed from options (like mail -s), or prepared (--raw, like
ssmtp RCPT < mail.txt). Without --server or --profile it goes straight to each
recipient domain's mail exchangers (MX).

examples:
  echo hello | smtpshell send --server 127.0.0.1:8025 --to bob@example.com -s hi
  smtpshell send --profile work --to bob@example.com -s report --attach report.pdf
  smtpshell send --raw mail.txt --server smtp.example.com --starttls --user me
  smtpshell send --raw -t < mail.txt        (recipients from To/Cc/Bcc)
"""

EPILOG = """\
exit status: 0 every recipient accepted the message; 1 smtpshell failed (a file...);
2 usage error; 3 no server reached or connection lost; 4 some recipients refused
(the others got it); 21 greeting, 22 EHLO, 23 MAIL (or the message does not fit the
server), 24 every recipient, 25 DATA, 26 the message refused (5xx); 28 AUTH failed;
29 TLS failed; 75 a temporary (4xx) failure: try again later.
"""

# Above this many bytes a terminal gets a progress bar while the message goes out.
PROGRESS_THRESHOLD = 256 * 1024
# Direct delivery makes a connection per domain; a transcript replays one.
RECORD_ONE_CONNECTION = "--record records one connection: give --server or --profile"
# The environment variable a --user password is read from (profiles name their own).
PASSWORD_VARIABLE = "SMTPSHELL_PASSWORD"


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.description = DESCRIPTION
    parser.epilog = EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    message = parser.add_argument_group("the message")
    message.add_argument(
        "--to", action="append", default=[], metavar="ADDR", help="recipient (repeat for more)"
    )
    message.add_argument("--cc", action="append", default=[], metavar="ADDR", help="copy recipient")
    message.add_argument(
        "--bcc",
        action="append",
        default=[],
        metavar="ADDR",
        help="blind copy: never in the headers",
    )
    message.add_argument(
        "--from",
        dest="sender",
        metavar="ADDR",
        help="sender (default: the profile's, else --user when it is an address)",
    )
    message.add_argument("-s", "--subject", metavar="TEXT", help="subject (UTF-8 welcome)")
    body = message.add_mutually_exclusive_group()
    body.add_argument("--body", metavar="TEXT", help="the text (default: standard input)")
    body.add_argument("--body-file", type=Path, metavar="FILE", help="the text, from FILE (UTF-8)")
    message.add_argument(
        "--attach",
        action="append",
        default=[],
        type=Path,
        metavar="FILE",
        help="attach FILE (repeat for more)",
    )
    message.add_argument(
        "--header", action="append", default=[], metavar="'NAME: VALUE'", help="an extra header"
    )
    message.add_argument(
        "--raw",
        nargs="?",
        const="-",
        metavar="FILE",
        help="send FILE (or standard input) as it is: a prepared RFC 5322 message",
    )
    message.add_argument(
        "-t",
        dest="from_headers",
        action="store_true",
        help="recipients from the message's To, Cc and Bcc (as sendmail -t); implies --raw",
    )
    route = parser.add_argument_group("where it goes")
    route.add_argument(
        "--server",
        metavar="HOST[:PORT]",
        help="send through this server (default: the default profile, else each "
        "recipient domain's MX)",
    )
    route.add_argument(
        "--profile",
        metavar="NAME",
        help="a profile from the profiles file (smtpshell config); without --server, "
        "--profile or --direct, the file's default profile if it names one",
    )
    route.add_argument(
        "--direct",
        action="store_true",
        help="to each recipient domain's MX hosts, whatever the profiles file says",
    )
    tls = route.add_mutually_exclusive_group()
    tls.add_argument("--tls", action="store_true", help="implicit TLS (port 465 unless given)")
    tls.add_argument(
        "--starttls",
        action="store_true",
        help="STARTTLS, required and verified: never go on in plain text (direct delivery: "
        "required of every MX, certificate valid for its name)",
    )
    route.add_argument(
        "--user",
        metavar="NAME",
        help=f"log in as NAME (password from ${PASSWORD_VARIABLE} or asked)",
    )
    route.add_argument(
        "--cafile", type=ca_file, metavar="PEM", help="trust the CA certificates in PEM"
    )
    route.add_argument(
        "--insecure", action="store_true", help="do not verify the server certificate"
    )
    route.add_argument("--helo", metavar="NAME", help=f"name for EHLO (default {DEFAULT_HELO})")
    route.add_argument(
        "--timeout",
        type=seconds_up_to(86400),
        metavar="SECONDS",
        help=f"time-out for each wait (default {DEFAULT_TIMEOUT:g})",
    )
    route.add_argument(
        "--nameserver",
        metavar="HOST[:PORT]",
        help="DNS resolver for MX lookups (default: $SMTPSHELL_NAMESERVER, else the system's)",
    )
    route.add_argument(
        "--mx-port",
        type=port_number,
        default=25,
        metavar="N",
        help="the port of the mail exchangers (default 25; other values are for tests)",
    )
    report_group = parser.add_argument_group("what it shows")
    report_group.add_argument(
        "--json", action="store_true", help="print a JSON summary on standard output"
    )
    report_group.add_argument(
        "-v", "--verbose", action="store_true", help="show the SMTP conversation (secrets hidden)"
    )
    report_group.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    report_group.add_argument(
        "--dry-run", action="store_true", help="print the envelope and message; send nothing"
    )
    report_group.add_argument(
        "--record",
        type=Path,
        metavar="FILE",
        help="write the conversation as a transcript (smtpshell replay FILE)",
    )
    report_group.add_argument(
        "--force", action="store_true", help="let --record replace an existing FILE"
    )


def check_options(options: argparse.Namespace) -> None:
    """What can be refused from the options alone, before any file is touched."""
    if options.force and options.record is None:
        raise UsageError("--force goes with --record FILE")
    if options.direct and (options.server or options.profile):
        raise UsageError("--direct goes to the MX hosts: it excludes --server and --profile")
    if options.record is not None and options.direct:
        raise UsageError(RECORD_ONE_CONNECTION)
    if options.json and options.dry_run:
        raise UsageError("--json reports on a delivery; --dry-run makes none")
    if options.helo is not None:
        _check_helo(options.helo)


def _check_helo(helo: str) -> None:
    """RFC 5321 4.1.1.1: EHLO takes a domain or an address literal: printable ASCII
    without spaces. Checked before connecting, so that a CR in it (a second command)
    or a space is a usage error, not a failure half-way through the conversation."""
    if not helo or not helo.isascii() or not helo.isprintable() or " " in helo:
        raise UsageError(
            f"--helo '{inert(helo)}': give a host name or an address literal "
            "(ASCII, without spaces or control characters)"
        )


@dataclass(frozen=True)
class Streams:
    stdin: TextIO
    stdout: TextIO
    stderr: TextIO
    environ: Mapping[str, str]


def run(
    options: argparse.Namespace,
    streams: Streams,
    profiles_file: Callable[[], Path],
    ask: Callable[[str], str] | None,
    listeners: Sequence[Listener] = (),
) -> int:
    """Send as ``options`` say; the exit status (``SendStatus``). ``profiles_file``
    says where profiles are (asked only for ``--profile``); ``ask`` reads a password
    on a terminal (None: there is none to ask on)."""
    # A named profile, or the file's default one when no server is given (as
    # msmtp's "account default"); --direct goes to the MX hosts whatever the file says.
    wants_profile = options.profile is not None or not (options.server or options.direct)
    profiles_path = profiles_file() if wants_profile else None
    profile = _profile(options, profiles_path)
    try:
        message = _message(options, streams, profile)
    except UnreadableInput as exc:
        # A file that cannot be read is smtpshell failing (1, as the README lists),
        # not a command line to correct (2).
        streams.stderr.write(f"smtpshell send: error: {exc}\n")
        return SendStatus.FAILURE
    with message:
        if options.dry_run:
            from smtpshell.send.preview import preview_lines

            streams.stdout.writelines(f"{line}\n" for line in preview_lines(message))
            streams.stdout.flush()
            return SendStatus.OK
        from smtpshell.send.routing import ViaServer

        route = _route(options, profile, streams.environ, message.recipients)
        if listeners and not isinstance(route, ViaServer):
            raise UsageError(RECORD_ONE_CONNECTION)
        policy = _policy(options, profile, profiles_path, streams, ask)
        redactor = _redactor(policy)
        shown: list[Listener] = list(listeners)
        if options.verbose:
            shown.append(_conversation(streams.stderr))
        # A server may echo the password back: masked before any sink sees it.
        shown = [redactor.listener(listener) for listener in shown]
        progress = _progress(streams.stderr, message.size * _copies(route, message), options)
        try:
            deliveries = asyncio.run(_deliver(message, route, policy, shown, progress))
        finally:
            if progress is not None:
                progress(-1)
        if options.json:
            document = redactor.document(report(deliveries, message.sender, message.size))
            streams.stdout.write(json.dumps(document, indent=2) + "\n")
        else:
            # --quiet: "nothing but errors", so a refusal is still said.
            _summarise(deliveries, streams.stderr, redactor, successes=not options.quiet)
    return exit_status(deliveries)


def _copies(route: Route, message: OutgoingMessage) -> int:
    """How many times the message goes out: once per domain when delivered direct."""
    from smtpshell.send.routing import Direct, split_by_domain

    return len(split_by_domain(message.recipients)) if isinstance(route, Direct) else 1


async def _deliver(
    message: OutgoingMessage,
    route: Route,
    policy: Policy,
    listeners: Sequence[Listener],
    progress: Callable[[int], None] | None,
) -> list[Delivery]:
    from smtpshell.send.routing import deliver

    return await deliver(message, message.recipients, route, policy, listeners, progress)


# -- the message ---------------------------------------------------------------


def _profile(options: argparse.Namespace, path: Path | None) -> Profile | None:
    if path is None:
        return None
    from smtpshell.core.profiles import load_profiles

    if options.profile is not None:
        return load_profiles(path).get(options.profile)
    if not path.exists():
        return None
    profiles = load_profiles(path)
    name = profiles.default_name
    return profiles.get(name) if name is not None else None


def _sender(options: argparse.Namespace, profile: Profile | None) -> str | None:
    if options.sender is not None:
        sender = str(options.sender)
        return sender if profile is None else profile.qualify(sender)
    if profile is not None and profile.default_sender:
        return profile.default_sender
    if options.user and "@" in options.user:
        return str(options.user)
    return None


def _message(
    options: argparse.Namespace, streams: Streams, profile: Profile | None
) -> OutgoingMessage:
    sender = _sender(options, profile)
    if options.raw is not None or options.from_headers:
        return _raw(options, streams, sender, profile)
    if not (options.to or options.cc or options.bcc):
        raise UsageError("no recipient: give --to ADDR (or --raw with -t)")
    if sender is None:
        raise UsageError("no sender: give --from ADDR (or a profile with a sender)")
    from smtpshell.send.compose import ComposeRequest, compose

    return compose(
        ComposeRequest(
            to=tuple(options.to),
            cc=tuple(options.cc),
            bcc=tuple(options.bcc),
            sender=sender,
            subject=options.subject or "",
            body=_body_text(options, streams),
            attachments=tuple(options.attach),
            headers=tuple(options.header),
        )
    )


def _raw(
    options: argparse.Namespace, streams: Streams, sender: str | None, profile: Profile | None
) -> OutgoingMessage:
    from smtpshell.send.raw import read_raw

    composing = [name for name in ("subject", "body", "body_file") if getattr(options, name)]
    composing += ["attach"] * bool(options.attach) + ["header"] * bool(options.header)
    if composing:
        given = ", ".join(f"--{name.replace('_', '-')}" for name in composing)
        raise UsageError(f"--raw sends the message as it is: {given} cannot change it")
    if options.cc or options.bcc:
        raise UsageError("--raw: give every recipient with --to (or none, with -t)")
    use_headers = options.from_headers or not options.to
    if options.sender is None and (profile is None or profile.keep_from_header):
        sender = None  # the From header decides (ssmtp's FromLineOverride)
    if options.raw not in (None, "-"):
        return read_raw(
            Path(options.raw), to=list(options.to), sender=sender, use_headers=use_headers
        )
    stdin = _open_stdin(streams, "give the message as --raw FILE")
    if stdin.isatty():
        streams.stderr.write(
            "Type the message, headers first; end it with Ctrl-D on a line of its own.\n"
        )
    source = _binary(stdin)
    return read_raw(source, to=list(options.to), sender=sender, use_headers=use_headers)


def _open_stdin(streams: Streams, instead: str) -> TextIO:
    """Standard input, when there is one to read: a program started with it closed
    (``<&-``, some daemons) has None, or a closed stream."""
    stdin: TextIO | None = streams.stdin
    if stdin is None or stdin.closed:
        raise UsageError(f"standard input is closed: {instead}")
    return stdin


def _binary(stream: TextIO) -> BinaryIO:
    """Standard input as bytes: its buffer, or (a stream without one) its text as UTF-8."""
    buffer = getattr(stream, "buffer", None)
    if buffer is not None:
        return buffer  # type: ignore[no-any-return]
    return io.BytesIO(stream.read().encode("utf-8", "surrogateescape"))


def _body_text(options: argparse.Namespace, streams: Streams) -> str:
    if options.body is not None:
        return str(options.body)
    if options.body_file is not None:
        where = str(options.body_file)
        try:
            data: bytes = options.body_file.read_bytes()
        except OSError as exc:
            # The name made inert: it may come from a glob over someone else's files.
            raise UnreadableInput(f"cannot read {inert(where)}: {exc.strerror or exc}") from exc
    else:
        stdin = _open_stdin(streams, "give the text with --body or --body-file")
        if stdin.isatty():
            streams.stderr.write("Type the message; end it with Ctrl-D on a line of its own.\n")
        data = _binary(stdin).read()
        where = "standard input"
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(
            f"the text from {inert(where)} is not UTF-8: send a file with --attach, "
            "or a prepared message with --raw"
        ) from None


# -- the route -----------------------------------------------------------------


def _route(
    options: argparse.Namespace,
    profile: Profile | None,
    environ: Mapping[str, str],
    recipients: Sequence[str],
) -> Route:
    from smtpshell.send.routing import Direct, ViaServer

    mode = TlsMode.IMPLICIT if options.tls else TlsMode.STARTTLS if options.starttls else None
    timeout = options.timeout or (profile.timeout if profile is not None else DEFAULT_TIMEOUT)
    if options.server or profile is not None:
        # The command line wins, field by field, over the profile.
        base = profile.connect_options() if profile is not None else ConnectOptions()
        given = ConnectOptions.parse(options.server, mode=mode)
        merged = given.over(base)
        return ViaServer(
            dataclasses.replace(
                merged,
                cafile=options.cafile or base.cafile,
                insecure=options.insecure or base.insecure,
                helo=options.helo or base.helo,
                timeout=timeout,
            )
        )
    if options.user:
        raise UsageError("--user needs --server or --profile: direct delivery does not log in")
    if options.tls:
        raise UsageError("--tls needs --server: mail exchangers take STARTTLS on port 25")
    for address in recipients:
        if "@" not in address:
            raise UsageError(f"{inert(address)}: no domain to deliver to (user@domain)")
    from smtpshell.core.dns import ResolverConfig, ResolverConfigError
    from smtpshell.core.tls import TlsSettings

    try:
        resolver = ResolverConfig.from_env(options.nameserver, timeout=timeout, environ=environ)
    except ResolverConfigError as exc:
        raise UsageError(f"--nameserver: {exc}") from exc
    settings = TlsSettings(options.cafile, options.insecure)
    return Direct(resolver, options.mx_port, settings, timeout, require_tls=options.starttls)


def _policy(
    options: argparse.Namespace,
    profile: Profile | None,
    profiles_path: Path | None,
    streams: Streams,
    ask: Callable[[str], str] | None,
) -> Policy:
    from smtpshell.send.transaction import Credentials, Policy

    helo = options.helo or (profile.helo if profile is not None else DEFAULT_HELO)
    user = options.user or (profile.user if profile is not None else None)
    credentials = None
    if user:
        password = _password(options, profile, profiles_path, streams, ask, user)
        mechanism = profile.auth_mechanism if profile is not None else None
        credentials = Credentials(user, password, mechanism)
    return Policy(
        helo=helo,
        credentials=credentials,
        allow_cleartext_auth=profile is not None and profile.allow_plain_auth_without_tls,
        # Direct delivery without --starttls: STARTTLS whenever it is offered.
        opportunistic_tls=options.server is None and profile is None and not options.starttls,
    )


def _password(
    options: argparse.Namespace,
    profile: Profile | None,
    profiles_path: Path | None,
    streams: Streams,
    ask: Callable[[str], str] | None,
    user: str,
) -> str:
    if profile is not None and not options.user:
        from smtpshell.core.password_sources import resolve_password

        secret = resolve_password(profile, profiles_path, streams.environ, ask)
        for warning in secret.warnings:
            streams.stderr.write(f"smtpshell send: warning: {warning}\n")
        return secret.value
    if streams.environ.get(PASSWORD_VARIABLE):
        return streams.environ[PASSWORD_VARIABLE]
    if ask is None:
        raise PasswordUnavailable(
            f"no password for {inert(user)}: set ${PASSWORD_VARIABLE}, or use a profile "
            "(smtpshell config init)"
        )
    password = ask(f"Password for {inert(user)}: ")
    if not password:
        raise PasswordUnavailable(f"no password typed for {inert(user)}: nothing sent")
    return password


# -- what is shown -------------------------------------------------------------


def _conversation(stream: TextIO) -> Listener:
    from smtpshell.render.events import EventRenderer
    from smtpshell.render.theme import colour_wanted, make_console

    console = make_console(stream, colour=colour_wanted(stream, {}))
    return EventRenderer(console, echo_user=True)


def _progress(
    stream: TextIO, size: int, options: argparse.Namespace
) -> Callable[[int], None] | None:
    if options.quiet or options.json or size < PROGRESS_THRESHOLD or not stream.isatty():
        return None
    from smtpshell.send.progress import ProgressBar

    return ProgressBar(stream, size)


def _redactor(policy: Policy) -> Redactor:
    from smtpshell.send.redact import Redactor

    credentials = policy.credentials
    if credentials is None:
        return Redactor()
    return Redactor(credentials.user, credentials.password)


def _summarise(
    deliveries: Sequence[Delivery], stream: TextIO, redactor: Redactor, successes: bool = True
) -> None:
    """One line per recipient: sent, refused, or not sent and why; without
    ``successes`` (--quiet) only what needs a look."""
    lines: list[str] = []
    for delivery in deliveries:
        via = f" via {inert(delivery.server)}" if delivery.server else ""
        unsent = []
        for outcome in delivery.recipients:
            address = inert(outcome.address)
            if outcome.address in delivery.delivered:
                if not successes:
                    continue
                assert delivery.message_reply is not None
                lines.append(f"sent to {address}{via}: {_reply_line(delivery.message_reply)}")
            elif outcome.reply is not None and not outcome.accepted:
                lines.append(f"refused {address}{via}: {_reply_line(outcome.reply)}")
            else:
                unsent.append(address)
        if delivery.failure is not None and unsent:
            names = ", ".join(unsent)
            lines.append(f"not sent to {names}{via}: {inert(delivery.failure.reason)}")
    stream.writelines(f"{redactor.text(line)}\n" for line in lines)
    stream.flush()


def _reply_line(reply: Reply) -> str:
    return inert(f"{reply.code} {' '.join(reply.lines)}")

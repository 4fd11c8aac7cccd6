"""Connect directives: the ``telnet``/``nc``/``openssl``/``smtpshell`` line of a walkthrough.

Walkthroughs start with the command their author typed to reach the server, so the
first client line of a transcript may be that command. We read the host, the port
and the kind of TLS from it and ignore options that do not change those.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from smtpshell.errors import UsageError
from smtpshell.protocol.endpoint import (
    Endpoint,
    EndpointError,
    TlsMode,
    format_host,
    parse_port,
    split_host_port,
)


def _options(names: str) -> frozenset[str]:
    return frozenset(names.split())


# Options that take a value, so the value is not mistaken for the host.
_TELNET_VALUES = _options("-l -e -b -n -X -k -S")
_NC_VALUES = _options(
    "-w -i -s -p -q -I -O -P -T -V -X -x -M -m -e -c -g -G --wait --source --source-port "
    "--proxy --proxy-type --proxy-auth --ssl-cert --ssl-key --ssl-trustfile --ssl-ciphers "
    "--ssl-servername --ssl-alpn --exec --sh-exec --idle-timeout --delay --output --hex-dump"
)
_OPENSSL_VALUES = _options(
    "-connect -host -port -bind -proxy -unix -servername -name -starttls -xmpphost -CAfile "
    "-CApath -CAstore -cert -certform -key -keyform -pass -cipher -ciphersuites -curves "
    "-groups -sigalgs -alpn -verify -verify_depth -verify_hostname -verify_ip -sess_out "
    "-sess_in -keylogfile -msgfile -psk -psk_identity -chainCAfile -verifyCAfile -CRL "
    "-cert_chain -maxfraglen -read_buf -ssl_config -engine -provider -provider-path -rand "
    "-writerand -attime -purpose -policy -auth_level -nameopt -timeout"
)
_SMTPSHELL_VALUES = _options(
    "--connect --port --helo --ehlo --var --timeout --record --replay --config --user "
    "--ca-file --cafile --server-name --transcript --log"
)
_SMTPSHELL_IMPLICIT = frozenset({"--tls", "--ssl", "--smtps", "--implicit-tls"})


@dataclass(frozen=True)
class ConnectDirective:
    """A first client line like ``telnet HOST PORT``: where and how to connect.

    ``port`` None means "not given" (the replayer uses the default for ``tls``).
    ``source`` is the line as written, before variable substitution. ``tls`` may be
    given as its value (``"implicit"``); it is kept as a :class:`TlsMode`.
    """

    host: str
    port: int | None
    tls: TlsMode
    line: int = 0
    source: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "tls", TlsMode(self.tls))


class DirectiveError(UsageError, ValueError):
    """A connect directive that names a known program but cannot be understood."""


def parse_connect_directive(text: str, line: int = 0) -> ConnectDirective | None:
    """Read a directive; None if ``text`` does not start with a known program.

    Raises :class:`DirectiveError` for a known program used in a way we cannot read.
    A port containing ``${NAME}`` is left as None until the variable is substituted.
    """
    words = text.split(None, 1)
    parser = _PARSERS.get(_program(words[0])) if words else None
    if parser is None:
        return None
    try:
        argv = shlex.split(text)
    except ValueError as exc:
        raise DirectiveError(f"cannot read the command line: {exc}") from exc
    host, port, tls = parser(argv[1:])
    return ConnectDirective(host=host, port=port, tls=tls, line=line, source=text)


def format_directive(directive: ConnectDirective) -> str:
    """The directive as an ``smtpshell --connect`` command line."""
    host, port = directive.host, directive.port
    target = format_host(host) if port is None else str(Endpoint(host, port))
    flag = f" {directive.tls.flag}" if directive.tls.flag else ""
    return f"smtpshell --connect {shlex.quote(target)}{flag}"


def _address(text: str) -> tuple[str, int | None]:
    """``HOST[:PORT]``, ``[IPV6][:PORT]`` or a bare IPv6 literal, as openssl takes it."""
    try:
        host, port = split_host_port(text)
    except EndpointError as exc:
        raise DirectiveError(f"{exc}; write HOST:PORT or [IPV6]:PORT") from exc
    return host, _port(port)


def _port(token: str | None) -> int | None:
    # A port such as ${PORT} is read once variables are substituted.
    if token is None or "${" in token:
        return None
    try:
        return parse_port(token, services=True)
    except EndpointError as exc:
        raise DirectiveError(f"bad port {token!r}") from exc


def _host(token: str) -> str:
    """The host argument of telnet or nc: a name, an address, a bare or bracketed IPv6."""
    host, port = _address(token)
    if port is not None:
        raise DirectiveError(f"{token!r}: give the port as its own argument")
    return host


def _program(word: str) -> str:
    return word.rsplit("/", 1)[-1]


Options = tuple[dict[str, str], set[str], list[str]]


def _scan(args: Sequence[str], takes_value: frozenset[str], clusters: bool = False) -> Options:
    """Split arguments into options with values, flags and positional arguments."""
    values: dict[str, str] = {}
    flags: set[str] = set()
    positional: list[str] = []
    index = 0
    while index < len(args):
        arg = args[index]
        index += 1
        if arg == "--":
            positional.extend(args[index:])
            break
        if len(arg) < 2 or not arg.startswith("-"):
            positional.append(arg)
            continue
        name, equals, value = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        # "nc -vw 5": in a cluster of short options the last one may take the value.
        wants = name in takes_value or (
            clusters and not arg.startswith("--") and f"-{arg[-1]}" in takes_value
        )
        if equals:
            values[name] = value
        elif wants:
            if index >= len(args):
                raise DirectiveError(f"option {name} needs a value")
            values[name] = args[index]
            index += 1
        else:
            flags.add(name)
    return values, flags, positional


Parsed = tuple[str, int | None, TlsMode]


def _telnet(args: Sequence[str]) -> Parsed:
    _values, _flags, positional = _scan(args, _TELNET_VALUES, clusters=True)
    if not 1 <= len(positional) <= 2:
        raise DirectiveError("write telnet HOST [PORT]")
    # telnet's own default is port 23, which never means SMTP.
    port = _port(positional[1]) if len(positional) == 2 else 25
    return _host(positional[0]), port, TlsMode.PLAIN


def _nc(args: Sequence[str]) -> Parsed:
    _values, flags, positional = _scan(args, _NC_VALUES, clusters=True)
    if not 1 <= len(positional) <= 2:
        raise DirectiveError("write nc HOST PORT")
    port = _port(positional[1]) if len(positional) == 2 else None
    return _host(positional[0]), port, TlsMode.IMPLICIT if "--ssl" in flags else TlsMode.PLAIN


def _openssl(args: Sequence[str]) -> Parsed:
    if not args or args[0] != "s_client":
        raise DirectiveError("only openssl s_client connects to a server")
    values, _flags, positional = _scan(args[1:], _OPENSSL_VALUES)
    target = values.get("-connect") or values.get("-host") or (positional or [""])[-1]
    if not target:
        raise DirectiveError("write openssl s_client -connect HOST:PORT")
    host, port = _address(target)
    if "-port" in values:
        port = _port(values["-port"])
    starttls = values.get("-starttls")
    if starttls is not None and starttls.casefold() != "smtp":
        raise DirectiveError(f"-starttls {starttls} is not SMTP; write -starttls smtp")
    return host, port, TlsMode.STARTTLS if starttls else TlsMode.IMPLICIT


def _smtpshell(args: Sequence[str]) -> Parsed:
    values, flags, positional = _scan(args, _SMTPSHELL_VALUES)
    target = values.get("--connect") or (positional or [""])[-1]
    if not target:
        raise DirectiveError("write smtpshell --connect HOST[:PORT] [--tls|--starttls]")
    host, port = _address(target)
    if "--port" in values:
        port = _port(values["--port"])
    implicit = bool(flags & _SMTPSHELL_IMPLICIT)
    if implicit and "--starttls" in flags:
        raise DirectiveError("choose one of --tls and --starttls")
    if implicit:
        return host, port, TlsMode.IMPLICIT
    return host, port, TlsMode.STARTTLS if "--starttls" in flags else TlsMode.PLAIN


_PARSERS: dict[str, Callable[[Sequence[str]], Parsed]] = {
    "telnet": _telnet,
    "nc": _nc,
    "ncat": _nc,
    "netcat": _nc,
    "openssl": _openssl,
    "smtpshell": _smtpshell,
}

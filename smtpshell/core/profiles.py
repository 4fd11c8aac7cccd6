"""Connection profiles: named settings in a TOML file, what an ssmtp.conf holds
under names that explain themselves.

::

    default = "qq"

    [profiles.qq]
    server = "smtp.qq.com:465"        # ssmtp mailhub=
    tls = "implicit"                  # ssmtp UseTLS=YES; "starttls" for UseSTARTTLS=YES
    user = "yourname@qq.com"          # ssmtp AuthUser=
    password_env = "SMTPSHELL_QQ_PASSWORD"

``tls`` defaults to ``"starttls"``, and STARTTLS is then required: a server that
does not offer it or refuses it ends the connection, never a silent fall-back to
plain text (RFC 3207 4, RFC 8314 3). msmtp's documentation and the seed's
ssmtp.conf both send their passwords over TLS; plain text is ``tls = "none"``,
which has to be written.

The password is kept out of the file when it can be: see ``password_sources``.
Nothing here prints and the path is given by the caller (the command line knows
the user's config directory); every problem is one :class:`ConfigError` line
naming the file, the line when it can be found, and the key.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from smtpshell.core.options import DEFAULT_HELO, DEFAULT_TIMEOUT, ConnectOptions
from smtpshell.errors import ConfigError
from smtpshell.protocol.auth import SUPPORTED_MECHANISMS
from smtpshell.protocol.endpoint import Endpoint, EndpointError, TlsMode, find_control
from smtpshell.protocol.inert import inert

FILE_NAME = "profiles.toml"
DEFAULT_KEYRING_SERVICE = "smtpshell"
MAX_TIMEOUT = 86400.0
# The words of the file for each mode; "none" rather than "plain" says what is lost.
TLS_WORDS = {"implicit": TlsMode.IMPLICIT, "starttls": TlsMode.STARTTLS, "none": TlsMode.PLAIN}
# TOML bare keys: a name that needs no quoting in the file nor on a command line.
PROFILE_NAME = re.compile(r"[A-Za-z0-9_-]+\Z")
_ENVIRONMENT_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def tls_word(mode: TlsMode) -> str:
    """The file's word for ``mode``: implicit, starttls or none."""
    return next(word for word, known in TLS_WORDS.items() if known is mode)


@dataclass(frozen=True)
class Profile:
    """One named profile; the comments give the ssmtp.conf key each field replaces."""

    name: str
    server: str  # HOST[:PORT] (mailhub); the port follows tls when not written
    tls: TlsMode = TlsMode.STARTTLS  # UseTLS / UseSTARTTLS; STARTTLS required by default
    user: str | None = None  # AuthUser
    password_env: str | None = None  # environment variable holding the password
    password_keyring: str | None = None  # keyring service name (true in the file: "smtpshell")
    password_command: str | tuple[str, ...] | None = None  # a shell line, or argv
    password: str | None = field(default=None, repr=False)  # AuthPass, the last resort
    sender: str | None = None  # default envelope sender and From (root / AuthUser)
    rewrite_domain: str | None = None  # rewriteDomain: domain for a sender without one
    helo: str = DEFAULT_HELO  # hostname: the name sent with EHLO
    keep_from_header: bool = True  # FromLineOverride: keep the message's own From
    auth_mechanism: str | None = None  # AuthMethod; None: the best the server offers
    cafile: Path | None = None  # TLS_CA_File
    insecure: bool = False  # do not verify the server's certificate
    allow_plain_auth_without_tls: bool = False  # PLAIN/LOGIN in clear to a remote host
    timeout: float = DEFAULT_TIMEOUT

    def connect_options(self) -> ConnectOptions:
        """The options to connect with, as ``--connect SERVER --tls ...`` would give."""
        return ConnectOptions.parse(
            self.server,
            mode=self.tls,
            cafile=self.cafile,
            insecure=self.insecure,
            helo=self.helo,
            timeout=self.timeout,
        )

    @property
    def endpoint(self) -> Endpoint:
        """Host and port, the port from the mode when ``server`` has none."""
        return self.connect_options().endpoint

    def qualify(self, address: str) -> str:
        """``address`` with ``rewrite_domain`` added when it has no domain of its own:
        ``me`` and ``Me <me>`` become ``me@DOMAIN`` and ``Me <me@DOMAIN>``; the null
        sender (``""``, ``<>``) stays null."""
        bare = address.strip(" \t")
        if "@" in address or not self.rewrite_domain or bare in ("", "<>"):
            return address
        if bare.endswith(">") and "<" in bare:
            name, _, local = bare[:-1].rpartition("<")
            return f"{name}<{local}@{self.rewrite_domain}>"
        return f"{address}@{self.rewrite_domain}"

    @property
    def default_sender(self) -> str | None:
        """The envelope sender when none is given: ``sender``, else ``user`` when it
        is an address (most submission servers want the two to match)."""
        if self.sender:
            return self.qualify(self.sender)
        if self.user and "@" in self.user:
            return self.user
        return None

    @property
    def has_password_source(self) -> bool:
        return any((self.password_env, self.password_keyring, self.password_command, self.password))


@dataclass(frozen=True)
class ProfileFile:
    """The profiles of one file; an absent file has none (``exists`` is False)."""

    path: Path
    default: str | None = None
    profiles: dict[str, Profile] = field(default_factory=dict)
    exists: bool = True

    @property
    def default_name(self) -> str | None:
        """``default``, or the only profile when there is one and no default."""
        if self.default is not None:
            return self.default
        return next(iter(self.profiles)) if len(self.profiles) == 1 else None

    def get(self, name: str | None = None) -> Profile:
        """The profile called ``name``, or the default one; ConfigError otherwise."""
        if not self.profiles:
            why = "does not exist" if not self.exists else "holds no profile"
            raise ConfigError(
                f"{inert(str(self.path))} {why}: smtpshell config init writes one with examples"
            )
        chosen = name if name is not None else self.default_name
        path, names = inert(str(self.path)), ", ".join(self.profiles)
        if chosen is None:
            raise ConfigError(
                f"{path}: no default profile: name one ({names}) "
                'or add default = "NAME" at the top of the file'
            )
        if chosen not in self.profiles:
            raise ConfigError(f"{path}: no profile {inert(chosen)!r} (profiles: {names})")
        return self.profiles[chosen]


def load_profiles(path: Path) -> ProfileFile:
    """The profiles in ``path``; a missing file gives none.

    Bad TOML, an unknown key or a value of the wrong type raises one ConfigError:
    ``FILE:LINE: profiles.NAME.KEY: what is wrong``.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return ProfileFile(path, exists=False)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{inert(str(path))}: not UTF-8 text (byte {exc.start})") from None
    return parse_profiles(text, path)


def parse_profiles(text: str, path: Path) -> ProfileFile:
    """The profiles in ``text``, read from ``path`` (for messages and relative cafile)."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{inert(str(path))}: not valid TOML: {exc}") from None
    locate = _Locator(path, text)
    for key in document:
        if key not in ("default", "profiles"):
            raise locate.error(None, key, _unknown(key, ("default", "profiles")))
    tables = document.get("profiles", {})
    if not isinstance(tables, dict):
        raise locate.error(None, "profiles", "must be a table of profiles: [profiles.NAME]")
    profiles: dict[str, Profile] = {}
    for name, table in tables.items():
        if not PROFILE_NAME.match(name):
            raise locate.error(
                None, f"profiles.{name}", "a profile name holds letters, digits, - and _ only"
            )
        if not isinstance(table, dict):
            raise locate.error(None, f"profiles.{name}", f"must be a table: [profiles.{name}]")
        profiles[name] = _profile(name, table, path.parent, locate)
    default = document.get("default")
    if default is not None and not isinstance(default, str):
        raise locate.error(None, "default", "must be a string naming a profile")
    if default is not None and default not in profiles:
        known = ", ".join(profiles) or "none"
        raise locate.error(
            None, "default", f"names no profile: {inert(default)!r} (profiles: {known})"
        )
    return ProfileFile(path, default, profiles)


class _Invalid(ConfigError):
    """A value that cannot be used; the message says why, without the value when
    secret. Caught here and raised again as a ConfigError naming file and key."""


def _profile(name: str, table: Mapping[str, object], base: Path, locate: _Locator) -> Profile:
    values: dict[str, object] = {}
    for key, value in table.items():
        convert = _CONVERTERS.get(key)
        if convert is None:
            raise locate.error(name, key, _unknown(key, tuple(_CONVERTERS)))
        try:
            values[key] = convert(value)
        except _Invalid as exc:
            raise locate.error(name, key, str(exc)) from None
    if "server" not in values:
        raise locate.error(name, None, 'no server: add server = "HOST[:PORT]"')
    if values.get("password_keyring") and not values.get("user"):
        raise locate.error(
            name, "password_keyring", "needs user: the keyring finds a password by user name"
        )
    cafile = values.get("cafile")
    if isinstance(cafile, Path) and not cafile.is_absolute():
        values["cafile"] = base / cafile  # relative to the file, not to where one stands
    try:
        return Profile(name=name, **values)  # type: ignore[arg-type]
    except TypeError as exc:  # a converter table out of step with Profile: a bug
        raise AssertionError(exc) from exc


def _unknown(key: str, known: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(key.lower(), known, n=1)
    hint = f"did you mean {close[0]}?" if close else f"known keys: {', '.join(known)}"
    return f"unknown key ({hint})"


class _Locator:
    """Finds the line of a key, for messages; None when the file writes it in a way
    this simple scan does not follow (dotted keys, inline tables)."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.lines = text.splitlines()

    def error(self, profile: str | None, key: str | None, message: str) -> ConfigError:
        dotted = ".".join(p for p in ("profiles" if profile else None, profile, key) if p)
        line = self.line_of(profile, key)
        # The path comes from $XDG_CONFIG_HOME or the command line: shown inert.
        path = inert(str(self.path))
        where = f"{path}:{line}" if line else path
        return ConfigError(f"{where}: {inert(dotted)}: {message}")

    def line_of(self, profile: str | None, key: str | None) -> int | None:
        header = None
        if profile is not None:
            name = re.escape(profile)
            header = re.compile(rf"\s*\[\s*profiles\s*\.\s*\"?{name}\"?\s*\]")
        wanted = re.compile(rf"\s*\"?{re.escape(key)}\"?\s*=") if key else None
        inside = header is None
        for number, line in enumerate(self.lines, 1):
            if line.lstrip().startswith("["):
                if header is not None and header.match(line):
                    if wanted is None:
                        return number
                    inside = True
                    continue
                inside = False
            elif inside and wanted is not None and wanted.match(line):
                return number
        return None


# Converters: a TOML value to the field's value, or _Invalid saying why.


def _text(what: str = "a string") -> Callable[[object], str]:
    def convert(value: object) -> str:
        if not isinstance(value, str):
            raise _Invalid(f"must be {what}")
        if not value:
            raise _Invalid("is empty")
        if find_control(value) is not None:
            raise _Invalid("holds a control character")
        return value

    return convert


def _word(what: str) -> Callable[[object], str]:
    """A string without spaces: an address, a domain, a host name."""
    text = _text(what)

    def convert(value: object) -> str:
        checked = text(value)
        if any(char.isspace() for char in checked):
            raise _Invalid(f"must be {what}, without spaces")
        return checked

    return convert


def _flag(value: object) -> bool:
    if not isinstance(value, bool):
        raise _Invalid("must be true or false")
    return value


def _server(value: object) -> str:
    text = _text('a string "HOST[:PORT]"')(value)
    try:
        ConnectOptions.parse(text)  # the one parser of HOST[:PORT]
    except EndpointError as exc:
        raise _Invalid(str(exc)) from None
    return text


def _tls(value: object) -> TlsMode:
    if not isinstance(value, str) or value.lower() not in TLS_WORDS:
        raise _Invalid('must be "implicit", "starttls" or "none"')
    return TLS_WORDS[value.lower()]


def _environment_name(value: object) -> str:
    if not isinstance(value, str) or not _ENVIRONMENT_NAME.match(value):
        raise _Invalid("must be the name of an environment variable: letters, digits, _")
    return value


def _keyring(value: object) -> str | None:
    if isinstance(value, bool):
        return DEFAULT_KEYRING_SERVICE if value else None
    if isinstance(value, str):
        return _text()(value)
    raise _Invalid("must be true, false, or a keyring service name")


def _command(value: object) -> str | tuple[str, ...]:
    if isinstance(value, str):
        return _text()(value)
    if isinstance(value, list) and value and all(isinstance(a, str) for a in value):
        if any(find_control(a) is not None for a in value):
            raise _Invalid("holds a control character")
        return tuple(value)
    raise _Invalid("must be a shell command line, or a list of strings (program, arguments)")


def _password(value: object) -> str:
    # Never quoted in a message: the value is the secret.
    if not isinstance(value, str) or not value:
        raise _Invalid("must be a non-empty string")
    return value


def _domain_word(what: str) -> Callable[[object], str]:
    word = _word(what)

    def convert(value: object) -> str:
        checked = word(value)
        if "@" in checked:
            raise _Invalid(f"must be {what}, not an address")
        return checked

    return convert


def _mechanism(value: object) -> str:
    if not isinstance(value, str) or value.upper() not in SUPPORTED_MECHANISMS:
        raise _Invalid(f"must be one of {', '.join(SUPPORTED_MECHANISMS)}")
    return value.upper()


def _path(value: object) -> Path:
    return Path(_text("a path")(value)).expanduser()


def _timeout(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Invalid("must be a number of seconds")
    if not 0 < value <= MAX_TIMEOUT:
        raise _Invalid(f"must be between 0 and {MAX_TIMEOUT:g} seconds")
    return float(value)


_CONVERTERS: dict[str, Callable[[object], object]] = {
    "server": _server,
    "tls": _tls,
    "user": _text(),
    "password_env": _environment_name,
    "password_keyring": _keyring,
    "password_command": _command,
    "password": _password,
    "sender": _word("an address"),
    "rewrite_domain": _domain_word("a domain"),
    "helo": _domain_word("a host name"),
    "keep_from_header": _flag,
    "auth_mechanism": _mechanism,
    "cafile": _path,
    "insecure": _flag,
    "allow_plain_auth_without_tls": _flag,
    "timeout": _timeout,
}
# Every field of Profile but its name is a key of the file, and nothing else is.
assert set(_CONVERTERS) == {f.name for f in dataclasses.fields(Profile)} - {"name"}
KEYS = tuple(_CONVERTERS)

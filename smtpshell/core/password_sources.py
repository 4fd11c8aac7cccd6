"""Where a profile's password comes from, in order: an environment variable, the
system keyring, a command (msmtp's passwordeval), the profile file itself, and last
a prompt.

The file is the last resort before asking because it is the one place a password
stays readable on disk (ssmtp.conf's AuthPass, the seed's case). Nothing here
prints: warnings go back to the caller, and no message ever holds the password or
what a command wrote on its standard output.
"""

from __future__ import annotations

import stat
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from smtpshell.core.profiles import Profile
from smtpshell.errors import PasswordUnavailable
from smtpshell.protocol.inert import inert

MASK = "********"  # always the same width: a mask that kept the length would leak it
# Long enough to type a passphrase at gpg's pinentry, short enough to notice a hang.
COMMAND_TIMEOUT = 60.0
KEYRING_HINT = "install it (pip install keyring, or smtpshell[keyring])"

FROM_KEYRING = "from the keyring"
FROM_COMMAND = "from password_command"
FROM_FILE = "from the profile file"
ASKED = "asked"


@dataclass(frozen=True)
class Secret:
    """A password and where it came from. ``str()`` and ``repr()`` show the mask."""

    value: str = field(repr=False)
    source: str  # "from $VAR", "from the keyring", "from password_command", ...
    warnings: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"{MASK} ({self.source})"


def resolve_password(
    profile: Profile,
    file_path: Path | None,
    environ: Mapping[str, str],
    ask: Callable[[str], str] | None = None,
    *,
    command_timeout: float = COMMAND_TIMEOUT,
) -> Secret:
    """The password for ``profile``, from the first source that has one.

    A source that is configured but empty (a variable not set, no keyring entry)
    passes to the next; one that fails (a command's non-zero exit) raises
    :class:`PasswordUnavailable` rather than quietly using a weaker one. ``ask`` is
    called with a prompt when no other source has the password and the caller has a
    terminal to ask on.
    """
    misses: list[str] = []
    warnings: list[str] = []
    if profile.password_env:
        value = environ.get(profile.password_env, "")
        if value:
            return Secret(value, f"from ${profile.password_env}")
        misses.append(f"${profile.password_env} is not set")
    if profile.password_keyring:
        stored, why = _from_keyring(profile.password_keyring, profile.user or "")
        if stored:
            return Secret(stored, FROM_KEYRING)
        misses.append(why)
        if why.startswith("the keyring package"):
            warnings.append(f"password_keyring is set but {why}")
    if profile.password_command:
        password = run_password_command(profile, command_timeout)
        return Secret(password, FROM_COMMAND, tuple(warnings))
    if profile.password:
        warnings.extend(file_warning(file_path))
        return Secret(profile.password, FROM_FILE, tuple(warnings))
    if ask is not None:
        value = ask(password_prompt(profile))
        if value:
            return Secret(value, ASKED, tuple(warnings))
        misses.append("none was typed")
    raise PasswordUnavailable(no_password_message(profile, misses))


def no_password_message(profile: Profile, misses: list[str]) -> str:
    why = f" ({'; '.join(misses)})" if misses else ""
    return (
        f"no password for profile {profile.name}{why}: set password_env, password_keyring "
        "or password_command in the profile, or run where a password can be asked"
    )


def password_prompt(profile: Profile) -> str:
    who = f"{inert(profile.user)} at " if profile.user else ""
    return f"Password for {who}{inert(profile.server)} (profile {profile.name}): "


def planned_source(profile: Profile, environ: Mapping[str, str]) -> str:
    """Where the password would come from, found without running the command or
    opening the keyring (what ``config show`` says before ``--check-password``)."""
    if profile.password_env and environ.get(profile.password_env):
        return f"from ${profile.password_env}"
    skipped = f"${profile.password_env} is not set, so " if profile.password_env else ""
    if profile.password_keyring:
        return f"{skipped}{FROM_KEYRING} (service {inert(profile.password_keyring)}, not looked up)"
    if profile.password_command:
        return f"{skipped}{FROM_COMMAND} (not run)"
    if profile.password:
        return f"{skipped}{FROM_FILE}"
    return f"{skipped}asked at a prompt, or none without a terminal"


def file_warning(path: Path | None) -> list[str]:
    """A warning when ``path`` holds a password that others may read."""
    if path is None:
        return []
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return []
    if not mode & 0o077:
        return []
    shown = inert(str(path))
    return [
        f"{shown} holds a password and others can read it (mode {mode:04o}): "
        f"chmod 600 {shown}, or better, move the password out of the file"
    ]


def _from_keyring(service: str, user: str) -> tuple[str | None, str]:
    """The keyring's password, or None and why not. ``keyring`` is optional and
    imported only when a profile asks for it (it costs start-up time)."""
    try:
        import keyring
        import keyring.errors
    except ImportError:
        return None, f"the keyring package is not installed: {KEYRING_HINT}"
    try:
        value = keyring.get_password(service, user)
    except keyring.errors.KeyringError as exc:
        return None, f"the keyring failed: {inert(str(exc).splitlines()[0] if str(exc) else '')}"
    if not value:
        return None, f"the keyring has no password for service {inert(service)}, user {inert(user)}"
    return str(value), ""


def run_password_command(profile: Profile, timeout: float = COMMAND_TIMEOUT) -> str:
    """The first line ``password_command`` writes on its standard output.

    A string runs through ``/bin/sh -c`` (as msmtp's passwordeval); a list runs as
    it is. Its standard input is empty, never the terminal's or a piped session's:
    a command must not eat the message. Failures name the exit status and the first
    line of standard error, made inert; the output itself is never shown.
    """
    command = profile.password_command
    assert command is not None
    what = f"password_command of profile {profile.name}"
    try:
        done = subprocess.run(
            command,
            shell=isinstance(command, str),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise PasswordUnavailable(f"{what} did not finish within {timeout:g} s") from None
    except OSError as exc:
        # The program's name only: a shell line may hold anything, a password too.
        program = "/bin/sh" if isinstance(command, str) else command[0]
        reason = exc.strerror or type(exc).__name__
        raise PasswordUnavailable(f"{what} could not run {inert(program)}: {reason}") from None
    if done.returncode != 0:
        error_line = _first_line(done.stderr.decode("utf-8", errors="replace"))
        # A command that fails may still have found the password, and echo it in its
        # complaint (set -x, a wrapper that logs what it read): masked.
        found = _first_line(done.stdout.decode("utf-8", errors="replace"))
        if found:
            error_line = error_line.replace(found, MASK)
        said = f": {inert(error_line)}" if error_line else ""
        raise PasswordUnavailable(f"{what} failed with exit status {done.returncode}{said}")
    try:
        output = done.stdout.decode("utf-8")
    except UnicodeDecodeError:
        raise PasswordUnavailable(f"{what} wrote bytes that are not UTF-8") from None
    password = _first_line(output)
    if not password:
        raise PasswordUnavailable(f"{what} wrote nothing on its first line")
    return password


def _first_line(text: str) -> str:
    # Only LF ends the line: a password may hold any other character, and a
    # Windows-made file's CR before the LF is not part of it.
    return text.split("\n", 1)[0].removesuffix("\r")

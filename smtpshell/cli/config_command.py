"""``smtpshell config``: the profiles file. ``init`` writes the commented default,
``path`` says where it is, ``show`` prints a profile as it will be used (password
masked), ``import-ssmtp`` turns an ssmtp.conf into a profile.

Errors rise to the caller (``cli/main.py``), which prints one line: usage errors
exit 2, failures 1.
"""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import TextIO

from smtpshell.cli.environment import Environment
from smtpshell.cli.status import ExitStatus
from smtpshell.core.arguments import ArgumentParser
from smtpshell.core.password_sources import MASK, file_warning, planned_source, resolve_password
from smtpshell.core.profile_writer import add_profile, profile_table
from smtpshell.core.profiles import (
    FILE_NAME,
    PROFILE_NAME,
    Profile,
    ProfileFile,
    load_profiles,
    parse_profiles,
    tls_word,
)
from smtpshell.core.ssmtp_conf import DEFAULT_PATH, read_ssmtp_conf
from smtpshell.errors import ConfigError, UsageError
from smtpshell.protocol.inert import inert

PROGRAM = "smtpshell config"
NEW_FILE_HEADER = (
    "# smtpshell connection profiles: `smtpshell config init --force` would replace\n"
    "# this file with a commented example of every key.\n"
)


def default_profiles_text() -> str:
    """The commented default file that ships with the package."""
    return resources.files("smtpshell").joinpath("data", FILE_NAME).read_text(encoding="utf-8")


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog=PROGRAM,
        description="Connection profiles: named servers and how to log in to them, "
        "in profiles.toml in your config directory.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    init = actions.add_parser("init", help="write the commented default profiles file")
    init.add_argument("--force", action="store_true", help="replace an existing file")
    actions.add_parser("path", help="print where the profiles file is")
    show = actions.add_parser("show", help="print a profile as it will be used")
    show.add_argument("name", nargs="?", metavar="NAME", help="the profile (default: the default)")
    show.add_argument(
        "--check-password",
        action="store_true",
        help="look the password up (run password_command, open the keyring), still masked",
    )
    ssmtp = actions.add_parser("import-ssmtp", help="add a profile made from an ssmtp.conf")
    ssmtp.add_argument(
        "conf", nargs="?", type=Path, default=DEFAULT_PATH, metavar="PATH",
        help=f"the ssmtp.conf to read (default: {DEFAULT_PATH})",
    )  # fmt: skip
    ssmtp.add_argument("--name", default="ssmtp", help="name of the new profile (default: ssmtp)")
    ssmtp.add_argument("--force", action="store_true", help="replace a profile of that name")
    ssmtp.add_argument(
        "--keep-password",
        action="store_true",
        help="copy AuthPass into the profiles file (by default it is left out)",
    )
    return parser


def run_config(args: Sequence[str], env: Environment) -> int:
    """``smtpshell config ARGS``; raises the package's errors for the caller to show."""
    options = build_parser().parse_args(list(args))
    path = env.profiles_file
    if options.action == "init":
        _init(path, options.force, env)
    elif options.action == "path":
        print(path, file=env.stdout)
    elif options.action == "show":
        _show(path, options.name, options.check_password, env)
    else:
        _import_ssmtp(path, options, env)
    env.stdout.flush()
    return ExitStatus.OK


def _init(path: Path, force: bool, env: Environment) -> None:
    write_private(path, default_profiles_text(), replace=force)
    print(f"wrote {path}", file=env.stdout)
    print(f"edit it, then check a profile with: {PROGRAM} show NAME", file=env.stdout)


def write_private(path: Path, text: str, *, replace: bool) -> None:
    """Write ``text`` to ``path``, readable by its owner alone (mode 0600).

    Without ``replace`` an existing file is an error. A replacement is written
    beside the file and renamed over it, so a failure leaves the old file whole.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not replace:
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise UsageError(f"{path} exists: add --force to replace it") from None
        with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
            stream.write(text)
        return
    # A profiles file kept elsewhere and linked here (a dotfiles repository) is
    # replaced where it lives, and the link stays.
    path = path.resolve()
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise


def _show(path: Path, name: str | None, check: bool, env: Environment) -> None:
    profiles = load_profiles(path)
    profile = profiles.get(name)
    for line in describe_profile(profile, profiles):
        print(line, file=env.stdout)
    if profile.user is None:
        return
    if not check:
        for warning in file_warning(path) if profile.password else []:
            _warn(warning, env)
        print(
            f"{'password':<{_WIDTH}}{MASK} {planned_source(profile, env.environ)}", file=env.stdout
        )
        return
    env.stdout.flush()  # the profile first, even when the password lookup fails
    secret = resolve_password(profile, path, env.environ)
    for warning in secret.warnings:
        _warn(warning, env)
    print(f"{'password':<{_WIDTH}}{MASK} {secret.source}: ok", file=env.stdout)


_WIDTH = len("allow_plain_auth_without_tls") + 2


def describe_profile(profile: Profile, profiles: ProfileFile) -> list[str]:
    """The profile's effective settings, one per line, defaults named as such.
    The password line is the caller's: it depends on what may be run."""
    options = profile.connect_options()
    default = " (the default profile)" if profiles.default_name == profile.name else ""
    port_note = "" if options.port else f" (port from tls = {tls_word(profile.tls)})"
    rows = [
        ("server", f"{options.endpoint}{port_note}"),
        ("tls", tls_word(profile.tls)),
        ("user", profile.user or "none: no AUTH"),
        ("sender", profile.default_sender or "none: give one when sending"),
        ("rewrite_domain", profile.rewrite_domain or "none"),
        ("helo", profile.helo),
        ("keep_from_header", _bool(profile.keep_from_header)),
        ("auth_mechanism", profile.auth_mechanism or "the best the server offers"),
        ("cafile", str(profile.cafile) if profile.cafile else "the system's CA certificates"),
        ("insecure", _bool(profile.insecure)),
        ("allow_plain_auth_without_tls", _bool(profile.allow_plain_auth_without_tls)),
        ("timeout", f"{profile.timeout:g} s"),
    ]
    lines = [f"profile {profile.name}{default} in {inert(str(profiles.path))}"]
    lines.extend(f"{key:<{_WIDTH}}{inert(value)}" for key, value in rows)
    return lines


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _warn(message: str, env: Environment) -> None:
    print(f"{PROGRAM}: warning: {inert(message)}", file=env.stderr, flush=True)


def _import_ssmtp(path: Path, options: argparse.Namespace, env: Environment) -> None:
    name: str = options.name
    if not PROFILE_NAME.match(name):
        raise UsageError(f"--name {inert(name)!r}: letters, digits, - and _ only")
    conf: Path = options.conf
    shown = inert(str(conf))  # a name given on the command line: maybe not plain text
    try:
        imported = read_ssmtp_conf(conf.read_bytes().decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{shown}: not UTF-8 text") from None
    except OSError as exc:
        # Still an OSError (exit status 1), naming the file inertly.
        raise OSError(exc.errno, exc.strerror, shown) from exc
    values = dict(imported.values)
    variable = f"SMTPSHELL_{name.upper().replace('-', '_')}_PASSWORD"
    if imported.password is not None and options.keep_password:
        values["password"] = imported.password
    elif imported.password is not None:
        values["password_env"] = variable
    table = profile_table(name, values, [f"Imported from {shown}"])
    _check_converted(table, conf)
    existing = load_profiles(path)
    current = path.read_text(encoding="utf-8") if existing.exists else NEW_FILE_HEADER
    make_default = existing.default is None and not existing.profiles
    text = add_profile(current, name, table, replace=options.force, make_default=make_default)
    result = parse_profiles(text, path)  # what is written reads back, always
    write_private(path, text, replace=existing.exists)
    out = env.stdout
    print(f"added profile {name} to {path}", file=out)
    for note in imported.notes:
        print(f"note: {note}", file=out)
    if result.default_name is None:
        print(f'note: {path} has no default profile: add default = "{name}" at its top, '
              f"or name the profile when you use it", file=out)  # fmt: skip
    if imported.password is not None and not options.keep_password:
        _password_advice(variable, imported.values.get("user"), path, out)


def _check_converted(table: str, conf: Path) -> None:
    """The new profile alone must load; its errors name the ssmtp.conf it came from."""
    try:
        parse_profiles(table, Path("converted"))
    except ConfigError as exc:
        reason = str(exc).partition(": ")[2]
        raise ConfigError(f"{conf}: cannot be converted: {reason}") from None


def _password_advice(variable: str, user: object, path: Path, out: TextIO) -> None:
    who = inert(str(user)) if user else "USER"
    lines = [
        f"AuthPass was not copied into {path}. The profile reads the password from",
        f"${variable}; or store it another way and edit the profile:",
        f"  keyring:  keyring set smtpshell {who}   then   password_keyring = true",
        '  command:  password_command = "pass show mail/NAME"   (any command that prints it)',
        f"({PROGRAM} import-ssmtp --keep-password copies it into the file instead)",
    ]
    for line in lines:
        print(line, file=out)

"""Profiles: the file's keys and their checks, connect options from a profile, where
the password comes from, the TOML writer and ssmtp.conf conversion."""

from __future__ import annotations

import asyncio
import sys
import tomllib
import types
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smtpshell.core.authenticate import authenticate, select_mechanism
from smtpshell.core.password_sources import (
    FROM_COMMAND,
    FROM_FILE,
    MASK,
    planned_source,
    resolve_password,
)
from smtpshell.core.profile_writer import add_profile, profile_table, toml_string
from smtpshell.core.profiles import KEYS, Profile, load_profiles, parse_profiles
from smtpshell.core.session import Session
from smtpshell.core.ssmtp_conf import read_ssmtp_conf
from smtpshell.errors import ConfigError, PasswordUnavailable
from smtpshell.protocol.endpoint import TlsMode
from smtpshell.server import BackgroundServer

SECRET = "hunter2-Qq-auth-code"
SEED_SSMTP_CONF = f"""\
root=yourname@qq.com
rewriterDomain=qq.com
mailhub=smtp.qq.com:465
hostname=yourname@qq.com
UseTLS=Yes
AuthUser=yourname@qq.com
AuthPass={SECRET}
FromLineOverride=YES
"""
FULL = """\
default = "qq"

[profiles.qq]
server = "smtp.qq.com:465"
tls = "implicit"
user = "yourname@qq.com"
password_env = "QQ_PASSWORD"
sender = "yourname"
rewrite_domain = "qq.com"
helo = "laptop.example.org"
keep_from_header = false
auth_mechanism = "login"
cafile = "ca.pem"
insecure = true
allow_plain_auth_without_tls = true
timeout = 12.5

[profiles.bare]
server = "mail.example.org"
"""


def write(tmp_path: Path, text: str, mode: int = 0o600) -> Path:
    path = tmp_path / "profiles.toml"
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def config_error(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load_profiles(write(tmp_path, text))
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(str(tmp_path / "profiles.toml"))
    return message


def profile(**fields: object) -> Profile:
    return Profile(name="qq", server="smtp.qq.com:465", **fields)  # type: ignore[arg-type]


# The file


def test_a_missing_file_has_no_profiles_and_says_how_to_make_one(tmp_path: Path) -> None:
    profiles = load_profiles(tmp_path / "absent.toml")
    assert profiles.profiles == {} and not profiles.exists
    with pytest.raises(ConfigError, match="does not exist: smtpshell config init"):
        profiles.get()


def test_every_key_is_read(tmp_path: Path) -> None:
    profiles = load_profiles(write(tmp_path, FULL))
    qq = profiles.get()
    assert profiles.default == "qq" and list(profiles.profiles) == ["qq", "bare"]
    assert qq.tls is TlsMode.IMPLICIT and qq.user == "yourname@qq.com"
    assert qq.password_env == "QQ_PASSWORD" and qq.password is None
    assert qq.default_sender == "yourname@qq.com"  # rewrite_domain qualifies it
    assert qq.qualify("postmaster") == "postmaster@qq.com"
    assert qq.qualify("a@b.example") == "a@b.example"
    assert (qq.helo, qq.keep_from_header, qq.auth_mechanism) == (
        "laptop.example.org",
        False,
        "LOGIN",
    )
    assert qq.cafile == tmp_path / "ca.pem"  # relative to the file
    assert qq.insecure and qq.allow_plain_auth_without_tls and qq.timeout == 12.5


def test_defaults_require_starttls_and_keep_the_from_header(tmp_path: Path) -> None:
    bare = load_profiles(write(tmp_path, FULL)).get("bare")
    assert bare.tls is TlsMode.STARTTLS
    assert (bare.helo, bare.timeout, bare.keep_from_header) == ("localhost", 30.0, True)
    assert not bare.insecure and not bare.allow_plain_auth_without_tls
    assert bare.user is None and bare.default_sender is None and not bare.has_password_source


def test_connect_options_from_a_profile(tmp_path: Path) -> None:
    profiles = load_profiles(write(tmp_path, FULL))
    options = profiles.get("qq").connect_options()
    assert (options.host, options.port, options.mode) == ("smtp.qq.com", 465, TlsMode.IMPLICIT)
    assert (options.helo, options.timeout) == ("laptop.example.org", 12.5)
    assert options.tls.cafile == tmp_path / "ca.pem" and options.tls.insecure
    bare = profiles.get("bare").connect_options()
    # No port written: the mode's default, as --connect HOST --starttls.
    assert bare.port is None and str(bare.endpoint) == "mail.example.org:25"
    implicit = Profile(name="x", server="[::1]", tls=TlsMode.IMPLICIT)
    assert str(implicit.endpoint) == "[::1]:465"


@pytest.mark.parametrize("mode", [TlsMode.IMPLICIT, TlsMode.STARTTLS])
def test_a_profile_connects_verifies_and_logs_in(server: BackgroundServer, mode: TlsMode) -> None:
    port = server.tls_port if mode is TlsMode.IMPLICIT else server.port
    chosen = Profile(
        name="local",
        server=f"127.0.0.1:{port}",
        tls=mode,
        cafile=server.ca_file,
        user="alice",
        password_command=("printf", "wonderland"),
        timeout=5,
    )
    secret = resolve_password(chosen, None, {})

    async def log_in() -> int:
        async with Session(timeout=5) as session:
            await session.open(chosen.connect_options())
            if session.capabilities is None:  # --starttls has sent EHLO already
                await session.send(f"EHLO {chosen.helo}")
            mechanism = select_mechanism(session.capabilities, chosen.auth_mechanism, tls=True)
            assert chosen.user is not None
            return (await authenticate(session, mechanism, chosen.user, secret.value)).code

    assert asyncio.run(log_in()) == 235


def test_a_home_relative_cafile_is_expanded(tmp_path: Path) -> None:
    text = '[profiles.a]\nserver = "h"\ncafile = "~/ca.pem"\n'
    assert load_profiles(write(tmp_path, text)).get().cafile == Path.home() / "ca.pem"


def test_unknown_key_names_file_line_key_and_a_guess(tmp_path: Path) -> None:
    message = config_error(tmp_path, '[profiles.qq]\nserver = "h"\n\nsever = "h"\n')
    assert (
        message
        == f"{tmp_path / 'profiles.toml'}:4: profiles.qq.sever: unknown key (did you mean server?)"
    )


def test_unknown_top_level_key(tmp_path: Path) -> None:
    message = config_error(tmp_path, 'mailhub = "h"\n')
    assert message.endswith(":1: mailhub: unknown key (known keys: default, profiles)")


def test_wrong_type_names_the_key_and_line(tmp_path: Path) -> None:
    message = config_error(tmp_path, '[profiles.qq]\nserver = "h"\ntimeout = "30"\n')
    assert message.endswith(":3: profiles.qq.timeout: must be a number of seconds")
    message = config_error(tmp_path, '[profiles.qq]\nserver = "h"\ninsecure = "yes"\n')
    assert message.endswith(":3: profiles.qq.insecure: must be true or false")


def test_bad_toml_is_one_line_with_its_position(tmp_path: Path) -> None:
    message = config_error(tmp_path, '[profiles.qq]\nserver = "h\n')
    assert "not valid TOML" in message and "line 2" in message


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('tls = "yes"', 'must be "implicit", "starttls" or "none"'),
        ('server = "h:99999"', "bad port '99999'"),
        ('server = "h\\u001b[2J"', "control character"),
        ('password_env = "NOT A NAME"', "name of an environment variable"),
        ('helo = "yourname@qq.com"', "must be a host name, not an address"),
        ('sender = "two words"', "without spaces"),
        ('auth_mechanism = "GSSAPI"', "PLAIN, LOGIN, CRAM-MD5, XOAUTH2"),
        ("timeout = 0", "between 0 and 86400"),
        ("password_command = []", "list of strings"),
        ("password_keyring = true", "needs user"),
    ],
)
def test_bad_values_are_named(tmp_path: Path, line: str, expected: str) -> None:
    text = "[profiles.qq]\n" + ('server = "h"\n' if not line.startswith("server") else "")
    message = config_error(tmp_path, text + line + "\n")
    assert "profiles.qq" in message and expected in message
    assert "\x1b" not in message


def test_a_bad_password_value_is_never_quoted(tmp_path: Path) -> None:
    message = config_error(tmp_path, f'[profiles.qq]\nserver = "h"\npassword = ["{SECRET}"]\n')
    assert "profiles.qq.password: must be a non-empty string" in message
    assert SECRET not in message


def test_a_profile_needs_a_server(tmp_path: Path) -> None:
    message = config_error(tmp_path, '[profiles.qq]\nuser = "u"\n')
    assert message.endswith(':1: profiles.qq: no server: add server = "HOST[:PORT]"')


def test_default_must_name_a_profile(tmp_path: Path) -> None:
    message = config_error(tmp_path, 'default = "gmail"\n[profiles.qq]\nserver = "h"\n')
    assert message.endswith(":1: default: names no profile: 'gmail' (profiles: qq)")


def test_choosing_a_profile(tmp_path: Path) -> None:
    one = load_profiles(write(tmp_path, '[profiles.only]\nserver = "h"\n'))
    assert one.get().name == "only"  # the only one needs no default
    two = parse_profiles('[profiles.a]\nserver = "h"\n[profiles.b]\nserver = "h"\n', tmp_path)
    with pytest.raises(ConfigError, match=r"no default profile: name one \(a, b\)"):
        two.get()
    with pytest.raises(ConfigError, match=r"no profile 'c' \(profiles: a, b\)"):
        two.get("c")


def test_every_key_is_explained_in_the_shipped_file() -> None:
    shipped = (Path(__file__).parent.parent / "smtpshell" / "data" / "profiles.toml").read_text()
    for key in KEYS:
        assert f"# {key}:" in shipped or f"{key}: " in shipped, key


# The password


def test_password_from_the_environment() -> None:
    secret = resolve_password(profile(password_env="QQ"), None, {"QQ": SECRET})
    assert (secret.value, secret.source, secret.warnings) == (SECRET, "from $QQ", ())
    assert SECRET not in str(secret) and SECRET not in repr(secret) and MASK in str(secret)


def test_the_environment_comes_before_the_command() -> None:
    chosen = profile(password_env="QQ", password_command="exit 1")
    assert resolve_password(chosen, None, {"QQ": SECRET}).value == SECRET


def test_password_from_a_shell_command() -> None:
    secret = resolve_password(profile(password_command=f"printf '{SECRET}\\nmore\\n'"), None, {})
    assert (secret.value, secret.source) == (SECRET, FROM_COMMAND)


def test_password_from_a_command_given_as_a_list() -> None:
    chosen = profile(password_env="UNSET", password_command=("printf", f"{SECRET}\r\n"))
    assert resolve_password(chosen, None, {}).value == SECRET


def test_a_failing_command_says_its_status_and_stderr_never_its_output() -> None:
    command = f"printf {SECRET}; printf 'gpg: decryption failed\\033[2J\\nmore' >&2; exit 3"
    with pytest.raises(PasswordUnavailable) as caught:
        resolve_password(profile(password_command=command, password="in-file"), None, {})
    message = str(caught.value)
    assert message == (
        "password_command of profile qq failed with exit status 3: gpg: decryption failed\\x1b[2J"
    )
    assert SECRET not in message


def test_a_command_that_hangs_is_stopped() -> None:
    with pytest.raises(PasswordUnavailable, match=r"did not finish within 0\.3 s"):
        resolve_password(profile(password_command=("sleep", "30")), None, {}, command_timeout=0.3)


def test_a_command_that_cannot_run_is_named() -> None:
    command = ("/nonexistent/pass", SECRET)
    with pytest.raises(PasswordUnavailable, match="could not run /nonexistent/pass") as caught:
        resolve_password(profile(password_command=command), None, {})
    assert SECRET not in str(caught.value)


def test_a_command_that_prints_nothing() -> None:
    with pytest.raises(PasswordUnavailable, match="wrote nothing on its first line"):
        resolve_password(profile(password_command="true"), None, {})


def test_password_from_a_private_file_without_warning(tmp_path: Path) -> None:
    path = write(tmp_path, "", 0o600)
    secret = resolve_password(profile(password=SECRET), path, {})
    assert (secret.value, secret.source, secret.warnings) == (SECRET, FROM_FILE, ())


def test_password_from_a_file_others_can_read_comes_with_a_warning(tmp_path: Path) -> None:
    path = write(tmp_path, "", 0o644)
    secret = resolve_password(profile(password=SECRET), path, {})
    assert secret.value == SECRET
    (warning,) = secret.warnings
    assert f"(mode 0644): chmod 600 {path}" in warning and SECRET not in warning


def test_asked_last_with_a_prompt_naming_user_and_profile() -> None:
    prompts: list[str] = []

    def ask(prompt: str) -> str:
        prompts.append(prompt)
        return SECRET

    secret = resolve_password(profile(user="me@qq.com", password_env="UNSET"), None, {}, ask)
    assert (secret.value, secret.source) == (SECRET, "asked")
    assert prompts == ["Password for me@qq.com at smtp.qq.com:465 (profile qq): "]


def test_no_source_and_no_terminal_says_what_to_set() -> None:
    with pytest.raises(PasswordUnavailable) as caught:
        resolve_password(profile(password_env="QQ_PASSWORD"), None, {})
    assert str(caught.value) == (
        "no password for profile qq ($QQ_PASSWORD is not set): set password_env, "
        "password_keyring or password_command in the profile, or run where a password "
        "can be asked"
    )


def test_keyring_absent_is_a_clear_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "keyring", None)  # import keyring raises ImportError
    with pytest.raises(PasswordUnavailable) as caught:
        resolve_password(profile(user="me", password_keyring="smtpshell"), None, {})
    assert "the keyring package is not installed: install it (pip install keyring" in str(
        caught.value
    )


def test_keyring_absent_passes_to_the_command_with_a_warning(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "keyring", None)
    chosen = profile(user="me", password_keyring="smtpshell", password_command=f"echo {SECRET}")
    secret = resolve_password(chosen, None, {})
    assert secret.value == SECRET and secret.source == FROM_COMMAND
    assert "password_keyring is set but the keyring package is not installed" in secret.warnings[0]


def _stand_in_keyring(monkeypatch: pytest.MonkeyPatch, stored: dict[tuple[str, str], str]) -> None:
    """A keyring module holding ``stored``: its two names that the lookup uses."""
    errors = types.ModuleType("keyring.errors")
    errors.KeyringError = type("KeyringError", (Exception,), {})  # type: ignore[attr-defined]
    module = types.ModuleType("keyring")
    module.errors = errors  # type: ignore[attr-defined]
    module.get_password = lambda service, user: stored.get((service, user))  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "keyring", module)
    monkeypatch.setitem(sys.modules, "keyring.errors", errors)


def test_password_from_the_keyring(monkeypatch: pytest.MonkeyPatch) -> None:
    _stand_in_keyring(monkeypatch, {("smtpshell", "me"): SECRET})
    secret = resolve_password(profile(user="me", password_keyring="smtpshell"), None, {})
    assert (secret.value, secret.source) == (SECRET, "from the keyring")
    with pytest.raises(PasswordUnavailable, match="no password for service smtpshell, user you"):
        resolve_password(profile(user="you", password_keyring="smtpshell"), None, {})


def test_planned_source_runs_nothing(tmp_path: Path) -> None:
    witness = tmp_path / "ran"
    chosen = profile(password_env="QQ", password_command=f"touch {witness}; echo x")
    assert planned_source(chosen, {}) == "$QQ is not set, so from password_command (not run)"
    assert planned_source(chosen, {"QQ": SECRET}) == "from $QQ"
    assert not witness.exists()


# Writing TOML


@given(st.text())
def test_toml_strings_read_back(text: str) -> None:
    assert tomllib.loads(f"key = {toml_string(text)}\n")["key"] == text


def test_a_written_profile_reads_back(tmp_path: Path) -> None:
    values = {"server": "h:587", "user": 'we"ird\\user', "password_command": ["pass", "a b"]}
    table = profile_table("x", values, ["line one\nline two"])
    read = parse_profiles(table, tmp_path).get("x")
    assert read.user == 'we"ird\\user' and read.password_command == ("pass", "a b")
    assert table.startswith("# line one\n# line two\n[profiles.x]\n")


def test_replacing_a_profile_keeps_the_others(tmp_path: Path) -> None:
    original = FULL + '\n# about c\n[profiles.c]\nserver = "old"\n\n[profiles.d]\nserver = "d"\n'
    replaced = add_profile(original, "c", '[profiles.c]\nserver = "new"\n', replace=True)
    profiles = parse_profiles(replaced, tmp_path)
    assert list(profiles.profiles) == ["qq", "bare", "d", "c"]
    assert profiles.get("c").server == "new" and "about c" not in replaced
    with pytest.raises(ConfigError, match="a profile c exists already: add --force"):
        add_profile(original, "c", '[profiles.c]\nserver = "new"\n')


# ssmtp.conf


def test_the_seed_ssmtp_conf() -> None:
    imported = read_ssmtp_conf(SEED_SSMTP_CONF)
    assert imported.values == {
        "server": "smtp.qq.com:465",
        "tls": "implicit",
        "user": "yourname@qq.com",
        "sender": "yourname@qq.com",
        "rewrite_domain": "qq.com",
        "keep_from_header": True,
    }
    assert imported.password == SECRET and SECRET not in repr(imported)
    notes = "\n".join(imported.notes)
    assert "read rewriterDomain as RewriteDomain" in notes
    assert "hostname=yourname@qq.com is an address" in notes


def test_ssmtp_keys_any_case_and_the_other_settings() -> None:
    imported = read_ssmtp_conf(
        "# comment\nMAILHUB = mail.example.org:587\nusestarttls=yes\nauthmethod=CRAM-MD5\n"
        "TLS_CA_File=/etc/ca.pem\nhostname=laptop.example.org\nTLSCert=/c.pem\n"
    )
    assert imported.values == {
        "server": "mail.example.org:587",
        "tls": "starttls",
        "helo": "laptop.example.org",
        "keep_from_header": False,  # ssmtp's default: FromLineOverride=NO
        "auth_mechanism": "CRAM-MD5",
        "cafile": "/etc/ca.pem",
    }
    assert imported.password is None
    assert any("TLSCert ignored: client certificates" in note for note in imported.notes)


def test_ssmtp_without_tls_says_what_that_costs() -> None:
    imported = read_ssmtp_conf("mailhub=mail\nbogus line\n")
    assert imported.values["tls"] == "none"
    assert any("in clear" in note for note in imported.notes)
    assert "line 2 ignored: not Key=Value" in imported.notes


@pytest.mark.parametrize("separator", ["\x85", "\u2028", "\x0c", "\x1e"])
def test_an_ssmtp_password_is_one_line_whatever_it_holds(separator: str) -> None:
    password = f"start{separator}rest=of-it{separator}"
    imported = read_ssmtp_conf(f"mailhub=mail\r\nAuthPass={password}\r\nAuthUser=me\n")
    # Before: str.splitlines cut the password at the separator and read its rest as
    # a key, quoted in a note ("unknown key rest ignored").
    assert imported.password == password
    assert not any("rest" in note for note in imported.notes)
    assert imported.values["user"] == "me"


def test_a_profiles_path_holding_escapes_is_shown_inert(tmp_path: Path) -> None:
    directory = tmp_path / "conf\x1b[2J\u202e"
    directory.mkdir()
    missing = load_profiles(directory / "profiles.toml")
    with pytest.raises(ConfigError) as missing_error:
        missing.get("any")
    broken = directory / "broken.toml"
    broken.write_text("[profiles.p]\nserver = 1\n", encoding="utf-8")
    with pytest.raises(ConfigError) as broken_error:
        load_profiles(broken)
    # Before: the escape sequence and the bidi override reached the terminal as they were.
    for error in (missing_error.value, broken_error.value):
        assert "\x1b" not in str(error) and "\u202e" not in str(error)
        assert "conf\\x1b[2J\\u202e" in str(error)


def test_rewrite_domain_qualifies_a_named_address_and_leaves_the_null_sender(
    tmp_path: Path,
) -> None:
    qq = load_profiles(write(tmp_path, FULL)).get("qq")
    # Before: "Me <me>@qq.com", "<>@qq.com" and "@qq.com", none of them an address.
    assert qq.qualify("Me <me>") == "Me <me@qq.com>"
    assert qq.qualify("<>") == "<>"
    assert qq.qualify("") == ""
    assert qq.qualify("Me <me@b.example>") == "Me <me@b.example>"

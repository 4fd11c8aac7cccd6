"""``smtpshell config``: init, path, show and import-ssmtp, run in-process with an
injected environment and checked as (stdout, stderr, exit status)."""

from __future__ import annotations

import io
import stat
import tomllib
from pathlib import Path

import pytest
from test_profiles import SECRET, SEED_SSMTP_CONF

from smtpshell.cli.config_command import (
    default_profiles_text,
    run_config,
)
from smtpshell.cli.environment import Environment
from smtpshell.cli.status import EXPECTED, ExitStatus, outcome
from smtpshell.core.profiles import load_profiles
from smtpshell.protocol.endpoint import TlsMode


class Config:
    """The command with XDG_CONFIG_HOME in a temporary directory."""

    def __init__(self, tmp_path: Path) -> None:
        self.home = tmp_path / "config-home"
        self.file = self.home / "smtpshell" / "profiles.toml"
        self.environ = {"XDG_CONFIG_HOME": str(self.home), "NO_COLOR": "1"}

    def run(self, *args: str, **environ: str) -> tuple[str, str, int]:
        out, err = io.StringIO(), io.StringIO()
        env = Environment(io.StringIO(), out, err, {**self.environ, **environ})
        try:  # as cli/main.py does for every subcommand
            status = run_config(list(args), env)
        except EXPECTED as exc:
            shown = outcome(exc, "smtpshell config")
            (out if shown.to_stdout else err).write(shown.message)
            status = shown.status
        return out.getvalue(), err.getvalue(), status

    def write(self, text: str, mode: int = 0o600) -> None:
        self.file.parent.mkdir(parents=True, exist_ok=True)
        self.file.write_text(text, encoding="utf-8")
        self.file.chmod(mode)


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return Config(tmp_path)


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def one_error_line(err: str) -> str:
    assert err.startswith("smtpshell config: error: ") and err.count("\n") == 1, err
    return err


def test_path_is_in_the_config_home(config: Config) -> None:
    assert config.run("path") == (f"{config.file}\n", "", ExitStatus.OK)


def test_init_writes_a_private_file_whose_profiles_load(config: Config) -> None:
    out, err, status = config.run("init")
    assert (status, err) == (ExitStatus.OK, "") and f"wrote {config.file}" in out
    assert mode_of(config.file) == 0o600
    assert config.file.read_text(encoding="utf-8") == default_profiles_text()
    profiles = load_profiles(config.file)
    assert profiles.default == "local" and set(profiles.profiles) == {"local", "qq"}
    for profile in profiles.profiles.values():
        assert profile.connect_options().endpoint.host
    qq = profiles.get("qq")
    assert str(qq.endpoint) == "smtp.qq.com:465" and qq.tls is TlsMode.IMPLICIT
    assert qq.password is None and qq.password_env == "SMTPSHELL_QQ_PASSWORD"
    local = profiles.get()
    assert str(local.endpoint) == "127.0.0.1:4650"  # smtpshell serve's TLS port


def test_init_refuses_to_overwrite_without_force(config: Config) -> None:
    config.write("# mine\n")
    out, err, status = config.run("init")
    assert status == ExitStatus.USAGE and out == ""
    assert one_error_line(err) == (
        f"smtpshell config: error: {config.file} exists: add --force to replace it\n"
    )
    assert config.file.read_text() == "# mine\n"
    assert config.run("init", "--force")[2] == ExitStatus.OK
    assert config.file.read_text(encoding="utf-8") == default_profiles_text()
    assert mode_of(config.file) == 0o600


def test_show_prints_the_effective_profile(config: Config) -> None:
    config.run("init")
    out, err, status = config.run("show", "qq", SMTPSHELL_QQ_PASSWORD=SECRET)
    assert (status, err) == (ExitStatus.OK, "")
    lines = out.splitlines()
    assert lines[0] == f"profile qq in {config.file}"
    assert "server                        smtp.qq.com:465" in lines
    assert "tls                           implicit" in lines
    assert "helo                          localhost" in lines
    assert lines[-1] == "password                      ******** from $SMTPSHELL_QQ_PASSWORD"
    assert SECRET not in out


def test_show_without_a_name_shows_the_default(config: Config) -> None:
    config.run("init")
    out, _, status = config.run("show")
    assert status == ExitStatus.OK
    assert out.startswith("profile local (the default profile) in ")
    assert "server                        127.0.0.1:4650\n" in out


def test_show_masks_a_password_from_the_file_and_warns_when_others_can_read_it(
    config: Config,
) -> None:
    config.write(f'[profiles.a]\nserver = "h"\nuser = "u"\npassword = "{SECRET}"\n', 0o644)
    out, err, status = config.run("show", "a")
    assert status == ExitStatus.OK
    assert "password                      ******** from the profile file" in out
    assert err == (
        f"smtpshell config: warning: {config.file} holds a password and others can read it "
        f"(mode 0644): chmod 600 {config.file}, or better, move the password out of the file\n"
    )
    assert SECRET not in out + err
    config.file.chmod(0o600)
    assert config.run("show", "a")[1] == ""


def test_show_runs_no_command_unless_asked_to_check(config: Config, tmp_path: Path) -> None:
    witness = tmp_path / "ran"
    command = f"touch {witness}; printf {SECRET}"
    config.write(f'[profiles.a]\nserver = "h"\nuser = "u"\npassword_command = "{command}"\n')
    out, _, _ = config.run("show")
    assert "password                      ******** from password_command (not run)" in out
    assert not witness.exists()
    out, err, status = config.run("show", "--check-password")
    assert (status, err) == (ExitStatus.OK, "") and witness.exists()
    assert out.endswith("password                      ******** from password_command: ok\n")
    assert SECRET not in out


def test_check_password_reports_a_failing_command(config: Config) -> None:
    command = f"printf {SECRET}; echo no such entry >&2; exit 1"
    config.write(f'[profiles.a]\nserver = "h"\nuser = "u"\npassword_command = "{command}"\n')
    out, err, status = config.run("show", "--check-password")
    assert status == ExitStatus.FAILURE
    assert one_error_line(err) == (
        "smtpshell config: error: password_command of profile a failed with exit status 1: "
        "no such entry\n"
    )
    assert out.startswith("profile a ") and SECRET not in out + err


def test_show_errors_are_one_line(config: Config) -> None:
    out, err, status = config.run("show")
    assert status == ExitStatus.USAGE and out == ""
    assert "does not exist: smtpshell config init writes one" in one_error_line(err)
    config.write('[profiles.a]\nserver = "h"\ntls = "yes"\n')
    _, err, status = config.run("show")
    assert status == ExitStatus.USAGE
    assert one_error_line(err).endswith(
        ':3: profiles.a.tls: must be "implicit", "starttls" or "none"\n'
    )
    config.write('[profiles.a]\nserver = "h"\n')
    _, err, status = config.run("show", "b")
    assert status == ExitStatus.USAGE and "no profile 'b' (profiles: a)" in one_error_line(err)


def test_help_lists_the_actions(config: Config) -> None:
    out, err, status = config.run("--help")
    assert (status, err) == (ExitStatus.OK, "")
    for action in ("init", "path", "show", "import-ssmtp"):
        assert action in out
    _, err, status = config.run("frobnicate")
    assert status == ExitStatus.USAGE and "invalid choice" in one_error_line(err)


# import-ssmtp


@pytest.fixture
def seed_conf(tmp_path: Path) -> Path:
    path = tmp_path / "ssmtp.conf"
    path.write_text(SEED_SSMTP_CONF, encoding="utf-8")
    return path


def test_import_the_seed_without_its_password(config: Config, seed_conf: Path) -> None:
    out, err, status = config.run("import-ssmtp", str(seed_conf), "--name", "qq")
    assert (status, err) == (ExitStatus.OK, "")
    assert out.startswith(f"added profile qq to {config.file}\n")
    assert "note: line 2: read rewriterDomain as RewriteDomain" in out
    assert "reads the password from\n$SMTPSHELL_QQ_PASSWORD" in out
    assert "keyring set smtpshell yourname@qq.com" in out
    text = config.file.read_text(encoding="utf-8")
    assert SECRET not in out + text
    assert mode_of(config.file) == 0o600
    assert tomllib.loads(text)["default"] == "qq"  # the file's first profile
    profile = load_profiles(config.file).get()
    assert profile.name == "qq" and str(profile.endpoint) == "smtp.qq.com:465"
    assert profile.tls is TlsMode.IMPLICIT and profile.user == "yourname@qq.com"
    assert profile.keep_from_header and profile.rewrite_domain == "qq.com"
    assert profile.password is None and profile.password_env == "SMTPSHELL_QQ_PASSWORD"


def test_import_keeps_the_password_only_when_asked(config: Config, seed_conf: Path) -> None:
    out, _, status = config.run("import-ssmtp", str(seed_conf), "--keep-password")
    assert status == ExitStatus.OK and SECRET not in out
    profile = load_profiles(config.file).get("ssmtp")
    assert profile.password == SECRET and profile.password_env is None
    assert mode_of(config.file) == 0o600


def test_import_adds_to_an_existing_file_and_replaces_only_with_force(
    config: Config, seed_conf: Path
) -> None:
    config.run("init")
    before = load_profiles(config.file)
    assert config.run("import-ssmtp", str(seed_conf), "--name", "qq2")[2] == ExitStatus.OK
    _, err, status = config.run("import-ssmtp", str(seed_conf), "--name", "qq2")
    assert status == ExitStatus.USAGE
    assert "a profile qq2 exists already: add --force to replace it" in one_error_line(err)
    assert config.run("import-ssmtp", str(seed_conf), "--name", "qq2", "--force")[2] == 0
    text = config.file.read_text(encoding="utf-8")
    assert text.count("[profiles.qq2]") == 1 and text.count("# Imported from") == 1
    after = load_profiles(config.file)
    assert after.default == "local"  # the file's default stays
    assert {name: after.profiles[name] for name in before.profiles} == before.profiles
    assert after.get("qq2").server == "smtp.qq.com:465"


def test_import_escapes_what_it_writes(config: Config, tmp_path: Path) -> None:
    conf = tmp_path / "odd.conf"
    conf.write_text('mailhub=h:587\nUseSTARTTLS=YES\nAuthUser=we"ird\\user\n', encoding="utf-8")
    assert config.run("import-ssmtp", str(conf))[2] == ExitStatus.OK
    profile = load_profiles(config.file).get()
    assert profile.user == 'we"ird\\user' and profile.tls is TlsMode.STARTTLS


def test_import_errors(config: Config, tmp_path: Path) -> None:
    _, err, status = config.run("import-ssmtp", str(tmp_path / "absent.conf"))
    assert status == ExitStatus.FAILURE
    assert one_error_line(err).endswith("absent.conf: No such file or directory\n")
    conf = tmp_path / "bad.conf"
    conf.write_text("mailhub=smtp.qq.com:ssl\n", encoding="utf-8")
    _, err, status = config.run("import-ssmtp", str(conf))
    assert status == ExitStatus.USAGE
    assert one_error_line(err).startswith(
        f"smtpshell config: error: {conf}: cannot be converted: profiles.ssmtp.server: bad port"
    )
    _, err, status = config.run("import-ssmtp", str(conf), "--name", "a b")
    assert status == ExitStatus.USAGE and "letters, digits, - and _ only" in err
    assert not config.file.exists()


def test_a_linked_profiles_file_is_replaced_where_it_lives(
    config: Config, seed_conf: Path, tmp_path: Path
) -> None:
    kept = tmp_path / "dotfiles" / "profiles.toml"
    kept.parent.mkdir()
    kept.write_text('[profiles.a]\nserver = "h"\n', encoding="utf-8")
    config.file.parent.mkdir(parents=True)
    config.file.symlink_to(kept)
    assert config.run("import-ssmtp", str(seed_conf))[2] == ExitStatus.OK
    assert config.file.is_symlink()
    assert set(load_profiles(kept).profiles) == {"a", "ssmtp"}


def test_the_profile_a_command_line_names(config: Config) -> None:
    config.run("init")
    env = Environment(io.StringIO(), io.StringIO(), io.StringIO(), config.environ)
    path = env.profiles_file
    profiles = load_profiles(path)
    assert (profiles.get("qq").name, path) == ("qq", config.file)
    assert profiles.get().name == "local"
    assert env.password_asker() is None  # piped input: nobody to ask


def test_import_names_an_unreadable_file_inertly(config: Config, tmp_path: Path) -> None:
    _, err, status = config.run("import-ssmtp", str(tmp_path / "ssmtp\x1b[2J\u202e.conf"))
    # Before: the escape sequence and the bidi override went to the terminal.
    assert status == ExitStatus.FAILURE
    assert one_error_line(err).endswith("ssmtp\\x1b[2J\\u202e.conf: No such file or directory\n")

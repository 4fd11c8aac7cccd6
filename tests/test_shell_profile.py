"""`connect --profile NAME` in the shell: connect as the profile says and log in with
the password from its source, never shown."""

from __future__ import annotations

from pathlib import Path

from cli_runner import run_cli
from conftest import PASSWORD, USER

from smtpshell.server import BackgroundServer


def profiles(tmp_path: Path, server: BackgroundServer, password_line: str) -> dict[str, str]:
    """XDG_CONFIG_HOME with a profile `local` for ``server``; the environment to use."""
    config = tmp_path / "config"
    (config / "smtpshell").mkdir(parents=True)
    path = config / "smtpshell" / "profiles.toml"
    path.write_text(
        f'[profiles.local]\nserver = "127.0.0.1:{server.tls_port}"\ntls = "implicit"\n'
        f'cafile = "{server.ca_file}"\nuser = "{USER}"\n{password_line}\n',
        encoding="utf-8",
    )
    path.chmod(0o600)
    return {"NO_COLOR": "1", "XDG_CONFIG_HOME": str(config), "MY_PASSWORD": PASSWORD}


def test_connect_profile_logs_in_with_the_password_from_the_environment(
    server: BackgroundServer, tmp_path: Path
) -> None:
    environ = profiles(tmp_path, server, 'password_env = "MY_PASSWORD"')
    out, err, status = run_cli(stdin="connect --profile local\nQUIT\n", environ=environ)
    assert status == 0, err
    assert f"authenticated as {USER}" in out + err
    assert "235" in out
    assert PASSWORD not in out + err


def test_connect_profile_with_a_wrong_password_says_so(
    server: BackgroundServer, tmp_path: Path
) -> None:
    environ = profiles(tmp_path, server, 'password_command = "printf wrong"')
    out, err, _ = run_cli(stdin="connect --profile local\nQUIT\n", environ=environ)
    assert "authentication failed (535)" in out + err


def test_connect_profile_unknown_name_is_one_line(server: BackgroundServer, tmp_path: Path) -> None:
    environ = profiles(tmp_path, server, 'password_env = "MY_PASSWORD"')
    out, err, _ = run_cli(stdin="connect --profile nosuch\n", environ=environ)
    assert "no profile 'nosuch'" in out + err

"""``smtpshell --demo``: the embedded server on loopback, and a shell connected to it."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from smtpshell.cli.environment import Environment
from smtpshell.core.options import ConnectOptions
from smtpshell.errors import SmtpShellError

DEMO_USER, DEMO_PASSWORD = "demo", "demo"
PREFERRED_PORTS = (2525, 4650)

ShellRunner = Callable[[ConnectOptions | None, argparse.Namespace, Environment], int]


def run_demo(options: argparse.Namespace, env: Environment, run_shell: ShellRunner) -> int:
    from smtpshell.server import BackgroundServer, ServerConfig, ServerError

    def config(port: int, tls_port: int) -> ServerConfig:
        return ServerConfig(
            port=port,
            tls_port=tls_port,
            users={DEMO_USER: DEMO_PASSWORD},
            data_dir=env.data_dir,
        )

    try:
        server = BackgroundServer(config(*PREFERRED_PORTS)).start()
    except ServerError:
        try:  # the usual ports are taken (another server?): any free ones will do
            server = BackgroundServer(config(0, 0)).start()
        except ServerError as exc:
            raise SmtpShellError(f"cannot start the embedded server: {exc}") from exc
    try:
        _introduce(server.port, server.tls_port, str(server.ca_file), str(server.store), env)
        target = ConnectOptions(
            host="127.0.0.1",
            port=server.port,
            cafile=server.ca_file,
            helo=options.helo,
            timeout=options.timeout,
        )
        return run_shell(target, options, env)
    finally:
        server.stop()


def _introduce(port: int, tls_port: int | None, ca: str, store: str, env: Environment) -> None:
    lines = [
        f"smtpshell demo: an embedded SMTP server listens on 127.0.0.1:{port} (STARTTLS)"
        + (f" and 127.0.0.1:{tls_port} (implicit TLS)" if tls_port else ""),
        f"  AUTH after TLS as user {DEMO_USER!r}, password {DEMO_PASSWORD!r}",
        f"  received mail is stored in {store}",
        f"  its CA certificate: {ca}",
        "Try: EHLO localhost, STARTTLS, EHLO localhost, AUTH LOGIN, MAIL FROM:<you@example.test>,",
        "     RCPT TO:<friend@example.test>, DATA ... '.', QUIT.   '?' lists local commands.",
        "",
    ]
    env.stdout.write("\n".join(lines))
    env.stdout.flush()

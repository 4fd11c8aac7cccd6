"""``caps``: the last EHLO reply as a table of extensions and what they mean."""

from __future__ import annotations

from typing import TYPE_CHECKING

from smtpshell.errors import UsageError
from smtpshell.protocol.endpoint import TlsMode
from smtpshell.render.tables import capabilities_renderable
from smtpshell.shell.registry import LocalCommand

if TYPE_CHECKING:
    from smtpshell.shell.context import CommandContext


async def show_capabilities(ctx: CommandContext, rest: str) -> None:
    """Show the last EHLO reply as a table: each extension and what it means."""
    if rest.strip():
        raise UsageError("caps takes no arguments")
    session = ctx.session
    caps = session.capabilities
    if caps is None:
        if session.connected and session.tls is not None and session.mode is not TlsMode.IMPLICIT:
            # RFC 3207 4.2: what the server said before TLS is void after it.
            ctx.info(
                "no EHLO reply since TLS started (capabilities learnt before STARTTLS "
                "are forgotten, RFC 3207 4.2): type EHLO <name>"
            )
        elif session.connected:
            ctx.info("no EHLO reply yet (type EHLO <name>)")
        else:
            ctx.info("no EHLO reply yet (connect, then type EHLO <name>)")
        return
    if not session.connected:
        ctx.info("not connected: this is the last EHLO reply of the closed connection")
    ctx.show(capabilities_renderable(caps, tls=session.tls is not None))


COMMANDS = (LocalCommand("caps", show_capabilities, usage="caps", aliases=("capabilities",)),)

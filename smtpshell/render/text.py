"""Server text made safe for a terminal: the protocol layer's one sanitiser.

rich strips only a few control characters; ESC passes through, so a greeting could
clear the screen or write the clipboard (OSC 52). :func:`visible` is
``protocol.inert.inert`` under the name the renderers use.
"""

from __future__ import annotations

from smtpshell.protocol.inert import inert as visible

__all__ = ["visible"]

"""Serving a transcript: smtpshell plays the server side to test an SMTP client.

``smtpshell serve --script FILE`` on the command line, :class:`ScriptServer` from
Python, the ``smtp_script_server`` fixture with pytest. The client's lines are checked
against the transcript's ``> `` lines and answered with its replies; the first
deviation is answered with a 5xx and reported as ``FILE:LINE: client sent X,
transcript expected Y``.
"""

from smtpshell.playback.background import ScriptFailed, ScriptServer
from smtpshell.playback.script import Script, ScriptError, load_script

__all__ = ["Script", "ScriptError", "ScriptFailed", "ScriptServer", "load_script"]

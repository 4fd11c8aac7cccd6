"""The transcript format: parse, substitute, match and write recorded SMTP sessions.

Pure: no sockets, no files, no environment reads (callers pass text and variable
values in); the standard library and RE2 (google-re2), whose linear-time matching
keeps reply patterns from spinning. Hosts, ports and TLS modes are the protocol layer's
(:mod:`smtpshell.protocol.endpoint`), so a directive reads an address as the
command line does. The user documentation is docs/transcripts.md.
"""

from smtpshell.transcript.directive import (
    ConnectDirective,
    DirectiveError,
    format_directive,
    parse_connect_directive,
)
from smtpshell.transcript.model import (
    ClientStep,
    Connection,
    MissingVariables,
    StepKind,
    Transcript,
    TranscriptError,
    argument_problem,
    environment_values,
    parse_var_option,
    required_variables,
    substitute,
)
from smtpshell.transcript.parse import parse_transcript
from smtpshell.transcript.patterns import (
    ExpectedReply,
    PatternError,
    PatternKind,
    ReplyPattern,
    code_matches,
    match_lines,
)
from smtpshell.transcript.write import TranscriptWriter, escape_client, escape_server

__all__ = [
    "ClientStep",
    "ConnectDirective",
    "Connection",
    "DirectiveError",
    "ExpectedReply",
    "MissingVariables",
    "PatternError",
    "PatternKind",
    "ReplyPattern",
    "StepKind",
    "Transcript",
    "TranscriptError",
    "TranscriptWriter",
    "argument_problem",
    "code_matches",
    "environment_values",
    "escape_client",
    "escape_server",
    "format_directive",
    "match_lines",
    "parse_connect_directive",
    "parse_transcript",
    "parse_var_option",
    "required_variables",
    "substitute",
]

"""The transcript format layer: parsing, directives, variables, patterns and writing."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smtpshell.protocol.endpoint import TlsMode
from smtpshell.protocol.secrets import secret_start
from smtpshell.transcript import (
    ClientStep,
    ConnectDirective,
    ExpectedReply,
    MissingVariables,
    ReplyPattern,
    Transcript,
    TranscriptError,
    TranscriptWriter,
    escape_client,
    format_directive,
    parse_connect_directive,
    parse_transcript,
    parse_var_option,
    required_variables,
    substitute,
)
from smtpshell.transcript.patterns import parse_reply_text

# Section 1 of the seed walkthrough, verbatim (a raw string: it contains "\r\n").
SEED = r"""# 使用163的服务器进行代理发送
# 以下 '>' 后面是输入部分, '#' 后面是注释部分
> telnet smtp.163.com 25
220 163.com Anti-spam GT for Coremail System (163com[20141201])
> helo localhost # 或者使用 ehlo localhost, 用于说明自己是谁
250 OK
> auth login # 由于使用第三方代理发送所以需要先授权登录
334 dXNlcm5hbWU6 # username 的 base64 编码
> ... # base64编码后的用户名 可使用 echo -n ***@163.com | base64
334 UGFzc3dvcmQ6 # Password 的 base64 编码
> ... # base64 编码后的授权码
235 Authentication successful
> mail from:<yourname@163.com> # 邮件的发送者
250 Mail OK
> rcpt to:<***@***.com> # 发送到哪里，如果有多个人可以多次输入次命令
250 Mail OK
> data # 开始编写邮件内容
354 End data with <CR><LF>.<CR><LF>
> Subject: subject
> from:<yourname@163.com>
> to:<***@***.com>
> # 正文需要空一行
> body
> . # 以 \r\n.\r\n 表示结束然后邮件就会发送
250 Mail OK
> Quit # 退出服务器 
221 Bye
"""  # noqa: W291 - the seed's "Quit" line ends with a space; kept verbatim

SEED_FILLED = SEED.replace(
    "> ... # base64编码后的用户名", "> ${AUTH_USER} # base64编码后的用户名"
).replace("> ... # base64 编码后的授权码", "> ${AUTH_PASSWORD} # base64 编码后的授权码")


def parse(text: str) -> Transcript:
    return parse_transcript(text, "t.txt")


def error(text: str) -> TranscriptError:
    with pytest.raises(TranscriptError) as info:
        parse(text)
    return info.value


def texts(t: Transcript) -> list[str]:
    return [step.text for step in t.steps]


# --- the seed ---------------------------------------------------------------------


def test_seed_rejects_only_the_placeholders_naming_lines_and_variables() -> None:
    assert "> Quit # 退出服务器 \n" in SEED  # the seed's trailing space is part of the test
    exc = error(SEED)
    assert str(exc) == (
        't.txt:9: "..." is a placeholder; write the value or a variable such as '
        "${AUTH_USER} (also line 11: ${AUTH_PASSWORD})"
    )
    assert [line for line, _ in exc.problems] == [9, 11]
    assert "\n" not in str(exc)


def test_seed_parses_once_the_placeholders_are_variables() -> None:
    t = parse(SEED_FILLED)
    assert t.connect == ConnectDirective(
        "smtp.163.com", 25, "plain", line=3, source="telnet smtp.163.com 25"
    )
    assert t.greeting is not None and t.greeting.code == "220" and t.greeting.line == 4
    assert t.variables == {"AUTH_USER", "AUTH_PASSWORD"}
    assert texts(t) == [
        "helo localhost",
        "auth login",
        "${AUTH_USER}",
        "${AUTH_PASSWORD}",
        "mail from:<yourname@163.com>",
        "rcpt to:<***@***.com>",
        "data",
        "Subject: subject",
        "from:<yourname@163.com>",
        "to:<***@***.com>",
        "",
        "body",
        ".",
        "Quit",
    ]
    kinds = [step.kind for step in t.steps]
    assert kinds == ["command"] * 7 + ["data"] * 5 + ["end_data", "command"]
    codes = [step.expect.code if step.expect else None for step in t.steps]
    assert codes == ["250", "334", "334", "235", "250", "250", "354"] + [None] * 5 + [
        "250",
        "221",
    ]
    assert [step.secret for step in t.steps][:5] == [False, False, True, True, False]
    # Notes after the code are not compared: any 334 text passes.
    assert t.steps[1].expect is not None
    assert t.steps[1].expect.raw == ("334 dXNlcm5hbWU6",)
    assert t.steps[1].expect.check(334, ["something else"]) is None
    assert t.steps[-1].line == 26 and t.steps[-1].expect is not None
    assert t.steps[-1].expect.raw == ("221 Bye",)


def test_seed_replays_with_values_from_var_and_environment() -> None:
    t = substitute(parse(SEED_FILLED), {"AUTH_USER": "dXNlcg=="}, {"AUTH_PASSWORD": "cGFzcw=="})
    assert texts(t)[2:4] == ["dXNlcg==", "cGFzcw=="]
    assert t.steps[2].template == "${AUTH_USER}"


def test_seed_openssl_line_of_section_3() -> None:
    t = parse("> openssl s_client -crlf -connect smtp.qq.com:465\n220 ok\n")
    assert t.connect is not None
    assert (t.connect.host, t.connect.port, t.connect.tls) == ("smtp.qq.com", 465, "implicit")


# --- lines and comments ---------------------------------------------------------------


def test_comments_and_escapes() -> None:
    t = parse(
        "# whole line\n"
        "   # indented whole line\n"
        "\n"
        "> helo x   # trailing comment, spaces before it dropped\n"
        "> rcpt to:<a#b@x> \\# literal\n"
        "> keep trailing  \n"
        "> # only a comment: an empty line\n"
        ">\n"
        ">   two leading spaces\n"
    )
    assert texts(t) == [
        "helo x",
        "rcpt to:<a#b@x> # literal",
        "keep trailing  ",
        "",
        "",
        "  two leading spaces",
    ]


def test_crlf_files_bom_and_indentation() -> None:
    t = parse("\ufeff> helo x\r\n  250 ok\r\n")
    assert texts(t) == ["helo x"]
    assert t.steps[0].expect is not None and t.steps[0].expect.raw == ("250 ok",)


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        (">helo\n", 1, "'> '"),
        ("helo x\n", 1, "not a client line"),
        ("telnet host 25\n", 1, "prefix commands you type with '> '"),
        ("> a\r b\n", 1, "carriage return"),
        ("> helo\n2500 ok\n", 2, "three-digit code"),
        ("> a ${1X}\n", 1, "bad variable"),
        ("> a ${X\n", 1, "bad variable"),
    ],
)
def test_malformed_lines(text: str, line: int, fragment: str) -> None:
    exc = error(text)
    assert exc.line == line and fragment in str(exc) and str(exc).startswith(f"t.txt:{line}: ")


# --- server lines, greeting, replies --------------------------------------------------


def test_multiline_greeting_and_code_classes() -> None:
    t = parse("220-mx.example\n220 ready\n> ehlo x\n2xx whatever\n")
    assert t.connect is None and t.greeting is not None
    assert t.greeting.raw == ("220-mx.example", "220 ready")
    assert t.steps[0].expect is not None and t.steps[0].expect.code == "2xx"
    assert t.steps[0].expect.check(250, ["x"]) is None
    assert t.steps[0].expect.check(550, ["no"]) == "expected 2xx, got 550 no"


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("220 a\n220 b\n> x\n", 2, "the greeting is one reply"),
        ("> ehlo x\n250-a\n251 b\n", 3, "continues the 250 reply of line 2"),
        ("> ehlo x\n250 a\n250 b\n", 3, "2 replies for 1 command(s) from line 1"),
        ("> noop\n250 a\n421 bye\n> quit\n", 3, "2 replies for 1 command(s)"),
        ("220 a\n> telnet h 25\n", 2, "before the greeting"),
        ("> x\n250 /unclosed\n", 2, "must end with '/'"),
        ("> x\n250 /(/\n", 2, "bad regular expression"),
    ],
)
def test_reply_structure_errors(text: str, line: int, fragment: str) -> None:
    exc = error(text)
    assert exc.line == line and fragment in exc.message


def test_expected_reply_may_list_fewer_lines_than_the_server_sends() -> None:
    t = parse("> ehlo x\n250 OK\n")
    ehlo = [f"mx{i}" for i in range(9)] + ["HELP"]
    assert t.steps[0].expect is not None
    assert t.steps[0].expect.check(250, ehlo) is None


def test_patterns_match_in_order_against_some_lines() -> None:
    t = parse(
        "> ehlo x\n250-mx.example.com Hello [127.0.0.1]\n250-~ pipelining\n250 /^SIZE \\d+$/\n"
    )
    expect = t.steps[0].expect
    assert expect is not None
    assert expect.raw[0] == "250-mx.example.com Hello [127.0.0.1]"
    assert [str(p) for p in expect.patterns] == ["~ pipelining", "/^SIZE \\d+$/"]
    assert expect.check(250, ["mail", "PIPELINING", "SIZE 1000", "HELP"]) is None
    reason = expect.check(250, ["SIZE 1000", "PIPELINING"])
    assert reason == "no later line of the reply matches '/^SIZE \\\\d+$/' (line 4)"
    assert expect.check(250, ["mail"]) is not None
    assert expect.check(251, ["PIPELINING", "SIZE 1"]) == "expected 250, got 251 PIPELINING"


@pytest.mark.parametrize(
    ("text", "kind", "pattern", "good", "bad"),
    [
        ("Mail OK", "any", "Mail OK", "anything", None),
        ("~ mail ok", "contains", "mail ok", "250 Mail OK here", "Mail"),
        (
            "~2.0.0 Ok: queued as *",
            "contains",
            "2.0.0 Ok: queued as *",
            "2.0.0 OK: queued as X",
            "2.0.0 Ok",
        ),
        ("~ [127.0.0.1]", "contains", "[127.0.0.1]", "Hello [127.0.0.1]", "Hello 1"),
        ("~ a?c", "contains", "a?c", "xabcx", "ac"),
        ("= ok", "equals", "ok", "OK", "OK then"),
        ("= 2.0.0 *", "equals", "2.0.0 *", "2.0.0 queued", "x 2.0.0 y"),
        ("/^2\\.0\\.0 /", "regex", "^2\\.0\\.0 ", "2.0.0 Ok", "x 2.0.0 "),
        ("/(?i)bye/", "regex", "(?i)bye", "BYE", "by"),
        ("\\~ a note", "any", "~ a note", "x", None),
        ("  \\\\/x/", "any", "  \\/x/", "x", None),
    ],
)
def test_reply_pattern_syntax(
    text: str, kind: str, pattern: str, good: str, bad: str | None
) -> None:
    _, parsed = parse_reply_text(text, 3)
    assert (parsed.kind, parsed.text, parsed.line) == (kind, pattern, 3)
    assert parsed.matches(good)
    if bad is not None:
        assert not parsed.matches(bad)


def test_seed_style_notes_stay_notes() -> None:
    for text in ["dXNlcm5hbWU6", "End data with <CR><LF>.<CR><LF>", "163.com (163com[2014])"]:
        assert parse_reply_text(text)[1].kind == "any"


def test_hash_in_reply_text_needs_escaping_only_after_white_space() -> None:
    t = parse("> x\n250 2.0.0 Ok: queued as \\#123 # a comment\n> y\n250-#not-a-comment\n")
    assert t.steps[0].expect is not None and t.steps[1].expect is not None
    assert t.steps[0].expect.raw == ("250 2.0.0 Ok: queued as #123",)
    assert t.steps[1].expect.raw == ("250-#not-a-comment",)
    regex = parse("> x\n250 /queued as \\#\\d+/\n").steps[0].expect
    assert regex is not None and regex.check(250, ["queued as #12"]) is None


# --- connect directives -----------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "host", "port", "tls"),
    [
        ("telnet smtp.163.com 25", "smtp.163.com", 25, "plain"),
        ("telnet mx.example", "mx.example", 25, "plain"),
        ("telnet -4 mx.example smtp", "mx.example", 25, "plain"),
        ("telnet -l user ::1 2525", "::1", 2525, "plain"),
        ("nc mx.example 25", "mx.example", 25, "plain"),
        ("nc -C -w 5 mx.example 587", "mx.example", 587, "plain"),
        ("nc -Cvw 5 mx.example 25", "mx.example", 25, "plain"),
        ("ncat --crlf --ssl mx.example 465", "mx.example", 465, "implicit"),
        ("/usr/bin/netcat 192.0.2.1 25", "192.0.2.1", 25, "plain"),
        ("openssl s_client -connect smtp.qq.com:465", "smtp.qq.com", 465, "implicit"),
        ("openssl s_client -crlf -quiet -connect [::1]:2525", "::1", 2525, "implicit"),
        (
            "openssl s_client -starttls smtp -crlf -connect mx.example:587 -servername mx "
            "-CAfile ca.pem",
            "mx.example",
            587,
            "starttls",
        ),
        ("openssl s_client -host mx.example -port 465", "mx.example", 465, "implicit"),
        ("openssl s_client -brief mx.example:465", "mx.example", 465, "implicit"),
        ("openssl s_client -connect mx.example", "mx.example", None, "implicit"),
        ("smtpshell --connect mx.example:2525", "mx.example", 2525, "plain"),
        ("smtpshell --connect mx.example --starttls", "mx.example", None, "starttls"),
        ("smtpshell --connect=[2001:db8::1]:465 --tls", "2001:db8::1", 465, "implicit"),
        ("smtpshell --tls mx.example", "mx.example", None, "implicit"),
    ],
)
def test_connect_directive_variants(line: str, host: str, port: int | None, tls: str) -> None:
    t = parse(f"> {line} # how the walkthrough connects\n220 hi\n> quit\n")
    assert t.connect is not None
    assert (t.connect.host, t.connect.port, t.connect.tls) == (host, port, tls)
    assert t.connect.line == 1 and t.connect.source == line
    assert texts(t) == ["quit"]


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ("openssl s_client -crlf", "-connect HOST:PORT"),
        ("openssl x509 -in c.pem", "s_client"),
        ("openssl s_client -starttls imap -connect h:143", "not SMTP"),
        ("telnet", "telnet HOST"),
        ("telnet h 99999", "bad port"),
        ("smtpshell --connect h --tls --starttls", "one of"),
        ("openssl s_client -connect [::1", "[IPV6]:PORT"),
        ("nc 'unbalanced", "cannot read"),
        ("openssl s_client -connect", "needs a value"),
    ],
)
def test_bad_connect_directives(line: str, fragment: str) -> None:
    exc = error(f"> {line}\n")
    assert exc.line == 1 and "connect directive" in exc.message and fragment in exc.message


def test_only_the_first_client_line_is_a_directive() -> None:
    t = parse("> ehlo x\n250 ok\n> telnet is not special here\n")
    assert t.connect is None and texts(t)[1] == "telnet is not special here"


def test_directive_with_variables_is_resolved_by_substitute() -> None:
    t = parse("> telnet ${HOST} ${PORT}\n220 hi\n")
    assert t.connect is not None and (t.connect.host, t.connect.port) == ("${HOST}", None)
    assert required_variables(t) == {"HOST", "PORT"}
    done = substitute(t, {"HOST": "mx.example", "PORT": "2525"}, {})
    assert done.connect is not None
    assert (done.connect.host, done.connect.port) == ("mx.example", 2525)
    assert done.connect.source == "telnet ${HOST} ${PORT}"
    with pytest.raises(TranscriptError, match="bad port"):
        substitute(t, {"HOST": "h", "PORT": "x"}, {})


def test_format_directive_round_trips() -> None:
    for directive in [
        ConnectDirective("mx.example", None, "plain"),
        ConnectDirective("::1", 2525, "starttls"),
        ConnectDirective("mx.example", 465, "implicit"),
    ]:
        parsed = parse_connect_directive(format_directive(directive))
        assert parsed is not None
        assert (parsed.host, parsed.port, parsed.tls) == (
            directive.host,
            directive.port,
            directive.tls,
        )
    assert format_directive(ConnectDirective("::1", 25, "implicit")) == (
        "smtpshell --connect '[::1]:25' --tls"
    )


def test_directive_modes_are_the_protocol_layers_tls_modes() -> None:
    t = parse("> openssl s_client -starttls smtp -connect mx.example:587\n220 hi\n")
    assert t.connect is not None and t.connect.tls is TlsMode.STARTTLS
    assert ConnectDirective("h", None, "implicit").tls is TlsMode.IMPLICIT
    with pytest.raises(ValueError, match="'tls'"):
        ConnectDirective("h", None, "tls")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("line", "port"),
    [
        ("telnet mx.example submission", 587),
        ("openssl s_client -connect mx.example:smtps", 465),
        ("smtpshell --connect mx.example --port SUBMISSIONS --tls", 465),
    ],
)
def test_directive_ports_may_be_service_names(line: str, port: int) -> None:
    t = parse(f"> {line}\n220 hi\n")
    assert t.connect is not None and t.connect.port == port


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ("telnet mx.example:25 25", "own argument"),
        ("nc [::1]:25", "own argument"),
        ("openssl s_client -connect mx\x1b.example:25", "control character"),
        ("smtpshell --connect []:25", "[IPV6]:PORT"),
        ("telnet h 0", "bad port '0'"),
    ],
)
def test_directive_addresses_are_checked_as_the_command_line_checks_them(
    line: str, fragment: str
) -> None:
    exc = error(f"> {line}\n")
    assert "connect directive" in exc.message and fragment in exc.message


# --- variables ----------------------------------------------------------------------


def test_all_missing_variables_are_reported_with_lines() -> None:
    t = parse("> auth login\n334 x\n> ${USER}\n334 y\n> ${PASS}\n235 ok\n> mail from:<${USER}>\n")
    with pytest.raises(MissingVariables) as info:
        substitute(t, {}, {"OTHER": "1"})
    exc = info.value
    assert exc.missing == {"USER": (3, 7), "PASS": (5,)}
    assert exc.line == 3
    assert str(exc) == (
        "t.txt:3: no value for ${USER} (lines 3, 7), ${PASS} (line 5); "
        "pass --var NAME=... or --env NAME"
    )


def test_var_takes_precedence_over_environment() -> None:
    t = parse("> helo ${NAME} ${OTHER}\n")
    done = substitute(t, {"NAME": "from-var"}, {"NAME": "from-env", "OTHER": "env"})
    assert texts(done) == ["helo from-var env"]
    again = substitute(done, {"NAME": "second", "OTHER": ""}, {})
    assert texts(again) == ["helo second "]


def test_literal_dollars() -> None:
    t = parse("> a \\${NOT} $HOME $5 \\$x\n")
    assert t.variables == frozenset()
    assert texts(substitute(t, {}, {})) == ["a ${NOT} $HOME $5 $x"]


def test_values_with_line_breaks_are_refused() -> None:
    t = parse("> rcpt to:<${TO}>\n")
    with pytest.raises(TranscriptError, match="line break"):
        substitute(t, {"TO": "a>\r\nRCPT TO:<b"}, {})


@pytest.mark.parametrize(
    ("text", "expected"),
    [("A=1", ("A", "1")), ("AUTH_USER=a=b", ("AUTH_USER", "a=b")), ("_x=", ("_x", ""))],
)
def test_parse_var_option(text: str, expected: tuple[str, str]) -> None:
    assert parse_var_option(text) == expected


@pytest.mark.parametrize("text", ["A", "=1", "1A=2", "A B=1", ""])
def test_parse_var_option_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="NAME=VALUE"):
        parse_var_option(text)


# --- placeholders -------------------------------------------------------------------


def test_placeholder_messages() -> None:
    exc = error("> helo x\n250 ok\n> ...\n")
    assert (
        str(exc)
        == 't.txt:3: "..." is a placeholder; write the value or a variable such as ${VALUE}'
    )
    exc = error("> auth plain\n334\n> ...   \n")
    assert exc.line == 3 and "${AUTH_PLAIN}" in exc.message
    exc = error("> data\n354 go\n> ...\n> .\n")
    assert exc.line == 3


def test_escaped_dots_are_literal() -> None:
    t = parse("> \\...\n500 what\n> data\n354 go\n> \\.\n> \\\\.x\n> ..\n> .\n250 ok\n")
    assert texts(t) == ["...", "data", ".", "\\.x", "..", "."]
    assert [s.kind for s in t.steps] == ["command", "command", "data", "data", "data", "end_data"]


# --- DATA, STARTTLS, pipelining ------------------------------------------------------------


def test_pipelined_commands_take_replies_in_order() -> None:
    t = parse(
        "> ehlo x\n250 ok\n> mail from:<a>\n> rcpt to:<b>\n> rcpt to:<c>\n> data\n"
        "250 a\n550 no\n250 c\n354 go\n> body\n> .\n> quit\n250 queued\n221 bye\n"
    )
    assert [(s.text, s.expect.code if s.expect else None, s.pipelined) for s in t.steps] == [
        ("ehlo x", "250", False),
        ("mail from:<a>", "250", False),
        ("rcpt to:<b>", "550", True),
        ("rcpt to:<c>", "250", True),
        ("data", "354", True),
        ("body", None, False),
        (".", "250", False),
        ("quit", "221", True),
    ]


def test_an_unsolicited_421_may_end_a_transcript() -> None:
    t = parse("> noop\n250 ok\n421 4.4.2 idle too long, closing\n")
    assert t.steps[0].expect is not None and t.steps[0].expect.code == "250"
    assert t.closing is not None and t.closing.code == "421" and t.closing.line == 3
    assert parse("> noop\n250 ok\n").closing is None


def test_commands_without_written_replies_are_unchecked() -> None:
    t = parse("> noop\n> rset\n250 first\n> quit\n")
    assert [s.expect.raw if s.expect else None for s in t.steps] == [("250 first",), None, None]


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("> data\n> Subject: x\n", 1, "reply to DATA (354)"),
        ("> mail from:<a>\n> data\n250 ok\n> body\n", 2, "reply to DATA (354)"),
        ("> starttls\n> ehlo x\n", 1, "reply to STARTTLS (220)"),
        ("> rset\n> data\n354 go\n250 ok\n", 3, "answers line 1"),
        ("> data\n354 go\n> body\n250 ok\n", 4, "inside the message body"),
        ("> data\n354 go\n> body\n", 2, "never ends"),
    ],
)
def test_data_and_starttls_errors(text: str, line: int, fragment: str) -> None:
    exc = error(text)
    assert exc.line == line and fragment in exc.message


def test_data_edge_cases() -> None:
    rejected = parse("> DATA\n554 no\n> quit\n221 bye\n")
    assert [s.kind for s in rejected.steps] == ["command", "command"]
    ends_at_354 = parse("> data\n354 go\n")
    assert ends_at_354.steps[0].expect is not None
    by_class = parse("> Data\n3xx go\n> body\n> . # end\n250 ok\n")
    assert [s.kind for s in by_class.steps] == ["command", "data", "end_data"]


def test_starttls_step() -> None:
    t = parse("> ehlo x\n250 STARTTLS\n> STARTTLS\n220 go ahead\n> ehlo x\n250 ok\n")
    assert [s.starttls for s in t.steps] == [False, True, False]


def test_secret_marks_auth_payloads_until_the_exchange_ends() -> None:
    t = parse(
        "> AUTH PLAIN AGEAYg==\n235 ok\n> mail from:<a>\n250 ok\n"
        "> auth login\n334 VXNlcm5hbWU6\n> dXNlcg==\n334 UGFzc3dvcmQ6\n> cGFzcw==\n535 no\n> quit\n"
    )
    assert [s.secret for s in t.steps] == [True, False, False, True, True, False]


def test_the_star_that_cancels_an_exchange_is_not_a_secret() -> None:
    # RFC 4954 4: "*" cancels; the session and the shell show it, so the transcript does.
    t = parse("> auth login\n334 VXNlcm5hbWU6\n> *\n501 5.7.0 cancelled\n> quit\n221 bye\n")
    assert [s.secret for s in t.steps] == [False, False, False]


def test_transcript_secrets_follow_the_protocol_rule() -> None:
    lines = ["AUTH PLAIN", "AGEAYg==", "AUTH LOGIN dXNlcg==", "cGFzcw==", "*", "NOOP"]
    t = parse(
        "> AUTH PLAIN\n334\n> AGEAYg==\n235 ok\n> AUTH LOGIN dXNlcg==\n334 UGFzc3dvcmQ6\n"
        "> cGFzcw==\n334 again\n> *\n501 cancelled\n> NOOP\n250 ok\n"
    )
    pending = [False, True, False, True, True, False]
    expected = [
        secret_start(line, waiting) is not None
        for line, waiting in zip(lines, pending, strict=True)
    ]
    assert [s.text for s in t.steps] == lines
    assert [s.secret for s in t.steps] == expected == [False, True, True, True, False, False]


def test_step_model_defaults() -> None:
    step = ClientStep(line=1, text="x", template="x")
    assert step.kind == "command" and not step.in_data and step.expect is None


# --- writing ------------------------------------------------------------------------------


def test_writer_produces_a_seed_style_transcript() -> None:
    w = TranscriptWriter()
    w.header(["recorded by smtpshell", "replay: smtpshell replay FILE"])
    w.directive(ConnectDirective("mx.example", 25, "plain"))
    w.server("220 mx.example ESMTP")
    w.client("ehlo x", comment="who we are")
    for line in ["250-mx.example", "250-PIPELINING", "250 SIZE 1000"]:
        w.server(line)
    w.client("${AUTH_USER}")
    w.server("500 unknown")
    w.client_template("${AUTH_USER}")
    w.server("500 unknown")
    w.client("data")
    w.server("354 go")
    w.data("# not a comment")
    w.data(".")
    w.data("...")
    w.data("")
    w.client(".")
    w.server("250 2.0.0 Ok: queued as #123 ~")
    w.client("quit  ", comment="trailing spaces kept")
    w.server("221 ~bye")
    text = w.text()
    assert text.startswith("# recorded by smtpshell\n# replay: smtpshell replay FILE\n")
    assert "> smtpshell --connect mx.example:25\n" in text
    assert "> ehlo x # who we are\n" in text
    assert "> \\${AUTH_USER}\n500 unknown\n> ${AUTH_USER}\n" in text
    assert "> \\# not a comment\n> \\.\n> \\...\n>\n> .\n" in text
    assert "250 2.0.0 Ok: queued as \\#123 ~\n" in text
    assert "# trailing spaces kept\n> quit  \n221 \\~bye\n" in text
    t = parse(text)
    assert t.connect is not None and t.connect.host == "mx.example"
    assert t.variables == {"AUTH_USER"}
    assert texts(t) == [
        "ehlo x",
        "${AUTH_USER}",
        "${AUTH_USER}",
        "data",
        "# not a comment",
        ".",
        "...",
        "",
        ".",
        "quit  ",
    ]
    assert t.steps[0].expect is not None and len(t.steps[0].expect.raw) == 3
    assert t.steps[8].expect is not None
    assert t.steps[8].expect.raw == ("250 2.0.0 Ok: queued as #123 ~",)
    assert all(not s.expect.patterns for s in t.steps if s.expect is not None)


def test_writer_refuses_what_it_cannot_write() -> None:
    w = TranscriptWriter()
    with pytest.raises(ValueError, match="CR or LF"):
        w.client("a\r\nb")
    with pytest.raises(ValueError, match="not a reply line"):
        w.server("hello")
    w.server("220 hi")
    with pytest.raises(ValueError, match="before other lines"):
        w.directive(ConnectDirective("h", None, "plain"))


# --- properties ----------------------------------------------------------------------------

_PIECES = st.sampled_from(
    ["> ", ">", "#", " #", "\\#", "\\", "$", "${", "}", "${A}", "${B}", "...", ".", "\\.",
     "250", "250-", "354 ", "2xx ", "~", "=", "/", " ", "\t", "data", "DATA", "STARTTLS",
     "auth login", "telnet h 25", "openssl s_client -connect ", "smtpshell --connect ",
     "'", "[::1]", ":", "x", "好", "\r", "\u2028", "\x85", "\x00"]
)  # fmt: skip
_PREFIXES = st.sampled_from(["> ", "> ", "> ", "250 ", "250-", "354 ", "220 ", "334 ", "2xx ", ""])
_LINE = st.tuples(_PREFIXES, st.lists(_PIECES | st.text(max_size=5), max_size=5).map("".join)).map(
    "".join
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_LINE, max_size=12))
def test_arbitrary_text_parses_or_raises_transcript_error(lines: list[str]) -> None:
    try:
        t = parse("\n".join(lines))
        done = substitute(t, {"A": "1"}, {"B": "2\n"} if len(lines) % 2 else {"B": "2"})
    except TranscriptError as exc:
        assert str(exc).startswith("t.txt")
        return
    for step in done.steps:
        if step.expect is not None:
            step.expect.check(250, ["x", ""])


_ONE_LINE = st.text(st.characters(blacklist_characters="\r\n", codec="utf-8"), max_size=30)
_SOME_TEXT = st.one_of(
    _ONE_LINE,
    st.lists(st.sampled_from(["#", " ", "\\", "$", "{", "}", ".", "~", "=", "/", "a", "\t"])).map(
        "".join
    ),
)


@settings(max_examples=300, deadline=None)
@given(_SOME_TEXT, st.none() | _ONE_LINE)
def test_client_lines_round_trip(text: str, comment: str | None) -> None:
    w = TranscriptWriter()
    w.client("noop")
    w.server("250 ok")
    w.client(text, comment)
    w.server("250 ok")  # DATA and STARTTLS need a reply before the next command
    w.client("quit")
    t = parse(w.text())
    assert texts(t) == ["noop", text, "quit"]
    assert t.variables == frozenset()
    assert escape_client(text).count("\n") == 0


@settings(max_examples=300, deadline=None)
@given(st.lists(_SOME_TEXT, max_size=5))
def test_body_lines_round_trip(lines: list[str]) -> None:
    w = TranscriptWriter()
    w.client("DATA")
    w.server("354 go ahead")
    for line in lines:
        w.data(line)
    w.client(".")
    w.server("250 ok")
    t = parse(w.text())
    assert texts(t) == ["DATA", *lines, "."]
    assert [s.kind for s in t.steps] == ["command"] + ["data"] * len(lines) + ["end_data"]


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["220", "250", "334", "421", "554"]),
    st.lists(_SOME_TEXT, min_size=1, max_size=4),
    st.none() | _ONE_LINE,
)
def test_server_lines_round_trip_as_notes(
    code: str, texts_: list[str], comment: str | None
) -> None:
    lines = [f"{code}-{text}" for text in texts_[:-1]] + [
        f"{code} {texts_[-1]}" if texts_[-1] else code
    ]
    w = TranscriptWriter()
    for line in lines:
        w.server(line, comment)
    w.client("ehlo x")
    for line in lines:
        w.server(line)
    t = parse(w.text())
    assert t.greeting is not None and t.greeting.raw == tuple(lines)
    expect = t.steps[0].expect
    assert expect is not None and expect.raw == tuple(lines) and expect.patterns == ()
    assert expect.check(int(code), ["anything"]) is None


_HOSTS = st.sampled_from(["mx.example", "192.0.2.1", "::1", "2001:db8::25", "localhost"])


@given(
    _HOSTS, st.none() | st.integers(1, 65535), st.sampled_from(["plain", "starttls", "implicit"])
)
def test_directives_round_trip(host: str, port: int | None, tls: str) -> None:
    w = TranscriptWriter()
    w.directive(ConnectDirective(host, port, tls))  # type: ignore[arg-type]
    t = parse(w.text())
    assert t.connect is not None
    assert (t.connect.host, t.connect.port, t.connect.tls) == (host, port, tls)


def test_reply_pattern_str_and_expected_reply_defaults() -> None:
    assert str(ReplyPattern("equals", "ok")) == "= ok"
    assert ExpectedReply(1, "250", ("250 ok",)).check(250, ["ok"]) is None


def test_the_examples_in_the_format_documentation_parse() -> None:
    doc = (Path(__file__).parent.parent / "docs" / "transcripts.md").read_text("utf-8")
    blocks = re.findall(r"^```\n(.*?)^```$", doc, re.DOTALL | re.MULTILINE)
    example, ehlo = blocks[0], blocks[1]
    t = parse(example)
    assert t.connect is not None and t.connect.host == "smtp.163.com"
    assert t.variables == {"AUTH_USER", "AUTH_PASSWORD"}
    assert [s.kind for s in t.steps].count("data") == 3
    patterns = parse(ehlo).steps[0].expect
    assert patterns is not None
    assert patterns.check(250, ["mx", "PIPELINING", "SIZE 10"]) is None
    for block in blocks[2:]:  # the error messages shown are the real ones
        assert block.startswith("t.txt:")
    assert str(error(SEED)) == blocks[-1].strip()
    with pytest.raises(MissingVariables) as info:
        substitute(parse(SEED_FILLED), {}, {})
    assert str(info.value) == blocks[-2].strip()

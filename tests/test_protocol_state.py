"""The SMTP state a client tracks (protocol/state.py), driven without sockets."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smtpshell.protocol.reply import Reply
from smtpshell.protocol.state import AUTH_RESPONSE, END_DATA, GREETING, SmtpState


def reply(code: int, *lines: str) -> Reply:
    return Reply(code, lines or ("",))


def converse(state: SmtpState, *exchange: tuple[str, Reply]) -> list[str | None]:
    """Send each line (or marker) and feed its reply; what each reply answered."""
    answered = []
    for line, answer in exchange:
        state.sent(line if line.startswith("<") else state.verb_for(line))
        answered.append(state.replied(answer))
    return answered


def greeted() -> SmtpState:
    state = SmtpState()
    converse(state, (GREETING, reply(220, "mx.test ESMTP")))
    return state


EHLO_250 = reply(250, "mx.test hello", "PIPELINING", "STARTTLS", "AUTH PLAIN LOGIN")


def test_a_fresh_state_knows_nothing() -> None:
    state = SmtpState()
    assert state.greeting is None and state.capabilities is None
    assert not (state.in_data or state.auth_pending or state.tls or state.tls_pending)
    assert state.awaiting == ()


def test_greeting_is_kept() -> None:
    state = greeted()
    assert state.greeting == reply(220, "mx.test ESMTP")
    assert state.awaiting == ()


def test_ehlo_250_sets_capabilities_and_helo_clears_them() -> None:
    state = greeted()
    assert converse(state, ("EHLO me", EHLO_250)) == ["EHLO"]
    assert state.capabilities is not None
    assert state.capabilities.server_name == "mx.test"
    assert state.capabilities.auth_mechanisms == ("PLAIN", "LOGIN")
    converse(state, ("HELO me", reply(250, "mx.test")))
    assert state.capabilities is None


def test_lhlo_counts_as_ehlo() -> None:
    state = greeted()
    converse(state, ("lhlo me", EHLO_250))
    assert state.capabilities is not None and state.capabilities.has("STARTTLS")


def test_a_refused_ehlo_keeps_what_the_last_one_offered() -> None:
    state = greeted()
    converse(state, ("EHLO me", EHLO_250), ("EHLO bad_name", reply(501, "5.5.4 bad")))
    assert state.capabilities is not None and state.capabilities.has("PIPELINING")


def test_data_354_until_end_of_data() -> None:
    state = greeted()
    converse(state, ("DATA", reply(354, "go ahead")))
    assert state.in_data
    assert converse(state, (END_DATA, reply(250, "2.0.0 queued"))) == [END_DATA]
    assert not state.in_data


def test_data_refused_is_not_in_data() -> None:
    state = greeted()
    converse(state, ("DATA", reply(503, "5.5.1 need RCPT")))
    assert not state.in_data


def test_a_refused_end_of_data_also_ends_the_message() -> None:
    state = greeted()
    converse(state, ("DATA", reply(354, "go")), (END_DATA, reply(554, "5.7.1 spam")))
    assert not state.in_data


def test_auth_334_makes_every_next_line_a_response_until_the_outcome() -> None:
    state = greeted()
    assert converse(state, ("AUTH LOGIN", reply(334, "VXNlcm5hbWU6"))) == ["AUTH"]
    assert state.auth_pending
    # Whatever it looks like, a line sent now answers the challenge (RFC 4954 4).
    assert state.verb_for("QUIT") == AUTH_RESPONSE
    assert converse(state, ("YWxpY2U=", reply(334, "UGFzc3dvcmQ6"))) == [AUTH_RESPONSE]
    assert state.auth_pending
    converse(state, ("d29uZGVybGFuZA==", reply(235, "2.7.0 ok")))
    assert not state.auth_pending
    assert state.verb_for("quit") == "QUIT"


@pytest.mark.parametrize("outcome", [235, 501, 535, 454])
def test_any_reply_but_334_ends_an_auth_exchange(outcome: int) -> None:
    state = greeted()
    converse(state, ("AUTH PLAIN", reply(334)), ("*" if outcome == 501 else "x", reply(outcome)))
    assert not state.auth_pending


def test_auth_refused_at_once_never_pends() -> None:
    state = greeted()
    converse(state, ("AUTH CRAM-MD5", reply(504, "5.5.4 unrecognized")))
    assert not state.auth_pending


def test_starttls_220_pends_the_handshake_and_tls_forgets_capabilities() -> None:
    state = greeted()
    converse(state, ("EHLO me", EHLO_250))
    assert converse(state, ("STARTTLS", reply(220, "2.0.0 go"))) == ["STARTTLS"]
    assert state.tls_pending and not state.tls
    assert state.capabilities is not None  # forgotten only once TLS is on
    state.tls_started()
    assert state.tls and not state.tls_pending
    assert state.capabilities is None  # RFC 3207 4.2


def test_starttls_refused_stays_plain() -> None:
    state = greeted()
    converse(state, ("EHLO me", EHLO_250), ("STARTTLS", reply(454, "4.7.0 not now")))
    assert not state.tls_pending and not state.tls
    assert state.capabilities is not None


def test_pipelined_replies_answer_commands_in_order() -> None:
    state = greeted()
    for line in ("MAIL FROM:<a@x>", "RCPT TO:<b@y>", "DATA"):
        state.sent(state.verb_for(line))
    assert state.awaiting == ("MAIL", "RCPT", "DATA")
    assert state.replied(reply(250, "ok")) == "MAIL"
    assert state.replied(reply(550, "no such user")) == "RCPT"
    assert state.awaiting == ("DATA",)
    assert state.replied(reply(554, "no valid recipients")) == "DATA"
    assert not state.in_data


def test_a_reply_nobody_awaits_is_unsolicited_and_changes_nothing() -> None:
    state = greeted()
    converse(state, ("EHLO me", EHLO_250))
    before = (state.capabilities, state.in_data, state.auth_pending)
    assert state.replied(reply(421, "4.4.2 idle too long")) is None
    assert (state.capabilities, state.in_data, state.auth_pending) == before


def test_closed_drops_owed_replies_and_ends_exchanges_but_keeps_what_was_learned() -> None:
    state = greeted()
    converse(state, ("EHLO me", EHLO_250), ("AUTH LOGIN", reply(334, "VXNlcm5hbWU6")))
    state.sent(AUTH_RESPONSE)
    state.closed()
    assert state.awaiting == ()
    assert not state.auth_pending and not state.in_data
    assert state.greeting is not None and state.capabilities is not None
    assert state.replied(reply(250, "late")) is None


_VERBS = st.sampled_from(["EHLO", "DATA", "AUTH", "RSET"])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(_VERBS, st.integers(200, 599))))
def test_each_reply_answers_exactly_one_command(steps: list[tuple[str, int]]) -> None:
    state = greeted()
    for verb, _ in steps:
        state.sent(verb)
    answered = [state.replied(reply(code)) for _, code in steps]
    assert answered == [verb for verb, _ in steps]
    assert state.awaiting == ()
    assert state.replied(reply(250)) is None

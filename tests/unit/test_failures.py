"""One classification of connect and request failures, for every front end."""

from __future__ import annotations

import pytest

from zmqchat.client.chat.failures import ExitCode, Failure, ScriptError, classify
from zmqchat.client.console.exits import SIGNALS_NOTE, exit_status_help, signal_status
from zmqchat.errors import (
    BrokerError,
    ConfigError,
    ConnectionClosed,
    DecodeError,
    ProtocolError,
    StoreError,
    Timeout,
    UsageError,
)

ENDPOINT = "tcp://127.0.0.1:5555"


@pytest.mark.parametrize(
    ("error", "kind", "status", "message", "code"),
    [
        (BrokerError("no_such_user", "no bob"), "refused", 1, "no bob", "no_such_user"),
        (ProtocolError("too_long", "70000 bytes"), "refused", 1, "70000 bytes", "too_long"),
        (DecodeError("not a map"), "refused", 1, "not a map", "bad_request"),
        (Timeout("no reply"), "unreachable", 3, "broker unreachable: no reply", None),
        (ConnectionClosed("replaced"), "closed", 1, "connection closed: replaced", None),
        (ConfigError("flag --port: 'x'"), "usage", 2, "flag --port: 'x'", None),
        (UsageError("no valid port"), "usage", 2, "no valid port", None),
        (StoreError("store.db is in use"), "failed", 1, "store.db is in use", None),
        (KeyError("room"), "internal", 1, "internal error: KeyError: 'room'", None),
    ],
)
def test_each_failure_has_one_kind_message_and_status(error, kind, status, message, code):
    failure = classify(error)
    assert (failure.kind, failure.exit_status, failure.message) == (kind, status, message)
    assert failure.code == code
    assert failure.field is None  # a request's failure is about no input of a form


def test_the_broker_code_goes_last_for_people_and_first_for_scripts():
    failure = classify(BrokerError("name_taken", "alice is already online"))
    assert failure.display == "alice is already online (name_taken)"
    assert failure.report == "name_taken: alice is already online"
    plain = classify(Timeout("no reply"))
    assert plain.display == plain.report == plain.message == "broker unreachable: no reply"


def test_a_session_closed_by_a_refusal_names_the_refusal():
    refused = BrokerError("name_taken", "alice is online")
    failure = classify(ConnectionClosed("registration refused: name_taken", refused))
    assert failure.message == "connection closed: name_taken: alice is online"
    assert (failure.kind, failure.exit_status) == ("closed", ExitCode.REFUSED)


@pytest.mark.parametrize("code", ["name_taken", "invalid_name"])
def test_a_name_refused_on_connecting_is_about_the_user_field(code):
    failure = classify(BrokerError(code, "pick another"), endpoint=ENDPOINT, connect_timeout=5)
    assert (failure.kind, failure.field, failure.exit_status) == ("refused", "user", 1)
    other = classify(BrokerError("server_busy", "try again"), endpoint=ENDPOINT)
    assert other.field is None
    # The same code from a request (a pm to "no spaces") is about no form field.
    assert classify(BrokerError(code, "pick another")).field is None


def test_no_answer_on_connecting_is_about_the_host_and_says_where():
    failure = classify(
        Timeout("no answer from a zmqchat broker at tcp://[::1]:7000 within 0.5s"),
        endpoint="tcp://[::1]:7000",
        connect_timeout=0.5,
    )
    assert failure == Failure(
        "unreachable",
        "host",
        "broker unreachable: no zmqchat broker answered at [::1]:7000 within 0.5s"
        " (an encrypted broker also needs its server key)",
        ExitCode.UNREACHABLE,
    )
    bare = classify(Timeout("no answer"), endpoint=ENDPOINT)
    assert bare.message == (
        "broker unreachable: no zmqchat broker answered at 127.0.0.1:5555"
        " (an encrypted broker also needs its server key)"
    )


def test_a_command_failure_keeps_its_own_status_and_message():
    error = ScriptError(ExitCode.USAGE, "nothing to send")
    assert classify(error) == Failure("usage", None, "nothing to send", ExitCode.USAGE)
    timed_out = ScriptError(ExitCode.TIMED_OUT, "timeout after 1 s with 0 of 1 events")
    assert classify(timed_out).kind == "timed_out"
    # A failure classified where it happened travels whole, its code included.
    connect = classify(BrokerError("name_taken", "alice is online"), endpoint=ENDPOINT)
    carried = ScriptError.of(connect)
    assert classify(carried) is connect
    assert (carried.code, carried.message) == (ExitCode.REFUSED, "alice is online")


def test_exit_statuses_and_their_help():
    assert [int(code) for code in ExitCode] == [0, 1, 2, 3, 4, 129, 130, 143]
    assert signal_status(15) is ExitCode.TERMINATED
    assert signal_status(1) is ExitCode.HUNG_UP
    assert exit_status_help().endswith(f"       {SIGNALS_NOTE}\n")
    assert "  4    " not in exit_status_help()
    assert "  4    --timeout" in exit_status_help(tail=True)

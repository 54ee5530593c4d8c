"""The pure decisions of digest delivery: what an SMTP answer means, retries, backoff,
failing addresses and pacing."""

from __future__ import annotations

import smtplib
from datetime import UTC, datetime, timedelta

from paperfeed.deliver.mail.delivery_rules import (
    Failure,
    backoff_seconds,
    classify,
    decide,
    now_failing,
    pace_wait,
)

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


def test_classify_smtp_answers() -> None:
    refused = smtplib.SMTPRecipientsRefused({"a@b.test": (550, b"no such user")})
    assert classify(refused) == Failure("permanent", 550, "550 no such user")
    grey = smtplib.SMTPRecipientsRefused({"a@b.test": (451, b"later")})
    assert classify(grey).kind == "transient"
    assert classify(smtplib.SMTPDataError(554, b"spam")).kind == "permanent"
    assert classify(smtplib.SMTPDataError(452, b"full")).kind == "transient"
    assert classify(smtplib.SMTPResponseException(421, b"closing")).kind == "connection"
    assert classify(smtplib.SMTPSenderRefused(553, b"bad sender", "x")).kind == "connection"
    assert classify(smtplib.SMTPServerDisconnected("gone")).kind == "connection"
    assert classify(ConnectionRefusedError(111, "refused")).kind == "connection"


def test_decisions() -> None:
    def run(failure: Failure | None, attempts: int = 0) -> tuple[str, object, bool, bool]:
        d = decide(failure, attempts=attempts, now=NOW, max_attempts=3, retry_base=60)
        return d.status, d.next_attempt_at, d.counted, d.bounce

    assert run(None) == ("sent", None, True, False)
    assert run(Failure("permanent", 550, "")) == ("failed", None, True, True)
    assert run(Failure("transient", 451, "")) == ("retry", NOW + timedelta(seconds=60), True, False)
    assert run(Failure("transient", 451, ""), 1)[1] == NOW + timedelta(seconds=120)
    assert run(Failure("transient", 451, ""), 2)[0] == "failed"
    assert run(Failure("connection", None, ""), 2) == ("queued", NOW, False, False)


def test_backoff_failing_and_pacing() -> None:
    assert [backoff_seconds(n, 60) for n in (1, 2, 3)] == [60, 120, 240]
    assert backoff_seconds(30, 60) == 3600
    assert not now_failing(2, 3) and now_failing(3, 3)
    assert pace_wait(None, 10.0, 60) == 0.0
    assert pace_wait(10.0, 10.25, 60) == 0.75
    assert pace_wait(10.0, 12.0, 60) == 0.0
    assert pace_wait(10.0, 10.0, 0) == 0.0

"""What to do after each attempt to hand a digest to the SMTP server. Pure.

* A 2xx reply: sent.
* A 5xx reply to the recipient or the message (550 no such user, 552, 554): permanent for
  this digest; it counts as a bounce, and ``max_bounces`` bounces in a row mark the
  address failing (nothing more is sent to it).
* A 4xx reply (451 try later, greylisting): transient; retried with exponential backoff
  until ``max_attempts``, then given up as failed.
* A dropped or refused connection, a timeout, or a refused *sender*: the server (or our
  configuration) is the problem, not the address: the digest goes back to the queue
  without counting an attempt, and the run reconnects with backoff or stops.
* The connection lost after the message's final ``.`` and before the reply
  (:class:`HandedOverError`, raised by :mod:`.batch`): the server may have accepted
  it, so the delivery is ``uncertain``: reported, never resent by itself.
"""

from __future__ import annotations

import smtplib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

FailureKind = Literal["permanent", "transient", "connection", "uncertain"]
MAX_BACKOFF_SECONDS = 3600.0


class HandedOverError(smtplib.SMTPServerDisconnected):
    """The connection failed after the message's final ``.`` and before the server's reply."""


@dataclass(frozen=True)
class Failure:
    kind: FailureKind
    code: int | None
    message: str


def _reply(code: int, text: bytes | str) -> str:
    detail = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return f"{code} {detail}".strip()


def classify(exc: BaseException) -> Failure:
    """The kind of failure an ``smtplib`` error (or ``OSError``) is."""
    if isinstance(exc, HandedOverError):
        return Failure("uncertain", None, str(exc))
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, text = next(iter(exc.recipients.values()), (550, b"recipient refused"))
        kind: FailureKind = "permanent" if code >= 500 else "transient"
        return Failure(kind, code, _reply(code, text))
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return Failure("connection", exc.smtp_code, _reply(exc.smtp_code, exc.smtp_error))
    if isinstance(exc, smtplib.SMTPResponseException):
        code = exc.smtp_code
        if code == 421:  # the server is closing the connection
            return Failure("connection", code, _reply(code, exc.smtp_error))
        kind = "permanent" if code >= 500 else "transient"
        return Failure(kind, code, _reply(code, exc.smtp_error))
    return Failure("connection", None, str(exc) or type(exc).__name__)


def backoff_seconds(attempt: int, base: float) -> float:
    """Wait before retry number ``attempt`` (1, 2, ...): ``base`` doubled each time, capped."""
    return float(min(base * 2 ** max(attempt - 1, 0), MAX_BACKOFF_SECONDS))


@dataclass(frozen=True)
class Decision:
    status: Literal["sent", "retry", "failed", "queued", "uncertain"]
    next_attempt_at: datetime | None
    counted: bool
    bounce: bool


def decide(
    failure: Failure | None,
    *,
    attempts: int,
    now: datetime,
    max_attempts: int,
    retry_base: float,
) -> Decision:
    """The ledger's next state after an attempt (``attempts``: those made before it)."""
    if failure is None:
        return Decision("sent", None, True, False)
    if failure.kind == "connection":
        return Decision("queued", now, False, False)
    if failure.kind == "uncertain":
        return Decision("uncertain", None, True, False)
    if failure.kind == "permanent":
        return Decision("failed", None, True, True)
    made = attempts + 1
    if made >= max_attempts:
        return Decision("failed", None, True, False)
    return Decision(
        "retry", now + timedelta(seconds=backoff_seconds(made, retry_base)), True, False
    )


def now_failing(bounces: int, max_bounces: int) -> bool:
    """Whether ``bounces`` permanent failures in a row make an address failing."""
    return bounces >= max_bounces


def pace_wait(last_sent: float | None, now: float, per_minute: int) -> float:
    """Seconds to wait before the next message so as to send at most ``per_minute``."""
    if per_minute <= 0 or last_sent is None:
        return 0.0
    return max(0.0, last_sent + 60.0 / per_minute - now)

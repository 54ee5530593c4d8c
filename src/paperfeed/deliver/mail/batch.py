"""One SMTP connection kept open for a batch of messages, paced to a rate per minute.

:meth:`SmtpBatch.send` opens the connection when there is none (and after one was
lost), waits as long as ``PAPERFEED_SMTP_RATE_PER_MINUTE`` asks, and raises smtplib's
errors (or ``OSError``) unchanged: :func:`delivery_rules.classify` says what they mean.

One moment is told apart: the connection failing after the message's final ``.`` went
out and before the server's reply. The server may have accepted the message then, so
:class:`HandedOverError` is raised, and the delivery becomes ``uncertain`` instead of
going back to the queue (a lost connection any earlier means the server discarded it).
"""

from __future__ import annotations

import contextlib
import re
import smtplib
from types import TracebackType

from paperfeed.clock import Clock
from paperfeed.config import Settings
from paperfeed.deliver.mail import smtp as mail
from paperfeed.deliver.mail.delivery_rules import HandedOverError, pace_wait

_LEADING_DOT = re.compile(rb"(?m)^\.")


def _end_transaction(smtp: smtplib.SMTP, code: int) -> None:
    """After a refusal: close on 421 (the server is closing), else reset, as sendmail does."""
    if code == 421:
        smtp.close()
        return
    with contextlib.suppress(smtplib.SMTPServerDisconnected):
        smtp.rset()


def hand_over(smtp: smtplib.SMTP, sender: str, recipient: str, data: bytes) -> None:
    """``smtp.sendmail(sender, [recipient], data)``, step by step, so that a connection
    lost after the final ``.`` raises :class:`HandedOverError`. Refusals raise smtplib's
    own errors, as ``sendmail`` does (the transaction reset first)."""
    smtp.ehlo_or_helo_if_needed()
    options = [f"size={len(data)}"] if smtp.does_esmtp and smtp.has_extn("size") else []
    code, reply = smtp.mail(sender, options)
    if code != 250:
        _end_transaction(smtp, code)
        raise smtplib.SMTPSenderRefused(code, reply, sender)
    code, reply = smtp.rcpt(recipient)
    if code not in (250, 251):
        _end_transaction(smtp, code)
        raise smtplib.SMTPRecipientsRefused({recipient: (code, reply)})
    smtp.putcmd("data")
    code, reply = smtp.getreply()
    if code != 354:
        _end_transaction(smtp, code)
        raise smtplib.SMTPDataError(code, reply)
    body = _LEADING_DOT.sub(b"..", data)
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    smtp.send(body + b".\r\n")
    try:
        code, reply = smtp.getreply()
    except smtplib.SMTPServerDisconnected as exc:
        raise HandedOverError(
            f"the connection was lost after the message was handed over and before the "
            f"server's reply ({exc}); it may have been delivered"
        ) from exc
    if code != 250:
        _end_transaction(smtp, code)
        raise smtplib.SMTPDataError(code, reply)


__all__ = ["HandedOverError", "SmtpBatch", "hand_over"]


class SmtpBatch:
    def __init__(self, settings: Settings, clock: Clock) -> None:
        self.settings = settings
        self.clock = clock
        self._smtp: smtplib.SMTP | None = None
        self._last: float | None = None
        self.connections = 0

    def connect(self) -> None:
        if self._smtp is None:
            self._smtp = mail.connect(self.settings)
            self.connections += 1

    def send(self, sender: str, recipient: str, data: bytes) -> None:
        wait = pace_wait(self._last, self.clock.monotonic(), self.settings.smtp_rate_per_minute)
        if wait > 0:
            self.clock.sleep(wait)
        self.connect()
        assert self._smtp is not None
        try:
            hand_over(self._smtp, sender, recipient, data)
        except smtplib.SMTPResponseException as exc:
            # smtplib has already reset the transaction after a refusal (RSET); a 421
            # means the server is closing the connection.
            if exc.smtp_code == 421:
                self.drop()
            raise
        except smtplib.SMTPRecipientsRefused:
            raise
        except (smtplib.SMTPException, OSError):
            self.drop()
            raise
        finally:
            self._last = self.clock.monotonic()

    def drop(self) -> None:
        """Forget a connection that failed (the next send opens a new one)."""
        if self._smtp is not None:
            with contextlib.suppress(OSError):
                self._smtp.close()
            self._smtp = None

    def close(self) -> None:
        if self._smtp is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                self._smtp.quit()
            self.drop()

    def __enter__(self) -> SmtpBatch:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

"""One SMTP connection kept open for a batch of messages, paced to a rate per minute.

:meth:`SmtpBatch.send` opens the connection when there is none (and after one was
lost), waits as long as ``PAPERFEED_SMTP_RATE_PER_MINUTE`` asks, and raises smtplib's
errors (or ``OSError``) unchanged: :func:`delivery_rules.classify` says what they mean.
"""

from __future__ import annotations

import contextlib
import smtplib
from types import TracebackType

from paperfeed.clock import Clock
from paperfeed.config import Settings
from paperfeed.deliver.mail import smtp as mail
from paperfeed.deliver.mail.delivery_rules import pace_wait


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
            self._smtp.sendmail(sender, [recipient], data)
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

"""Mail that a request asks for goes out after its answer.

:class:`MailAfterAnswer` opens :func:`paperfeed.deliver.mail.smtp.after_the_answer` around
every request: whatever :func:`~paperfeed.deliver.mail.smtp.send` is asked to send (sign-up,
confirmation, reset, subscription mail) is queued, and sent once the answer's last byte
is out, in a thread of its own pool (so a hung SMTP server holds no request thread).
So an answer takes the same time whether the address has an account (and a mail is due)
or not, and an SMTP server that is slow or down is never seen by the visitor: a failure
is logged, with the server and the recipient, for the operator.
"""

from __future__ import annotations

import anyio
import anyio.to_thread
from starlette.types import ASGIApp, Receive, Scope, Send

from paperfeed.deliver.mail import smtp

#: Threads sending queued mail at once, per process (beside the request threads).
MAIL_THREADS = 2


class MailAfterAnswer:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._limiter: anyio.CapacityLimiter | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with smtp.after_the_answer() as queued:
            await self.app(scope, receive, send)
        if queued:
            if self._limiter is None:
                self._limiter = anyio.CapacityLimiter(MAIL_THREADS)
            await anyio.to_thread.run_sync(smtp.send_queued, list(queued), limiter=self._limiter)

"""Sending e-mail through the SMTP server in the settings (accounts and digests).

Building a message is pure and refuses header injection: an address, subject or
header value holding a line break (or a NUL) raises :class:`MailError` before any
connection is made. :func:`send` opens one connection per call, secured as
``PAPERFEED_SMTP_TLS`` says (:func:`connect`; digests reuse one connection per batch,
see :mod:`.batch`). With no ``PAPERFEED_SMTP_HOST`` the message is logged
at WARNING instead of sent, as its headers and decoded text, so a development hub works
without a mail server and the links in the log work as printed.

Inside a web request (:func:`after_the_answer`, which :mod:`.outbox` opens for every
request) :func:`send` only builds the message and queues it: the mail goes out after
the answer has been sent, so an answer never waits for the SMTP server (and takes the
same time whether a mail was due or not), and an SMTP failure is logged for the
operator, never shown to the visitor.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr

from paperfeed.config import Settings
from paperfeed.errors import MailError

log = logging.getLogger(__name__)

_FORBIDDEN = ("\r", "\n", "\x00")


@dataclass(frozen=True)
class Mail:
    """One message: plain text, optionally with an HTML alternative."""

    to: str
    subject: str
    text: str
    html: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    #: A Message-ID of the caller's (digests: one per subscriber and digest); else a new one.
    message_id: str | None = None


def _clean_header(name: str, value: str) -> str:
    if any(c in value for c in _FORBIDDEN) or any(c in name for c in (*_FORBIDDEN, ":")):
        raise MailError(f"refusing a line break in the {name} header (header injection)")
    return value


def _address(name: str, value: str) -> str:
    _clean_header(name, value)
    _, addr = parseaddr(value)
    if "@" not in addr or addr.startswith("@") or addr.endswith("@"):
        raise MailError(f"not an e-mail address in {name}: {value[:80]!r}")
    return value


def checked_headers(mail: Mail, *, sender: str, now: datetime) -> list[tuple[str, str]]:
    """The headers of ``mail`` in order, each checked; :class:`MailError` on injection."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    headers = [
        ("From", _address("From", sender)),
        ("To", _address("To", mail.to)),
        ("Subject", _clean_header("Subject", mail.subject)),
        ("Date", format_datetime(now)),
        ("Message-ID", _clean_header("Message-ID", mail.message_id or make_msgid(domain=domain))),
    ]
    for name, value in mail.headers.items():
        headers.append((_clean_header(name, name), _clean_header(name, value)))
    return headers


def build_message(mail: Mail, *, sender: str, now: datetime) -> EmailMessage:
    """The RFC 5322 message for ``mail``; raises :class:`MailError` on header injection."""
    msg = EmailMessage()
    for name, value in checked_headers(mail, sender=sender, now=now):
        msg[name] = value
    msg.set_content(mail.text)
    if mail.html is not None:
        msg.add_alternative(mail.html, subtype="html")
    return msg


def connect(settings: Settings) -> smtplib.SMTP:
    """An open, secured and logged-in connection to the configured SMTP server (raises
    smtplib's errors or ``OSError``; digests keep one open for a whole batch)."""
    timeout = settings.http_timeout_seconds
    smtp: smtplib.SMTP
    if settings.smtp_tls == "ssl":
        smtp = smtplib.SMTP_SSL(
            settings.smtp_host,
            settings.smtp_port,
            timeout=timeout,
            context=ssl.create_default_context(),
        )
    else:
        smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=timeout)
    try:
        if settings.smtp_tls == "starttls":
            smtp.starttls(context=ssl.create_default_context())
        if settings.smtp_user:
            smtp.login(settings.smtp_user, settings.smtp_password.get_secret_value())
    except BaseException:
        smtp.close()
        raise
    return smtp


Queued = tuple[Settings, Mail, EmailMessage]
_queue: ContextVar[list[Queued] | None] = ContextVar("paperfeed_mail_queue", default=None)


@contextmanager
def after_the_answer() -> Iterator[list[Queued]]:
    """Within this block :func:`send` queues instead of sending; the caller sends the
    queue (:func:`send_queued`) once its answer is out."""
    queued: list[Queued] = []
    reset = _queue.set(queued)
    try:
        yield queued
    finally:
        _queue.reset(reset)


def readable(mail: Mail, msg: EmailMessage) -> str:
    """The message as a person reads it: its headers, then the plain text, decoded."""
    head = "\n".join(f"{name}: {value}" for name, value in msg.items())
    return f"{head}\n\n{mail.text}"


def _deliver(settings: Settings, mail: Mail, msg: EmailMessage) -> None:
    if not settings.smtp_host:
        log.warning("no PAPERFEED_SMTP_HOST: not sending this message:\n%s", readable(mail, msg))
        return
    try:
        with connect(settings) as smtp:
            smtp.send_message(msg)
    except (smtplib.SMTPException, OSError) as exc:
        raise MailError(
            f"could not send mail to {mail.to} through {settings.smtp_host}:"
            f"{settings.smtp_port}: {exc}"
        ) from exc


def send(settings: Settings, mail: Mail, *, now: datetime) -> None:
    """Send ``mail`` through the configured SMTP server (or log it when there is none);
    during a request, queue it for after the answer (:func:`after_the_answer`). A header
    injection raises :class:`MailError` here, before anything is queued or sent."""
    msg = build_message(mail, sender=settings.mail_from, now=now)
    queued = _queue.get()
    if queued is not None:
        queued.append((settings, mail, msg))
        return
    _deliver(settings, mail, msg)


def send_queued(queued: list[Queued]) -> None:
    """Send what a request queued; a failure is logged (with the server and the
    recipient, for the operator) and does not stop the others."""
    for settings, mail, msg in queued:
        try:
            _deliver(settings, mail, msg)
        except MailError as exc:
            log.error("%s", exc)

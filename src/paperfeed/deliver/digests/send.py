"""Sending one edition of the digest to every confirmed subscriber, exactly once.

The flow, one step per line::

    release stale claims → plan (a ledger row per subscriber) → claim a batch (row locks)
      → compose → render → record the intent (``sending``) → hand to SMTP → record the outcome

Each ledger write is its own short transaction, so a crash leaves every row telling
the truth: ``queued``/``claimed`` rows were not sent and are sent by the next run;
``sent`` rows are never sent again; a row caught in ``sending`` (the process died while
the SMTP server had the message) becomes ``uncertain`` once its claim lapses and is
reported, never resent unless the operator asks (``--resend-uncertain``); so does a
delivery whose connection was lost after the final ``.`` and before the server's reply
(the server may have it; see :mod:`paperfeed.deliver.mail.batch`). A server that
is down is retried with backoff; then the run stops with a report and leaves the rest
queued for the next run. The decisions are the pure functions of
:mod:`paperfeed.deliver.mail.delivery_rules`.
"""

from __future__ import annotations

import os
import secrets
import smtplib
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import parseaddr
from typing import Protocol

from sqlalchemy import Engine

from paperfeed.clock import Clock
from paperfeed.config import Settings
from paperfeed.deliver.digests.content import DigestContent
from paperfeed.deliver.digests.email import DigestMailer
from paperfeed.deliver.digests.for_you import for_you_provider
from paperfeed.deliver.digests.subscriptions import Subscriptions
from paperfeed.deliver.mail import delivery_rules as rules
from paperfeed.deliver.mail import mime
from paperfeed.deliver.mail.batch import SmtpBatch
from paperfeed.deliver.mail.smtp import Mail
from paperfeed.errors import ConfigError, MailError
from paperfeed.index.lexical.tantivy_index import WordIndex
from paperfeed.index.semantic import semantic_index
from paperfeed.rank.digest import Digest
from paperfeed.rank.editions import Edition
from paperfeed.store import deliveries, subscriptions
from paperfeed.store.engine import writing
from paperfeed.store.subscriptions import Subscriber


class Transport(Protocol):
    def connect(self) -> None: ...
    def send(self, sender: str, recipient: str, data: bytes) -> None: ...
    def close(self) -> None: ...


@dataclass
class SendReport:
    digest: str
    planned: int = 0
    sent: int = 0
    skipped: int = 0
    failed: int = 0
    retry_later: int = 0
    requeued_stale: int = 0
    uncertain: int = 0
    newly_failing: list[str] = field(default_factory=list)
    stopped: str | None = None
    ledger: dict[str, int] = field(default_factory=dict)

    def halted(self) -> bool:
        return self.stopped is not None

    @property
    def unsent(self) -> int:
        """Deliveries still to do (queued, or waiting for a retry)."""
        return sum(self.ledger.get(s, 0) for s in ("queued", "retry"))

    @property
    def in_flight(self) -> int:
        """Deliveries another sender held when this run ended: a run settles every claim of
        its own, so these are a peer's (sending them is its job, or, once its claim lapses
        because it died, the next run's)."""
        return sum(self.ledger.get(s, 0) for s in ("claimed", "sending"))

    def as_dict(self) -> dict[str, object]:
        return {
            "digest": self.digest,
            "planned": self.planned,
            "sent": self.sent,
            "skipped": self.skipped,
            "failed": self.failed,
            "retry_later": self.retry_later,
            "requeued_stale": self.requeued_stale,
            "uncertain": self.uncertain,
            "newly_failing": self.newly_failing,
            "stopped": self.stopped,
            "unsent": self.unsent,
            "in_flight": self.in_flight,
            "ledger": self.ledger,
        }


def worker_name() -> str:
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{secrets.token_hex(3)}"


class DigestSender:
    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        clock: Clock,
        subs: Subscriptions,
        content: DigestContent,
        *,
        transport: Callable[[], Transport] | None = None,
        worker: str | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.clock = clock
        self.subs = subs
        self.content = content
        self.mailer = DigestMailer(
            settings.base_url, settings.mail_from, settings.unsubscribe_mailto, subs.secret.current
        )
        self.transport = transport or (lambda: SmtpBatch(settings, clock))
        self.envelope_from = parseaddr(settings.mail_from)[1]
        self.worker = worker or worker_name()

    # -- composing --------------------------------------------------------------------------

    def mail_for(self, sub: Subscriber, edition: Edition) -> Mail | None:
        """The digest ``sub`` gets for ``edition`` as a mail; None when it would be empty."""
        return self._render(sub, self.content.digest_for(sub, edition))

    def mails_for(self, subs: Sequence[Subscriber], edition: Edition) -> dict[int, Mail | None]:
        """:meth:`mail_for` of a batch, composed together (shared parts once, "For you"
        scored for the whole batch)."""
        digests = self.content.digests_for(subs, edition)
        return {sub.id: self._render(sub, digests[sub.id]) for sub in subs}

    def _render(self, sub: Subscriber, digest: Digest) -> Mail | None:
        if digest.empty:
            return None
        now = self.clock.now()
        token = self.subs.manage_token(sub, now)
        links = self.mailer.links(
            self.subs.unsubscribe_url(token), self.subs.preferences_url(token), token
        )
        return self.mailer.render(digest, email=sub.email, subscriber_id=sub.id, links=links)

    def encode(self, mail: Mail) -> bytes:
        """The message's bytes (:class:`MailError` on header injection)."""
        return mime.encode(mail, sender=self.settings.mail_from, now=self.clock.now())

    def preview(self, email: str, edition: Edition) -> EmailMessage:
        """The message ``email`` would get (a stand-in with no saved searches when the
        address is not subscribed). Records and sends nothing."""
        with self.engine.connect() as conn:
            sub = subscriptions.by_email(conn, email)
        if sub is None:
            now = self.clock.now()
            sub = Subscriber(
                0,
                email.lower(),
                None,
                edition.frequency,
                "pending",
                "preview",
                None,
                now,
                now,
                None,
                None,
                None,
                0,
            )
        mail = self.mail_for(sub, edition)
        if mail is None:
            digest = self.content.digest_for(sub, edition)
            raise MailError(f"the {edition.key} digest of {email} would be empty: {digest.subject}")
        parsed: EmailMessage = message_from_bytes(self.encode(mail), policy=policy.default)
        return parsed

    def dry_run(self, edition: Edition) -> SendReport:
        """Compose and render every digest of ``edition``; touch neither ledger nor SMTP."""
        report = SendReport(edition.key)
        with self.engine.connect() as conn:
            ids = subscriptions.confirmed_ids(conn, edition.frequency, self.clock.now())
            with_searches = subscriptions.many(conn, ids)
        report.planned = len(ids)
        size = self.settings.digest_batch_size
        for start in range(0, len(ids), size):
            mails = self.mails_for(
                [with_searches[sid] for sid in ids[start : start + size]], edition
            )
            for mail in mails.values():
                if mail is None:
                    report.skipped += 1
                else:
                    self.encode(mail)
                    report.sent += 1
        return report

    # -- sending ----------------------------------------------------------------------------

    def send(self, edition: Edition, *, resend_uncertain: bool = False) -> SendReport:
        if not self.settings.smtp_host:
            raise ConfigError(
                "set PAPERFEED_SMTP_HOST to send digests (or try `paperfeed digest send "
                "--dry-run` and `paperfeed digest preview`)"
            )
        key = edition.key
        report = SendReport(key)
        now = self.clock.now()
        lease = timedelta(minutes=self.settings.digest_claim_minutes)
        with writing(self.engine) as conn:
            report.requeued_stale, report.uncertain = deliveries.release_stale(
                conn, key, now - lease
            )
            if resend_uncertain:
                deliveries.requeue_uncertain(conn, key, now)
            ids = subscriptions.confirmed_ids(conn, edition.frequency, now)
            report.planned = deliveries.plan(conn, key, ids, now)
        transport = self.transport()
        try:
            self._drain(edition, transport, report)
        finally:
            transport.close()
        with self.engine.connect() as conn:
            report.ledger = deliveries.counts(conn, key)
        report.uncertain = report.ledger.get("uncertain", 0)
        return report

    def _drain(self, edition: Edition, transport: Transport, report: SendReport) -> None:
        key = edition.key
        in_a_row = 0  # connection failures since the last message that got an answer
        last_look = False  # the claim that found nothing free is tried once more, waiting
        while not report.halted():
            with writing(self.engine) as conn:
                batch = deliveries.claim(
                    conn,
                    key,
                    self.worker,
                    self.clock.now(),
                    self.settings.digest_batch_size,
                    wait=last_look,
                )
                subs = subscriptions.many(conn, [d.subscriber_id for d in batch])
            if not batch:
                if last_look:
                    return
                # Rows a peer is claiming right now were passed over (PostgreSQL's SKIP
                # LOCKED) and still read as queued: wait for its claim to commit, so that
                # they count as in flight, or take them if its transaction gave them back.
                last_look = True
                continue
            last_look = False
            confirmed = [
                sub
                for sub in (subs.get(d.subscriber_id) for d in batch)
                if sub is not None and sub.status == "confirmed"
            ]
            mails = self.mails_for(confirmed, edition)
            for delivery in batch:
                if report.halted():
                    self._outcome(key, delivery.subscriber_id, "queued", counted=False)
                    continue
                sub = subs.get(delivery.subscriber_id)
                if sub is None or sub.status != "confirmed":
                    self._outcome(key, delivery.subscriber_id, "skipped", counted=False)
                    report.skipped += 1
                    continue
                try:
                    mail = mails[sub.id]
                    data = self.encode(mail) if mail is not None else None
                except MailError as exc:
                    self._outcome(key, sub.id, "failed", error=str(exc))
                    report.failed += 1
                    continue
                if mail is None or data is None:
                    self._outcome(key, sub.id, "skipped", counted=False, error="empty")
                    report.skipped += 1
                    continue
                in_a_row = self._connect(transport, in_a_row, report)
                if report.halted():
                    self._outcome(key, sub.id, "queued", counted=False)
                    continue
                with writing(self.engine) as conn:
                    mine = deliveries.mark_sending(
                        conn, key, sub.id, self.worker, mail.message_id or "", self.clock.now()
                    )
                if not mine:
                    continue  # our claim lapsed and another sender has it
                failure: rules.Failure | None = None
                try:
                    transport.send(self.envelope_from, sub.email, data)
                except (smtplib.SMTPException, OSError) as exc:
                    failure = rules.classify(exc)
                self._record(key, sub, delivery.attempts, failure, report)
                if failure is not None and failure.kind in ("connection", "uncertain"):
                    in_a_row += 1
                    if in_a_row >= self.settings.digest_connect_attempts:
                        report.stopped = f"the SMTP server failed: {failure.message}"
                    else:
                        self.clock.sleep(self._backoff(in_a_row))
                else:
                    in_a_row = 0

    def _backoff(self, attempt: int) -> float:
        return rules.backoff_seconds(attempt, self.settings.digest_retry_seconds)

    def _connect(self, transport: Transport, in_a_row: int, report: SendReport) -> int:
        """Open the connection if needed, retrying with backoff; on giving up, stop."""
        while True:
            try:
                transport.connect()
                return in_a_row
            except (smtplib.SMTPException, OSError) as exc:
                in_a_row += 1
                if in_a_row >= self.settings.digest_connect_attempts:
                    report.stopped = (
                        f"could not reach the SMTP server {self.settings.smtp_host}:"
                        f"{self.settings.smtp_port} after {in_a_row} attempts: {exc}"
                    )
                    return in_a_row
                self.clock.sleep(self._backoff(in_a_row))

    def _outcome(
        self,
        key: str,
        subscriber_id: int,
        status: deliveries.DeliveryStatus,
        *,
        counted: bool = True,
        error: str | None = None,
    ) -> None:
        with writing(self.engine) as conn:
            deliveries.mark_outcome(
                conn, key, subscriber_id, status, self.clock.now(), error=error, counted=counted
            )

    def _record(
        self,
        key: str,
        sub: Subscriber,
        attempts: int,
        failure: rules.Failure | None,
        report: SendReport,
    ) -> None:
        now = self.clock.now()
        decision = rules.decide(
            failure,
            attempts=attempts,
            now=now,
            max_attempts=self.settings.digest_max_attempts,
            retry_base=self.settings.digest_retry_seconds,
        )
        with writing(self.engine) as conn:
            deliveries.mark_outcome(
                conn,
                key,
                sub.id,
                decision.status,
                now,
                error=failure.message if failure else None,
                next_attempt_at=decision.next_attempt_at,
                counted=decision.counted,
            )
            if decision.status == "sent" and sub.bounces:
                subscriptions.change(conn, sub.id, bounces=0)
            if decision.bounce:
                bounces = sub.bounces + 1
                values: dict[str, object] = {"bounces": bounces}
                if rules.now_failing(bounces, self.settings.digest_max_bounces):
                    values["status"] = "failing"
                    subscriptions.record_event(conn, sub.id, "failing", sub.email, None, now)
                    report.newly_failing.append(sub.email)
                subscriptions.change(conn, sub.id, **values)
        if decision.status == "sent":
            report.sent += 1
        elif decision.status == "failed":
            report.failed += 1
        elif decision.status == "retry":
            report.retry_later += 1


def sender_from_settings(
    settings: Settings, engine: Engine, clock: Clock, *, words: WordIndex | None = None
) -> DigestSender:
    """The sender the CLI and the scheduler use (search by meaning only when
    ``PAPERFEED_DIGEST_SEARCH_MODE=hybrid``, which loads the embedder)."""
    from paperfeed.deliver.security import load_secret

    semantic = semantic_index(engine, settings) if settings.digest_search_mode == "hybrid" else None
    subs = Subscriptions(settings, engine, clock, load_secret(settings))
    providers = [for_you_provider(settings, engine, semantic=semantic, words=words)]
    content = DigestContent(settings, engine, words=words, semantic=semantic, providers=providers)
    return DigestSender(settings, engine, clock, subs, content)


def summary(report: SendReport) -> str:
    """One line for logs: what a run did."""
    return (
        f"{report.digest}: sent {report.sent}, skipped {report.skipped}, "
        f"failed {report.failed}, retry later {report.retry_later}, unsent {report.unsent}, "
        f"uncertain {report.uncertain}"
        + (f", held by other senders {report.in_flight}" if report.in_flight else "")
        + (f"; stopped: {report.stopped}" if report.stopped else "")
    )

"""Accounts: sign-up with a confirmation link, log-in with lockout, password reset,
sessions and API tokens. No HTTP here; :mod:`paperfeed.deliver.routes.account.accounts` and
the CLI call it.

Messages never say whether an account exists: sign-up and reset answer the same
whatever the address (a taken user name is told by mail, to the address typed), mail goes
out after the answer (:mod:`paperfeed.deliver.web.outbox`), and a wrong password costs
the same argon2 work as an unknown address.

The log-in lockout has two budgets per address typed (existing or not), so that it stops
guessing without letting a stranger lock the owner out:

* per address *and* IP: ``PAPERFEED_LOGIN_MAX_FAILURES`` failures lock that address for
  that IP only (the owner, from their own address, still gets in);
* per address from all IPs: ``PAPERFEED_LOGIN_ACCOUNT_MAX_FAILURES`` failures lock it for
  everyone (a guesser spread over many addresses). One IP adds at most its own budget to
  it, so locking an account for everyone takes many addresses; even then it lasts
  ``PAPERFEED_LOCKOUT_MINUTES``, and a password reset lifts it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import quote

from sqlalchemy import Engine

from paperfeed.clock import Clock
from paperfeed.config import Settings
from paperfeed.deliver import rate_limit, security
from paperfeed.deliver.community import account_mail
from paperfeed.deliver.community.passwords import (
    check_new_password,
    hash_password,
    needs_rehash,
    verify_password,
)
from paperfeed.deliver.mail import smtp as mail
from paperfeed.errors import ForbiddenError, InvalidInputError, UnauthorizedError
from paperfeed.store import rate_events, users
from paperfeed.store import tokens as token_store
from paperfeed.store.engine import writing
from paperfeed.store.users import Member, Role

USERNAME = re.compile(r"^[a-z0-9][a-z0-9_-]{2,31}$")
EMAIL = re.compile(r"^[^@\s<>\"'\\]{1,64}@[^@\s<>\"'\\]{1,255}\.[^@\s<>\"'\\]{1,63}$")
TOKEN = re.compile(r"^pf_([A-Za-z0-9]{16})_([A-Za-z0-9_-]{20,100})$")
LOGIN_FAILED = "wrong e-mail address or password"


def check_email(email: str) -> str:
    email = email.strip().lower()
    if len(email) > 320 or not EMAIL.match(email):
        raise InvalidInputError("enter a valid e-mail address")
    return email


def check_username(username: str) -> str:
    username = username.strip().lower()
    if not USERNAME.match(username):
        raise InvalidInputError(
            "a user name has 3 to 32 letters, digits, - or _, starting with a letter or digit"
        )
    return username


@dataclass
class Accounts:
    settings: Settings
    engine: Engine
    clock: Clock
    secret: security.Secret

    # -- rules ------------------------------------------------------------------------------

    def _rule(self, bucket: str, limit: int) -> rate_limit.Rule:
        return rate_limit.Rule(bucket, limit, timedelta(minutes=self.settings.lockout_minutes))

    def _link(self, path: str, token: str) -> str:
        return f"{self.settings.base_url.rstrip('/')}{path}?token={quote(token)}"

    def _send(self, message: mail.Mail) -> None:
        mail.send(self.settings, message, now=self.clock.now())

    # -- sign-up and confirmation -----------------------------------------------------------

    def sign_up(self, *, email: str, username: str, password: str, ip: str) -> None:
        """Create an unconfirmed account and mail its confirmation link.

        When the address already has an account, that account's owner gets a mail
        instead; when the user name is taken, the address typed is told so by mail. The
        caller sees the same answer in every case.
        """
        email, username = check_email(email), check_username(username)
        check_new_password(password)
        now = self.clock.now()
        with writing(self.engine) as conn:
            rate_limit.hit(
                conn,
                self._rule("signup-ip", self.settings.auth_ip_limit),
                ip,
                now,
                "too many sign-ups from your address",
            )
            rate_limit.hit(
                conn,
                self._rule("signup-email", self.settings.auth_account_limit),
                email,
                now,
                "too many sign-ups for this e-mail address",
            )
        # Hash first, whatever happens next, so a known address answers no faster.
        hashed = hash_password(password, self.settings.password_hash_profile)
        with self.engine.connect() as conn:
            existing = users.by_email(conn, email)
            taken = users.by_username(conn, username)
        if existing is not None:
            member = existing[0]
            self._send(account_mail.already_mail(email, self._reset_link(member, existing[1])))
            return
        if taken is not None:
            # Told by mail, to the address typed: the answer is the same as for any address.
            signup = f"{self.settings.base_url.rstrip('/')}/account/signup"
            self._send(account_mail.name_taken_mail(email, username, signup))
            return
        with writing(self.engine) as conn:
            member = users.create_user(
                conn,
                email=email,
                username=username,
                password_hash=hashed,
                role="member",
                now=now,
            )
        self.send_confirmation(member)

    def send_confirmation(self, member: Member) -> None:
        hours = self.settings.verify_link_hours
        token = security.sign(
            self.secret,
            "verify",
            {"u": member.id, "e": member.email},
            self.clock.now() + timedelta(hours=hours),
        )
        link = self._link("/account/verify", token)
        self._send(account_mail.confirm_mail(member.email, member.username, link, hours))

    def verify(self, token: str) -> Member:
        body = security.unsign(self.secret, "verify", token, self.clock.now())
        with writing(self.engine) as conn:
            member = users.get_user(conn, int(str(body.get("u", 0))))
            if member is None or member.email != body.get("e"):
                raise InvalidInputError("this link is not valid; ask for a new one")
            users.mark_verified(conn, member.id, self.clock.now())
            verified = users.get_user(conn, member.id)
        assert verified is not None
        return verified

    # -- log-in, sessions -------------------------------------------------------------------

    def log_in(self, *, email: str, password: str, ip: str) -> str:
        """A new session token for the member, or an error that does not say which part
        was wrong. Failures per address lock it for PAPERFEED_LOCKOUT_MINUTES."""
        email = email.strip().lower()[:320]
        now = self.clock.now()
        failures = self._rule("login-fail", self.settings.login_max_failures)
        everyone = self._rule("login-fail-all", self.settings.login_account_max_failures)
        here = f"{email} {ip}"
        with writing(self.engine) as conn:
            rate_limit.hit(
                conn,
                self._rule("login-ip", self.settings.auth_ip_limit),
                ip,
                now,
                "too many log-in attempts from your address",
            )
            rate_limit.check(
                conn, failures, here, now, "too many failed log-ins for this account from here"
            )
            rate_limit.check(conn, everyone, email, now, "too many failed log-ins for this account")
            found = users.by_email(conn, email)
        member, stored_hash = found if found is not None else (None, None)
        profile = self.settings.password_hash_profile
        if not verify_password(stored_hash, password, profile) or member is None:
            with writing(self.engine) as conn:
                rate_limit.record(conn, failures, here, now)
                rate_limit.record(conn, everyone, email, now)
            raise UnauthorizedError(LOGIN_FAILED)
        if member.suspended:
            raise ForbiddenError("this account is suspended")
        if not member.verified:
            self.send_confirmation(member)
            raise ForbiddenError("confirm your e-mail address first: we have sent you a new link")
        token = security.new_token()
        with writing(self.engine) as conn:
            rate_events.clear(conn, failures.bucket, here)
            if stored_hash is not None and needs_rehash(stored_hash, profile):
                users.set_password_hash(conn, member.id, hash_password(password, profile))
            users.create_session(
                conn,
                token_hash=security.digest(token),
                user_id=member.id,
                now=now,
                expires_at=now + timedelta(days=self.settings.session_days),
            )
        return token

    def session_member(self, token: str) -> Member | None:
        with self.engine.connect() as conn:
            return users.session_member(conn, security.digest(token), self.clock.now())

    def log_out(self, token: str) -> None:
        with writing(self.engine) as conn:
            users.delete_session(conn, security.digest(token))

    # -- password reset ---------------------------------------------------------------------

    def _reset_link(self, member: Member, stored_hash: str) -> str:
        # The current hash's fingerprint makes the link single-use: a new password voids it.
        token = security.sign(
            self.secret,
            "reset",
            {"u": member.id, "h": security.digest(stored_hash)[:16]},
            self.clock.now() + timedelta(hours=self.settings.reset_link_hours),
        )
        return self._link("/account/reset", token)

    def request_reset(self, *, email: str, ip: str) -> None:
        """Mail a reset link when the address has an account; answer the same either way."""
        email = email.strip().lower()[:320]
        now = self.clock.now()
        with writing(self.engine) as conn:
            rate_limit.hit(
                conn,
                self._rule("reset-ip", self.settings.auth_ip_limit),
                ip,
                now,
                "too many reset requests from your address",
            )
            rate_limit.hit(
                conn,
                self._rule("reset-email", self.settings.auth_account_limit),
                email,
                now,
                "too many reset requests for this e-mail address",
            )
            found = users.by_email(conn, email)
        if found is None:
            return
        member, stored_hash = found
        link = self._reset_link(member, stored_hash)
        hours = self.settings.reset_link_hours
        self._send(account_mail.reset_mail(member.email, member.username, link, hours))

    def check_reset(self, token: str) -> Member:
        body = security.unsign(self.secret, "reset", token, self.clock.now())
        with self.engine.connect() as conn:
            member = users.get_user(conn, int(str(body.get("u", 0))))
            stored_hash = users.password_hash(conn, member.id) if member else None
        if member is None or stored_hash is None:
            raise InvalidInputError("this link is not valid; ask for a new one")
        if not security.same(security.digest(stored_hash)[:16], str(body.get("h", ""))):
            raise InvalidInputError("this link has been used; ask for a new one")
        return member

    def reset(self, token: str, password: str) -> Member:
        """Set a new password, confirm the address (the link proves it), end every session
        and revoke every API token (whoever knew the old password may have made one)."""
        member = self.check_reset(token)
        check_new_password(password)
        with writing(self.engine) as conn:
            token_store.revoke_all(conn, user_id=member.id, now=self.clock.now())
            rate_events.clear(conn, "login-fail-all", member.email)
            users.set_password_hash(
                conn, member.id, hash_password(password, self.settings.password_hash_profile)
            )
            users.mark_verified(conn, member.id, self.clock.now())
            users.delete_sessions_of(conn, member.id)
        return member

    # -- administration ---------------------------------------------------------------------

    def create_user(self, *, email: str, username: str, password: str, role: Role) -> Member:
        """A confirmed account (the CLI's ``user create``)."""
        email, username = check_email(email), check_username(username)
        check_new_password(password)
        with writing(self.engine) as conn:
            return users.create_user(
                conn,
                email=email,
                username=username,
                password_hash=hash_password(password, self.settings.password_hash_profile),
                role=role,
                now=self.clock.now(),
                verified=True,
            )

    # -- API tokens -------------------------------------------------------------------------

    def create_token(self, member: Member, name: str) -> str:
        """A new API token for ``member``; only its hash is kept, so it is shown once."""
        name = " ".join(name.split())[:100] or "token"
        selector = security.new_token(12).replace("-", "A").replace("_", "B")[:16]
        secret = security.new_token(32)
        with writing(self.engine) as conn:
            token_store.insert_token(
                conn,
                user_id=member.id,
                name=name,
                selector=selector,
                secret_hash=security.digest(secret),
                now=self.clock.now(),
            )
        return f"pf_{selector}_{secret}"

    def token_member(self, token: str) -> Member | None:
        """The member of a valid, unrevoked API token (compared in constant time), or None."""
        match = TOKEN.match(token)
        if match is None:
            return None
        selector, secret = match.groups()
        with self.engine.connect() as conn:
            row = token_store.by_selector(conn, selector)
            # Compare even when no row matched, against a dummy, so timing says nothing.
            expected = row.secret_hash if row is not None else security.digest("")
            if not security.same(expected, security.digest(secret)):
                return None
            if row is None or row.revoked_at is not None:
                return None
            member = users.get_user(conn, row.user_id)
        now = self.clock.now()
        if row.last_used_at is None or now - row.last_used_at > timedelta(minutes=1):
            with writing(self.engine) as conn:
                token_store.touch(conn, row.id, now)
        return member

    def revoke_token(self, member: Member, token_id: int) -> None:
        with writing(self.engine) as conn:
            if not token_store.revoke(
                conn, token_id=token_id, user_id=member.id, now=self.clock.now()
            ):
                raise InvalidInputError("no such token of yours")

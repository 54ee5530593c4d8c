"""Secrets, random tokens, CSRF tokens and signed expiring links: pure functions over the
hub's :class:`Secret`, which comes from the settings (or a generated file, see
:func:`load_secret`).

Links and CSRF tokens are signed by itsdangerous (HMAC-SHA256, a key derived per purpose)
with the current key; they verify under it or any key of ``PAPERFEED_OLD_SECRET_KEYS``, so
a new secret voids nothing already mailed while the old one is kept there. Every other
comparison of a secret value goes through :func:`hmac.compare_digest`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from itsdangerous import BadData, Signer, URLSafeSerializer

from paperfeed.config import Settings
from paperfeed.errors import ConfigError, InvalidInputError

MIN_SECRET_CHARS = 32


@dataclass(frozen=True)
class Secret:
    """The hub's signing keys: ``current`` signs; it and every key in ``previous`` verify."""

    current: bytes = field(repr=False)
    previous: tuple[bytes, ...] = field(default=(), repr=False)

    @property
    def keys(self) -> list[bytes]:
        """Every key, the current one last (itsdangerous signs with the last)."""
        return [*self.previous, self.current]


def load_secret(settings: Settings) -> Secret:
    """``PAPERFEED_SECRET_KEY`` (or the secret kept in ``PAPERFEED_SECRET_FILE``, made once)
    with the keys of ``PAPERFEED_OLD_SECRET_KEYS``."""
    previous = []
    for old in settings.old_secret_keys:
        value = old.get_secret_value()
        if len(value) < MIN_SECRET_CHARS:
            raise ConfigError(
                f"each of PAPERFEED_OLD_SECRET_KEYS must be {MIN_SECRET_CHARS} characters or more"
            )
        previous.append(value.encode())
    return Secret(_current_key(settings), tuple(previous))


def _current_key(settings: Settings) -> bytes:
    if settings.secret_key is not None:
        value = settings.secret_key.get_secret_value()
        if len(value) < MIN_SECRET_CHARS:
            raise ConfigError(f"PAPERFEED_SECRET_KEY must be {MIN_SECRET_CHARS} characters or more")
        return value.encode()
    path = Path(settings.secret_file).expanduser()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it first
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(48))
    value = path.read_text().strip()
    if len(value) < MIN_SECRET_CHARS:
        raise ConfigError(f"the secret in {path} is shorter than {MIN_SECRET_CHARS} characters")
    return value.encode()


def new_token(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def digest(token: str) -> str:
    """SHA-256 hex of a high-entropy token (session cookies, API token secrets)."""
    return hashlib.sha256(token.encode()).hexdigest()


def same(a: str, b: str) -> bool:
    """Constant-time equality of two secret strings."""
    return hmac.compare_digest(a.encode(), b.encode())


def _csrf_signer(secret: Secret) -> Signer:
    return Signer(
        secret.keys, salt="paperfeed.csrf", key_derivation="hmac", digest_method=hashlib.sha256
    )


def csrf_token(secret: Secret, seed: str) -> str:
    """The CSRF token of a browser: the signature of its random ``pf_csrf`` cookie."""
    return _csrf_signer(secret).get_signature(seed).decode()


def csrf_ok(secret: Secret, seed: str | None, given: str | None) -> bool:
    if not seed or not given:
        return False
    try:
        return _csrf_signer(secret).verify_signature(seed, given)
    except UnicodeEncodeError:
        return False


def _serializer(secret: Secret, purpose: str) -> URLSafeSerializer:
    return URLSafeSerializer(
        secret.keys,
        salt=f"paperfeed.{purpose}",
        signer_kwargs={"key_derivation": "hmac", "digest_method": hashlib.sha256},
    )


INVALID = "this link is not valid; ask for a new one"
EXPIRED = "this link has expired; ask for a new one"


def sign(secret: Secret, purpose: str, payload: dict[str, object], expires: datetime) -> str:
    """A URL-safe signed token carrying ``payload`` until ``expires``, for one ``purpose``."""
    return _serializer(secret, purpose).dumps(dict(payload, exp=int(expires.timestamp())))


def unsign(secret: Secret, purpose: str, token: str, now: datetime) -> dict[str, object]:
    """The payload of a token from :func:`sign`; :class:`InvalidInputError` when it was
    tampered with, made for another purpose or with an unknown key, or has expired."""
    try:
        body = _serializer(secret, purpose).loads(token)
    except (BadData, UnicodeEncodeError):
        body = _before_itsdangerous(secret, purpose, token)
    if not isinstance(body, dict) or not isinstance(body.get("exp"), int):
        raise InvalidInputError(INVALID)
    if body["exp"] < now.timestamp():
        raise InvalidInputError(EXPIRED)
    return body


def _before_itsdangerous(secret: Secret, purpose: str, token: str) -> object:
    """A link mailed before the links were signed by itsdangerous (December 2026): JSON in
    base64, a dot, HMAC-SHA256(key, purpose NUL data). Accepted until its own expiry (a
    digest's links last PAPERFEED_DIGEST_LINK_DAYS), so unsubscribe links in digests already
    sent keep working; drop this once those have expired (see docs/design.md)."""
    data, _, mac = token.partition(".")
    if not data or not mac or not token.isascii():
        raise InvalidInputError(INVALID)
    message = purpose.encode() + b"\x00" + data.encode()
    for key in secret.keys:
        made = hmac.new(key, message, hashlib.sha256).digest()
        if same(base64.urlsafe_b64encode(made).rstrip(b"=").decode(), mac):
            break
    else:
        raise InvalidInputError(INVALID)
    try:
        return json.loads(base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)))
    except ValueError as exc:
        raise InvalidInputError(INVALID) from exc

"""Secrets, random tokens, CSRF tokens and signed expiring links: pure functions over a
secret that comes from the settings (or a generated file, see :func:`load_secret`).

Every comparison of a secret value goes through :func:`hmac.compare_digest`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from datetime import datetime
from pathlib import Path

from paperfeed.config import Settings
from paperfeed.errors import ConfigError, InvalidInputError

MIN_SECRET_CHARS = 32


def load_secret(settings: Settings) -> bytes:
    """``PAPERFEED_SECRET_KEY``, or the secret kept in ``PAPERFEED_SECRET_FILE`` (made once)."""
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


def _mac(secret: bytes, purpose: str, data: bytes) -> str:
    mac = hmac.new(secret, purpose.encode() + b"\x00" + data, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def csrf_token(secret: bytes, seed: str) -> str:
    """The CSRF token of a browser: an HMAC of its random ``pf_csrf`` cookie."""
    return _mac(secret, "csrf", seed.encode())


def csrf_ok(secret: bytes, seed: str | None, given: str | None) -> bool:
    if not seed or not given:
        return False
    return same(csrf_token(secret, seed), given)


def sign(secret: bytes, purpose: str, payload: dict[str, object], expires: datetime) -> str:
    """A URL-safe signed token carrying ``payload`` until ``expires``."""
    body = dict(payload, exp=int(expires.timestamp()))
    data = base64.urlsafe_b64encode(json.dumps(body, sort_keys=True).encode()).rstrip(b"=")
    return f"{data.decode()}.{_mac(secret, purpose, data)}"


def unsign(secret: bytes, purpose: str, token: str, now: datetime) -> dict[str, object]:
    """The payload of a token from :func:`sign`; :class:`InvalidInputError` when it was
    tampered with, made for another purpose, or has expired."""
    data, _, mac = token.partition(".")
    if not data or not mac or not same(_mac(secret, purpose, data.encode()), mac):
        raise InvalidInputError("this link is not valid; ask for a new one")
    try:
        body = json.loads(base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)))
    except ValueError as exc:
        raise InvalidInputError("this link is not valid; ask for a new one") from exc
    if not isinstance(body, dict) or int(body.get("exp", 0)) < now.timestamp():
        raise InvalidInputError("this link has expired; ask for a new one")
    return body

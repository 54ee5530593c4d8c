"""Settings of accounts and security: the signing secret and its rotation, sessions,
password hashing, e-mailed links, the log-in lockout, rate limits and trusted proxies."""

from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, field_validator


class SecuritySettings(BaseModel):
    """Accounts and security"""

    secret_key: SecretStr | None = Field(
        None,
        description="Secret that signs e-mailed links and CSRF tokens (32 characters or more). "
        "When unset, one is generated once and kept in PAPERFEED_SECRET_FILE. To change it "
        "without voiding the links already mailed, see PAPERFEED_OLD_SECRET_KEYS.",
    )
    secret_file: str = Field(
        "data/secret.key",
        description="Where the generated secret is kept when PAPERFEED_SECRET_KEY is unset "
        "(created with mode 0600).",
    )
    old_secret_keys: list[SecretStr] = Field(
        default_factory=list,
        description="Secrets the hub used before (a JSON list in the environment): links "
        "and forms signed with them still verify, new ones are signed with "
        "PAPERFEED_SECRET_KEY. To change the secret, move the old one here (a generated "
        "one is in PAPERFEED_SECRET_FILE) and keep it PAPERFEED_DIGEST_LINK_DAYS, the life "
        "of a digest's unsubscribe link; drop it at once if it leaked.",
    )
    session_days: int = Field(30, ge=1, description="How long a log-in session lasts (days).")
    password_hash_profile: Literal["standard", "test"] = Field(
        "standard",
        description="Cost of new argon2id password hashes: `standard` (argon2-cffi's defaults, "
        "RFC 9106's low-memory profile: 3 passes over 64 MiB, ~50 ms) or `test` (1 pass over "
        "8 KiB: for the test suite only, never in production). Stored hashes keep their own "
        "cost and verify under either; a log-in rehashes one made at another cost.",
    )
    verify_link_hours: int = Field(
        48, ge=1, description="How long an e-mail confirmation link stays valid (hours)."
    )
    reset_link_hours: int = Field(
        2, ge=1, description="How long a password reset link stays valid (hours)."
    )
    login_max_failures: int = Field(
        5,
        ge=1,
        description="Failed log-ins on one account from one IP address within "
        "PAPERFEED_LOCKOUT_MINUTES that lock that account for that IP address (only) until "
        "the oldest of them is that old.",
    )
    login_account_max_failures: int = Field(
        50,
        ge=1,
        description="Failed log-ins on one account from all IP addresses within "
        "PAPERFEED_LOCKOUT_MINUTES that lock it for everyone (guessing spread over many "
        "addresses); a password reset lifts it. Keep it well above PAPERFEED_LOGIN_MAX_FAILURES "
        "so that one stranger cannot lock an owner out.",
    )
    lockout_minutes: int = Field(
        15, ge=1, description="Window of the log-in lockout and of the per-IP rate limits."
    )
    auth_ip_limit: int = Field(
        30,
        ge=1,
        description="Log-in, sign-up and reset attempts allowed from one IP address per "
        "PAPERFEED_LOCKOUT_MINUTES (each form counted separately).",
    )
    auth_account_limit: int = Field(
        5,
        ge=1,
        description="Sign-up and reset requests allowed per e-mail address per "
        "PAPERFEED_LOCKOUT_MINUTES.",
    )
    trusted_proxies: str = Field(
        "",
        description="IP addresses or networks (comma-separated, e.g. `127.0.0.1, 10.0.0.0/8`) "
        "of the reverse proxies in front of the hub, whose X-Forwarded-For header names the "
        "client for rate limits and the log-in lockout. Empty: X-Forwarded-For is ignored "
        "and the peer's address counts (docs/deploy.md, Security).",
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: str) -> str:
        for part in value.replace(" ", "").split(","):
            if part:
                try:
                    ipaddress.ip_network(part, strict=False)
                except ValueError as exc:
                    raise ValueError(f"not an IP address or network: {part!r}") from exc
        return value

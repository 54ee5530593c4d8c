"""Settings of outgoing mail: the SMTP server, the sender, its pace and the unsubscribe
address."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, SecretStr


class MailSettings(BaseModel):
    """Mail"""

    smtp_host: str = Field(
        "",
        description="SMTP server for account e-mail (and digests). Empty: no mail is sent and "
        "each message is logged at WARNING instead (development only).",
    )
    smtp_port: int = Field(587, ge=1, le=65535, description="Port of the SMTP server.")
    smtp_user: str = Field("", description="SMTP user name; empty for no authentication.")
    smtp_password: SecretStr = Field(SecretStr(""), description="SMTP password.")
    smtp_tls: Literal["starttls", "ssl", "none"] = Field(
        "starttls",
        description="How to secure the SMTP connection: `starttls` (port 587), `ssl` "
        "(implicit TLS, port 465) or `none` (a local relay only).",
    )
    mail_from: str = Field(
        "paperfeed <paperfeed@localhost>", description="The From address of mail the hub sends."
    )
    smtp_rate_per_minute: int = Field(
        600, ge=0, description="Messages sent per minute at most (0: no limit)."
    )
    unsubscribe_mailto: str = Field(
        "",
        description="Address of the `mailto:` in digests' List-Unsubscribe header; empty: "
        "the address of PAPERFEED_MAIL_FROM. Mail to it must reach the hub's operator.",
    )

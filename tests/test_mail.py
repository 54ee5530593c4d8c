"""The mail module against a real SMTP server (aiosmtpd on 127.0.0.1)."""

from __future__ import annotations

import pytest

from community_support import NOW, Inbox, smtp
from paperfeed.config import load_settings
from paperfeed.deliver.mail.smtp import Mail, build_message, send
from paperfeed.errors import MailError

__all__ = ["smtp"]


def test_sends_through_smtp(smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    settings = load_settings(
        smtp_host="127.0.0.1", smtp_port=port, smtp_tls="none", mail_from="Hub <hub@x.test>"
    )
    send(settings, Mail(to="ada@example.org", subject="Hello é", text="Body ünïcode\n"), now=NOW)
    (message,) = inbox.messages
    assert message["To"] == "ada@example.org"
    assert message["From"] == "Hub <hub@x.test>"
    assert message["Subject"] == "Hello é"
    assert message.get_body(("plain",)).get_content().rstrip() == "Body ünïcode"  # type: ignore[union-attr]
    assert message["Message-ID"].endswith("@x.test>")


@pytest.mark.parametrize(
    "mail",
    [
        Mail(to="a@b.test\r\nBcc: victim@c.test", subject="s", text="t"),
        Mail(to="a@b.test", subject="hi\nBcc: victim@c.test", text="t"),
        Mail(to="a@b.test", subject="hi", text="t", headers={"X-Ok": "v\r\nBcc: x@y.test"}),
        Mail(to="a@b.test", subject="hi", text="t", headers={"Bcc: x@y.test\nX": "v"}),
        Mail(to="not an address", subject="hi", text="t"),
    ],
)
def test_header_injection_is_refused(mail: Mail) -> None:
    with pytest.raises(MailError):
        build_message(mail, sender="hub@x.test", now=NOW)


def test_refused_connection_is_a_mail_error() -> None:
    from ports import free_port

    settings = load_settings(smtp_host="127.0.0.1", smtp_port=free_port(), smtp_tls="none")
    with pytest.raises(MailError, match="could not send"):
        send(settings, Mail(to="a@b.test", subject="s", text="t"), now=NOW)


def test_without_a_host_the_message_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    send(load_settings(smtp_host=""), Mail(to="a@b.test", subject="s", text="t"), now=NOW)
    assert "not sending" in caplog.text

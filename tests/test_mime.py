"""The fast MIME writer of digests parses back as the message it was given."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy

import pytest

from paperfeed.deliver.mail.mime import encode
from paperfeed.deliver.mail.smtp import Mail
from paperfeed.errors import MailError

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


def test_both_parts_and_encoded_headers_round_trip() -> None:
    subject = "Trending papers, Monday, November 23 · 3 new for “training-free adaptation” ü" * 2
    mail = Mail(
        to="ada@example.org",
        subject=subject,
        text="Ünïcode text\nsecond line\n",
        html="<p>Ünïcode “html”</p>",
        headers={"List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
        message_id="<daily.2026-11-23.1.abc@hub.test>",
    )
    data = encode(mail, sender="pâperfeed <digest@hub.test>", now=NOW)
    assert data.isascii() and b"\r\n" in data and b"\n\n" not in data.replace(b"\r\n", b"")
    assert all(len(line) <= 998 for line in data.split(b"\r\n"))
    parsed = message_from_bytes(data, policy=policy.default)
    assert parsed["Subject"] == subject
    assert parsed["From"] == "pâperfeed <digest@hub.test>"
    assert parsed["Message-ID"] == "<daily.2026-11-23.1.abc@hub.test>"
    assert parsed["Date"] == "Mon, 23 Nov 2026 15:00:00 +0000"
    assert parsed.get_content_type() == "multipart/alternative"
    plain, html = parsed.get_body(("plain",)), parsed.get_body(("html",))
    assert plain is not None and plain.get_content() == "Ünïcode text\nsecond line\n"
    assert html is not None and html.get_content() == "<p>Ünïcode “html”</p>"


def test_text_only_and_injection() -> None:
    parsed = message_from_bytes(
        encode(Mail(to="a@b.test", subject="hi", text="t"), sender="h@x.test", now=NOW),
        policy=policy.default,
    )
    assert parsed.get_content().rstrip() == "t" and parsed["Message-ID"].endswith("@x.test>")
    with pytest.raises(MailError):
        encode(Mail(to="a@b.test\r\nBcc: v@c.test", subject="s", text="t"), sender="h@x", now=NOW)
    with pytest.raises(MailError):
        encode(Mail(to="a@b.test", subject="s\nBcc: v@c.test", text="t"), sender="h@x", now=NOW)

"""A mail as the bytes handed to SMTP, fast: headers checked by
:func:`paperfeed.deliver.mail.smtp.checked_headers`, then a ``multipart/alternative`` of the
plain text and the HTML, each UTF-8 in base64 (C-speed, and safe on any relay).

The standard library's ``EmailMessage`` takes a few milliseconds per digest (its header
registry parses every header it is given); a digest run sends thousands, so they are
written here directly. Non-ASCII header text is encoded as RFC 2047 words; an address
with a non-ASCII part goes through ``EmailMessage`` (it needs SMTPUTF8 anyway). The
result parses back with :mod:`email` (the tests and ``digest preview`` do).
"""

from __future__ import annotations

import base64
import secrets
from datetime import datetime
from email.utils import formataddr, parseaddr

from paperfeed.deliver.mail.smtp import Mail, build_message, checked_headers

_ADDRESS_HEADERS = ("From", "To")


def _header(name: str, value: str) -> str:
    if value.isascii():
        return value
    if name in _ADDRESS_HEADERS:
        display, address = parseaddr(value)
        return formataddr((display, address), charset="utf-8")
    return _encoded_words(value)


def _encoded_words(value: str) -> str:
    """RFC 2047 base64 words of at most 45 bytes (60 characters encoded), split between
    characters, one per folded line."""
    words: list[bytes] = []
    chunk = b""
    for char in value:
        raw = char.encode("utf-8")
        if len(chunk) + len(raw) > 45:
            words.append(chunk)
            chunk = b""
        chunk += raw
    words.append(chunk)
    return "\r\n ".join(f"=?utf-8?b?{base64.b64encode(w).decode('ascii')}?=" for w in words)


def _part(subtype: str, text: str) -> bytes:
    body = base64.encodebytes(text.encode("utf-8")).replace(b"\n", b"\r\n")
    return (
        f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n"
    ).encode("ascii") + body


def encode(mail: Mail, *, sender: str, now: datetime) -> bytes:
    """The message as bytes with CRLF line ends; :class:`MailError` on header injection."""
    headers = checked_headers(mail, sender=sender, now=now)
    if not (parseaddr(sender)[1].isascii() and parseaddr(mail.to)[1].isascii()):
        return bytes(build_message(mail, sender=sender, now=now)).replace(b"\n", b"\r\n")
    lines = [f"{name}: {_header(name, value)}" for name, value in headers]
    lines.append("MIME-Version: 1.0")
    head = "\r\n".join(lines).encode("ascii")
    if mail.html is None:
        return head + b"\r\n" + _part("plain", mail.text)
    boundary = f"=_pf_{secrets.token_hex(12)}".encode("ascii")
    return (
        head
        + b'\r\nContent-Type: multipart/alternative; boundary="'
        + boundary
        + b'"\r\n\r\n--'
        + boundary
        + b"\r\n"
        + _part("plain", mail.text)
        + b"\r\n--"
        + boundary
        + b"\r\n"
        + _part("html", mail.html)
        + b"\r\n--"
        + boundary
        + b"--\r\n"
    )

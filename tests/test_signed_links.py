"""Signed links and CSRF tokens (itsdangerous) with key rotation: a new
``PAPERFEED_SECRET_KEY`` signs, the keys of ``PAPERFEED_OLD_SECRET_KEYS`` still verify;
expiry and purpose hold, and links mailed in the format before itsdangerous keep working
until they expire. The pure functions first, then mailed links through the real pages
with the app restarted on another secret."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import datetime, timedelta
from html import unescape
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from community_support import (
    NOW,
    SECRET,
    Inbox,
    community_settings,
    csrf_of,
    make_member,
    post_form,
    smtp,
)
from paperfeed.config import load_settings
from paperfeed.deliver import security
from paperfeed.deliver.app import create_app
from paperfeed.errors import ConfigError, InvalidInputError
from paperfeed.store import subscriptions as store

__all__ = ["smtp"]  # fixtures

OLD = security.Secret(b"o" * 32)
NEW_KEY = "the-new-secret-" + "n" * 40
ROTATED = security.Secret(b"n" * 32, (b"o" * 32,))
HOUR = NOW + timedelta(hours=1)


def mailed_before(key: bytes, purpose: str, payload: dict[str, object], expires: datetime) -> str:
    """A token as paperfeed made them before itsdangerous (the code of 0.1, kept here)."""
    body = dict(payload, exp=int(expires.timestamp()))
    data = base64.urlsafe_b64encode(json.dumps(body, sort_keys=True).encode()).rstrip(b"=")
    mac = hmac.new(key, purpose.encode() + b"\x00" + data, hashlib.sha256).digest()
    return f"{data.decode()}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


# -- the pure functions -------------------------------------------------------------------


def test_a_link_keeps_its_purpose_expiry_and_integrity() -> None:
    token = security.sign(OLD, "verify", {"u": 1}, HOUR)
    assert security.unsign(OLD, "verify", token, NOW)["u"] == 1
    with pytest.raises(InvalidInputError, match="this link has expired; ask for a new one"):
        security.unsign(OLD, "verify", token, HOUR + timedelta(seconds=1))
    with pytest.raises(InvalidInputError, match="this link is not valid; ask for a new one"):
        security.unsign(OLD, "reset", token, NOW)
    with pytest.raises(InvalidInputError, match="not valid"):
        security.unsign(security.Secret(b"t" * 32), "verify", token, NOW)
    body, mac = token.rsplit(".", 1)
    for forged in (body[:-2] + "xx." + mac, body + "." + mac[:-2] + "xx", "", ".", "a.b", "é.ü"):
        with pytest.raises(InvalidInputError, match="not valid"):
            security.unsign(OLD, "verify", forged, NOW)


def test_a_new_key_signs_and_old_keys_still_verify() -> None:
    before = security.sign(OLD, "digest-manage", {"s": 7}, HOUR)
    assert security.unsign(ROTATED, "digest-manage", before, NOW)["s"] == 7
    after = security.sign(ROTATED, "digest-manage", {"s": 7}, HOUR)
    assert after != before
    assert security.unsign(security.Secret(b"n" * 32), "digest-manage", after, NOW)["s"] == 7
    with pytest.raises(InvalidInputError, match="not valid"):
        security.unsign(OLD, "digest-manage", after, NOW)  # signed with the new key
    with pytest.raises(InvalidInputError, match="not valid"):
        security.unsign(security.Secret(b"n" * 32), "digest-manage", before, NOW)  # old dropped
    with pytest.raises(InvalidInputError, match="expired"):
        security.unsign(ROTATED, "digest-manage", before, HOUR + timedelta(seconds=1))


def test_csrf_tokens_rotate_too() -> None:
    token = security.csrf_token(OLD, "seed")
    assert security.csrf_ok(OLD, "seed", token)
    assert security.csrf_ok(ROTATED, "seed", token)
    assert security.csrf_token(ROTATED, "seed") != token
    assert not security.csrf_ok(security.Secret(b"n" * 32), "seed", token)
    assert not security.csrf_ok(ROTATED, "other seed", token)
    for given in (None, "", "forged", token[:-1], "é"):
        assert not security.csrf_ok(ROTATED, "seed", given)
    assert not security.csrf_ok(ROTATED, None, token)


def test_links_mailed_before_itsdangerous_verify_until_they_expire() -> None:
    legacy = mailed_before(b"o" * 32, "digest-manage", {"s": 3, "k": "key"}, HOUR)
    assert security.unsign(OLD, "digest-manage", legacy, NOW) == {
        "s": 3,
        "k": "key",
        "exp": int(HOUR.timestamp()),
    }
    assert security.unsign(ROTATED, "digest-manage", legacy, NOW)["s"] == 3
    with pytest.raises(InvalidInputError, match="expired"):
        security.unsign(OLD, "digest-manage", legacy, HOUR + timedelta(seconds=1))
    with pytest.raises(InvalidInputError, match="not valid"):
        security.unsign(OLD, "digest-confirm", legacy, NOW)
    with pytest.raises(InvalidInputError, match="not valid"):
        security.unsign(security.Secret(b"n" * 32), "digest-manage", legacy, NOW)
    with pytest.raises(InvalidInputError, match="not valid"):
        security.unsign(OLD, "digest-manage", "A" + legacy, NOW)


def test_old_keys_come_from_the_settings(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPERFEED_OLD_SECRET_KEYS", json.dumps(["a" * 32, "b" * 40]))
    settings = load_settings(secret_key="c" * 32)
    assert security.load_secret(settings) == security.Secret(b"c" * 32, (b"a" * 32, b"b" * 40))
    assert security.load_secret(settings).keys[-1] == b"c" * 32  # the one that signs
    monkeypatch.setenv("PAPERFEED_OLD_SECRET_KEYS", json.dumps(["short"]))
    with pytest.raises(ConfigError, match="PAPERFEED_OLD_SECRET_KEYS must be 32 characters"):
        security.load_secret(load_settings(secret_key="c" * 32))
    monkeypatch.delenv("PAPERFEED_OLD_SECRET_KEYS")
    assert security.load_secret(load_settings(secret_key="c" * 32)).previous == ()


def test_the_keys_stay_out_of_logs_and_tracebacks() -> None:
    assert "o" * 8 not in repr(ROTATED) and "n" * 8 not in str(ROTATED)


def test_generated_secret_is_kept(tmp_path: Any) -> None:
    settings = load_settings(secret_file=str(tmp_path / "s" / "secret.key"))
    first = security.load_secret(settings)
    assert security.load_secret(settings) == first and len(first.current) >= 32
    assert first.previous == ()
    assert (tmp_path / "s" / "secret.key").stat().st_mode & 0o777 == 0o600


# -- mailed links through the pages, the app restarted on a new secret ----------------------


def _app(db_url: str, port: int, tmp_path: Any, key: str, old: tuple[str, ...] = ()) -> TestClient:
    settings = community_settings(db_url, port, tmp_path).model_copy(
        update={"secret_key": SecretStr(key), "old_secret_keys": [SecretStr(k) for k in old]}
    )
    return TestClient(create_app(settings))


def _token(link: str) -> str:
    return link.split("token=", 1)[1]


def test_account_links_survive_a_new_secret_kept_as_old(
    db_url: str, smtp: tuple[Inbox, int], tmp_path: Any
) -> None:
    inbox, port = smtp
    with _app(db_url, port, tmp_path, SECRET) as before:
        post_form(
            before,
            "/account/signup",
            {"email": "rot@example.org", "username": "rot", "password": "correct horse battery"},
        )
        mailed = _token(inbox.last_link("rot@example.org"))
    with _app(db_url, port, tmp_path, NEW_KEY) as forgot_old:
        refused = post_form(forgot_old, "/account/verify", {"token": mailed})
        assert refused.status_code == 400 and "this link is not valid" in refused.text
    with _app(db_url, port, tmp_path, NEW_KEY, (SECRET,)) as after:
        done = post_form(after, "/account/verify", {"token": mailed})
        assert done.status_code == 200 and "confirmed" in done.text, done.text
        post_form(after, "/account/forgot", {"email": "rot@example.org"})
        reset = _token(inbox.last_link("rot@example.org"))
    with _app(db_url, port, tmp_path, SECRET) as rolled_back:  # signed with the new key
        data = {"token": reset, "password": "another horse battery"}
        answer = post_form(rolled_back, "/account/reset", data)
        assert answer.status_code == 400 and "this link is not valid" in answer.text


def test_a_form_opened_before_the_new_secret_still_posts(
    db_url: str, smtp: tuple[Inbox, int], tmp_path: Any
) -> None:
    with _app(db_url, smtp[1], tmp_path, SECRET) as before:
        make_member(before, "form")
        token = csrf_of(before, "/account/login")
        cookies = dict(before.cookies)
    with _app(db_url, smtp[1], tmp_path, NEW_KEY, (SECRET,)) as after:
        after.cookies.update(cookies)
        data = {"csrf": token, "email": "form@example.org", "password": "correct horse battery"}
        answer = after.post("/account/login", data=data, follow_redirects=False)
        assert answer.status_code == 303, answer.text
    with _app(db_url, smtp[1], tmp_path, NEW_KEY) as forgot_old:
        forgot_old.cookies.update(cookies)
        answer = forgot_old.post("/account/login", data=data, follow_redirects=False)
        assert answer.status_code == 403 and "security token" in answer.text


def _subscribed(client: TestClient, inbox: Inbox, email: str) -> int:
    token = csrf_of(client, "/digest")
    data = {"csrf": token, "email": email, "frequency": "daily", "searches": ""}
    assert client.post("/digest/subscribe", data=data).status_code == 200
    page = client.get(inbox.last_link(email).removeprefix("http://testserver"))
    confirm = unescape(page.text.split('name="token" value="', 1)[1].split('"', 1)[0])
    assert client.post("/digest/confirm", data={"token": confirm}).status_code == 200
    subs = client.app.state.services.subscriptions  # type: ignore[attr-defined]
    with subs.engine.connect() as conn:
        found = store.by_email(conn, email)
    assert found is not None
    return int(found.id)


def test_digest_unsubscribe_links_survive_rotation_and_the_old_format(
    db_url: str, smtp: tuple[Inbox, int], tmp_path: Any
) -> None:
    """The unsubscribe link of a digest sent before the new secret, and one sent before
    itsdangerous, still unsubscribe in one click (RFC 8058: a bare POST)."""
    inbox, port = smtp
    with _app(db_url, port, tmp_path, SECRET) as before:
        first = _subscribed(before, inbox, "one@example.org")
        second = _subscribed(before, inbox, "two@example.org")
        subs = before.app.state.services.subscriptions  # type: ignore[attr-defined]
        with subs.engine.connect() as conn:
            one, two = store.get(conn, first), store.get(conn, second)
        assert one is not None and two is not None
        rotated = subs.manage_token(one, NOW)
        expires = NOW + timedelta(days=365)
        legacy = mailed_before(
            SECRET.encode(), "digest-manage", {"s": two.id, "k": two.link_key}, expires
        )
    one_click = {
        "content": "List-Unsubscribe=One-Click",
        "headers": {"Content-Type": "application/x-www-form-urlencoded"},
    }
    with _app(db_url, port, tmp_path, NEW_KEY) as forgot_old:
        assert (
            forgot_old.post(f"/digest/unsubscribe?token={rotated}", **one_click).status_code == 400
        )
    with _app(db_url, port, tmp_path, NEW_KEY, (SECRET,)) as after:
        for token in (rotated, legacy):
            answer = after.post(f"/digest/unsubscribe?token={token}", **one_click)
            assert answer.status_code == 200 and "Unsubscribed" in answer.text, answer.text
        with subs.engine.connect() as conn:
            assert {store.get(conn, i).status for i in (first, second)} == {"unsubscribed"}  # type: ignore[union-attr]

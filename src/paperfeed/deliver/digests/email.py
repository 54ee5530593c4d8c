"""A digest as an e-mail: HTML and plain-text parts from templates, and the headers
every digest carries (pure, given the links).

* ``List-Unsubscribe``: the https link (RFC 8058's one-click target) and a ``mailto:``;
  ``List-Unsubscribe-Post: List-Unsubscribe=One-Click`` tells mail providers the link
  may be POSTed to without a page.
* ``Message-ID``: the same for the same subscriber and digest, so if the operator ever
  resends an uncertain delivery, mail clients recognise the copy.
* ``List-Id`` names the list, so filters can sort it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from email.utils import parseaddr
from pathlib import Path
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from paperfeed.deliver.mail.smtp import Mail
from paperfeed.deliver.render.papers import paper_path
from paperfeed.models import Paper, StoredPaper
from paperfeed.rank.digest import Digest

TEMPLATES = Path(__file__).parent.parent / "templates" / "mail"
SNIPPET_CHARS = 300


def _authors(paper: Paper) -> str:
    names = list(paper.authors)
    return ", ".join(names[:3]) + (" et al." if len(names) > 3 else "")


def _snippet(text: str) -> str:
    text = " ".join(text.split())
    if len(text) <= SNIPPET_CHARS:
        return text
    cut = text[:SNIPPET_CHARS].rsplit(" ", 1)[0]
    return cut.rstrip(",;:.") + " …"


def make_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=False,
        keep_trailing_newline=True,
    )
    env.globals.update(authors=_authors, snippet=_snippet)
    return env


@dataclass(frozen=True)
class Links:
    """The links one subscriber's digest carries."""

    unsubscribe: str
    preferences: str
    mailto: str


class DigestMailer:
    """Renders digests for one hub (its base URL, sender and secret)."""

    def __init__(self, base_url: str, mail_from: str, unsubscribe_mailto: str, secret: bytes):
        self.base_url = base_url.rstrip("/")
        sender = parseaddr(mail_from)[1]
        self.domain = sender.rpartition("@")[2] or "localhost"
        self.mailto = unsubscribe_mailto or sender
        self.secret = secret
        env = make_environment()
        env.globals.update(
            paper_url=self.paper_url, search_url=self.search_url, home_url=self.base_url + "/"
        )
        self._html = env.get_template("digest.html")
        self._text = env.get_template("digest.txt")

    def paper_url(self, stored: StoredPaper) -> str:
        return self.base_url + paper_path(stored)

    def search_url(self, query: str | None) -> str:
        return f"{self.base_url}/search?q={quote(query or '')}"

    def message_id(self, subscriber_id: int, digest_key: str) -> str:
        """The same Message-ID for the same subscriber and digest, unguessable to others."""
        mac = hashlib.sha256(self.secret + f"{subscriber_id}:{digest_key}".encode()).hexdigest()
        edition = digest_key.replace(":", ".")
        return f"<{edition}.{subscriber_id}.{mac[:16]}@{self.domain}>"

    def links(self, unsubscribe_url: str, preferences_url: str, token: str) -> Links:
        mailto = f"mailto:{self.mailto}?subject={quote('unsubscribe ' + token)}"
        return Links(unsubscribe_url, preferences_url, mailto)

    def render(self, digest: Digest, *, email: str, subscriber_id: int, links: Links) -> Mail:
        edition = digest.edition
        heading = (
            "Your weekly papers" if edition.frequency == "weekly" else "Today's trending papers"
        )
        first = next((s.papers[0].paper.title for s in digest.sections if s.papers), "")
        context = {
            "digest": digest,
            "email": email,
            "heading": heading,
            "dateline": edition.day.strftime("%A, %B %d, %Y").replace(" 0", " "),
            "preheader": first,
            "unsubscribe_url": links.unsubscribe,
            "preferences_url": links.preferences,
        }
        return Mail(
            to=email,
            subject=digest.subject,
            text=self._text.render(context),
            html=self._html.render(context),
            headers={
                "List-Unsubscribe": f"<{links.unsubscribe}>, <{links.mailto}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                "List-Id": f"paperfeed digest <digest.{self.domain}>",
                "Auto-Submitted": "auto-generated",
            },
            message_id=self.message_id(subscriber_id, edition.key),
        )

"""``paperfeed thumbnails fetch``: a small image of each paper's first page (#18).

For each paper on the hub's lists without one (newest first): Hugging Face's own
thumbnail where the paper was imported with one, else the first page of its arXiv PDF,
rendered by pdfium (:mod:`pypdfium2`). arXiv's rules hold: one request every
``arxiv_delay_seconds`` (3 s) on one connection, a User-Agent that names a contact
(PAPERFEED_THUMBNAILS_CONTACT), and each PDF fetched once, held in memory only while its
first page is drawn, never written anywhere. The images go into the database
(:mod:`paperfeed.store.thumbnails`) and the hub serves them itself.

A paper whose image cannot be made (no PDF yet, a PDF pdfium cannot read) is recorded as
failed and tried again after 1, 2, 4 … days (at most 30). A remote that does not answer
at all stops the run: the next run carries on.
"""

from __future__ import annotations

import logging
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import parseaddr
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from paperfeed.config import Settings
from paperfeed.errors import SourceError
from paperfeed.ingest.http import USER_AGENT, Fetcher
from paperfeed.store import thumbnails as store
from paperfeed.store.engine import writing

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

#: Width in pixels of a rendered first page; the top 4:3 of the page is kept.
WIDTH = 480
ASPECT = 0.75
#: Larger downloads are refused: a PDF (arXiv caps them at 50 MB) or an image.
MAX_PDF_BYTES = 60_000_000
MAX_IMAGE_BYTES = 3_000_000
_MAGIC = {
    b"\x89PNG\r\n\x1a\n": "image/png",
    b"\xff\xd8\xff": "image/jpeg",
}


class ThumbnailError(Exception):
    """This paper's image cannot be made now (recorded; retried later)."""


@dataclass
class Report:
    made: int = 0
    failed: int = 0
    stopped: str | None = None
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        line = f"thumbnails: made {self.made}, failed {self.failed}"
        return line + (f"; stopped early: {self.stopped}" if self.stopped else "")


def user_agent(contact: str) -> str:
    """paperfeed's User-Agent with the operator's contact, as arXiv asks."""
    return f"{USER_AGENT[:-1]}; {contact})" if contact else USER_AGENT


def thumbnail_job(settings: Settings, engine: Engine) -> ThumbnailJob:
    """The job as the settings describe it: arXiv paced at PAPERFEED_ARXIV_DELAY_SECONDS,
    the operator's contact in the User-Agent."""
    clock = settings.clock()
    contact = settings.thumbnails_contact or parseaddr(settings.mail_from)[1]

    def fetcher(interval: float) -> Fetcher:
        return Fetcher(
            min_interval=interval,
            retries=settings.http_retries,
            backoff=settings.http_backoff_seconds,
            timeout=settings.http_timeout_seconds,
            clock=clock,
            user_agent=user_agent(contact),
        )

    return ThumbnailJob(
        engine,
        arxiv=fetcher(settings.arxiv_delay_seconds),
        images=fetcher(1.0),
        pdf_url=settings.thumbnails_pdf_url,
        now=clock.now,
    )


def image_type(data: bytes) -> str | None:
    """The media type of PNG, JPEG or WebP bytes, from their first bytes (not a header)."""
    for magic, media_type in _MAGIC.items():
        if data.startswith(magic):
            return media_type
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def png(pixels: np.ndarray) -> bytes:
    """PNG bytes of an RGB ``(height, width, 3)`` uint8 array (grey when it has no colour)."""
    import numpy as np

    height, width = pixels.shape[:2]
    grey = bool(np.all(pixels[:, :, 0] == pixels[:, :, 1])) and bool(
        np.all(pixels[:, :, 1] == pixels[:, :, 2])
    )
    rows = pixels[:, :, :1] if grey else pixels
    raw = np.concatenate(
        [np.zeros((height, 1), dtype=np.uint8), rows.reshape(height, -1)], axis=1
    ).tobytes()

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0 if grey else 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def first_page(pdf: bytes, width: int = WIDTH) -> tuple[bytes, int, int]:
    """The top of the PDF's first page as PNG bytes, ``width`` pixels wide, and its size."""
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(pdf)
    except pdfium.PdfiumError as exc:
        raise ThumbnailError(f"not a PDF pdfium can read: {exc}") from exc
    try:
        if len(document) == 0:
            raise ThumbnailError("the PDF has no pages")
        page = document[0]
        page_width, _ = page.get_size()
        bitmap = page.render(scale=width / max(page_width, 1.0), rev_byteorder=True)
        pixels = bitmap.to_numpy()[:, :, :3]
        keep = min(pixels.shape[0], round(pixels.shape[1] * ASPECT))
        top = pixels[:keep].copy()
        page.close()
    finally:
        document.close()
    return png(top), int(top.shape[1]), int(top.shape[0])


@dataclass
class ThumbnailJob:
    """Where the images come from and how politely."""

    engine: Engine
    arxiv: Fetcher
    images: Fetcher
    pdf_url: str = "https://arxiv.org/pdf"
    now: Callable[[], datetime] = field(default=lambda: datetime.now().astimezone())

    def _pdf(self, arxiv_id: str, version: int | None) -> bytes:
        url = f"{self.pdf_url.rstrip('/')}/{arxiv_id}" + (f"v{version}" if version else "")
        response = self.arxiv.get(url)
        if response.status_code != 200:
            raise ThumbnailError(f"{url}: HTTP {response.status_code}")
        body = response.content
        if len(body) > MAX_PDF_BYTES or not body.startswith(b"%PDF"):
            raise ThumbnailError(f"{url}: not a PDF ({len(body)} bytes)")
        return body

    def _imported(self, url: str) -> tuple[bytes, str]:
        if not url.startswith(("https://", "http://")):
            raise ThumbnailError(f"not an http(s) thumbnail URL: {url[:80]!r}")
        response = self.images.get(url)
        if response.status_code != 200:
            raise ThumbnailError(f"{url}: HTTP {response.status_code}")
        body = response.content
        media_type = image_type(body)
        if media_type is None or len(body) > MAX_IMAGE_BYTES:
            raise ThumbnailError(f"{url}: not a PNG, JPEG or WebP image ({len(body)} bytes)")
        return body, media_type

    def make(self, candidate: store.Candidate) -> tuple[bytes, str, int, int, str]:
        """The image of one paper: (bytes, media type, width, height, source)."""
        problems = []
        if candidate.thumbnail_url:
            try:
                body, media_type = self._imported(candidate.thumbnail_url)
                return body, media_type, 0, 0, "huggingface"
            except ThumbnailError as exc:
                problems.append(str(exc))
        if candidate.arxiv_id:
            image, width, height = first_page(self._pdf(candidate.arxiv_id, candidate.version))
            return image, "image/png", width, height, "arxiv"
        raise ThumbnailError("; ".join(problems) or "no arXiv id and no imported thumbnail")

    def run(self, limit: int) -> Report:
        """Make up to ``limit`` thumbnails (papers tried, made or not)."""
        report = Report()
        with self.engine.connect() as conn:
            candidates = store.due(conn, now=self.now(), limit=limit)
        for candidate in candidates:
            attempts = candidate.attempts + 1
            source = "arxiv" if candidate.arxiv_id else "huggingface"
            try:
                image, media_type, width, height, source = self.make(candidate)
            except ThumbnailError as exc:
                now = self.now()
                wait = timedelta(days=min(2 ** (attempts - 1), store.MAX_RETRY_DAYS))
                with writing(self.engine) as conn:
                    store.fail(
                        conn,
                        candidate.paper_id,
                        source=source,
                        error=str(exc),
                        attempts=attempts,
                        retry_after=now + wait,
                        now=now,
                    )
                report.failed += 1
                report.errors.append(f"paper {candidate.paper_id}: {exc}")
                log.warning("thumbnail of paper %d: %s", candidate.paper_id, exc)
                continue
            except SourceError as exc:
                report.stopped = str(exc)
                break
            with writing(self.engine) as conn:
                store.save(
                    conn,
                    candidate.paper_id,
                    image=image,
                    media_type=media_type,
                    width=width,
                    height=height,
                    source=source,
                    attempts=attempts,
                    now=self.now(),
                )
            report.made += 1
        return report

"""arXiv's OAI-PMH responses read: a ``ListRecords`` (or ``GetRecord``) page, its records
and resumption token, and each record as a :class:`~paperfeed.models.Paper`.

Both metadata formats are read, recognised from each record's metadata namespace:
``arXivRaw`` carries every version with its date and size; ``arXiv`` carries structured
author names but no version history. The harvest that asks for the pages is
:mod:`paperfeed.ingest.oai`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from xml.etree.ElementTree import Element

from paperfeed.errors import SourceError
from paperfeed.ingest.atom import (
    OAI,
    OAI_ARXIV,
    OAI_ARXIV_RAW,
    child_text,
    clean,
    ordered_categories,
    parse_day,
    parse_rfc2822,
    parse_xml,
    q,
    split_authors,
)
from paperfeed.models import Paper, Rejection, Version, split_arxiv_id

SOURCE_NAME = "oai"
_VERSION = re.compile(r"^v?(\d+)$")


@dataclass(frozen=True, slots=True)
class OaiRecord:
    """One ``<record>``: its header and its metadata element (``None`` when deleted)."""

    identifier: str | None
    datestamp: str | None
    deleted: bool
    metadata: Element | None


@dataclass(frozen=True, slots=True)
class OaiPage:
    """One ``ListRecords`` response."""

    records: list[OaiRecord]
    token: str | None = None
    complete_list_size: int | None = None
    token_cursor: int | None = None
    error_code: str | None = None
    error_message: str | None = None


def parse_page(data: bytes) -> OaiPage:
    """Parse a ``ListRecords`` (or ``GetRecord``) response; OAI errors are returned, not raised."""
    root = parse_xml(data, "OAI-PMH response")
    if root.tag != q(OAI, "OAI-PMH"):
        raise SourceError(f"not an OAI-PMH response (root <{root.tag}>)")
    error = root.find(q(OAI, "error"))
    if error is not None:
        return OaiPage(
            [], error_code=error.get("code", "unknown"), error_message=(error.text or "").strip()
        )
    records = [_record(node) for node in root.iter(q(OAI, "record"))]
    token = root.find(f"{q(OAI, 'ListRecords')}/{q(OAI, 'resumptionToken')}")
    if token is None:
        return OaiPage(records)
    return OaiPage(
        records,
        token=(token.text or "").strip() or None,
        complete_list_size=_int_or_none(token.get("completeListSize")),
        token_cursor=_int_or_none(token.get("cursor")),
    )


def _int_or_none(text: str | None) -> int | None:
    return int(text) if text is not None and text.isdigit() else None


def _record(node: Element) -> OaiRecord:
    header = node.find(q(OAI, "header"))
    metadata = node.find(q(OAI, "metadata"))
    if header is None:
        return OaiRecord(None, None, False, metadata)
    return OaiRecord(
        identifier=child_text(header, q(OAI, "identifier")),
        datestamp=child_text(header, q(OAI, "datestamp")),
        deleted=header.get("status") == "deleted",
        metadata=metadata,
    )


def record_to_paper(record: OaiRecord, position: int) -> Paper | Rejection:
    """Map one (non-deleted) record to a :class:`Paper`, or say why it cannot be read."""
    ident = record.identifier
    body = next(iter(record.metadata), None) if record.metadata is not None else None
    if body is None:
        return Rejection(position, "record has no metadata", ident)
    if body.tag == q(OAI_ARXIV_RAW, "arXivRaw"):
        return _paper(body, OAI_ARXIV_RAW, position, ident)
    if body.tag == q(OAI_ARXIV, "arXiv"):
        return _paper(body, OAI_ARXIV, position, ident)
    raise SourceError(f"unsupported OAI-PMH metadata format <{body.tag}>")


def parse_records(data: bytes) -> list[Paper | Rejection]:
    """Every non-deleted record of one response, as papers or rejections (positions from 1)."""
    page = parse_page(data)
    if page.error_code not in (None, "noRecordsMatch"):
        raise SourceError(f"OAI-PMH error {page.error_code}: {page.error_message}")
    return [
        record_to_paper(record, index + 1)
        for index, record in enumerate(page.records)
        if not record.deleted
    ]


def _paper(body: Element, ns: str, position: int, ident: str | None) -> Paper | Rejection:
    raw_id = child_text(body, q(ns, "id"))
    if raw_id is None:
        return Rejection(position, "record has no <id>", ident)
    try:
        arxiv_id, _ = split_arxiv_id(raw_id)
    except ValueError:
        return Rejection(position, f"record id is not an arXiv id: {raw_id[:80]!r}", ident)
    title = clean(child_text(body, q(ns, "title")))
    if title is None:
        return Rejection(position, "record has no title", arxiv_id)
    try:
        if ns == OAI_ARXIV_RAW:
            versions = _versions(body)
            authors = split_authors(child_text(body, q(ns, "authors")) or "")
            published = versions[0].submitted_at if versions else None
            updated = versions[-1].submitted_at if versions else None
        else:
            versions = ()
            authors = _structured_authors(body)
            published, updated = (_day(body, name) for name in ("created", "updated"))
    except ValueError as exc:
        return Rejection(position, str(exc), arxiv_id)
    cats = (child_text(body, q(ns, "categories")) or "").split()
    doi = child_text(body, q(ns, "doi"))
    return Paper(
        title=title,
        abstract=clean(child_text(body, q(ns, "abstract"))) or "",
        arxiv_id=arxiv_id,
        version=versions[-1].number if versions else None,
        versions=versions,
        doi=doi.split()[0] if doi else None,
        authors=authors,
        categories=ordered_categories(cats[0] if cats else None, cats),
        primary_category=cats[0] if cats else None,
        published_at=published,
        updated_at=updated or published,
        license=child_text(body, q(ns, "license")),
        comments=clean(child_text(body, q(ns, "comments"))),
        journal_ref=clean(child_text(body, q(ns, "journal-ref"))),
        source=SOURCE_NAME,
    ).with_arxiv_links()


def _day(body: Element, name: str) -> datetime | None:
    value = child_text(body, q(OAI_ARXIV, name))
    if value is None:
        return None
    try:
        return parse_day(value)
    except ValueError as exc:
        raise ValueError(f"bad <{name}> date {value!r}: {exc}") from exc


def _structured_authors(body: Element) -> tuple[str, ...]:
    """``forenames keyname suffix`` for each ``<author>``, in order (affiliations ignored)."""
    names: list[str] = []
    for author in body.iter(q(OAI_ARXIV, "author")):
        parts = (child_text(author, q(OAI_ARXIV, n)) for n in ("forenames", "keyname", "suffix"))
        name = " ".join(" ".join(p.split()) for p in parts if p)
        if name:
            names.append(name)
    return tuple(names)


def _versions(body: Element) -> tuple[Version, ...]:
    """The ``<version version="vN">`` history, oldest first, dates as aware UTC."""
    found: dict[int, Version] = {}
    for node in body.findall(q(OAI_ARXIV_RAW, "version")):
        label = node.get("version", "")
        match = _VERSION.match(label.strip())
        if not match:
            raise ValueError(f"bad version label {label!r}")
        value = child_text(node, q(OAI_ARXIV_RAW, "date"))
        try:
            when = parse_rfc2822(value) if value else None
        except ValueError as exc:
            raise ValueError(f"bad date {value!r} of version {label}: {exc}") from exc
        number = int(match.group(1))
        found[number] = Version(number, when, child_text(node, q(OAI_ARXIV_RAW, "size")))
    return tuple(found[n] for n in sorted(found))

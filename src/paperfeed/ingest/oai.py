"""arXiv's OAI-PMH ``ListRecords`` (bulk harvest), in the ``arXivRaw`` or ``arXiv`` format.

``arXivRaw`` (the default) carries every version with its date and size;
``arXiv`` carries structured author names but no version history. Both are
parsed (the format is recognised from each record's metadata namespace).

The cursor is a JSON object: ``token`` (the resumption token that fetches the
page holding the next record, ``null`` for a list's first request), ``from``
(the ``from`` date of that first request), ``skip`` (records of that page
already read), ``datestamp`` (the last header datestamp reached), ``position``
(records read so far) and ``done``. An expired or rejected token
(``badResumptionToken``) restarts ``ListRecords`` with ``from`` = the last
datestamp reached, not from the beginning; that day's records are read again
(the pipeline counts them unchanged). This relies on the list coming in
datestamp order; a full rerun (the pipeline's ``restart``) is the fallback.
Restarts that make no progress (the same ``from`` again and again) stop the
run after ``max_restarts``. ``noRecordsMatch`` means an empty harvest; deleted
records are skipped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from datetime import date, datetime
from typing import Any
from xml.etree.ElementTree import Element

from paperfeed.clock import Clock
from paperfeed.config import Settings
from paperfeed.errors import InvalidInputError, SourceError
from paperfeed.ingest.arxiv_api import arxiv_fetcher
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
from paperfeed.ingest.http import Fetcher
from paperfeed.models import Paper, Parsed, Rejection, Version, split_arxiv_id

SOURCE_NAME = "oai"
METADATA_PREFIXES = ("arXivRaw", "arXiv")
_VERSION = re.compile(r"^v?(\d+)$")
_SET = re.compile(r"^[a-z-]+(?::[a-z-]+(?::[A-Za-z-]+)?)?$")


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


@dataclass(frozen=True, slots=True)
class _State:
    """Where a harvest stands; serialised as the cursor (see the module docstring)."""

    token: str | None = None
    from_: str | None = None
    skip: int = 0
    datestamp: str | None = None
    position: int = 0
    done: bool = False

    def dump(self) -> str:
        data = asdict(self)
        data["from"] = data.pop("from_")
        return json.dumps(data, sort_keys=True)

    @classmethod
    def load(cls, cursor: str) -> _State:
        try:
            data: dict[str, Any] = json.loads(cursor)
            data["from_"] = data.pop("from", None)
            state = cls(**data)
            if not (isinstance(state.skip, int) and isinstance(state.position, int)):
                raise TypeError("skip and position must be integers")
        except (ValueError, TypeError, AttributeError) as exc:
            raise InvalidInputError(f"bad {SOURCE_NAME} cursor {cursor[:200]!r}: {exc}") from exc
        return state


class OaiSource:
    """A ``ListRecords`` harvest of one set and date range, resumable record by record.

    Implements :class:`~paperfeed.ingest.source.Source`. ``total`` comes from the
    resumption token's ``completeListSize`` once the first page has arrived.
    """

    name = SOURCE_NAME

    def __init__(
        self,
        fetcher: Fetcher,
        base_url: str,
        *,
        set_spec: str | None = None,
        from_date: date | None = None,
        until: date | None = None,
        metadata_prefix: str = "arXivRaw",
        max_restarts: int = 3,
    ) -> None:
        if metadata_prefix not in METADATA_PREFIXES:
            raise InvalidInputError(
                f"metadata_prefix must be one of {', '.join(METADATA_PREFIXES)}, "
                f"not {metadata_prefix!r}"
            )
        if set_spec is not None and not _SET.match(set_spec):
            raise InvalidInputError(f"not an arXiv OAI set: {set_spec!r} (e.g. cs, physics:hep-th)")
        if from_date is not None and until is not None and from_date > until:
            raise InvalidInputError(f"empty date range: from {from_date} is after {until}")
        self.fetcher = fetcher
        self.base_url = base_url
        self.set_spec = set_spec
        self.from_date = from_date
        self.until = until
        self.metadata_prefix = metadata_prefix
        self.max_restarts = max_restarts
        #: Close the fetcher's connection when :meth:`records` ends (set by ``from_settings``).
        self.owns_fetcher = False
        self._total: int | None = None

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        set_spec: str | None = None,
        from_date: date | None = None,
        until: date | None = None,
        metadata_prefix: str = "arXivRaw",
        clock: Clock | None = None,
    ) -> OaiSource:
        """A source on the configured endpoint with a paced fetcher of its own."""
        source = cls(
            arxiv_fetcher(settings, clock),
            settings.arxiv_oai_url,
            set_spec=set_spec,
            from_date=from_date,
            until=until,
            metadata_prefix=metadata_prefix,
        )
        source.owns_fetcher = True
        return source

    @property
    def checkpoint_key(self) -> str:
        return (
            f"{SOURCE_NAME}:{self.metadata_prefix}:set={self.set_spec or '*'}"
            f":from={self.from_date or '*'}:until={self.until or '*'}"
        )

    @property
    def total(self) -> int | None:
        return self._total

    def records(self, cursor: str | None) -> Iterator[Parsed]:
        """Yield the harvest's records after ``cursor``, following resumption tokens."""
        start = self.from_date.isoformat() if self.from_date else None
        state = _State.load(cursor) if cursor else _State(from_=start)
        try:
            yield from self._records(state, start)
        finally:
            if self.owns_fetcher:
                self.fetcher.close()

    def _records(self, state: _State, start: str | None) -> Iterator[Parsed]:
        restarts: list[str | None] = []  # the from= of each restart, to stop a loop
        while not state.done:
            page = self._fetch(state)
            if page.error_code == "badResumptionToken" and state.token is not None:
                # Restart the list from the last day reached; the pipeline dedups rereads.
                state = replace(state, token=None, skip=0, from_=state.datestamp or start)
                restarts.append(state.from_)
                if restarts.count(state.from_) > self.max_restarts:
                    raise SourceError(
                        f"OAI-PMH rejected resumption tokens {len(restarts)} times without "
                        f"getting past from={state.from_} (last: {page.error_message}); "
                        "rerun later to resume"
                    )
                continue
            if page.error_code == "noRecordsMatch":
                return
            if page.error_code is not None:
                raise SourceError(f"OAI-PMH error {page.error_code}: {page.error_message}")
            before = state.position - state.skip
            if page.complete_list_size is not None:
                self._total = before - (page.token_cursor or 0) + page.complete_list_size
            elif page.token is None:
                self._total = before + len(page.records)
            yield from self._read_page(page, state)
            state = self._after_page(page, state)

    def _read_page(self, page: OaiPage, state: _State) -> Iterator[Parsed]:
        last = len(page.records) - 1
        position, datestamp = state.position, state.datestamp
        for index, record in enumerate(page.records[state.skip :], start=state.skip):
            position += 1
            datestamp = record.datestamp or datestamp
            if record.deleted:
                continue
            item = record_to_paper(record, position)
            if index == last:
                after = self._after_page(page, state)
            else:
                after = replace(state, skip=index + 1, datestamp=datestamp, position=position)
            yield Parsed(item, position, after.dump())

    @staticmethod
    def _after_page(page: OaiPage, state: _State) -> _State:
        """The state once every record of ``page`` is read."""
        position = state.position + len(page.records) - state.skip
        datestamp = next(
            (r.datestamp for r in reversed(page.records) if r.datestamp), state.datestamp
        )
        if page.token is None:
            return _State(datestamp=datestamp, position=position, done=True)
        return _State(token=page.token, datestamp=datestamp, position=position)

    def _fetch(self, state: _State) -> OaiPage:
        params: dict[str, str | int] = {"verb": "ListRecords"}
        if state.token is not None:
            params["resumptionToken"] = state.token
        else:
            params["metadataPrefix"] = self.metadata_prefix
            if self.set_spec:
                params["set"] = self.set_spec
            if state.from_:
                params["from"] = state.from_
            if self.until:
                params["until"] = self.until.isoformat()
        response = self.fetcher.get(self.base_url, params=params)
        try:
            page = parse_page(response.content)
        except SourceError as exc:
            if response.status_code != 200:
                raise SourceError(
                    f"OAI-PMH answered HTTP {response.status_code} for {response.url}"
                ) from exc
            raise
        if response.status_code != 200 and page.error_code is None:
            raise SourceError(f"OAI-PMH answered HTTP {response.status_code} for {response.url}")
        return page

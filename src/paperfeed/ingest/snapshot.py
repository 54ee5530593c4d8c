"""The arXiv bulk metadata snapshot (Kaggle / Cornell ``arxiv-metadata-oai-snapshot.json``).

The snapshot is one JSON object per line, about 2.5 million lines (4+ GB), plain
or gzip-compressed. :class:`SnapshotSource` streams it line by line, never
holding more than one line in memory, and turns each line into a
:class:`~paperfeed.models.Parsed` record: a :class:`~paperfeed.models.Paper`, or a
:class:`~paperfeed.models.Rejection` naming the line and what is wrong with it,
after which the stream goes on.

Positions are 1-based line numbers. The cursor after a record is that record's
line number, plus ``@<byte offset>`` for a plain (uncompressed) file so a resume
can seek instead of re-reading the lines before it; a gzip file is resumed by
skipping that many decompressed lines.
"""

from __future__ import annotations

import email.utils
import gzip
import io
import json
import re
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from paperfeed.errors import InvalidInputError, SourceError
from paperfeed.models import (
    Paper,
    Parsed,
    Rejection,
    Version,
    collapse_whitespace,
    split_arxiv_id,
)

SOURCE_NAME = "snapshot"
_GZIP_MAGIC = b"\x1f\x8b"
_READ_BUFFER = 1 << 16
_MONTHS = {
    name: number
    for number, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}
_CURSOR = re.compile(r"^(?P<line>\d+)(?:@(?P<offset>\d+))?$")
_VERSION = re.compile(r"^v(\d+)$")
#: Separators of the free-text ``authors`` field: commas, "and", ", and".
_AUTHOR_SEPARATOR = re.compile(r"\s*,\s*(?:and\s+)?|\s+and\s+")
#: arXiv's author parser writes hyphenated initials "C.-P." as "C. -P.".
_SPLIT_INITIALS = re.compile(r"\.\s+-")


class _BadRecord(Exception):
    """A line that cannot become a Paper; the message is the rejection's reason."""


class SnapshotSource:
    """Stream papers from an arXiv metadata snapshot file (plain or gzip, detected by content).

    >>> source = SnapshotSource("arxiv-metadata-oai-snapshot.json.gz")  # doctest: +SKIP
    >>> for parsed in source.records(None): ...  # doctest: +SKIP
    """

    name = SOURCE_NAME

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).resolve()

    @property
    def checkpoint_key(self) -> str:
        """``snapshot:<absolute path>:<size>``: a different file (or a grown one) starts over."""
        return f"snapshot:{self.path}:{self._size()}"

    @property
    def total(self) -> int | None:
        """Unknown: counting the lines would mean reading the whole file once more."""
        return None

    def _size(self) -> int:
        try:
            return self.path.stat().st_size
        except OSError as exc:
            raise SourceError(f"cannot read snapshot file {self.path}: {exc}") from exc

    def is_gzip(self) -> bool:
        """Whether the file starts with the gzip magic bytes (whatever its name says)."""
        try:
            with self.path.open("rb") as raw:
                return raw.read(2) == _GZIP_MAGIC
        except OSError as exc:
            raise SourceError(f"cannot read snapshot file {self.path}: {exc}") from exc

    def records(self, cursor: str | None) -> Iterator[Parsed]:
        """Yield one record per non-blank line after ``cursor`` (from line 1 when ``None``)."""
        skip_lines, offset = _parse_cursor(cursor)
        compressed = self.is_gzip()
        try:
            with self.path.open("rb", buffering=_READ_BUFFER) as raw:
                stream: IO[bytes]
                if compressed:
                    stream = io.BufferedReader(
                        gzip.GzipFile(fileobj=raw, mode="rb"), buffer_size=_READ_BUFFER
                    )
                    offset = None
                else:
                    stream = raw
                    if offset is not None and not _at_line_start(raw, offset):
                        offset = None
                yield from self._stream(stream, skip_lines, offset, compressed)
        except OSError as exc:
            # Includes gzip.BadGzipFile; a truncated gzip raises EOFError, handled below.
            raise SourceError(f"cannot read snapshot file {self.path}: {exc}") from exc
        except EOFError as exc:
            raise SourceError(f"snapshot file {self.path} is truncated: {exc}") from exc
        except zlib.error as exc:
            raise SourceError(f"snapshot file {self.path} is corrupt: {exc}") from exc

    def _stream(
        self, stream: IO[bytes], skip_lines: int, offset: int | None, compressed: bool
    ) -> Iterator[Parsed]:
        line_no = 0
        if offset is not None:
            stream.seek(offset)
            line_no = skip_lines
        else:
            for _ in range(skip_lines):
                if not stream.readline():
                    return
                line_no += 1
            offset = None if compressed else stream.tell()
        for line in stream:
            line_no += 1
            if offset is None:
                cursor = str(line_no)
            else:
                offset += len(line)
                cursor = f"{line_no}@{offset}"
            if line.isspace():
                continue
            yield Parsed(parse_line(line, line_no), line_no, cursor)


def _parse_cursor(cursor: str | None) -> tuple[int, int | None]:
    if cursor is None:
        return 0, None
    match = _CURSOR.match(cursor)
    if not match:
        raise InvalidInputError(f"not a snapshot cursor: {cursor!r} (expected LINE or LINE@OFFSET)")
    offset = match.group("offset")
    return int(match.group("line")), int(offset) if offset is not None else None


def _at_line_start(raw: IO[bytes], offset: int) -> bool:
    """Whether ``offset`` is the start of a line, so seeking there is safe."""
    if offset == 0:
        return True
    raw.seek(offset - 1)
    ok = raw.read(1) == b"\n"
    raw.seek(0)
    return ok


def parse_line(line: bytes, position: int) -> Paper | Rejection:
    """Turn one snapshot line into a Paper, or a Rejection saying why it cannot be one."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Rejection(
            position,
            f"not valid UTF-8: byte 0x{line[exc.start]:02x} at column {exc.start + 1}",
        )
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        return Rejection(position, f"invalid JSON: {exc.msg} at column {exc.colno}")
    if not isinstance(record, dict):
        return Rejection(position, f"expected a JSON object, got {type(record).__name__}")
    raw_id = record.get("id")
    ident = raw_id if isinstance(raw_id, str) and raw_id else None
    try:
        return _paper(record, ident)
    except _BadRecord as exc:
        return Rejection(position, str(exc), ident)


def _paper(record: dict[str, Any], raw_id: str | None) -> Paper:
    if raw_id is None:
        raise _BadRecord("missing id")
    try:
        arxiv_id, _ = split_arxiv_id(raw_id)
    except ValueError as exc:
        raise _BadRecord(str(exc)) from exc
    title = record.get("title")
    if not isinstance(title, str) or not title.strip():
        raise _BadRecord("missing title")
    abstract = record.get("abstract")
    if not isinstance(abstract, str):
        raise _BadRecord("missing abstract")
    versions = _versions(record.get("versions"))
    categories = tuple(_text(record, "categories").split())
    updated_at = versions[-1].submitted_at if versions else _update_date(record)
    return Paper(
        title=collapse_whitespace(title),
        abstract=collapse_whitespace(abstract),
        arxiv_id=arxiv_id,
        version=versions[-1].number if versions else None,
        versions=versions,
        doi=_optional(record, "doi"),
        authors=_authors(record),
        categories=categories,
        primary_category=categories[0] if categories else None,
        published_at=versions[0].submitted_at if versions else None,
        updated_at=updated_at,
        license=_optional(record, "license"),
        comments=_optional(record, "comments"),
        journal_ref=_optional(record, "journal-ref"),
        abs_url=f"https://arxiv.org/abs/{arxiv_id}",
        pdf_url=f"https://arxiv.org/pdf/{arxiv_id}",
        source=SOURCE_NAME,
    )


def _text(record: dict[str, Any], key: str) -> str:
    value = record.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _BadRecord(f"{key} is {type(value).__name__}, not a string")
    return value


def _optional(record: dict[str, Any], key: str) -> str | None:
    """A free-text field with its line breaks joined; empty means absent."""
    return " ".join(_text(record, key).split()) or None


def _versions(raw: object) -> tuple[Version, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise _BadRecord("versions is not a list")
    versions = []
    for entry in raw:
        if not isinstance(entry, dict):
            raise _BadRecord("a version is not an object")
        label = entry.get("version")
        match = _VERSION.match(label) if isinstance(label, str) else None
        if match is None:
            raise _BadRecord(f"bad version label {label!r}")
        created = entry.get("created")
        if not isinstance(created, str):
            raise _BadRecord(f"version {label} has no date")
        versions.append(Version(int(match.group(1)), parse_rfc2822(created)))
    versions.sort(key=lambda version: version.number)
    return tuple(versions)


def parse_rfc2822(value: str) -> datetime:
    """``"Mon, 2 Apr 2007 19:18:42 GMT"`` as an aware UTC datetime.

    The snapshot always writes this fixed GMT form, so it is parsed by hand
    (four times faster than ``strptime``); anything else goes through
    :func:`email.utils.parsedate_to_datetime`. An impossible date raises
    :class:`_BadRecord`.
    """
    parts = value.split()
    try:
        if len(parts) == 6 and parts[5] == "GMT" and len(parts[4]) == 8:
            clock = parts[4]
            return datetime(
                int(parts[3]),
                _MONTHS[parts[2]],
                int(parts[1]),
                int(clock[0:2]),
                int(clock[3:5]),
                int(clock[6:8]),
                tzinfo=UTC,
            )
        parsed = email.utils.parsedate_to_datetime(value)
    except (KeyError, ValueError, TypeError, IndexError) as exc:
        raise _BadRecord(f"impossible date {value!r}: {exc}") from exc
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _update_date(record: dict[str, Any]) -> datetime | None:
    value = _text(record, "update_date")
    if not value:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError as exc:
        raise _BadRecord(f"impossible update_date {value!r}") from exc


def _authors(record: dict[str, Any]) -> tuple[str, ...]:
    """Authors in order: from ``authors_parsed`` (accents decoded), else the free-text field."""
    parsed = record.get("authors_parsed")
    if isinstance(parsed, list) and parsed:
        names = []
        for entry in parsed:
            if not isinstance(entry, list):
                raise _BadRecord("an entry of authors_parsed is not a list")
            # [last, first, suffix, affiliation...]: the affiliation is not part of the name.
            last = entry[0] if entry else ""
            first = entry[1] if len(entry) > 1 else ""
            suffix = entry[2] if len(entry) > 2 else ""
            if not all(isinstance(part, str) for part in (last, first, suffix)):
                raise _BadRecord("an author name is not a string")
            if "-" in first:
                first = _SPLIT_INITIALS.sub(".-", first)
            name = " ".join(f"{first} {last} {suffix}".split())
            if name:
                names.append(name)
        return tuple(names)
    text = " ".join(_text(record, "authors").split())
    return tuple(name for name in _AUTHOR_SEPARATOR.split(text) if name)

"""Hugging Face daily papers (``/api/daily_papers``): the community's picks of the day.

The API answers a JSON array of items; :mod:`paperfeed.ingest.hf_item` turns each one
into a :class:`~paperfeed.models.Paper` featured on the day Hugging Face listed it,
or into a :class:`~paperfeed.models.Rejection` at its 1-based place when it cannot be
one. A body that is not a JSON array is a :class:`~paperfeed.errors.SourceError`:
nothing in it can be trusted. Archives of many days (one item a line, such as
``shared/data/hf_daily_archive/hf_daily_archive.jsonl.gz``) are read line by line,
plain or gzip; a line that is not JSON is rejected at its line number. A paper listed
on several days becomes one record, featured on the first.

:class:`HfDailySource` reads either from a file or the live API through a
:class:`~paperfeed.ingest.http.Fetcher`.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path

from paperfeed.config import Settings
from paperfeed.errors import SourceError
from paperfeed.ingest.decide import merge
from paperfeed.ingest.hf_item import SOURCE_NAME, parse_item
from paperfeed.ingest.http import Fetcher
from paperfeed.models import Paper, Parsed, Rejection

__all__ = ["SOURCE_NAME", "HfDailySource", "parse_daily_lines", "parse_daily_papers"]

_GZIP_MAGIC = b"\x1f\x8b"


def parse_daily_papers(data: bytes | str, *, day: date | None = None) -> Iterator[Parsed]:
    """Parse one ``/api/daily_papers`` response into records, one per item, in order.

    ``day`` is the list asked for; it features only items that name no day themselves.
    Raises :class:`SourceError` when ``data`` is not a JSON array.
    """
    try:
        items = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SourceError(f"Hugging Face daily papers: invalid JSON: {exc}") from exc
    if not isinstance(items, list):
        raise SourceError(
            f"Hugging Face daily papers: expected a JSON array, got {type(items).__name__}"
        )
    for position, item in enumerate(items, 1):
        yield Parsed(parse_item(item, position, day), position)


def parse_daily_lines(lines: Iterable[str | bytes], *, day: date | None = None) -> Iterator[Parsed]:
    """Parse JSON lines, one item a line (blank lines skipped); the position is the line number."""
    for position, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            yield Parsed(Rejection(position, f"not a JSON line: {exc}"), position)
            continue
        yield Parsed(parse_item(item, position, day), position)


def collapse_repeats(records: Iterable[Parsed]) -> list[Parsed]:
    """One record per paper: a paper listed again (an archive of many days holds a few)
    is merged into its first listing, as a later run would merge it into the stored paper
    (:func:`~paperfeed.ingest.decide.merge`: featured on the first day, latest counts)."""
    out: list[Parsed] = []
    first: dict[str, int] = {}
    for record in records:
        item = record.item
        if isinstance(item, Paper) and item.arxiv_id is not None:
            at = first.get(item.arxiv_id)
            if at is not None:
                earlier = out[at]
                assert isinstance(earlier.item, Paper)
                out[at] = replace(earlier, item=merge(earlier.item, item))
                continue
            first[item.arxiv_id] = len(out)
        out.append(record)
    return out


def is_json_lines(data: bytes) -> bool:
    """Whether a (decompressed) file holds JSON lines rather than one JSON array."""
    return not data.lstrip().startswith(b"[")


class HfDailySource:
    """Daily papers from a saved ``/api/daily_papers`` file or from the live API.

    ``location`` is a file path, or an ``http(s)://`` URL fetched through
    ``fetcher`` (with ``?date=YYYY-MM-DD`` when ``day`` is given). The response is
    small (one day's list), so it is read whole and the job is simply rerun when
    interrupted: ``checkpoint_key`` is ``None`` and cursors are ``None``.
    """

    name = SOURCE_NAME

    def __init__(
        self, location: str | Path, *, day: date | None = None, fetcher: Fetcher | None = None
    ) -> None:
        self.location = location
        self.day = day
        self.fetcher = fetcher
        self._total: int | None = None

    @classmethod
    def for_day(cls, settings: Settings, day: date, fetcher: Fetcher) -> HfDailySource:
        """The live list of ``day`` from ``settings.hf_daily_papers_url``."""
        return cls(settings.hf_daily_papers_url, day=day, fetcher=fetcher)

    @property
    def is_remote(self) -> bool:
        return isinstance(self.location, str) and self.location.startswith(("http://", "https://"))

    @property
    def checkpoint_key(self) -> str | None:
        return None

    @property
    def total(self) -> int | None:
        """The number of items, known once the response has been read."""
        return self._total

    def records(self, cursor: str | None) -> Iterator[Parsed]:
        """Yield every item of the list (``cursor`` is ignored: the job is rerun whole)."""
        data = self._fetch() if self.is_remote else self._read()
        if not self.is_remote and is_json_lines(data):
            records = collapse_repeats(parse_daily_lines(data.splitlines(), day=self.day))
        else:
            records = collapse_repeats(parse_daily_papers(data, day=self.day))
        self._total = len(records)
        yield from records

    def _read(self) -> bytes:
        path = Path(self.location)
        try:
            data = path.read_bytes()
            return gzip.decompress(data) if data.startswith(_GZIP_MAGIC) else data
        except (OSError, EOFError) as exc:
            raise SourceError(f"cannot read Hugging Face daily papers file {path}: {exc}") from exc

    def _fetch(self) -> bytes:
        url = str(self.location)
        params = {"date": self.day.isoformat()} if self.day is not None else None
        if self.fetcher is None:
            with Fetcher() as fetcher:
                response = fetcher.get(url, params=params)
        else:
            response = self.fetcher.get(url, params=params)
        if response.status_code != 200:
            raise SourceError(
                f"{response.url} answered HTTP {response.status_code}: {response.text[:200]!r}"
            )
        return response.content

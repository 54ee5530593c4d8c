"""arXiv's OAI-PMH ``ListRecords`` (bulk harvest), in the ``arXivRaw`` or ``arXiv`` format.

``arXivRaw`` (the default) carries every version with its date and size;
``arXiv`` carries structured author names but no version history. Both are
read by :mod:`paperfeed.ingest.oai_records`; this module is the harvest that asks
for the pages and keeps its place.

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
from datetime import date
from typing import Any

from paperfeed.clock import Clock
from paperfeed.config import Settings
from paperfeed.errors import InvalidInputError, SourceError
from paperfeed.ingest.arxiv_api import arxiv_fetcher
from paperfeed.ingest.http import Fetcher
from paperfeed.ingest.oai_records import SOURCE_NAME, OaiPage, parse_page, record_to_paper
from paperfeed.models import Parsed

METADATA_PREFIXES = ("arXivRaw", "arXiv")
_SET = re.compile(r"^[a-z-]+(?::[a-z-]+(?::[A-Za-z-]+)?)?$")


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
        return cls(
            arxiv_fetcher(settings, clock),
            settings.arxiv_oai_url,
            set_spec=set_spec,
            from_date=from_date,
            until=until,
            metadata_prefix=metadata_prefix,
        )

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
        """Yield the harvest's records after ``cursor``, following resumption tokens; the
        fetcher's connection is closed at the end (:meth:`Fetcher.close`)."""
        start = self.from_date.isoformat() if self.from_date else None
        state = _State.load(cursor) if cursor else _State(from_=start)
        try:
            yield from self._records(state, start)
        finally:
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

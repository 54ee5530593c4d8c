"""Seeds: the papers a member says they like before the hub knows them, pasted as arXiv
ids or links, or exported from a reference manager (Zotero, Mendeley) as BibTeX or RIS.
Pure parsing into references (arXiv ids, DOIs, titles) that the store then matches."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from itertools import pairwise

from paperfeed.models import normalise_title, split_arxiv_id

#: At most this many references are read from one paste or file.
MAX_REFERENCES = 2_000

_NEW_ID = re.compile(r"(?<![\d.])(\d{4}\.\d{4,5})(?:v\d+)?(?![\d])")
_OLD_ID = re.compile(r"(?<![\w/.-])([a-z][a-z.-]*(?:\.[A-Z]{2})?/\d{7})(?:v\d+)?")
_DOI = re.compile(r"\b(10\.\d{4,9}/[^\s\"'{}<>,;]+)", re.IGNORECASE)
_BIB_ENTRY = re.compile(r"@\w+\s*\{", re.IGNORECASE)
_BIB_FIELD = re.compile(r"(\w+)\s*=\s*(\{(?:[^{}]|\{[^{}]*\})*\}|\"[^\"]*\")", re.DOTALL)
_RIS_LINE = re.compile(r"^([A-Z][A-Z0-9])  - ?(.*)$")


@dataclass(frozen=True)
class References:
    arxiv_ids: tuple[str, ...] = ()
    dois: tuple[str, ...] = ()
    #: Normalised titles (:func:`paperfeed.models.normalise_title`).
    title_keys: tuple[str, ...] = ()
    found: int = field(default=0)


def _arxiv_ids(text: str) -> list[str]:
    found = []
    for pattern in (_NEW_ID, _OLD_ID):
        for match in pattern.finditer(text):
            try:
                found.append(split_arxiv_id(match.group(1))[0])
            except ValueError:
                continue
    return found


def _doi(text: str) -> str | None:
    match = _DOI.search(text)
    return match.group(1).rstrip(".").lower() if match else None


def _bibtex(text: str) -> list[dict[str, str]]:
    entries = []
    starts = [m.start() for m in _BIB_ENTRY.finditer(text)] + [len(text)]
    for start, end in pairwise(starts):
        fields = {
            name.lower(): value[1:-1].replace("{", "").replace("}", "").strip()
            for name, value in _BIB_FIELD.findall(text[start:end])
        }
        entries.append(fields)
    return entries


def _ris(text: str) -> list[dict[str, str]]:
    entries: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for line in text.splitlines():
        match = _RIS_LINE.match(line.rstrip())
        if not match:
            continue
        tag, value = match.group(1), match.group(2).strip()
        if tag == "ER":
            entries.append(current)
            current = {}
        elif tag in ("TI", "T1") and "title" not in current:
            current["title"] = value
        elif tag == "DO":
            current["doi"] = value
        elif tag in ("UR", "L1", "L2", "N1", "AB", "JO", "JF", "T2"):
            current[f"text-{tag}"] = current.get(f"text-{tag}", "") + " " + value
    if current:
        entries.append(current)
    return entries


def parse_references(text: str) -> References:
    """arXiv ids, DOIs and titles of a paste or a BibTeX / RIS file, each once, in order.

    A BibTeX or RIS entry contributes its arXiv id (``eprint``, a URL, a note), else its
    DOI, else its title; plain text contributes every arXiv id and DOI it holds.
    """
    if _BIB_ENTRY.search(text):
        entries = _bibtex(text)
    elif re.search(r"^TY  -", text, flags=re.MULTILINE):
        entries = _ris(text)
    else:
        pasted = list(dict.fromkeys(_arxiv_ids(text)))
        found = list(dict.fromkeys(m.group(1).rstrip(".").lower() for m in _DOI.finditer(text)))
        return References(
            tuple(pasted[:MAX_REFERENCES]),
            tuple(found[:MAX_REFERENCES]),
            (),
            len(pasted) + len(found),
        )
    arxiv: list[str] = []
    dois: list[str] = []
    titles: list[str] = []
    for entry in entries[:MAX_REFERENCES]:
        blob = " ".join(v for k, v in entry.items() if k != "title")
        ids = _arxiv_ids(blob)
        doi = entry.get("doi", "").lower().strip() or _doi(blob)
        title = normalise_title(entry.get("title", ""))
        if ids:
            arxiv.append(ids[0])
        elif doi:
            dois.append(doi)
        if title:
            titles.append(title)
    return References(
        tuple(dict.fromkeys(arxiv)),
        tuple(dict.fromkeys(dois)),
        tuple(dict.fromkeys(titles)),
        len(entries),
    )

"""The docs keep up with the code: every repository path named in docs/*.md, README.md and
the docstrings of src/, tests/ and bench/ exists, and docs/design.md stays newest last.

A path is a word like ``docs/deploy.md``, ``src/paperfeed/cli/base.py``, ``deliver/routes/``
or ``store/migrations/versions/0001_papers.py``: it starts with a folder of the repository
(or of the package, as the docs write ``deliver/web/deps.py``) and ends with a file
extension or a ``/``. It may be written from the repository root, from ``src/`` or from
``src/paperfeed/``. Paths outside the repository (``../shared/...``), URLs, and ones with a
placeholder (``<name>``, ``{id}``, ``*``) are not checked; CHANGES.md is history and is not
checked either.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "paperfeed"
#: First segments that make a word a repository path.
FOLDERS = {"src", "docs", "bench", "tests", "scripts", "frontend", "requirements", ".ci"} | {
    p.name for p in PACKAGE.iterdir() if p.is_dir() and not p.name.startswith("__")
}
_WORD = re.compile(r"(?<![\w./:<{*-])((?:[\w.-]+/)+[\w.-]*)(?![\w/<{*])")


def paths_in(text: str) -> Iterator[str]:
    for match in _WORD.finditer(text):
        path = match.group(1).rstrip(".,;:")
        last = path.rsplit("/", 1)[-1]
        if path.split("/", 1)[0] not in FOLDERS:
            continue
        if not (path.endswith("/") or "." in last):
            continue  # "docs/s" (documents per second), a module named without .py
        yield path


def exists(path: str) -> bool:
    return any((base / path).exists() for base in (ROOT, ROOT / "src", PACKAGE))


def documents() -> Iterator[tuple[str, str]]:
    """(where, text): each Markdown file, and each docstring of the Python sources."""
    for md in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        yield str(md.relative_to(ROOT)), md.read_text(encoding="utf-8")
    for folder in ("src", "tests", "bench"):
        for source in sorted((ROOT / folder).rglob("*.py")):
            text = source.read_text(encoding="utf-8")
            if all(exists(path) for path in paths_in(text)):
                continue  # nothing missing anywhere in the file: no need to find its docstrings
            tree = ast.parse(text)
            for node in ast.walk(tree):
                if isinstance(
                    node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef
                ):
                    doc = ast.get_docstring(node)
                    if doc:
                        where = f"{source.relative_to(ROOT)}:{getattr(node, 'lineno', 1)}"
                        yield where, doc


def test_every_named_path_exists() -> None:
    missing = sorted(
        f"{where}: {path}"
        for where, text in documents()
        for path in paths_in(text)
        if not exists(path)
    )
    assert not missing, "paths named in the docs that do not exist:\n" + "\n".join(missing)


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("see docs/deploy.md.", ["docs/deploy.md"]),
        (
            "in `deliver/web/deps.py` and deliver/routes/",
            ["deliver/web/deps.py", "deliver/routes/"],
        ),
        ("src/paperfeed/store/migrations/versions/0001_papers.py", None),
        ("5,000 docs/s and 12 docs/cpu-s", []),
        ("https://example.org/docs/page.md and ../shared/docs/stack.md", []),
        ("test-output/screenshots/<name>.png, tests/fixtures/{name}.json", []),
    ],
)
def test_what_counts_as_a_path(text: str, found: list[str] | None) -> None:
    assert list(paths_in(text)) == (found if found is not None else [text])


def test_a_missing_path_is_reported() -> None:
    assert not exists("docs/stack.md")
    assert exists("docs/deploy.md") and exists("deliver/web/deps.py")


def test_design_decisions_are_newest_last() -> None:
    """docs/design.md is newest last: the sections of before dated headings in the order
    their issues were taken up, then the dated ones ("## YYYY-MM-DD: ...") by date. A later
    decision adds a section or a point, and marks what it supersedes, instead of rewriting
    an earlier one in place."""
    headings = re.findall(r"^## (.+)$", (ROOT / "docs" / "design.md").read_text(), re.MULTILINE)
    dated = [h for h in headings if re.match(r"\d{4}-\d{2}-\d{2}: ", h)]
    undated = headings[: len(headings) - len(dated)]
    assert headings[len(undated) :] == dated, "a section without a date after dated ones"
    issues = [max((int(n) for n in re.findall(r"#(\d+)", h)), default=0) for h in undated]
    assert all(issues), f"a section names no issue: {undated}"
    assert issues == sorted(issues), list(zip(undated, issues, strict=True))
    days = [h[:10] for h in dated]
    assert days == sorted(days), dated

"""The vendored front-end files are all here, at the pinned versions, with every font the CSS names.

They are refreshed by ``bash scripts/vendor_assets.sh`` from the versions pinned in
``frontend/package.json`` (see ``src/paperfeed/deliver/static/vendor/README.md``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FRONTEND = ROOT / "frontend"
VENDOR = ROOT / "src" / "paperfeed" / "deliver" / "static" / "vendor"
AXE = ROOT / "tests" / "browser" / "vendor" / "axe-core"  # the browser tests' only

FILES = [
    "katex/katex.min.js",
    "katex/katex.min.css",
    "katex/contrib/auto-render.min.js",
    "katex/LICENSE",
    "htmx/htmx.min.js",
    "htmx/LICENSE",
    "swagger-ui/swagger-ui-bundle.js",
    "swagger-ui/swagger-ui.css",
    "swagger-ui/LICENSE",
    "swagger-ui/NOTICE",
    "README.md",
]
_URL = re.compile(r"url\(\s*['\"]?([^'\")]+)['\"]?\s*\)")
_FONT_FACE = re.compile(r"@font-face\s*\{([^}]*)\}")


def _pinned() -> dict[str, str]:
    return dict(json.loads((FRONTEND / "package.json").read_text())["dependencies"])


def _css() -> str:
    return (VENDOR / "katex" / "katex.min.css").read_text()


@pytest.mark.parametrize("name", FILES)
def test_vendored_file_is_present(name: str) -> None:
    path = VENDOR / name
    assert path.is_file(), f"{name} is missing: run `bash scripts/vendor_assets.sh`"
    assert path.stat().st_size > 0


def test_versions_are_pinned_exactly_and_locked() -> None:
    pinned = _pinned()
    assert set(pinned) == {"katex", "htmx.org", "swagger-ui-dist", "axe-core"}
    lock = json.loads((FRONTEND / "package-lock.json").read_text())
    for package, version in pinned.items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"{package} {version!r} is not exact"
        assert lock["packages"][""]["dependencies"][package] == version
        assert lock["packages"][f"node_modules/{package}"]["version"] == version


def test_vendored_files_are_the_pinned_versions() -> None:
    pinned = _pinned()
    katex, htmx = pinned["katex"], pinned["htmx.org"]
    assert f'version:"{katex}"' in (VENDOR / "katex" / "katex.min.js").read_text()
    assert f'.katex-version:after{{content:"{katex}"}}' in _css()
    assert f'version:"{htmx}"' in (VENDOR / "htmx" / "htmx.min.js").read_text()
    swagger = pinned["swagger-ui-dist"]
    assert (
        f'PACKAGE_VERSION:"{swagger}"'
        in (VENDOR / "swagger-ui" / "swagger-ui-bundle.js").read_text()
    )
    readme = (VENDOR / "README.md").read_text()
    assert f"| {katex} |" in readme and f"| {htmx} |" in readme, "update the vendor README"
    assert f"| {swagger} |" in readme, "update the vendor README"
    axe = pinned["axe-core"]
    assert f"axe v{axe}" in (AXE / "axe.min.js").read_text()[:300]
    assert (AXE / "LICENSE").is_file()
    assert f"| {axe} |" in readme, "update the vendor README"


def test_every_url_in_katex_css_is_a_vendored_woff2_font() -> None:
    urls = set(_URL.findall(_css()))
    assert urls, "katex.min.css names no fonts: did its format change?"
    missing = sorted(u for u in urls if not (VENDOR / "katex" / u).is_file())
    assert not missing, f"katex.min.css names files that are not vendored: {missing}"
    assert all(re.fullmatch(r"fonts/[\w-]+\.woff2", u) for u in urls), sorted(urls)
    fonts = {f"fonts/{p.name}" for p in (VENDOR / "katex" / "fonts").iterdir()}
    assert fonts == urls, f"fonts the CSS never names: {sorted(fonts - urls)}"


def test_each_font_face_loads_woff2_first() -> None:
    faces = _FONT_FACE.findall(_css())
    assert len(faces) >= 10
    for face in faces:
        first = _URL.search(face)
        assert first is not None and first.group(1).endswith(".woff2"), face


def test_licences_are_the_expected_ones() -> None:
    assert "MIT License" in (VENDOR / "katex" / "LICENSE").read_text()
    assert "Zero-Clause BSD" in (VENDOR / "htmx" / "LICENSE").read_text()
    assert "Apache License" in (VENDOR / "swagger-ui" / "LICENSE").read_text()


def test_the_api_page_is_served_from_the_package() -> None:
    """``/docs`` loads Swagger UI from this site only: no CDN, nothing unpinned."""
    from paperfeed.deliver.web.api_docs import DOCS_PAGE

    sources = re.findall(r'(?:src|href)="([^"]+)"', DOCS_PAGE)
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in sources
    assert "/static/vendor/swagger-ui/swagger-ui.css" in sources
    assert all(s.startswith("/static/") for s in sources), sources
    static = VENDOR.parent
    assert all((static / s.removeprefix("/static/")).is_file() for s in sources), sources

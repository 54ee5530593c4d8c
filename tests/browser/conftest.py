"""Browser tests: Debian's Chromium driven by Playwright against the real app in a subprocess.

Fixtures:

- ``browser`` (module): headless ``/usr/bin/chromium`` launched through the ``playwright``
  package. Playwright's own browser download (``playwright install``) is never used. With
  Chromium or Playwright missing the tests skip with install advice, but fail when ``CI``
  is set, so CI never passes by skipping.
- ``start_server`` (session): a factory, ``start_server(db_url, env=None) -> LiveServer``,
  that runs ``python -m paperfeed serve`` on a free loopback port on a database of the
  caller's (say one with embeddings), waits for ``/healthz`` and stops it at session end.
- ``sample_db_url`` (session): a migrated database of the pass's kind (``--database``) with
  the bundled sample papers, embedded; ``make_sample_db(embed=...)`` builds another.
- ``live_server`` (session): the base URL of the app serving ``sample_db_url``.
- ``page`` (function): a fresh context and page; any JS error (console ``error`` message or
  uncaught exception) fails the test at teardown. ``phone_page`` is the same at 390x844;
  ``make_page(**context_options)`` opens more, with the same error collection.
- ``console_errors`` (function): the errors collected so far; a test that expects an error
  removes it from the list.
- ``screenshot`` (function): ``screenshot(name, page=None) -> Path`` writes
  ``test-output/screenshots/<name>.png`` at the repository root; names must be unique.

Every server sees the same frozen clock (``FROZEN_TIME``), so "today" is fixed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, Protocol

import pytest

from ports import free_port
from tests_support import NewDatabase

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Error, Page

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-output" / "screenshots"
CHROMIUM = Path(os.environ.get("PAPERFEED_TEST_CHROMIUM", "/usr/bin/chromium"))
# Playwright adds --headless and a fresh temporary --user-data-dir itself (it refuses a
# --user-data-dir in args); the rest keep Chromium off this machine's closed network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
FROZEN_TIME = "2026-11-23T15:00:00+00:00"
HEALTH_TIMEOUT_S = 60.0
PORT_ATTEMPTS = 3
INSTALL_ADVICE = "install with: pip install -e '.[dev]' && bash scripts/ensure_chromium.sh"

_REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "browser: drives headless Chromium against a live server (tests/browser)"
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Keep each phase's report on the test item, so ``make_page`` knows if the test failed."""
    report = yield
    item.stash.setdefault(_REPORTS, {})[report.when] = report
    return report


def _unavailable(reason: str) -> NoReturn:
    """Skip locally, fail in CI: a browser suite that silently skips proves nothing."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so this fails instead of skipping)", pytrace=False)
    pytest.skip(f"{reason}; {INSTALL_ADVICE}")


# -- the browser -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Chromium, started once per test module (about 0.7 s).

    Not once per session: while Playwright's sync API is started it marks an asyncio loop
    as running in this thread, so ``asyncio.run()`` in any other test of the same process
    would fail. Module scope stops it before pytest moves on to another module.
    """
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the Python package playwright is not installed")
    if not os.access(CHROMIUM, os.X_OK):
        _unavailable(f"Chromium is not installed at {CHROMIUM}")
    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
    except Exception:
        playwright.stop()
        raise
    try:
        yield chromium
    finally:
        chromium.close()
        playwright.stop()


@pytest.fixture
def console_errors() -> list[str]:
    return []


@pytest.fixture
def make_page(
    browser: Browser, console_errors: list[str], request: pytest.FixtureRequest
) -> Iterator[Callable[..., Page]]:
    """Open a page in a new context (keyword arguments go to ``browser.new_context``).

    When the test fails, each page it opened is saved as
    ``test-output/screenshots/failed-<test>-<n>.png``.
    """
    contexts: list[BrowserContext] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        where = message.location.get("url", "")
        # Chromium asks for /favicon.ico on its own, whatever the page links; its 404 is
        # no error of the page's (a missing script or stylesheet still counts).
        if urllib.parse.urlsplit(where).path == "/favicon.ico":
            return
        console_errors.append(f"console error: {message.text}" + (f" ({where})" if where else ""))

    def on_pageerror(error: Error) -> None:
        console_errors.append(f"uncaught exception: {error.message}")

    def open_page(**context_options: Any) -> Page:
        context_options.setdefault("viewport", DESKTOP)
        context = browser.new_context(**context_options)
        context.set_default_timeout(10_000)
        contexts.append(context)
        new = context.new_page()
        new.on("console", on_console)
        new.on("pageerror", on_pageerror)
        return new

    yield open_page
    call = request.node.stash.get(_REPORTS, {}).get("call")
    if call is not None and call.failed:
        _save_failure_screenshots(request.node.name, contexts)
    for context in contexts:
        context.close()
    if console_errors:
        pytest.fail("JavaScript errors on the page:\n" + "\n".join(console_errors), pytrace=False)


def _save_failure_screenshots(test_name: str, contexts: list[BrowserContext]) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    stem = "failed-" + "".join(c if c.isalnum() or c in "-_" else "_" for c in test_name)
    pages = [p for context in contexts for p in context.pages]
    for n, open_page in enumerate(pages, 1):
        try:
            open_page.screenshot(path=str(SCREENSHOTS / f"{stem}-{n}.png"), full_page=True)
        except Exception as exc:  # the page may be what broke; the test's own error matters
            print(f"could not save a screenshot of {open_page.url}: {exc}", file=sys.stderr)


@pytest.fixture
def page(make_page: Callable[..., Page]) -> Page:
    """A desktop-sized page (1280x900)."""
    return make_page()


@pytest.fixture
def phone_page(make_page: Callable[..., Page]) -> Page:
    """A phone-sized page (390x844, mobile viewport rules and touch)."""
    return make_page(viewport=PHONE, is_mobile=True, has_touch=True)


class Screenshot(Protocol):
    def __call__(self, name: str, page: Page | None = None, *, full_page: bool = False) -> Path: ...


@pytest.fixture
def screenshot(request: pytest.FixtureRequest) -> Screenshot:
    """``screenshot(name)`` saves the test's page (or the one given) as a PNG."""

    def take(name: str, page: Page | None = None, *, full_page: bool = False) -> Path:
        target = page if page is not None else request.getfixturevalue("page")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        target.screenshot(path=str(path), full_page=full_page)
        return path

    return take


# -- the server ------------------------------------------------------------------------------


@dataclass
class LiveServer:
    """A running ``paperfeed serve``; ``url`` has no trailing slash."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path
    env: dict[str, str] = field(repr=False)

    def log_tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def _server_env(db_url: str, workdir: Path, extra: Mapping[str, str] | None) -> dict[str, str]:
    """This process's environment less any PAPERFEED_* of the caller's shell, plus ours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERFEED_")}
    env.update(
        PAPERFEED_DATABASE_URL=db_url,
        PAPERFEED_FROZEN_TIME=FROZEN_TIME,
        PAPERFEED_INDEX_DIR=str(workdir / "index"),
        PYTHONUNBUFFERED="1",
    )
    env.update(extra or {})
    return env


def _paperfeed(args: list[str], env: Mapping[str, str], cwd: Path) -> None:
    """Run ``python -m paperfeed ARGS`` to completion; fail the test with its output if not 0."""
    done = subprocess.run(
        [sys.executable, "-m", "paperfeed", *args],
        env=dict(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(
            f"paperfeed {' '.join(args)} exited {done.returncode}:\n{done.stdout}{done.stderr}",
            pytrace=False,
        )


def prepare_sample_db(
    directory: Path,
    *,
    embed: bool = False,
    env: Mapping[str, str] | None = None,
    db_url: str | None = None,
) -> str:
    """Load the 660 seed-page papers (``ingest sample --seed-pages``) into ``db_url`` (default:
    a new SQLite file in ``directory``), migrating it first, with ``paperfeed`` commands run
    in ``directory``; return its URL."""
    directory.mkdir(parents=True, exist_ok=True)
    db_url = db_url or f"sqlite:///{directory / 'paperfeed.db'}"
    full_env = _server_env(db_url, directory, env)
    _paperfeed(["migrate"], full_env, directory)
    embedding = "--embed" if embed else "--no-embed"
    _paperfeed(["ingest", "sample", "--seed-pages", embedding], full_env, directory)
    return db_url


def _wait_healthy(server: LiveServer, deadline_s: float) -> None:
    deadline = time.monotonic() + deadline_s
    last = "no answer yet"
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"paperfeed serve exited {server.process.returncode} before answering:\n"
                + server.log_tail()
            )
        try:
            with urllib.request.urlopen(f"{server.url}/healthz", timeout=2) as response:
                if response.status == 200:
                    return
                last = f"status {response.status}"
        except urllib.error.HTTPError as exc:
            last = f"status {exc.code}"
        except OSError as exc:
            last = str(exc)
        time.sleep(0.1)
    raise RuntimeError(
        f"{server.url}/healthz did not answer 200 within {deadline_s:.0f} s ({last}):\n"
        + server.log_tail()
    )


def _spawn(env: dict[str, str], workdir: Path, port: int, log: Path) -> LiveServer:
    command = [sys.executable, "-m", "paperfeed", "serve", "--host", "127.0.0.1"]
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*command, "--port", str(port)],
            env=env,
            cwd=workdir,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return LiveServer(f"http://127.0.0.1:{port}", process, log, env)


StartServer = Callable[..., LiveServer]


@pytest.fixture(scope="session")
def start_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StartServer]:
    """``start_server(db_url, env=None)``: serve ``db_url`` until the session ends."""
    servers: list[LiveServer] = []

    def start(db_url: str, env: Mapping[str, str] | None = None) -> LiveServer:
        workdir = tmp_path_factory.mktemp("server")
        full_env = _server_env(db_url, workdir, env)
        for attempt in range(1, PORT_ATTEMPTS + 1):
            # The free port is only free when asked: another process may take it first.
            server = _spawn(full_env, workdir, free_port(), workdir / f"server-{attempt}.log")
            servers.append(server)
            try:
                _wait_healthy(server, HEALTH_TIMEOUT_S)
            except RuntimeError as exc:
                server.stop()
                if attempt < PORT_ATTEMPTS and "address already in use" in str(exc).lower():
                    continue
                pytest.fail(str(exc), pytrace=False)
            return server
        raise AssertionError("unreachable")

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def make_sample_db(
    tmp_path_factory: pytest.TempPathFactory, new_database: NewDatabase
) -> Callable[..., str]:
    """``make_sample_db(embed=False, env=None)``: a new database of the pass's kind with the
    sample papers."""

    def make(*, embed: bool = False, env: Mapping[str, str] | None = None) -> str:
        directory = tmp_path_factory.mktemp("sample-db")
        return prepare_sample_db(directory, embed=embed, env=env, db_url=new_database(directory))

    return make


#: The browser tests embed with the bundled static model: seconds instead of minutes for 660
#: papers, and the same code paths as the transformer.
BROWSER_ENV = {"PAPERFEED_EMBEDDER": "static"}


@pytest.fixture(scope="session")
def sample_db_url(make_sample_db: Callable[..., str]) -> str:
    return make_sample_db(embed=True, env=BROWSER_ENV)


@pytest.fixture(scope="session")
def live_server(start_server: StartServer, sample_db_url: str) -> str:
    """Base URL (no trailing slash) of the app serving the sample papers, embedded."""
    return start_server(sample_db_url, BROWSER_ENV).url

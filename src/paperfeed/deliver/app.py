"""The web application: ``create_app(settings)`` builds it; nothing happens at import.

Every router of :mod:`paperfeed.deliver.routes.site` is included, the services of
:mod:`paperfeed.deliver.web.services` are built once (``app.state.services``), and pages,
the JSON API and feeds call the same query functions in :mod:`paperfeed.rank`.
paperfeed's errors are translated here, once: a JSON envelope under ``/api`` and
``/feeds``, an error page elsewhere, always with the right status; bad input is always
400, as the OpenAPI document says.
Every answer carries the security headers, and ``HEAD`` works wherever ``GET`` does
(:mod:`paperfeed.deliver.web.answer_headers`); a NUL anywhere in a request's input is
refused before any route runs (:mod:`paperfeed.deliver.web.input_checks`); mail a request
asks for goes out after its answer (:mod:`paperfeed.deliver.web.outbox`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import anyio.to_thread
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from paperfeed import __version__
from paperfeed.config import Settings
from paperfeed.deliver.routes.site import ROUTERS, install_template_globals
from paperfeed.deliver.web.answer_headers import HeadAsGet, SecurityHeaders
from paperfeed.deliver.web.api_docs import install_api_docs
from paperfeed.deliver.web.forms import FormRefused, with_retry_after
from paperfeed.deliver.web.hub import Hub
from paperfeed.deliver.web.input_checks import refuse_nul, validation_message
from paperfeed.deliver.web.outbox import MailAfterAnswer
from paperfeed.deliver.web.response_cache import Kept, ResponseCache
from paperfeed.deliver.web.services import Services, build_services
from paperfeed.deliver.web.sessions import ViewerMiddleware
from paperfeed.deliver.web.templating import make_templates
from paperfeed.errors import PaperfeedError
from paperfeed.index.lexical.tantivy_index import word_index
from paperfeed.index.machines.positions import switch_recorder
from paperfeed.index.semantic import semantic_index
from paperfeed.store.changes import change_marker
from paperfeed.store.engine import EngineOptions, make_engine
from paperfeed.store.migrate import ensure_migrated

STATIC = Path(__file__).with_name("static")


def _lifespan(threads: int) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """A lifespan that caps the threads running request handlers (and any other blocking
    call the framework hands to a thread) at ``threads`` in this process.

    Many more threads than cores only queue on the GIL: every row SQLite fetches
    releases and retakes it, and a thread waiting for it can lose the switch interval
    (5 ms) each time. In one worker profiled under 32 connections to uncached
    ``/api/daily_papers``, 40 threads (anyio's default) served 77 requests/s, 4 threads
    98, 1 thread 152; with two workers the difference was within the noise
    (docs/benchmarks.md). A few, not one, so that a slow search does not hold up every
    other request of its worker.

    It also starts preparing recommendations in the background (the model's libraries and
    the corpus features, :meth:`~paperfeed.rank.recommend.feed.Recommender.warm`), so that
    a member's first "For you" does not wait for them.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = threads
        services: Services = app.state.services
        services.recommender.warm()
        yield

    return lifespan


def create_app(settings: Settings) -> FastAPI:
    """Build the app on ``settings``: engine, indexes, templates, routes, error translation."""
    engine = make_engine(
        settings.database_url, options=EngineOptions.from_settings(settings), create=False
    )
    ensure_migrated(engine)
    hub = Hub(
        settings,
        engine,
        semantic_index(engine, settings, on_switch=switch_recorder(engine, settings)),
        settings.clock(),
        words=word_index(engine, settings),
    )
    marker = change_marker(engine)
    half = settings.response_cache_mb * 2**20 // 2
    hub.responses = ResponseCache(marker, half)
    hub.kept = Kept(marker, half)
    templates = make_templates()
    app = FastAPI(
        title="paperfeed",
        version=__version__,
        description="A self-hostable daily-papers hub: daily lists, trending, search by "
        "words and meaning, feeds. Errors: `{ok: false, error, status}`.",
        lifespan=_lifespan(settings.server_threads),
        docs_url=None,
        redoc_url=None,
    )
    app.state.hub = hub
    app.state.templates = templates
    app.state.services = services = build_services(settings, hub)
    install_template_globals(templates)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for router in ROUTERS:
        app.include_router(router, dependencies=[Depends(refuse_nul)])
    install_api_docs(app)
    app.add_middleware(ViewerMiddleware, accounts=services.accounts)
    app.add_middleware(MailAfterAnswer)
    app.add_middleware(HeadAsGet)
    app.add_middleware(SecurityHeaders)

    def wants_json(request: Request) -> bool:
        return request.url.path.startswith(("/api/", "/feeds/"))

    def error(request: Request, status: int, message: str) -> Response:
        if wants_json(request):
            return JSONResponse(
                {"ok": False, "error": message, "status": status}, status_code=status
            )
        return templates.TemplateResponse(
            request, "error.html", {"status": status, "message": message}, status_code=status
        )

    @app.exception_handler(PaperfeedError)
    async def on_paperfeed_error(request: Request, exc: PaperfeedError) -> Any:
        return with_retry_after(error(request, exc.http_status, str(exc)), exc)

    @app.exception_handler(FormRefused)
    async def on_form_refused(request: Request, exc: FormRefused) -> Any:
        return exc.response

    @app.exception_handler(PoolTimeoutError)
    async def on_pool_timeout(request: Request, exc: PoolTimeoutError) -> Any:
        wait = settings.db_pool_timeout_seconds
        return error(request, 503, f"the server is busy: no database connection free in {wait:g} s")

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, exc: StarletteHTTPException) -> Any:
        message = str(exc.detail) if exc.status_code != 404 else "no such page"
        return error(request, exc.status_code, message)

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(request: Request, exc: RequestValidationError) -> Any:
        return error(request, 400, validation_message(exc.errors()))

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, exc: Exception) -> Any:  # pragma: no cover
        return error(request, 500, "something went wrong on the server; it has been logged")

    return app

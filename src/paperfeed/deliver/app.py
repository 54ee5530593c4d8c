"""The web application: ``create_app(settings)`` builds it; nothing happens at import.

For now a server-rendered daily list (``/`` and ``/papers/date/YYYY-MM-DD``),
its JSON twin (``/api/daily_papers``) and a health check; both channels call
the same query function, :func:`paperfeed.rank.daily.daily_list`.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from paperfeed import __version__
from paperfeed.config import Settings
from paperfeed.errors import PaperfeedError, StorageError
from paperfeed.rank.daily import daily_list, parse_day
from paperfeed.store.engine import make_engine
from paperfeed.store.migrate import ensure_migrated

_TEMPLATES = Path(__file__).with_name("templates")


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"ok": False, "error": message, "status": status}, status_code=status)


def create_app(settings: Settings) -> FastAPI:
    """Build the app on ``settings``: engine, templates, routes and error translation."""
    engine = make_engine(settings.database_url, busy_timeout_ms=settings.sqlite_busy_timeout_ms)
    ensure_migrated(engine)
    templates = Jinja2Templates(directory=str(_TEMPLATES))
    app = FastAPI(title="paperfeed", version=__version__)
    app.state.settings = settings
    app.state.engine = engine

    def wants_json(request: Request) -> bool:
        return request.url.path.startswith("/api/")

    @app.exception_handler(PaperfeedError)
    async def on_paperfeed_error(request: Request, exc: PaperfeedError) -> Any:
        if wants_json(request):
            return _error(exc.http_status, str(exc))
        return templates.TemplateResponse(
            request,
            "error.html",
            {"status": exc.http_status, "message": str(exc)},
            status_code=exc.http_status,
        )

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, exc: StarletteHTTPException) -> Any:
        if wants_json(request):
            return _error(exc.status_code, str(exc.detail))
        return templates.TemplateResponse(
            request,
            "error.html",
            {"status": exc.status_code, "message": str(exc.detail)},
            status_code=exc.status_code,
        )

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(request: Request, exc: RequestValidationError) -> Any:
        first = exc.errors()[0] if exc.errors() else {"msg": "invalid request", "loc": ()}
        where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("query", "path"))
        message = f"{where}: {first['msg']}" if where else str(first["msg"])
        if wants_json(request):
            return _error(422, message)
        return templates.TemplateResponse(
            request, "error.html", {"status": 422, "message": message}, status_code=422
        )

    def render_day(request: Request, day: date | None) -> HTMLResponse:
        listed = daily_list(engine, day)
        return templates.TemplateResponse(
            request, "daily.html", {"listed": listed, "requested": day}
        )

    @app.get("/", response_class=HTMLResponse, summary="The latest day's featured papers")
    def home(request: Request) -> HTMLResponse:
        return render_day(request, None)

    @app.get("/papers/date/{day}", response_class=HTMLResponse, summary="One day's featured papers")
    def papers_on(request: Request, day: str) -> HTMLResponse:
        return render_day(request, parse_day(day, "day"))

    @app.get("/api/daily_papers", summary="One day's featured papers as JSON")
    def api_daily_papers(
        date_: Annotated[str | None, Query(alias="date", max_length=10)] = None,
        limit: Annotated[int, Query(ge=1, le=100)] = 50,
    ) -> dict[str, Any]:
        listed = daily_list(engine, parse_day(date_, "date"), limit=limit)
        data = [s.as_dict() for s in listed.papers]
        return {
            "date": listed.day.isoformat() if listed.day else None,
            "data": data,
            "count": len(data),
        }

    @app.get("/healthz", summary="Health check: the database answers")
    def healthz() -> dict[str, Any]:
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except SQLAlchemyError as exc:
            raise StorageError(f"the database does not answer: {exc}") from exc
        return {"ok": True, "version": __version__}

    return app

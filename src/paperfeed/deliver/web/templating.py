"""Jinja2 templates with paperfeed's filters; autoescaping on for every template."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from fastapi.templating import Jinja2Templates

from paperfeed import __version__
from paperfeed.deliver.render.papers import bibtex, highlight, paper_path

TEMPLATES = Path(__file__).parent.parent / "templates"


def _day(value: date | datetime | None, fmt: str = "%b %d, %Y") -> str:
    return value.strftime(fmt) if value is not None else ""


def make_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(TEMPLATES))
    env = templates.env
    env.autoescape = True
    env.filters["day"] = _day
    env.filters["highlight"] = highlight
    env.globals["paper_path"] = paper_path
    env.globals["bibtex"] = bibtex
    env.globals["version"] = __version__
    return templates

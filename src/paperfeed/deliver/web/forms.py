"""Form posts answered by a service call: when the call refuses the input (a
:class:`~paperfeed.errors.PaperfeedError`), the page is shown again with the problem above
the form, at the problem's HTTP status, instead of a bare error page.

A route wraps its service call in :func:`shown_again`, naming the function that shows the
page and what it shows besides the problem::

    with shown_again(SIGNUP.page, request, values=typed):
        accounts.sign_up(...)
    return render(request, "account_message.html", ...)

The page travels out of the route in :class:`FormRefused`, which ``create_app`` answers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from paperfeed.deliver.web.deps import render
from paperfeed.errors import PaperfeedError, RateLimitedError


class FormRefused(Exception):
    """The answer to a refused form post: its page, shown again with the problem."""

    def __init__(self, response: Response) -> None:
        super().__init__("form refused")
        self.response = response


@contextmanager
def shown_again(show: Callable[..., Response], *args: Any, **shown: Any) -> Iterator[None]:
    """Run the service call in the ``with`` block; if it refuses, answer
    ``show(*args, problem=problem, **shown)``: the form's page again, saying the problem."""
    try:
        yield
    except PaperfeedError as problem:
        raise FormRefused(show(*args, problem=problem, **shown)) from problem


def with_retry_after(response: Response, problem: PaperfeedError | None) -> Response:
    """Tell a rate-limited client when to try again."""
    if isinstance(problem, RateLimitedError):
        response.headers["Retry-After"] = str(problem.retry_after)
    return response


def form_page(
    request: Request,
    template: str,
    context: dict[str, Any],
    problem: PaperfeedError | None = None,
    status: int = 200,
) -> Response:
    """A page with a form; with ``problem``, the page says it (``problem`` in the template)
    and answers with its status."""
    if problem is not None:
        context = {**context, "problem": str(problem)}
        status = problem.http_status
    return with_retry_after(render(request, template, context, status), problem)

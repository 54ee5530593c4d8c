"""A real HTTP server on 127.0.0.1 that replays scripted responses, for source tests.

Each path has a queue of :class:`Reply` objects, served in order; every request
is recorded (path and query) so a test can assert what a client asked for. A
reply can drop the connection mid-body (headers promise ``Content-Length``
bytes, part of the body is sent, the socket is closed), as flaky servers do.

A request with no scripted reply left gets a 404 whose body says so, and is
listed in :attr:`ReplayServer.unexpected`; the fixture fails the test then.

Use it from a test module (``tests/`` is on ``sys.path`` under pytest's default
``prepend`` import mode, as it has no ``__init__.py``)::

    from replay_server import Reply, ReplayServer, replay_server_fixture  # noqa: F401

    def test_x(replay_server: ReplayServer) -> None:
        replay_server.script("/api/query", Reply(200, b"<feed/>"))
"""

from __future__ import annotations

import socket
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest


@dataclass(frozen=True)
class Reply:
    """One scripted response; ``drop_after`` = send only that many body bytes, then close."""

    status: int = 200
    body: bytes | str = b""
    headers: dict[str, str] = field(default_factory=dict)
    drop_after: int | None = None

    @property
    def payload(self) -> bytes:
        return self.body.encode("utf-8") if isinstance(self.body, str) else self.body


@dataclass(frozen=True)
class Request:
    """One request the server received."""

    method: str
    path: str
    query: dict[str, list[str]]
    raw_query: str
    headers: dict[str, str] = field(default_factory=dict)

    def param(self, name: str) -> str | None:
        """The (first) value of query parameter ``name``, ``None`` when absent."""
        values = self.query.get(name)
        return values[0] if values else None

    def params(self) -> dict[str, str]:
        """All query parameters, first value of each."""
        return {name: values[0] for name, values in self.query.items()}


class ReplayServer:
    """Serve scripted replies on an ephemeral port of 127.0.0.1 from a background thread."""

    def __init__(self) -> None:
        self._scripts: dict[str, deque[Reply]] = {}
        self._lock = threading.Lock()
        self.requests: list[Request] = []
        self.unexpected: list[Request] = []
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``, without a trailing slash."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def script(self, path: str, *replies: Reply) -> None:
        """Queue ``replies`` for GETs of ``path`` (the query string is not matched)."""
        with self._lock:
            self._scripts.setdefault(path, deque()).extend(replies)

    def pending(self) -> dict[str, int]:
        """Replies not served yet, per path."""
        with self._lock:
            return {path: len(queue) for path, queue in self._scripts.items() if queue}

    def requests_to(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path == path]

    def start(self) -> ReplayServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> ReplayServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _next(self, request: Request) -> Reply | None:
        with self._lock:
            self.requests.append(request)
            queue = self._scripts.get(request.path)
            if queue:
                return queue.popleft()
            self.unexpected.append(request)
            return None

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = 10

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                request = Request(
                    method="GET",
                    path=parts.path,
                    query=parse_qs(parts.query, keep_blank_values=True),
                    raw_query=parts.query,
                    headers={k.lower(): v for k, v in self.headers.items()},
                )
                reply = server._next(request)
                if reply is None:
                    reply = Reply(404, f"replay_server: no reply scripted for {self.path}")
                self._send(reply)

            def _send(self, reply: Reply) -> None:
                body = reply.payload
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if reply.drop_after is None:
                    self.wfile.write(body)
                    return
                self.wfile.write(body[: reply.drop_after])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)

            def log_message(self, format: str, *args: object) -> None:
                """Stay quiet: tests assert on :attr:`ReplayServer.requests` instead."""

        return Handler


@pytest.fixture(name="replay_server")
def replay_server_fixture() -> Iterator[ReplayServer]:
    """A started :class:`ReplayServer`; the test fails if a request found no scripted reply."""
    with ReplayServer() as server:
        yield server
        assert not server.unexpected, f"requests with no scripted reply: {server.unexpected}"

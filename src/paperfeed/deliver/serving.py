"""Serving the app: one process, or ``workers`` processes with a listening socket each.

``paperfeed serve --workers N`` (``PAPERFEED_WORKERS``) binds N sockets to the same
address with ``SO_REUSEPORT`` in this process, starts N worker processes (each builds
its own app with :func:`~paperfeed.deliver.app.create_app` and serves one socket with
uvicorn), and stays as their supervisor: a worker that dies is started again on the
same socket, so the connections waiting in that socket's queue are not lost.

Why not ``uvicorn --workers N``, which shares one socket between the workers (measured
by ``bench/web.py --stock-uvicorn``):

- the shared socket is made with protocol 0, and asyncio turns Nagle's algorithm off
  (``TCP_NODELAY``) only on sockets that say ``IPPROTO_TCP``, so a keep-alive response
  sent in two writes (headers, then body) waits for the client's delayed ACK: about
  40 ms a request (uvicorn issue #3149);
- the worker that wakes first accepts every pending connection, so a burst of new
  connections all lands on one worker while the others idle.

With a socket per worker the kernel spreads new connections over the workers (by a
hash of the client's address and port), and each socket is made with ``IPPROTO_TCP``.
``SO_REUSEPORT`` balances this way on Linux only, so more than one worker needs Linux.
Before binding, the address is claimed once *without* ``SO_REUSEPORT``: if anything
already listens there (another ``paperfeed serve --workers`` included) serving fails
with "address in use" instead of silently sharing its connections.
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
from multiprocessing.process import BaseProcess
from types import FrameType

from paperfeed.config import Settings
from paperfeed.errors import ConfigError

log = logging.getLogger(__name__)

#: A worker that exits by itself sooner than this after starting failed to start (an
#: error building the app, say): serving stops, since restarting it would only fail
#: again. A worker killed by a signal (the OOM killer, an operator) is restarted.
STARTUP_SECONDS = 10.0
#: Restarts of one worker are at least this far apart (a worker crashing at once).
RESTART_SECONDS = 1.0
#: Seconds a stopping worker waits for the requests in flight before it is killed.
GRACEFUL_SECONDS = 5
BACKLOG = 2048
#: Thread counts of the numeric libraries, set to 1 in each worker.
BLAS_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def serve(settings: Settings, *, host: str, port: int, workers: int) -> int:
    """Serve until interrupted; return the exit status (0, or 1 when a worker failed)."""
    if workers < 1:
        raise ConfigError("workers must be 1 or more")
    if workers == 1:
        import uvicorn

        from paperfeed.deliver.app import create_app

        uvicorn.run(
            create_app(settings),
            host=host,
            port=port,
            log_level=settings.log_level.lower(),
            timeout_graceful_shutdown=GRACEFUL_SECONDS,
            # X-Forwarded-For is the app's to read, from PAPERFEED_TRUSTED_PROXIES only.
            proxy_headers=False,
        )
        return 0
    return Supervisor(settings, listen_sockets(host, port, workers)).run()


def listen_sockets(host: str, port: int, count: int) -> list[socket.socket]:
    """``count`` TCP sockets listening on ``host:port`` with ``SO_REUSEPORT``.

    ``port`` 0 picks a free port (the same one for every socket).
    """
    if sys.platform != "linux" or not hasattr(socket, "SO_REUSEPORT"):
        raise ConfigError(
            "more than one worker needs Linux (SO_REUSEPORT load balancing): "
            "serve with --workers 1, or one paperfeed serve per port behind a proxy"
        )
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )[0]
    except socket.gaierror as exc:
        raise ConfigError(f"cannot listen on {host!r}: {exc}") from exc
    probe = socket.socket(family, kind, proto)
    try:
        probe.bind(address)  # no SO_REUSEPORT: fails if anyone holds the port
        address = (address[0], probe.getsockname()[1], *address[2:])
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    finally:
        probe.close()
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind(address)
            sock.listen(BACKLOG)
    except OSError as exc:
        for sock in sockets:
            sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    return sockets


def run_worker(settings: Settings, sock: socket.socket, supervisor: int) -> None:
    """One worker process: its own app, served by uvicorn on ``sock``.

    It leaves the terminal's process group, so Ctrl+C reaches the supervisor alone (which
    then stops each worker once, gracefully), and asks the kernel for SIGTERM should the
    supervisor die, so no worker is left serving without it.

    Its BLAS and OpenMP libraries run one thread each (unless the environment says
    otherwise): the workers already share the cores, one per core, and a matrix-vector
    product split over threads that other workers' threads preempt waits for the slowest.
    """
    for name in BLAS_THREAD_VARIABLES:
        os.environ.setdefault(name, "1")  # before numpy and onnxruntime are imported
    import uvicorn

    from paperfeed.deliver.app import create_app

    os.setpgid(0, 0)
    _term_with_parent(supervisor)

    config = uvicorn.Config(
        create_app(settings),
        log_level=settings.log_level.lower(),
        timeout_graceful_shutdown=GRACEFUL_SECONDS,
        backlog=BACKLOG,
        proxy_headers=False,  # the app reads X-Forwarded-For (PAPERFEED_TRUSTED_PROXIES)
    )
    uvicorn.Server(config).run(sockets=[sock])


def _term_with_parent(parent: int) -> None:
    """prctl(PR_SET_PDEATHSIG, SIGTERM): this process gets SIGTERM when its parent dies."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # pragma: no cover (not glibc / musl)
        log.warning("cannot ask to be stopped with the supervisor (prctl unavailable)")
    if os.getppid() != parent:  # the supervisor died before the request took effect
        os.kill(os.getpid(), signal.SIGTERM)


class Supervisor:
    """Starts a worker per socket, restarts the ones that die, stops them all on SIGINT
    or SIGTERM (each finishes the requests in flight, for up to GRACEFUL_SECONDS)."""

    def __init__(self, settings: Settings, sockets: list[socket.socket]) -> None:
        self.settings = settings
        self.sockets = sockets
        # spawn, not fork: a worker starts clean, without this process's threads and locks.
        self.context = multiprocessing.get_context("spawn")
        self.processes: list[BaseProcess] = []
        self.started: list[float] = []
        self.stopping = threading.Event()
        self.failed = False

    def _start(self, index: int) -> BaseProcess:
        process = self.context.Process(
            target=run_worker,
            args=(self.settings, self.sockets[index], os.getpid()),
            name=f"paperfeed-worker-{index}",
            daemon=False,
        )
        process.start()
        return process

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self.stopping.set()

    def run(self) -> int:
        previous = {
            sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            for index in range(len(self.sockets)):
                self.processes.append(self._start(index))
                self.started.append(time.monotonic())
            while not self.stopping.wait(0.5):
                self._restart_dead()
        finally:
            self._stop_all()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            for sock in self.sockets:
                sock.close()
        return 1 if self.failed else 0

    def _restart_dead(self) -> None:
        for index, process in enumerate(self.processes):
            if process.is_alive():
                continue
            lived = time.monotonic() - self.started[index]
            exitcode = process.exitcode or 0
            if exitcode >= 0 and lived < STARTUP_SECONDS:
                log.error(
                    "worker %d exited with status %s %.1f s after starting; stopping",
                    index,
                    process.exitcode,
                    lived,
                )
                self.failed = True
                self.stopping.set()
                return
            if lived < RESTART_SECONDS:
                continue  # restart it on a later round
            log.warning("worker %d exited with status %s; restarting it", index, process.exitcode)
            self.processes[index] = self._start(index)
            self.started[index] = time.monotonic()

    def _stop_all(self) -> None:
        for process in self.processes:
            if process.is_alive() and process.pid is not None:
                process.terminate()  # SIGTERM: uvicorn stops gracefully
        deadline = time.monotonic() + GRACEFUL_SECONDS + 5
        for process in self.processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()

"""`paperfeed serve --workers N`: N processes with a listening socket each on one port,
connections spread over all of them, Nagle off, a dead worker restarted, a clean stop,
and a clear error when the port is taken."""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from paperfeed.deliver.serving import listen_sockets
from ports import children, serve_process, socket_inodes, tcp_sockets

pytestmark = pytest.mark.slow
#: How long a request may wait for its answer: a worker's first answer loads much of the app,
#: which with two test runs on two cores has taken over 30 s.
ANSWER_S = 180
PIDFD_GETFD = 438  # the syscall's number, the same on every Linux architecture


def _workers(supervisor: int, port: int) -> dict[int, set[int]]:
    """Worker pid -> its socket inodes, for the supervisor's children listening on port."""
    listening = set(tcp_sockets(port, "0A"))
    found = {}
    for pid in children(supervisor):
        inodes = socket_inodes(pid)
        if inodes & listening:
            found[pid] = inodes
    return found


def _server_end(supervisor: int, port: int, client_port: int) -> tuple[int, int] | None:
    """(worker pid, socket inode) of the server's end of the connection from ``client_port``."""
    ends = {inode for inode, peer in tcp_sockets(port, "01").items() if peer == client_port}
    for pid, inodes in _workers(supervisor, port).items():
        for inode in inodes & ends:
            return pid, inode
    return None


def _nodelay(pid: int, inode: int) -> bool:
    """Whether TCP_NODELAY is set on socket ``inode`` of process ``pid``: its descriptor is
    copied into this process (pidfd_getfd, Linux 5.6; allowed on our own descendants)."""
    fd = next(
        int(fd.name)
        for fd in Path(f"/proc/{pid}/fd").iterdir()
        if os.readlink(fd) == f"socket:[{inode}]"
    )
    pidfd = os.pidfd_open(pid)
    try:
        copy = ctypes.CDLL(None, use_errno=True).syscall(PIDFD_GETFD, pidfd, fd, 0)
        if copy < 0:
            raise OSError(ctypes.get_errno(), "pidfd_getfd failed")
    finally:
        os.close(pidfd)
    with socket.socket(fileno=copy) as sock:
        return bool(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))


def _wait(condition, timeout: float = 90) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError("timed out waiting")


def _received(sock: socket.socket) -> bytes:
    chunk = sock.recv(65536)
    if not chunk:
        raise AssertionError("the server closed the connection before answering")
    return chunk


def _get(sock: socket.socket, path: str = "/healthz") -> bytes:
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    data = b""
    while b"\r\n\r\n" not in data:
        data += _received(sock)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(
        next(h for h in head.split(b"\r\n") if h.lower().startswith(b"content-length")).split(b":")[
            1
        ]
    )
    while len(body) < length:
        body += _received(sock)
    assert head.startswith(b"HTTP/1.1 200"), head
    return body


@pytest.fixture
def server(db_url: str, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    env = {
        **os.environ,
        "PAPERFEED_DATABASE_URL": db_url,
        "PAPERFEED_INDEX_DIR": str(tmp_path / "index"),
    }

    def spawn(port: int) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "paperfeed", "serve", "--port", str(port), "--workers", "2"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )

    process, port = serve_process(spawn, lambda p: p.stdout.read().decode() if p.stdout else "")
    try:
        _wait(lambda: len(_workers(process.pid, port)) == 2 or process.poll() is not None)
        assert process.poll() is None, process.stdout.read() if process.stdout else ""
        yield process, port
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_workers_each_listen_and_share_the_connections(
    server: tuple[subprocess.Popen[bytes], int],
) -> None:
    process, port = server
    workers = _workers(process.pid, port)
    assert len(workers) == 2 and len(tcp_sockets(port, "0A")) == 2  # a socket each
    connections: list[socket.socket] = []
    try:
        ends, nagle_off = [], []
        for _ in range(32):
            # Each connection asks at once and is traced to its worker at once: uvicorn
            # closes a connection idle for 5 s, which on a busy machine (two test runs on
            # two cores) the first of 32 opened together outlive.
            connections.append(socket.create_connection(("127.0.0.1", port), timeout=ANSWER_S))
            _get(connections[-1])
            end = _server_end(process.pid, port, connections[-1].getsockname()[1])
            assert end is not None, f"no worker holds connection {len(ends) + 1}"
            ends.append(end)
            # Nagle is off on the server's end: a keep-alive answer (headers and body
            # written apart) does not wait for the client's delayed ACK, ~40 ms each.
            # Asked of the socket itself: a timing would also measure how busy the machine is.
            nagle_off.append(_nodelay(*end))
        per_worker = Counter(pid for pid, _ in ends)
        assert len(per_worker) == 2, per_worker  # both answer
        assert all(nagle_off), nagle_off
    finally:
        for conn in connections:
            conn.close()


def test_a_dead_worker_is_replaced_and_a_stop_is_clean(
    server: tuple[subprocess.Popen[bytes], int],
) -> None:
    process, port = server
    first = set(_workers(process.pid, port))
    os.kill(min(first), signal.SIGKILL)
    _wait(
        lambda: len(_workers(process.pid, port)) == 2 and set(_workers(process.pid, port)) != first
    )
    survivors = set(_workers(process.pid, port))
    assert max(first) in survivors and min(first) not in survivors
    with socket.create_connection(("127.0.0.1", port), timeout=ANSWER_S) as conn:
        assert b'"ok":true' in _get(conn)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    assert not any(Path(f"/proc/{pid}").exists() for pid in survivors)
    assert not tcp_sockets(port, "0A")


def test_a_taken_port_is_an_error_not_a_shared_port(db_url: str) -> None:
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)  # even one that shares
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = subprocess.run(
            [sys.executable, "-m", "paperfeed", "serve", "--port", str(port), "--workers", "2"],
            env={**os.environ, "PAPERFEED_DATABASE_URL": db_url},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert out.returncode != 0
    assert f"cannot listen on 127.0.0.1:{port}" in out.stderr, out.stderr


def test_listen_sockets_bind_one_port_with_reuseport() -> None:
    sockets = listen_sockets("127.0.0.1", 0, 3)
    try:
        ports = {s.getsockname()[1] for s in sockets}
        assert len(ports) == 1
        for s in sockets:
            assert s.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 1
            assert s.proto == socket.IPPROTO_TCP
    finally:
        for s in sockets:
            s.close()


def test_request_threads_are_capped_per_worker(db_url: str, tmp_path: Path) -> None:
    import anyio.to_thread
    from fastapi.testclient import TestClient

    from paperfeed.config import load_settings
    from paperfeed.deliver.app import create_app

    settings = load_settings(database_url=db_url, index_dir=str(tmp_path), server_threads=3)
    with TestClient(create_app(settings)) as client:
        assert client.portal is not None
        limiter = client.portal.call(anyio.to_thread.current_default_thread_limiter)
        assert limiter.total_tokens == 3
        assert client.get("/healthz").status_code == 200

"""Loopback ports for the servers the tests start, safe beside other test runs.

A port found free is only free when asked: before the server binds it, another process may
take it. Two things keep that from breaking a test run when another one runs beside it:

- :func:`free_port` draws ports *below* the kernel's ephemeral range, the range every
  outgoing connection (of this run, of another one, of anything on the machine) takes its
  local port from; port 0 would hand out a port from that very range, where any client
  connection may take it in the second before the server binds it. Only another explicit
  bind can take a port drawn here.
- every server the tests start goes through :func:`on_free_port`, which starts it again on
  another port when its port was taken all the same: an SMTP sink comes from
  :func:`smtp_server`, a ``paperfeed serve`` process from :func:`serve_process` (which also
  makes sure that the process listening on the port is the one it started).
"""

from __future__ import annotations

import errno
import os
import random
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
ATTEMPTS = 5
#: The lowest port drawn; the highest is just below the ephemeral range.
LOWEST = 20_000
EPHEMERAL = Path("/proc/sys/net/ipv4/ip_local_port_range")


def free_port() -> int:
    """A loopback port nobody holds right now, below the ephemeral range."""
    try:
        ephemeral_low = int(EPHEMERAL.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        ephemeral_low = 32_768  # Linux's default range is 32768-60999
    draw = random.SystemRandom()
    for _ in range(200 if ephemeral_low > LOWEST + 1000 else 0):
        port = draw.randrange(LOWEST, ephemeral_low)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue  # held (or lingering) here: draw again
            return port
    with socket.socket() as sock:  # a machine with an unusual range: let the kernel choose
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PortTaken(OSError):
    """The server could not bind its port: someone took it first."""

    def __init__(self, port: int, detail: str = "") -> None:
        super().__init__(errno.EADDRINUSE, f"port {port} was taken: {detail}".rstrip(": "))


def on_free_port(start: Callable[[int], T], attempts: int = ATTEMPTS) -> T:
    """``start(port)`` on a free port; on another one while it raises "address in use"."""
    for attempt in range(1, attempts + 1):
        try:
            return start(free_port())
        except OSError as exc:
            if attempt == attempts or exc.errno != errno.EADDRINUSE:
                raise
    raise AssertionError("unreachable")


def smtp_server(handler: Any, port: int | None = None) -> Any:
    """A started aiosmtpd server for ``handler`` on 127.0.0.1 (``.port``); a free port
    unless ``port`` is given (a restart on the port the clients already know)."""
    from aiosmtpd.controller import Controller

    def start(chosen: int) -> Controller:
        controller = Controller(handler, hostname="127.0.0.1", port=chosen)
        controller.start()
        return controller

    return start(port) if port is not None else on_free_port(start)


def serve_process(
    spawn: Callable[[int], subprocess.Popen[bytes]],
    output: Callable[[subprocess.Popen[bytes]], str],
    timeout: float = 90,
) -> tuple[subprocess.Popen[bytes], int]:
    """``spawn(port)`` a server process on a free port and wait until it (or one of its
    workers) listens there; again on another port when it exits because the port was taken.
    ``output(process)`` is read once the process has exited, for the error message."""

    def start(port: int) -> tuple[subprocess.Popen[bytes], int]:
        process = spawn(port)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                text = output(process)
                if "cannot listen on" in text and "in use" in text:
                    raise PortTaken(port, text.strip().splitlines()[-1])
                raise AssertionError(f"the server exited ({process.returncode}):\n{text[-3000:]}")
            if listens(process.pid, port):
                return process, port
            time.sleep(0.1)
        process.kill()
        process.wait()
        raise AssertionError(f"the server did not listen on {port} within {timeout:.0f} s")

    return on_free_port(start)


def listens(pid: int, port: int) -> bool:
    """Whether process ``pid`` or one of its children listens on 127.0.0.1:``port``."""
    listening = set(tcp_sockets(port, "0A"))
    return any(socket_inodes(p) & listening for p in (pid, *children(pid)))


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def tcp_sockets(port: int, state: str) -> dict[int, int]:
    """Socket inode -> remote port, of 127.0.0.1:port sockets in ``state`` (0A listen,
    01 established)."""
    needle = f"0100007F:{port:04X}"
    rows = {}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1] == needle and fields[3] == state:
            rows[int(fields[9])] = int(fields[2].split(":")[1], 16)
    return rows


def socket_inodes(pid: int) -> set[int]:
    """The inodes of the sockets process ``pid`` holds open."""
    inodes = set()
    fd_dir = Path(f"/proc/{pid}/fd")
    try:
        fds = list(fd_dir.iterdir())
    except OSError:  # gone, or not ours to read
        return inodes
    for fd in fds:
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    return inodes

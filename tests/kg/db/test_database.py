"""The relational seam (kg/db) on both engines: the same SQL gives the same answers on a SQLite
file and on a real PostgreSQL server; writers are serialised across connections; the write
lock excludes another process; a violated constraint raises one of ``integrity_errors``."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kg.db.database import Database, PostgresDatabase, SqliteDatabase, open_database
from kg.db.dialect import postgres_schema, postgres_statement
from kg.settings import Settings

SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    size INTEGER NOT NULL,
    score REAL,
    body BLOB
);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, n INTEGER NOT NULL);
"""


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        db: Database = SqliteDatabase(tmp_path / "t.sqlite", "t")
    else:
        db = PostgresDatabase(request.getfixturevalue("postgres_url"), "t")
    db.create(SCHEMA)
    db.create(SCHEMA)  # idempotent
    yield db
    db.close()


def test_the_same_sql_answers_the_same(database: Database) -> None:
    with database.transaction() as db:
        (seq,) = db.execute(
            "INSERT INTO items (name, size, score, body) VALUES (?, ?, ?, ?) RETURNING seq",
            ("a", 2**40, 0.5, b"\x00\xff"),
        ).fetchone()
        db.executemany(
            "INSERT INTO items (name, size) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
            [("a", 1), ("b", 2), ("c%", 3)],
        )
    assert seq == 1
    rows = database.connection().execute("SELECT name, size, score, body FROM items ORDER BY seq")
    assert list(map(tuple, rows)) == [
        ("a", 2**40, 0.5, b"\x00\xff"),
        ("b", 2, None, None),
        ("c%", 3, None, None),
    ]
    found = database.connection().execute(
        "SELECT name FROM items WHERE name LIKE 'c%' AND size > ?", (0,)
    )
    assert [r[0] for r in found] == ["c%"]
    cursor = database.connection().execute("DELETE FROM items WHERE size < ?", (3,))
    assert cursor.rowcount == 1
    assert database.columns("items") == {"seq", "name", "size", "score", "body"}
    assert database.columns("missing") == set()


def test_a_violated_constraint_raises_an_integrity_error(database: Database) -> None:
    database.connection().execute("INSERT INTO items (name, size) VALUES (?, ?)", ("x", 1))
    with pytest.raises(database.integrity_errors):
        database.connection().execute("INSERT INTO items (name, size) VALUES (?, ?)", ("x", 2))


def test_a_failed_transaction_leaves_nothing(database: Database) -> None:
    with pytest.raises(RuntimeError), database.transaction() as db:
        db.execute("INSERT INTO items (name, size) VALUES (?, ?)", ("half", 1))
        raise RuntimeError("crash in the middle")
    assert database.connection().execute("SELECT COUNT(*) FROM items").fetchone()[0] == 0


def test_writers_are_serialised_so_read_then_write_loses_no_update(database: Database) -> None:
    database.connection().execute("INSERT INTO counters VALUES (?, ?)", ("c", 0))

    def bump() -> None:
        for _ in range(20):
            with database.transaction() as db:
                (n,) = db.execute("SELECT n FROM counters WHERE name = ?", ("c",)).fetchone()
                time.sleep(0.001)
                db.execute("UPDATE counters SET n = ? WHERE name = ?", (n + 1, "c"))

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert database.connection().execute("SELECT n FROM counters").fetchone()[0] == 80


HOLDER = """
import sys, time
from pathlib import Path
from kg.db.database import PostgresDatabase, SqliteDatabase
target = sys.argv[1]
db = PostgresDatabase(target, "t") if "://" in target else SqliteDatabase(Path(target), "t")
lock = db.write_lock()
lock.acquire()
print("held", flush=True)
time.sleep(float(sys.argv[2]))
"""


def test_the_write_lock_excludes_another_process_and_dies_with_it(
    database: Database, tmp_path: Path
) -> None:
    if isinstance(database, PostgresDatabase):
        target = database.url
    else:
        assert isinstance(database, SqliteDatabase)
        target = str(database.path)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, target, "60"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        lock = database.write_lock()
        taken = threading.Event()

        def take() -> None:
            with lock:
                taken.set()

        waiter = threading.Thread(target=take, daemon=True)
        waiter.start()
        assert not taken.wait(1.0)  # the other process holds it
        holder.kill()  # a killed holder never leaves it held
        assert taken.wait(30)
        waiter.join(10)
        lock.close()
    finally:
        holder.kill()
        holder.wait()


def test_open_database_follows_the_settings(tmp_path: Path) -> None:
    settings = Settings(store=str(tmp_path / "store"))
    db = open_database(settings, "harvest")
    assert isinstance(db, SqliteDatabase) and db.path == tmp_path / "store" / "harvest.sqlite"
    with pytest.raises(ValueError, match="postgresql"):
        Settings(database="mysql://x")


def test_open_database_on_postgres_uses_a_schema_per_name(postgres_url: str) -> None:
    settings = Settings(store="unused", database=postgres_url)
    one, two = open_database(settings, "one"), open_database(settings, "two")
    assert isinstance(one, PostgresDatabase)
    one.create("CREATE TABLE IF NOT EXISTS t (x INTEGER)")
    two.create("CREATE TABLE IF NOT EXISTS t (x TEXT)")
    one.connection().execute("INSERT INTO t VALUES (?)", (1,))
    assert two.connection().execute("SELECT COUNT(*) FROM t").fetchone()[0] == 0


def test_the_dialect_translation() -> None:
    assert postgres_statement("SELECT '?', x FROM t WHERE a = ? AND b LIKE 'a%'") == (
        "SELECT '?', x FROM t WHERE a = %s AND b LIKE 'a%%'"
    )
    ddl = postgres_schema("CREATE TABLE t (a INTEGER PRIMARY KEY AUTOINCREMENT, b BLOB, c REAL)")
    assert ddl == (
        "CREATE TABLE t (a BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, b BYTEA,"
        " c DOUBLE PRECISION)"
    )

"""``aiod-kg backup`` / ``aiod-kg restore``: offline round trip (every asset, draft, owner and
harvest row comes back), on SQLite and on PostgreSQL (the backup holds a pg_dump of the
database; back up, change, restore: the same answers; the URL's password never shows), and an
online backup taken by a running server while writers keep writing (the restored catalogue is
consistent: index = store, no torn asset)."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from kg.access.rules import AccessControl
from kg.catalog import Catalog
from kg.errors import CatalogError
from kg.model.fields import ASSET_TYPES
from kg.settings import Settings
from tests.support.data import ADMIN_KEY, AUTH, REPO, example_records
from tests.support.robust import BASE, assert_index_agrees, env_for, open_catalog, server


def aiod(
    store: Path, *args: str, base: str = BASE, database: str | None = None
) -> subprocess.CompletedProcess[str]:
    extra = {"AIOD_KG_DATABASE": database} if database else {}
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        cwd=REPO,
        env=env_for(store, base, **extra),
        capture_output=True,
        text=True,
        timeout=300,
    )


def _load(catalog: Catalog) -> None:
    for collection in ("datasets", "ml_models", "publications", "persons", "organisations"):
        records = example_records(collection)
        for record in records:
            for key in ("identifier", "aiod_entry"):
                record.pop(key, None)
        catalog.save_many(ASSET_TYPES[collection], records, mode="upsert")
    draft = {
        "name": "a draft",
        "aiod_entry": {"status": "draft"},
        "platform": "example",
        "platform_resource_identifier": "draft-1",
    }
    identifier = catalog.create(ASSET_TYPES["datasets"], draft)
    assert catalog.get(ASSET_TYPES["datasets"], identifier)["aiod_entry"]["status"] == "draft"


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest) -> str | None:
    """None (SQLite files beside the store) or a fresh PostgreSQL database whose URL holds a
    password (the test cluster trusts loopback, so any password connects)."""
    if request.param == "sqlite":
        return None
    url: str = request.getfixturevalue("postgres_url")
    return url.replace("postgresql://aiodkg@", f"postgresql://aiodkg:{PASSWORD}@")


PASSWORD = "s3cret-never-shown"


def _catalog(store: Path, database: str | None) -> Catalog:
    return Catalog(
        Settings(
            store=str(store),
            admin_key=ADMIN_KEY,
            base_url=BASE,
            search_enabled=False,
            database=database,
        )
    )


def _tables(catalog: Catalog) -> object:
    """The relational state beside the store: its tables and the rows of the access tables."""
    db = catalog.index.connection()
    if catalog.index.dialect == "sqlite":
        tables = db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    else:
        tables = db.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'catalog'"
        ).fetchall()
    keys = db.execute("SELECT id, name, revoked_at FROM api_keys ORDER BY id").fetchall()
    return sorted(str(t[0]) for t in tables), [tuple(k) for k in keys]


def test_backup_restore_round_trip(tmp_path: Path, database: str | None) -> None:
    store = tmp_path / "store"
    catalog = _catalog(store, database)
    try:
        _load(catalog)
        AccessControl(catalog.index).create_key("bot", ["edit_aiod_resources"], "test")
        before = assert_index_agrees(catalog)
        owners = _tables(catalog)
    finally:
        catalog.close()
    assert len(before) > 5
    (store / "harvest.sqlite").write_bytes(b"")  # a sibling SQLite file comes along too
    done = aiod(store, "backup", str(tmp_path / "backup"), database=database)
    assert done.returncode == 0, done.stderr
    manifest = (tmp_path / "backup" / "manifest.json").read_text()
    assert PASSWORD not in manifest + done.stdout + done.stderr
    assert ((tmp_path / "backup" / "database.dump").exists()) == (database is not None)
    # a backup never goes into a non-empty directory; restore never over a store
    assert aiod(store, "backup", str(tmp_path / "backup"), database=database).returncode == 1
    assert aiod(store, "restore", str(tmp_path / "backup"), database=database).returncode == 1
    # a backup restores only where its relational state can go
    other = None if database else "postgresql://aiodkg@127.0.0.1:1/none"
    refused = aiod(tmp_path / "elsewhere", "restore", str(tmp_path / "backup"), database=other)
    assert refused.returncode == 1 and "AIOD_KG_DATABASE" in refused.stderr
    if database is not None:  # the database changes after the backup (a shared one)
        catalog = _catalog(store, database)
        try:
            catalog.index.clear()
            AccessControl(catalog.index).create_key("later", [], "test")
        finally:
            catalog.close()
    restored = tmp_path / "restored"
    done = aiod(restored, "restore", str(tmp_path / "backup"), database=database)
    assert done.returncode == 0, done.stderr
    assert PASSWORD not in done.stdout + done.stderr
    assert (restored / "harvest.sqlite").exists()
    again = _catalog(restored, database)
    try:
        assert assert_index_agrees(again) == before
        assert _tables(again) == owners
    finally:
        again.close()


def test_failed_database_restore_changes_nothing(tmp_path: Path, postgres_url: str) -> None:
    """A PostgreSQL restore is one transaction: one that breaks half-way (here a view an
    operator added on a catalogue table stops its DROP) leaves the database exactly as it
    was, instead of some tables dropped and others not."""
    import psycopg

    store = tmp_path / "store"
    catalog = _catalog(store, postgres_url)
    try:
        _load(catalog)
    finally:
        catalog.close()
    assert aiod(store, "backup", str(tmp_path / "backup"), database=postgres_url).returncode == 0
    catalog = _catalog(store, postgres_url)
    try:  # the shared database moves on after the backup
        AccessControl(catalog.index).create_key("later", [], "test")
        before = _tables(catalog), assert_index_agrees(catalog)
    finally:
        catalog.close()
    with psycopg.connect(postgres_url, autocommit=True) as db:
        db.execute("CREATE VIEW public.key_names AS SELECT name FROM catalog.api_keys")
        objects = _schema_objects(db)
    failed = aiod(tmp_path / "restored", "restore", str(tmp_path / "backup"), database=postgres_url)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "Traceback" not in failed.stderr and "pg_restore" in failed.stderr, failed.stderr
    with psycopg.connect(postgres_url, autocommit=True) as db:
        assert _schema_objects(db) == objects
    catalog = _catalog(store, postgres_url)
    try:
        assert (_tables(catalog), assert_index_agrees(catalog)) == before
    finally:
        catalog.close()


def _schema_objects(db: object) -> list[tuple[str, ...]]:
    """Every table, index and constraint of the database's schemas."""
    import psycopg

    assert isinstance(db, psycopg.Connection)
    rows = db.execute(
        "SELECT 'index', schemaname, indexname FROM pg_indexes "
        "WHERE schemaname NOT IN ('pg_catalog', 'information_schema') "
        "UNION ALL SELECT 'constraint', n.nspname, c.conname FROM pg_constraint c "
        "JOIN pg_namespace n ON n.oid = c.connamespace "
        "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') "
        "UNION ALL SELECT 'table', schemaname, tablename FROM pg_tables "
        "WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
    ).fetchall()
    return sorted(tuple(str(v) for v in row) for row in rows)


@pytest.mark.slow
@pytest.mark.server
def test_online_backup_during_writes(tmp_path: Path) -> None:
    store = tmp_path / "store"
    stop = threading.Event()
    errors: list[str] = []
    with server(store, AIOD_KG_BACKUP_DIR=str(tmp_path)) as live:
        base = live.base_url

        def write(slot: int) -> None:
            with httpx.Client(base_url=base, timeout=60) as http:
                n = 0
                while not stop.is_set():
                    record = {
                        "name": f"w{slot} n{n}",
                        "platform": "example",
                        "platform_resource_identifier": f"w{slot}-{n % 15}",
                        "description": {"plain": f"w{slot} n{n}"},
                    }
                    answer = http.post("/datasets", json=record, headers=AUTH)
                    if answer.status_code == 409:  # exists: replace it
                        existing = answer.json()["detail"].split("identifier=")[-1].rstrip(".")
                        answer = http.put(f"/datasets/{existing}", json=record, headers=AUTH)
                    if answer.status_code != 200:
                        errors.append(f"{answer.status_code} {answer.text}")
                    n += 1

        threads = [threading.Thread(target=write, args=(i,)) for i in range(3)]
        for thread in threads:
            thread.start()
        try:
            for k in range(3):
                done = subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "api.cli.main",
                        "backup",
                        str(tmp_path / f"b{k}"),
                        "--server",
                        base,
                    ],
                    cwd=REPO,
                    env={**env_for(store, base), "AIOD_KG_ADMIN_KEY": ADMIN_KEY},
                    capture_output=True,
                    text=True,
                    timeout=300,
                )
                assert done.returncode == 0, done.stderr
            # a backup needs the admin key
            denied = httpx.post(f"{base}/admin/backup", json={"directory": str(tmp_path / "x")})
            assert denied.status_code in (401, 403)
        finally:
            stop.set()
            for thread in threads:
                thread.join()
    assert errors == []
    for k in range(3):
        restored = tmp_path / f"restored{k}"
        assert aiod(restored, "restore", str(tmp_path / f"b{k}"), base=base).returncode == 0
        catalog = open_catalog(restored, base)
        try:
            stored = assert_index_agrees(catalog)
            for doc in stored.values():
                assert doc["name"] == doc["description"]["plain"]
        finally:
            catalog.close()


@pytest.mark.engine
def test_cluster_backup_round_trip_and_across_tiers(tmp_path: Path, postgres: object) -> None:
    """The cluster tier: both partitions on Oxigraph servers, the relational state in
    PostgreSQL. The backup holds an N-Quads dump of each server and the database's dump; it
    restores into empty servers (a server with data is refused), and into an embedded store."""
    from kg.backup import backup, restore
    from tests.support.engines import oxigraph_binary, start_oxigraph
    from tests.support.postgres import PostgresServer

    assert isinstance(postgres, PostgresServer)
    if oxigraph_binary() is None:
        pytest.skip("oxigraph (pip install oxigraph) is not installed")

    def settings(public: str, private: str, data: str, database: str) -> Settings:
        return Settings(
            store=public,
            private_store=private,
            data_dir=str(tmp_path / data),
            admin_key=ADMIN_KEY,
            base_url=BASE,
            search_enabled=False,
            database=database,
        )

    engines = [start_oxigraph(tmp_path / name) for name in ("pub", "priv", "pub2", "priv2")]
    try:
        first = settings(engines[0].url, engines[1].url, "data", postgres.create_database())
        catalog = Catalog(first)
        try:
            _load(catalog)
            before = assert_index_agrees(catalog)
            manifest = backup(catalog, tmp_path / "backup")
        finally:
            catalog.close()
        assert manifest["stores"] == {"public": "n-quads", "private": "n-quads"}
        assert (tmp_path / "backup" / "public.nq").stat().st_size > 0
        assert (tmp_path / "backup" / "database.dump").exists()
        # into a server that holds data: refused
        with pytest.raises(CatalogError, match="empty"):
            restore(tmp_path / "backup", first)
        # into empty servers and a new database: the same catalog
        second = settings(engines[2].url, engines[3].url, "data2", postgres.create_database())
        restore(tmp_path / "backup", second)
        again = Catalog(second)
        try:
            assert assert_index_agrees(again) == before
        finally:
            again.close()
        # and into the embedded tier
        embedded = Settings(
            store=str(tmp_path / "embedded"),
            admin_key=ADMIN_KEY,
            base_url=BASE,
            search_enabled=False,
            database=postgres.create_database(),
        )
        restore(tmp_path / "backup", embedded)
        local = Catalog(embedded)
        try:
            assert assert_index_agrees(local) == before
        finally:
            local.close()
    finally:
        for engine in engines:
            engine.stop()

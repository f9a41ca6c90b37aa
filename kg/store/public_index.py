"""What harvesters see: the public part of the catalogue index, in the orders they page in.

Every outward channel that lists assets in bulk (the DCAT-AP catalogue, OAI-PMH, the sitemap,
the dump, VoID counts) reads the index through this module, so the rule "only public assets
leave" lives in one place (``PUBLIC_STATUSES``).

Two orders are offered, each backed by its own covering index so that a page costs the same
at the start and at the end of a 100k catalogue:

* by ``seq`` (insertion order, stable for an asset's life): the DCAT-AP catalogue pages;
* by ``(date_modified, seq)``, tombstones included: OAI-PMH. A record changed during a
  harvest moves behind the cursor and is seen again, never skipped.

Withdrawals: an asset that was ever public and is not any more (restricted, back to draft,
rejected, deleted in any status) is a *deleted record* of the change channel, with the
datestamp of the change that withdrew it, so an incremental harvester drops its last public
copy. ``public_ever`` remembers which identifiers were ever public; a trigger on the index's
``assets`` table fills it in the same transaction as the write that publishes, so it cannot
miss one (on PostgreSQL a PL/pgSQL trigger function does the same). Drafts that were never
public stay invisible: no identifier of theirs leaves.

Sizes (``count``, ``count_changes``: the DCAT-AP and VoID totals, OAI-PMH's
``completeListSize``) come from the maintained counts of ``kg.store.counts`` when no date
bounds them, which also defines ``PUBLIC_STATUSES`` and marks ``public_ever`` on every write.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from kg.db.database import Connection
from kg.store import counts
from kg.store.counts import PUBLIC_STATUSES
from kg.store.index import CatalogIndex

__all__ = ["PUBLIC_STATUSES", "PublicIndex", "Row"]

_PUBLIC_SQL = ", ".join(f"'{s}'" for s in PUBLIC_STATUSES)  # fixed words, not input

# rows published before the triggers existed
_BACKFILL = (
    "INSERT INTO public_ever (identifier)"
    f" SELECT identifier FROM assets WHERE status IN ({_PUBLIC_SQL}) ON CONFLICT DO NOTHING"
)
_HARVEST_INDEXES = (
    "CREATE INDEX IF NOT EXISTS harvest_public_seq ON assets (status, deleted, seq, type)",
    "CREATE INDEX IF NOT EXISTS harvest_modified"
    " ON assets (status, date_modified, seq, type, platform, deleted)",
)
# (inside a trigger an upsert's conflict clause would override OR IGNORE: NOT EXISTS instead)
_INDEXES = (
    "CREATE TABLE IF NOT EXISTS public_ever (identifier TEXT PRIMARY KEY)",
    "DROP TRIGGER IF EXISTS public_ever_insert",  # first version (OR IGNORE)
    "DROP TRIGGER IF EXISTS public_ever_update",
    "CREATE TRIGGER IF NOT EXISTS public_ever_on_insert AFTER INSERT ON assets"
    f" WHEN NEW.status IN ({_PUBLIC_SQL})"
    " BEGIN INSERT INTO public_ever (identifier) SELECT NEW.identifier"
    " WHERE NOT EXISTS (SELECT 1 FROM public_ever WHERE identifier = NEW.identifier); END",
    "CREATE TRIGGER IF NOT EXISTS public_ever_on_update AFTER UPDATE OF status ON assets"
    f" WHEN NEW.status IN ({_PUBLIC_SQL})"
    " BEGIN INSERT INTO public_ever (identifier) SELECT NEW.identifier"
    " WHERE NOT EXISTS (SELECT 1 FROM public_ever WHERE identifier = NEW.identifier); END",
    _BACKFILL,
    *_HARVEST_INDEXES,
)
# PostgreSQL: the same trigger as a function (made once, under the schema lock of ``create``)
_PG_TRIGGER = "public_ever_on_write"
_PG_INDEXES = (
    "CREATE TABLE IF NOT EXISTS public_ever (identifier TEXT PRIMARY KEY)",
    "CREATE OR REPLACE FUNCTION public_ever_mark() RETURNS trigger LANGUAGE plpgsql"
    " SET search_path FROM CURRENT AS $$ BEGIN"
    f" IF NEW.status IN ({_PUBLIC_SQL}) THEN"
    " INSERT INTO public_ever (identifier) VALUES (NEW.identifier) ON CONFLICT DO NOTHING;"
    " END IF; RETURN NULL; END $$",
    f"DROP TRIGGER IF EXISTS {_PG_TRIGGER} ON assets",
    f"CREATE TRIGGER {_PG_TRIGGER} AFTER INSERT OR UPDATE OF status ON assets"
    " FOR EACH ROW EXECUTE FUNCTION public_ever_mark()",
    _BACKFILL,
    *_HARVEST_INDEXES,
)
_COLUMNS = "seq, identifier, type, platform, status, date_created, date_modified, deleted, document"


@dataclass(frozen=True)
class Row:
    """One index row as harvesters need it."""

    seq: int
    identifier: str
    type: str
    platform: str | None
    status: str | None
    date_created: str
    date_modified: str
    deleted: bool
    #: the asset's AIoD JSON from the index's document cache (None: read the store)
    document: bytes | None = field(default=None, repr=False, compare=False)

    @property
    def public(self) -> bool:
        return self.status in PUBLIC_STATUSES

    def as_change(self) -> Row:
        """The row as the change channel shows it: a withdrawn asset is a deleted record."""
        if self.deleted or self.public:
            return self
        return Row(
            self.seq,
            self.identifier,
            self.type,
            self.platform,
            self.status,
            self.date_created,
            self.date_modified,
            True,
        )


def _row(values: Sequence[Any]) -> Row:
    seq, identifier, type_, platform, status, created, modified, deleted, document = values
    return Row(
        int(seq),
        str(identifier),
        str(type_),
        None if platform is None else str(platform),
        None if status is None else str(status),
        str(created),
        str(modified),
        bool(deleted),
        None if document is None or deleted else bytes(document),
    )


def _in(column: str, values: Sequence[str]) -> tuple[str, list[object]]:
    if len(values) == 1:
        return f"{column} = ?", [values[0]]
    return f"{column} IN ({','.join('?' * len(values))})", list(values)


class PublicIndex:
    """Read-only queries on the catalogue index for the harvesting interfaces."""

    def __init__(self, index: CatalogIndex) -> None:
        self.index = index
        index.ensure("public_index", self._make)

    def _make(self) -> None:
        database = self.index.database
        if database.dialect == "sqlite":
            with self.index.transaction() as db:
                for statement in _INDEXES:
                    marked = db.execute(statement).rowcount
                    if statement is _BACKFILL and marked > 0:  # older rows now public_ever
                        counts.recount(db)
        elif not self._pg_trigger_exists():  # replicas start at once: create() serialises
            database.create(";\n".join(_PG_INDEXES))
            self.index.recount()  # (the backfill may have marked older rows public_ever)

    def _pg_trigger_exists(self) -> bool:
        row = (
            self._db()
            .execute(
                "SELECT 1 FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
                " JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE t.tgname = ? AND c.relname = 'assets' AND n.nspname = ?",
                (_PG_TRIGGER, self.index.database.name),
            )
            .fetchone()
        )
        return row is not None

    def _db(self) -> Connection:
        return self.index.connection()  # the index's per-thread connection

    # ------------------------------------------------------------------ live, by seq

    def _live_where(
        self, types: Sequence[str], modified_since: str | None, platform: str | None
    ) -> tuple[str, list[object]]:
        status_sql, args = _in("status", PUBLIC_STATUSES)
        type_sql, type_args = _in("type", types)
        where = [status_sql, "deleted = 0", type_sql]
        args += type_args
        if modified_since is not None:
            where.append("date_modified >= ?")
            args.append(modified_since)
        if platform is not None:
            where.append("platform = ?")
            args.append(platform)
        return " AND ".join(where), args

    def count(
        self, types: Sequence[str], modified_since: str | None = None, platform: str | None = None
    ) -> int:
        """Public live assets of ``types`` (without a date: from the maintained counts)."""
        if modified_since is None and platform != "":
            return counts.listed(self._db(), types, platform, deleted=False, ever=False)
        where, args = self._live_where(types, modified_since, platform)
        row = self._db().execute(f"SELECT COUNT(*) FROM assets WHERE {where}", args).fetchone()
        return int(row[0])

    def page(
        self,
        types: Sequence[str],
        offset: int,
        limit: int,
        modified_since: str | None = None,
        after_seq: int | None = None,
    ) -> list[Row]:
        """Public live assets in insertion order; ``after_seq`` (keyset) beats ``offset``."""
        where, args = self._live_where(types, modified_since, None)
        if after_seq is not None:
            where += " AND seq > ?"
            args.append(after_seq)
            offset = 0
        sql = (
            f"SELECT {_COLUMNS} FROM assets WHERE {where} ORDER BY seq"
            f" LIMIT {int(limit)} OFFSET {int(offset)}"  # literals: see CatalogIndex.page
        )
        return [_row(r) for r in self._db().execute(sql, args)]

    def iter_live(self, types: Sequence[str], batch: int = 5000) -> Iterator[Row]:
        """Every public live asset of ``types``, in insertion order, read in batches."""
        after = 0
        while True:
            rows = self.page(types, 0, batch, after_seq=after)
            yield from rows
            if len(rows) < batch:
                return
            after = rows[-1].seq

    def platforms(self, types: Sequence[str]) -> list[str]:
        """The platforms of the public live assets of ``types`` (from the maintained counts)."""
        return self._platforms_counted(types, ever=False)

    def _platforms_counted(
        self, types: Sequence[str], ever: bool, platformless: bool = False
    ) -> list[str]:
        """The platforms with rows of ``types`` that are public and live, or (``ever``) that
        OAI-PMH lists; ``platformless`` keeps ``''`` for rows without a platform."""
        found = set()
        for (type_, platform, status, deleted, was_public), n in counts.rows(self._db()).items():
            if n <= 0 or type_ not in types or not (platform or platformless):
                continue
            if (was_public == 1) if ever else (deleted == 0 and counts.is_public(status)):
                found.add(platform)
        return sorted(found)

    def latest_modified(self, types: Sequence[str]) -> str | None:
        where, args = self._live_where(types, None, None)
        row = (
            self._db()
            .execute(f"SELECT MAX(date_modified) FROM assets WHERE {where}", args)
            .fetchone()
        )
        return None if row[0] is None else str(row[0])

    # ------------------------------------------------------------------ with tombstones

    def get(self, identifier: str) -> Row | None:
        """A public asset or tombstone by identifier (None for drafts and unknown ids)."""
        row = (
            self._db()
            .execute(f"SELECT {_COLUMNS} FROM assets WHERE identifier = ?", (identifier,))
            .fetchone()
        )
        if row is None:
            return None
        found = _row(row)
        if found.public:
            return found
        ever = (
            self._db()
            .execute("SELECT 1 FROM public_ever WHERE identifier = ?", (identifier,))
            .fetchone()
        )
        return found.as_change() if ever else None

    def _changes_where(
        self, types: Sequence[str], platform: str | None, since: str | None, until: str | None
    ) -> tuple[str, list[object]]:
        # public now, or public once (then a deleted record): public_ever holds both
        ever: tuple[str, list[object]] = ("identifier IN (SELECT identifier FROM public_ever)", [])
        return self._window(ever, types, platform, since, until, None)

    def changes(
        self,
        types: Sequence[str],
        limit: int,
        platform: str | None = None,
        since: str | None = None,
        until: str | None = None,
        after: tuple[str, int] | None = None,
    ) -> list[Row]:
        """Public assets and tombstones by ``(date_modified, seq)``, after the ``after`` key."""
        where, args = self._changes_where(types, platform, since, until)
        if after is not None:
            where += " AND (date_modified, seq) > (?, ?)"
            args += [after[0], after[1]]
        # SQLite would take the rows of the types and sort them all for every page (3.8 s a
        # page at 1M); walking the (date_modified, seq) index stops after ``limit`` rows
        walk = " INDEXED BY assets_modified_seq" if self.index.dialect == "sqlite" else ""
        sql = (
            f"SELECT {_COLUMNS} FROM assets{walk} WHERE {where} ORDER BY date_modified, seq"
            f" LIMIT {int(limit)}"  # a literal: see CatalogIndex.page
        )
        return [_row(r).as_change() for r in self._db().execute(sql, args)]

    def count_changes(
        self,
        types: Sequence[str],
        platform: str | None = None,
        since: str | None = None,
        until: str | None = None,
        after: tuple[str, int] | None = None,
    ) -> int:
        """The size of an OAI-PMH list (what ``changes`` walks from ``after`` on). Without
        dates, from the maintained counts; else the public rows in the window (an index-only
        count on ``harvest_modified``) plus the withdrawn ones (few: non-public statuses)."""
        if since is None and until is None and after is None and platform != "":
            return counts.listed(self._db(), types, platform, deleted=None, ever=True)
        # every row OAI lists has a public status now, or a non-public one and public_ever
        withdrawn = sorted(
            {s for (_, _, s, _, e) in counts.rows(self._db()) if e and not counts.is_public(s)}
        )
        parts = [(_in("status", PUBLIC_STATUSES), False)]
        if named := [s for s in withdrawn if s]:
            parts.append((_in("status", named), True))
        if "" in withdrawn:  # NULL or '' (one key in the counts)
            parts += [(("status IS NULL", []), True), (("status = ''", []), True)]
        total = 0
        for status, once in parts:
            where, args = self._window(status, types, platform, since, until, after)
            if once:
                where += (
                    " AND EXISTS (SELECT 1 FROM public_ever p"
                    " WHERE p.identifier = assets.identifier)"
                )
            row = self._db().execute(f"SELECT COUNT(*) FROM assets WHERE {where}", args)
            total += int(row.fetchone()[0])
        return total

    @staticmethod
    def _window(
        status: tuple[str, list[object]],
        types: Sequence[str],
        platform: str | None,
        since: str | None,
        until: str | None,
        after: tuple[str, int] | None,
    ) -> tuple[str, list[object]]:
        type_sql, type_args = _in("type", types)
        where, args = [status[0], type_sql], [*status[1], *type_args]
        if platform is not None:
            where.append("platform = ?")
            args.append(platform)
        if since is not None:
            where.append("date_modified >= ?")
            args.append(since)
        if until is not None:
            where.append("date_modified <= ?")
            args.append(until)
        if after is not None:
            where.append("(date_modified, seq) > (?, ?)")
            args += [after[0], after[1]]
        return " AND ".join(where), args

    def earliest_change(self, types: Sequence[str]) -> str | None:
        """The oldest datestamp OAI-PMH lists (Identify): the first row of the walk of
        ``changes``, not a MIN over every listed row (seconds at 1M)."""
        if not self._platforms_counted(types, ever=True, platformless=True):
            return None  # nothing listed: no walk through every row to find that out
        first = self.changes(types, 1)
        return first[0].date_modified if first else None

    def change_platforms(self, types: Sequence[str]) -> list[str]:
        """The platforms OAI-PMH lists records of (ListSets: public once, maybe deleted
        since), from the maintained counts."""
        return self._platforms_counted(types, ever=True)

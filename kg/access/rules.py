"""Who may see and change which asset: principals, ownership, grants, roles, the review workflow.

AIoD v2 semantics (DESIGN.md section 4 keeps non-public assets apart; this module decides who
has the right to them):

* anyone, anonymous included, reads *published* assets;
* the creator of an asset owns it: reads, writes, deletes it, grants ``read`` / ``write`` /
  ``admin`` to other users or groups, restricts it, submits it for review;
* roles (from the identity provider's token or an API key): ``edit_aiod_resources`` (upload any
  type), ``create_<type>`` (upload one type), ``update_<type>`` / ``delete_<type>`` (moderate
  every asset of one type), ``platform_<name>`` (a connector: the assets of its platform),
  ``review_aiod_resources`` (review submissions); admins may do everything;
* user uploads start as ``draft``; ``draft``/``rejected``/``restricted`` -> ``submitted``
  (``submit``) -> ``published`` or ``rejected`` (``review``, never by the owner or the
  submitter); ``restricted`` keeps a finished asset visible to its owner and grantees only.

Everything that is not HTTP-specific lives here: the API resolves a request into a
``Principal`` (api/auth) and asks this module. The tables live in the catalogue index's
database (SQLite or PostgreSQL, ``kg.db``; a rebuild of the index from the store clears only
its own tables, never these); the index's own ``assets`` table is read only through
``kg.store.index.CatalogIndex``'s methods (``page``, ``count``, ``count_by_platform``,
``with_status``, with ``visible_where`` as their condition).
A caller without the right to *read* an asset is told exactly what it would be told if the
asset did not exist (``Catalog.not_found``): no existence leak.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from kg.access.revisions import SCHEMA as REVISIONS_SCHEMA
from kg.db.database import Connection
from kg.errors import CatalogError, Conflict, NotFound
from kg.model.fields import ASSET_TYPES, AssetType
from kg.store.index import CatalogIndex, Entry
from kg.store.public_index import PUBLIC_STATUSES

JSON = dict[str, Any]

EDIT_ROLE = "edit_aiod_resources"
REVIEW_ROLE = "review_aiod_resources"
PLATFORM_ROLE_PREFIX = "platform_"
USER_PLATFORM = "aiod"  # the platform of user uploads (kg.catalog.USER_PLATFORM)
PERMISSIONS: tuple[str, ...] = ("read", "write", "admin")
LOCAL_SUBJECT_PREFIX = "aiod-kg:"  # subjects of API keys and the admin key; tokens never
ADMIN_SUBJECT = "aiod-kg:admin"
_RANK = {p: i for i, p in enumerate(PERMISSIONS)}

SCHEMA = """
CREATE TABLE IF NOT EXISTS asset_owners (
    identifier TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS asset_owners_owner ON asset_owners (owner);
CREATE TABLE IF NOT EXISTS asset_grants (
    identifier TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('user', 'group')),
    name TEXT NOT NULL,
    permission TEXT NOT NULL CHECK (permission IN ('read', 'write', 'admin')),
    granted_by TEXT,
    granted_at TEXT NOT NULL,
    PRIMARY KEY (identifier, kind, name)
);
CREATE INDEX IF NOT EXISTS asset_grants_name ON asset_grants (kind, name);
CREATE TABLE IF NOT EXISTS asset_reviews (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    identifier TEXT NOT NULL,
    action TEXT NOT NULL,
    actor TEXT NOT NULL,
    comment TEXT,
    at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS asset_reviews_identifier ON asset_reviews (identifier, seq);
CREATE TABLE IF NOT EXISTS api_keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    hash TEXT NOT NULL UNIQUE,
    roles TEXT NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT,
    revoked_at TEXT
);
"""


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")


# --------------------------------------------------------------------------- principals


@dataclass(frozen=True)
class Principal:
    """Whoever sends a request. ``subject`` is stable: the token's ``sub``, or
    ``aiod-kg:apikey:<id>`` / ``aiod-kg:admin`` (a prefix no token may use)."""

    kind: Literal["anonymous", "user", "api_key", "admin"] = "anonymous"
    subject: str = ""
    name: str = ""
    roles: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()
    admin: bool = False

    @property
    def authenticated(self) -> bool:
        return self.kind != "anonymous"

    @property
    def platforms(self) -> frozenset[str]:
        """Platforms this principal writes for (``platform_<name>`` roles)."""
        n = len(PLATFORM_ROLE_PREFIX)
        return frozenset(r[n:] for r in self.roles if r.startswith(PLATFORM_ROLE_PREFIX) and r[n:])

    def has_type_role(self, action: str, collection: str) -> bool:
        return f"{action}_{collection}" in self.roles

    def moderated_types(self) -> list[str]:
        """Collections whose every asset this principal may update or delete (so also read)."""
        return [
            c
            for c in ASSET_TYPES
            if self.has_type_role("update", c) or self.has_type_role("delete", c)
        ]

    @property
    def reviewer(self) -> bool:
        return self.admin or REVIEW_ROLE in self.roles


ANONYMOUS = Principal()
SYSTEM = Principal("admin", "system", "system", admin=True)


# --------------------------------------------------------------------------- asset facts


@dataclass(frozen=True)
class AssetFacts:
    """What the rules look at: the index row and the asset's owner and grants."""

    entry: Entry
    owner: str | None
    grants: tuple[tuple[str, str, str], ...] = field(default=())  # (kind, name, permission)

    @property
    def public(self) -> bool:
        return self.entry.status in PUBLIC_STATUSES

    def granted(self, principal: Principal) -> int:
        """The highest permission rank granted to the principal (-1: none)."""
        best = -1
        for kind, name, permission in self.grants:
            if (kind == "user" and principal.subject and name == principal.subject) or (
                kind == "group" and name in principal.groups
            ):
                best = max(best, _RANK[permission])
        return best

    def is_owner(self, principal: Principal) -> bool:
        return bool(principal.subject) and self.owner == principal.subject

    def platform_member(self, principal: Principal) -> bool:
        platform = self.entry.platform
        return platform not in (None, USER_PLATFORM) and platform in principal.platforms


def can_read(principal: Principal, facts: AssetFacts) -> bool:
    if facts.public or principal.admin:
        return True
    if not principal.authenticated:
        return False
    return (
        facts.is_owner(principal)
        or facts.granted(principal) >= 0
        or (principal.reviewer and facts.entry.status == "submitted")
        or facts.entry.type in principal.moderated_types()
        or facts.platform_member(principal)
    )


def can_write(principal: Principal, facts: AssetFacts) -> bool:
    if principal.admin:
        return True
    return principal.authenticated and (
        facts.is_owner(principal)
        or facts.granted(principal) >= _RANK["write"]
        or principal.has_type_role("update", facts.entry.type)
        or facts.platform_member(principal)
    )


def can_delete(principal: Principal, facts: AssetFacts) -> bool:
    if principal.admin:
        return True
    return principal.authenticated and (
        facts.is_owner(principal)
        or facts.granted(principal) >= _RANK["admin"]
        or principal.has_type_role("delete", facts.entry.type)
        or facts.platform_member(principal)
    )


def can_administer(principal: Principal, facts: AssetFacts) -> bool:
    """Change grants, restrict, submit, withdraw."""
    if principal.admin:
        return True
    return principal.authenticated and (
        facts.is_owner(principal) or facts.granted(principal) >= _RANK["admin"]
    )


def can_create(
    principal: Principal, asset: AssetType, platform: str | None, requires_role: bool = True
) -> bool:
    """May this principal add an asset of this type (for this platform)? Any signed-in
    user may upload drafts unless ``requires_role`` (AIOD_KG_CREATE_REQUIRES_ROLE)."""
    if principal.admin:
        return True
    if not principal.authenticated:
        return False
    if platform is not None and platform != USER_PLATFORM:
        return platform in principal.platforms
    role = EDIT_ROLE in principal.roles or principal.has_type_role("create", asset.collection)
    if principal.platforms - {USER_PLATFORM} and not role:
        return False  # a connector key writes its platform's assets, never user uploads
    return role or not requires_role


def publishes_directly(principal: Principal, platform: str | None) -> bool:
    """Admins and connectors write assets with the status they give (default published);
    everybody else's uploads start as drafts and their edits keep the status."""
    return principal.admin or (
        platform is not None and platform != USER_PLATFORM and platform in principal.platforms
    )


def _in(column: str, values: Sequence[str]) -> tuple[str, list[object]]:
    return f"{column} IN ({','.join('?' * len(values))})", list(values)


def visible_where(principal: Principal) -> tuple[str, list[object]]:
    """An SQL condition on the ``assets`` table: the rows this principal may read."""
    if principal.admin:
        return "1 = 1", []
    status_sql, args = _in("status", PUBLIC_STATUSES)
    clauses = [status_sql]
    if principal.authenticated:
        if principal.reviewer:
            clauses.append("status = 'submitted'")
        types = principal.moderated_types()
        if types:
            sql, more = _in("type", types)
            clauses.append(sql)
            args += more
        platforms = sorted(principal.platforms - {USER_PLATFORM})
        if platforms:
            sql, more = _in("platform", platforms)
            clauses.append(sql)
            args += more
        if principal.subject:
            clauses.append("identifier IN (SELECT identifier FROM asset_owners WHERE owner = ?)")
            args.append(principal.subject)
        who = ["(kind = 'user' AND name = ?)"] if principal.subject else []
        who_args: list[object] = [principal.subject] if principal.subject else []
        if principal.groups:
            sql, more = _in("name", sorted(principal.groups))
            who.append(f"(kind = 'group' AND {sql})")
            who_args += more
        if who:
            clauses.append(
                "identifier IN (SELECT identifier FROM asset_grants WHERE " + " OR ".join(who) + ")"
            )
            args += who_args
    return "(" + " OR ".join(clauses) + ")", args


# --------------------------------------------------------------------------- the store


@dataclass(frozen=True)
class ApiKey:
    id: str
    name: str
    roles: tuple[str, ...]
    created_at: str
    created_by: str | None
    revoked_at: str | None

    def as_dict(self) -> JSON:
        return {
            "id": self.id,
            "name": self.name,
            "roles": list(self.roles),
            "created_at": self.created_at,
            "created_by": self.created_by,
            "revoked": self.revoked_at is not None,
            "revoked_at": self.revoked_at,
        }


def hash_key(secret: str) -> str:
    """API keys are 256-bit random strings, so one SHA-256 is a safe stored form."""
    return hashlib.sha256(secret.encode()).hexdigest()


class AccessControl:
    """Ownership, grants, reviews and API keys in the catalogue index's database."""

    def __init__(self, index: CatalogIndex) -> None:
        self.index = index
        index.ensure("access", lambda: index.database.create(SCHEMA + REVISIONS_SCHEMA + ";"))

    def _db(self) -> Connection:
        return self.index.connection()

    # ------------------------------------------------------------------ facts

    def facts(self, identifier: str, collection: str | None = None) -> AssetFacts | None:
        """The live asset's row, owner and grants (None when missing or deleted)."""
        entry = self.index.get(identifier)
        if entry is None or (collection is not None and entry.type != collection):
            return None
        row = (
            self._db()
            .execute("SELECT owner FROM asset_owners WHERE identifier = ?", (identifier,))
            .fetchone()
        )
        grants = tuple(
            (str(k), str(n), str(p))
            for k, n, p in self._db().execute(
                "SELECT kind, name, permission FROM asset_grants WHERE identifier = ?"
                " ORDER BY kind, name",
                (identifier,),
            )
        )
        return AssetFacts(entry, None if row is None else str(row[0]), grants)

    def readable(
        self, principal: Principal, asset: AssetType, identifier: str, not_found: NotFound
    ) -> AssetFacts:
        """The asset's facts if the principal may read it, else ``not_found`` (the same error
        as for an identifier that never existed)."""
        found = self.facts(identifier, asset.collection)
        if found is None or not can_read(principal, found):
            raise not_found
        return found

    def check_read(
        self,
        principal: Principal,
        asset: AssetType,
        identifier: str,
        not_found: NotFound,
        with_document: bool = False,
        known: Entry | None = None,
    ) -> Entry:
        """``readable`` for pure reads: a published asset costs one index lookup, which
        ``with_document`` also brings the cached AIoD JSON (``known``: that row, already in
        the caller's hands). Returns the asset's row."""
        entry = known or self.index.get(identifier, with_document=with_document)
        if entry is None or entry.type != asset.collection:
            raise not_found
        if entry.status in PUBLIC_STATUSES or principal.admin:
            return entry
        self.readable(principal, asset, identifier, not_found)
        return entry

    def is_readable(self, principal: Principal, identifier: str) -> bool:
        found = self.facts(identifier)
        return found is not None and can_read(principal, found)

    # ------------------------------------------------------------------ listing and counts

    def page(
        self,
        principal: Principal,
        collection: str,
        offset: int,
        limit: int,
        modified_after: str | None = None,
        modified_before: str | None = None,
        platform: str | None = None,
        sort: str | None = None,
        descending: bool = False,
    ) -> list[Entry]:
        """A page of the live assets of one type this principal may read, in insertion order
        or by ``sort`` (``CatalogIndex.page`` with the visibility condition)."""
        visible, args = visible_where(principal)
        return self.index.page(
            collection,
            offset,
            limit,
            modified_after,
            modified_before,
            platform,
            condition=(visible, args),
            sort=sort,
            descending=descending,
        )

    def count_by_platform(
        self, principal: Principal, collection: str | None = None
    ) -> dict[str, dict[str, int]]:
        """Live assets per type and platform this principal may read: the maintained counts
        plus its own and granted non-public ones (``visibility``; the rows ``visible_where``
        picks)."""
        from kg.access.visibility import visibility  # (it reads this module's principals)

        return self.index.count_visible(visibility(principal), collection)

    def count(self, principal: Principal, collection: str) -> int:
        return sum(self.count_by_platform(principal, collection).get(collection, {}).values())

    def find_platform(
        self, principal: Principal, collection: str, platform: str, resource_id: str
    ) -> Entry | None:
        entry = self.index.find_platform(collection, platform, resource_id)
        if entry is None:
            return None
        found = self.facts(entry.identifier, collection)
        return entry if found is not None and can_read(principal, found) else None

    # ------------------------------------------------------------------ ownership and grants

    def set_owner(self, identifier: str, owner: str) -> None:
        self.set_owners([identifier], owner)

    def set_owners(self, identifiers: Iterable[str], owner: str) -> None:
        """One owner for many assets, in one transaction (a bulk create's records)."""
        at = _now()
        rows = [(identifier, owner, at) for identifier in identifiers]
        if not rows:
            return
        with self.index.transaction() as db:
            db.executemany(
                "INSERT INTO asset_owners (identifier, owner, created_at) VALUES (?,?,?)"
                " ON CONFLICT(identifier) DO UPDATE SET owner = excluded.owner",
                rows,
            )

    def owner(self, identifier: str) -> str | None:
        row = (
            self._db()
            .execute("SELECT owner FROM asset_owners WHERE identifier = ?", (identifier,))
            .fetchone()
        )
        return None if row is None else str(row[0])

    def set_grants(
        self, identifier: str, grants: Iterable[tuple[str, str, str]], granted_by: str
    ) -> None:
        """Replace the asset's grants with ``(kind, name, permission)`` triples."""
        rows = []
        for kind, name, permission in grants:
            if kind not in ("user", "group") or permission not in PERMISSIONS or not name:
                raise CatalogError(
                    f"Invalid grant {kind}={name!r} {permission!r}: kind is user "
                    "or group, permission one of read, write, admin."
                )
            rows.append((identifier, kind, name, permission, granted_by, _now()))
        with self.index.transaction() as db:
            db.execute("DELETE FROM asset_grants WHERE identifier = ?", (identifier,))
            db.executemany(
                "INSERT INTO asset_grants (identifier, kind, name,"
                " permission, granted_by, granted_at) VALUES (?,?,?,?,?,?)"
                " ON CONFLICT (identifier, kind, name) DO UPDATE SET"
                " permission = excluded.permission, granted_by = excluded.granted_by,"
                " granted_at = excluded.granted_at",
                rows,
            )

    def forget(self, identifiers: Iterable[str]) -> None:
        """Drop the grants and pending revisions of deleted assets (the owner row stays with
        the tombstone)."""
        rows = [(i,) for i in identifiers]
        with self.index.transaction() as db:
            db.executemany("DELETE FROM asset_grants WHERE identifier = ?", rows)
            db.executemany("DELETE FROM asset_revisions WHERE identifier = ?", rows)

    # ------------------------------------------------------------------ reviews

    def record(self, identifier: str, action: str, actor: str, comment: str | None) -> None:
        with self.index.transaction() as db:
            db.execute(
                "INSERT INTO asset_reviews (identifier, action, actor, comment, at)"
                " VALUES (?,?,?,?,?)",
                (identifier, action, actor, comment, _now()),
            )

    def history(self, identifier: str) -> list[JSON]:
        return [
            {"action": str(a), "actor": str(w), "comment": c, "date": str(t)}
            for a, w, c, t in self._db().execute(
                "SELECT action, actor, comment, at FROM asset_reviews WHERE identifier = ?"
                " ORDER BY seq",
                (identifier,),
            )
        ]

    def submitter(self, identifier: str) -> str | None:
        row = (
            self._db()
            .execute(
                "SELECT actor FROM asset_reviews WHERE identifier = ? AND action = 'submit'"
                " ORDER BY seq DESC LIMIT 1",
                (identifier,),
            )
            .fetchone()
        )
        return None if row is None else str(row[0])

    def submissions(self, principal: Principal, limit: int = 100, offset: int = 0) -> list[Entry]:
        """Submitted assets: every one for reviewers, the principal's own for others."""
        return self.index.with_status("submitted", limit, offset, visible_where(principal))

    # ------------------------------------------------------------------ API keys

    def create_key(
        self, name: str, roles: Sequence[str], created_by: str | None
    ) -> tuple[ApiKey, str]:
        """A new key; the secret is returned once and only its hash is kept."""
        key_id = secrets.token_hex(6)
        secret = f"aiodkg_{key_id}_{secrets.token_urlsafe(32)}"
        created = _now()
        clean = tuple(sorted({r.strip() for r in roles if r.strip()}))
        with self.index.transaction() as db:
            db.execute(
                "INSERT INTO api_keys (id, name, hash, roles, created_at, created_by)"
                " VALUES (?,?,?,?,?,?)",
                (key_id, name, hash_key(secret), ",".join(clean), created, created_by),
            )
        return ApiKey(key_id, name, clean, created, created_by, None), secret

    @staticmethod
    def _key(row: Sequence[object]) -> ApiKey:
        key_id, name, roles, created, by, revoked = row
        return ApiKey(
            str(key_id),
            str(name),
            tuple(r for r in str(roles).split(",") if r),
            str(created),
            None if by is None else str(by),
            None if revoked is None else str(revoked),
        )

    def api_keys(self) -> list[ApiKey]:
        return [
            self._key(r)
            for r in self._db().execute(
                "SELECT id, name, roles, created_at, created_by, revoked_at FROM api_keys"
                " ORDER BY created_at, id"
            )
        ]

    def revoke_key(self, key_id: str) -> ApiKey:
        with self.index.transaction() as db:
            changed = db.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                (_now(), key_id),
            ).rowcount
        found = [k for k in self.api_keys() if k.id == key_id]
        if not found:
            raise NotFound(f"API key '{key_id}' not found.")
        if not changed and found[0].revoked_at is None:
            raise Conflict(f"API key '{key_id}' could not be revoked.")
        return found[0]

    def key_principal(self, secret: str) -> Principal | None:
        """The principal of a live API key (None for unknown or revoked keys)."""
        if not secret.startswith("aiodkg_"):
            return None
        row = (
            self._db()
            .execute(
                "SELECT id, name, roles, created_at, created_by, revoked_at FROM api_keys"
                " WHERE hash = ?",
                (hash_key(secret),),
            )
            .fetchone()
        )
        if row is None:
            return None
        key = self._key(row)
        if key.revoked_at is not None:
            return None
        subject = f"{LOCAL_SUBJECT_PREFIX}apikey:{key.id}"
        return Principal("api_key", subject, key.name, frozenset(key.roles))

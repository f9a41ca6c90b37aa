"""Contact details in the store across crashes and upgrades (kg/catalog.py, kg/migrations.py).

A published contact keeps its private fields in the private partition under its graph IRI
(kg/model/private.py). Crash recovery must not take that annex for a stale copy, and a store
written before contact details became private is migrated once when it is opened.
"""

from __future__ import annotations

from dataclasses import replace

import orjson

from kg.catalog import Catalog
from kg.migrations import MIGRATIONS, applied
from kg.model.fields import ASSET_TYPES
from kg.model.private import PRIVATE_PREDICATES
from kg.model.rdf_mapping import IRI, Triple
from kg.settings import Settings

CONTACTS = ASSET_TYPES["contacts"]
EMAIL = "private.person@example.org"
PHONE = "+32 2 555 01 01"


def _contact(catalog: Catalog, name: str = "Private Person") -> str:
    return catalog.create(CONTACTS, {"name": name, "email": [EMAIL], "telephone": [PHONE]})


def _private_objects(triples: list[Triple]) -> set[str]:
    """The private fields' values (an e-mail may be a mailto: IRI or a literal)."""
    predicates = PRIVATE_PREDICATES["contacts"]
    return {
        (o.value.removeprefix("mailto:") if isinstance(o, IRI) else o.lexical)
        for _, p, o in triples
        if p in predicates
    }


def test_crash_recovery_keeps_a_published_contacts_private_details(settings: Settings) -> None:
    catalog = Catalog(settings)
    identifier = _contact(catalog)
    assert catalog.full(CONTACTS, identifier)["email"] == [EMAIL]
    # a crash during a later write of this contact: its journal entry is left pending
    catalog.index.mark_pending([(identifier, "contacts")])
    catalog.close()

    reopened = Catalog(settings)
    try:
        assert reopened.index.pending() == []
        full = reopened.full(CONTACTS, identifier)
        assert full["email"] == [EMAIL] and full["telephone"] == [PHONE]
        assert "email" not in reopened.get(CONTACTS, identifier)
    finally:
        reopened.close()


def test_crash_recovery_still_drops_a_stale_draft_copy(settings: Settings) -> None:
    """The other direction of reconcile: a whole graph in both partitions keeps the public one."""
    catalog = Catalog(settings)
    identifier = catalog.create(ASSET_TYPES["datasets"], {"name": "published one"})
    iri = catalog.iri(ASSET_TYPES["datasets"], identifier)
    stale = catalog.store.public.graph(iri)
    catalog.store.private.replace_graphs({iri: stale})  # the half-done partition change
    catalog.index.mark_pending([(identifier, "datasets")])
    catalog.close()

    reopened = Catalog(settings)
    try:
        assert reopened.store.public.has_graph(iri)
        assert not reopened.store.private.has_graph(iri)
    finally:
        reopened.close()


def _make_old_layout(catalog: Catalog, identifier: str) -> str:
    """Rewrite a published contact as stores written before private contact details held it:
    every triple in the public partition, the e-mail in the cached document."""
    iri = catalog.iri(CONTACTS, identifier)
    whole = catalog.full_triples(CONTACTS, identifier)
    catalog.store.public.replace_graphs({iri: whole})
    catalog.store.private.delete_graphs([iri])
    entry = catalog.index.get(identifier)
    assert entry is not None
    document = {**orjson.loads(catalog.document(CONTACTS, identifier)), "email": [EMAIL]}
    catalog.index.commit_entries([replace(entry, document=orjson.dumps(document))])
    with catalog.index.transaction() as db:  # a store from before the migration existed
        db.execute("DELETE FROM migrations")
    return iri


def test_a_store_from_before_private_contact_details_is_migrated_once(settings: Settings) -> None:
    catalog = Catalog(settings)
    migrated = _contact(catalog)
    untouched = _contact(catalog, "No Details")  # no private fields: nothing to move
    catalog.replace(CONTACTS, untouched, {"name": "No Details"})
    iri = _make_old_layout(catalog, migrated)
    assert EMAIL in _private_objects(catalog.store.public.graph(iri))
    assert EMAIL in catalog.document(CONTACTS, migrated).decode()
    catalog.close()

    reopened = Catalog(settings)
    try:
        assert set(applied(reopened.index)) == {m.name for m in MIGRATIONS}
        # out of the public partition (so SPARQL and the dump) and the cached document
        assert _private_objects(reopened.store.public.graph(iri)) == set()
        assert EMAIL in _private_objects(reopened.store.private.graph(iri))
        assert EMAIL not in reopened.document(CONTACTS, migrated).decode()
        # still there for those who may see it, and the public rest of the record unchanged
        full = reopened.full(CONTACTS, migrated)
        assert full["email"] == [EMAIL] and full["telephone"] == [PHONE]
        assert reopened.get(CONTACTS, migrated)["name"] == "Private Person"
        assert reopened.get(CONTACTS, untouched)["name"] == "No Details"
        assert reopened.store.public.has_graph(reopened.iri(CONTACTS, untouched))
        # the change reaches the feed, so followers (search) drop the e-mail from their text
        changes, _ = reopened.index.feed_since(0, 1000)
        assert migrated in {identifier for _, identifier, _, _ in changes}
    finally:
        reopened.close()

    # recorded: the next open does not scan again
    again = Catalog(settings)
    try:
        with again.index.transaction() as db:
            rows = db.execute("SELECT name FROM migrations").fetchall()
        assert sorted(r[0] for r in rows) == sorted(m.name for m in MIGRATIONS)
    finally:
        again.close()

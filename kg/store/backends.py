"""Choose the store backends from the settings: embedded Oxigraph or a remote SPARQL engine.

``AIOD_KG_STORE`` is a directory (embedded pyoxigraph, the default) or a ``sparql+http://``
URL (``kg.store.remote``). Either way the catalog gets a ``PartitionedStore``: the public
partition at ``AIOD_KG_STORE`` and the private one at ``AIOD_KG_PRIVATE_STORE`` (default
``<store>/private`` for a directory, ``<data_dir>/private`` for a remote store). The SQLite
catalogue index lives beside an embedded store, or in ``AIOD_KG_DATA_DIR`` for a remote one.
"""

from __future__ import annotations

from pathlib import Path

from kg.settings import Settings
from kg.store.embedded import EmbeddedStore, GraphStore
from kg.store.partition import PartitionedStore
from kg.store.remote import RemoteStore, is_remote


def open_location(location: str) -> GraphStore:
    """One store: a ``sparql+http(s)://`` URL or a directory."""
    if is_remote(location):
        return RemoteStore(location)
    return EmbeddedStore(Path(location))


def private_location(settings: Settings) -> str:
    if settings.private_store:
        return settings.private_store
    if is_remote(settings.store):
        return str(Path(settings.data_dir) / "private")
    return str(settings.store_path / "private")


def open_store(settings: Settings) -> PartitionedStore:
    public = open_location(settings.store)
    try:
        private = open_location(private_location(settings))
    except BaseException:
        public.close()
        raise
    return PartitionedStore(public, private)


def index_path(settings: Settings) -> Path:
    """Where the SQLite catalogue index lives."""
    folder = settings.state_path
    folder.mkdir(parents=True, exist_ok=True)
    return folder / "catalog.sqlite"

"""The files of one catalog: its ``FileStore`` and ``Ledger`` together (one per app or CLI)."""

from __future__ import annotations

from kg.files.ledger import Ledger
from kg.files.store import FileStore, open_file_store
from kg.settings import Settings


class Files:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store: FileStore = open_file_store(settings)
        self.ledger = Ledger.from_settings(settings)  # files.sqlite or AIOD_KG_DATABASE

    def release(self, sha256: str) -> bool:
        """Delete an object no asset refers to any more (call under the catalog's write lock)."""
        if self.ledger.references(sha256) == 0:
            return self.store.delete(sha256)
        return False

    def close(self) -> None:
        self.ledger.close()

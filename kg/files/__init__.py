"""The content of assets: uploaded files, stored by their sha256 behind one interface.

``store`` owns the ``FileStore`` protocol and opens the configured back end
(``AIOD_KG_FILES``); ``local`` is the content-addressed directory (the default, beside
``catalog.sqlite``); ``s3`` any S3-compatible object store; ``names`` sanitises file names;
``ledger`` records which asset holds which file (per-user quota); ``distributions`` turns a
stored file into the asset's AIoD ``distribution`` entry; ``verify`` re-checks stored objects
against the metadata.
"""

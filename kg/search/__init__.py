"""Search: hybrid BM25 (tantivy) + dense (MiniLM in faiss) ranking over the published assets,
persisted beside the store, following the catalog's change events and rebuildable from it.
"""

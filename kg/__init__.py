"""aiod-kg knowledge-graph core: model, RDF mapping, validation, store and catalogue index.

Nothing in this package knows about HTTP servers or about any particular platform.
"""

__version__ = "0.1.0"

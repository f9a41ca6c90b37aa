"""The aiod-kg ontology and JSON-LD context, installed as the data package ``kg.model.ontology``.

``aiod.ttl`` and ``context.jsonld`` are generated from the field table (``aiod-kg generate``)
and are the source of truth; ``kg.model.data_files`` finds them with ``importlib.resources``.
"""

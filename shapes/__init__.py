"""The SHACL shapes of the AIoD asset types, installed as the data package ``kg.model.shapes``.

The ``*.ttl`` files here are generated from the field table (``aiod-kg generate``) and are the
source of truth; ``kg.model.data_files`` finds them with ``importlib.resources``.
"""

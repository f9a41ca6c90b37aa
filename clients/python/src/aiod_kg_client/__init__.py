"""aiod-kg-client: a light Python client for aiod-kg servers (needs only httpx).

    from aiod_kg_client import Client

    kg = Client("http://127.0.0.1:8000")            # token="..." for writes and drafts
    for hit in kg.search("image classification", type="datasets"):
        print(hit.name, hit.url)
    flowers = kg.datasets.get("data_...")
    rows = kg.sparql("SELECT ?name WHERE { ?d a dcat:Dataset ; schema:name ?name } LIMIT 5")
    frame = rows.to_pandas()                        # with aiod-kg-client[pandas]

Errors raise ``ApiError`` subclasses carrying the server's ``detail`` and ``reference``.
RDF conversions (``aiod_kg_client.rdf``) need ``aiod-kg-client[rdf]``.
"""

from aiod_kg_client.client import ASSET_TYPES, Assets, Client
from aiod_kg_client.errors import (
    ApiError,
    AuthenticationError,
    BadRequest,
    ClientError,
    ConflictError,
    NotFoundError,
    PermissionDenied,
    RateLimited,
    Unreachable,
    ValidationError,
)
from aiod_kg_client.results import Asset, Rows, SearchHit, SearchResults, TypeSearchResults

__version__ = "0.1.0"
__all__ = [
    "ASSET_TYPES",
    "ApiError",
    "Asset",
    "Assets",
    "AuthenticationError",
    "BadRequest",
    "Client",
    "ClientError",
    "ConflictError",
    "NotFoundError",
    "PermissionDenied",
    "RateLimited",
    "Rows",
    "SearchHit",
    "SearchResults",
    "TypeSearchResults",
    "Unreachable",
    "ValidationError",
]

"""All settings of aiod-kg in one typed class; environment variables ``AIOD_KG_<NAME>``.

``Settings()`` reads the environment. A running app's settings are ``app.state.settings``
(FastAPI dependency: ``api.deps.get_settings``); there is no process-wide cached copy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AIOD_KG_", env_file=None, extra="ignore")

    base_url: str = Field(
        "http://127.0.0.1:8000",
        description="Public base URL: asset IRIs are {base_url}/{type}/{identifier}. Unset, "
        "`aiod-kg serve` uses http://HOST:PORT. A store remembers the first one it is used "
        "with (kg/store/base_url.py): IRIs never change.",
    )
    store: str = Field(
        "data/store",
        description="Where the catalog lives: a directory for the embedded Oxigraph store, or a "
        "SPARQL 1.1 engine: sparql+http://host:port (Oxigraph server), "
        "sparql+http://user:pw@host:8890/?dialect=virtuoso, sparql+http://host/ds?dialect=fuseki.",
    )
    database: SecretStr | None = Field(
        None,
        description="PostgreSQL database shared by replicas on many machines "
        "(postgresql://user:password@host:5432/aiodkg): the catalogue index and document cache, "
        "change feed, API keys, grants, reviews, harvest and sync state, links, files ledger, "
        "rate limits. Unset: SQLite files beside the store (docs/deploy.md).",
    )
    document_cache_mb: int = Field(
        64,
        ge=0,
        description="Memory (MB) per process for the hot-document cache of GET by id: on "
        "when AIOD_KG_DATABASE is set (PostgreSQL), so hot assets are answered without a "
        "database round trip; kept coherent by the change feed within 0.1 s "
        "(kg/store/document_cache.py). Not used on SQLite. 0 turns it off.",
    )
    host: str = Field("127.0.0.1", description="Address `aiod-kg serve` binds to.")
    port: int = Field(8000, ge=1, le=65535, description="Port `aiod-kg serve` listens on.")
    workers: int = Field(
        1,
        ge=1,
        le=64,
        description="API processes of `aiod-kg serve` (--workers). Above 1 on an embedded "
        "store, an Oxigraph server beside them owns the store; they share the SQLite files "
        "(docs/design.md, Workers).",
    )
    worker_header: bool = Field(
        False,
        description="Add X-AIOD-KG-Worker (the answering process id) to every response "
        "(tests and benchmarks of --workers).",
    )
    admin_key: SecretStr | None = Field(
        None, description="API key granting admin rights (writes). No default: writes are off."
    )
    validator: Literal["compiled", "pyshacl"] = Field(
        "compiled", description="SHACL engine for writes (both evaluate shapes/*.ttl)."
    )
    max_page_size: int = Field(1000, ge=1, description="Largest `limit` a list accepts.")
    max_body_bytes: int = Field(10 * 1024 * 1024, ge=1024, description="Largest request body.")
    # reading caller bodies (kg/formats/bounded.py, kg/formats/rdf_input.py)
    body_max_depth: int = Field(
        64, ge=8, le=1000, description="Deepest nesting of a JSON / JSON-LD / RDF/XML body."
    )
    body_max_triples: int = Field(100_000, ge=100, description="Most triples an RDF body may hold.")
    body_parse_timeout: float = Field(5.0, gt=0, description="Seconds to read one RDF body.")
    body_parse_memory_bytes: int = Field(
        1024 * 1024 * 1024, ge=64 * 1024 * 1024, description="Address space of a parse worker."
    )
    body_parse_workers: int = Field(2, ge=1, le=32, description="Warm RDF body parse workers.")
    import_batch_size: int = Field(1000, ge=1, description="Records validated/written per batch.")

    # authentication, access control and hardening (api/auth, kg/access/rules.py, api/hardening.py)
    production: bool = Field(
        False,
        description="Production mode: refuse to start with a missing or default secret "
        "(admin key shorter than 32 characters or a known default, OIDC without an audience).",
    )
    oidc_issuer: str | None = Field(
        None,
        description="OIDC issuer whose access tokens the API accepts (its `iss`), e.g. "
        "https://auth.example.org/realms/aiod. None: only API keys and the admin key.",
    )
    oidc_discovery_url: str | None = Field(
        None,
        description="OpenID discovery document (default: "
        "<issuer>/.well-known/openid-configuration).",
    )
    oidc_jwks_url: str | None = Field(None, description="JWKS URL (default: from discovery).")
    oidc_audience: str | None = Field(
        None, description="Comma-separated accepted `aud` values (required in production)."
    )
    oidc_roles_claim: str = Field(
        "realm_access.roles",
        description="Comma-separated dotted claim paths holding roles "
        "(Keycloak: realm_access.roles, resource_access.<client>.roles).",
    )
    oidc_groups_claim: str = Field("groups", description="Claim path holding group names.")
    oidc_name_claim: str = Field("preferred_username", description="Claim with the user name.")
    oidc_algorithms: str = Field(
        "RS256,RS384,RS512,PS256,PS384,PS512,ES256,ES384,EdDSA",
        description="Accepted signature algorithms (never none or HMAC).",
    )
    oidc_leeway: int = Field(30, ge=0, le=600, description="Seconds of clock skew for exp/nbf.")
    oidc_jwks_ttl: float = Field(3600.0, gt=0, description="Seconds the JWKS is cached.")
    oidc_jwks_min_refresh: float = Field(
        10.0, ge=0, description="Least seconds between JWKS refetches caused by unknown key ids."
    )
    oidc_timeout: float = Field(5.0, gt=0, description="Seconds for discovery/JWKS requests.")
    ui_oidc_client_id: str = Field(
        "",
        description="The web UI's public OIDC client (Authorization Code + PKCE in the browser, "
        "redirect URI: the base URL + /signin/callback). Empty: no provider button, key "
        "sign-in only.",
    )
    admin_roles: str = Field(
        "aiod_admin", description="Comma-separated roles that make a token or key an admin."
    )
    cors_origins: str = Field(
        "", description="Comma-separated origins allowed by CORS ('*': any). Empty: no CORS."
    )
    create_requires_role: bool = Field(
        False,
        description="true: creating assets needs the role edit_aiod_resources or "
        "create_<type>; false (as AIoD): any signed-in user may create drafts.",
    )
    write_rate_limit: int = Field(
        600, ge=0, description="Writes (POST/PUT/PATCH/DELETE) per client and window; 0: off."
    )
    write_rate_window: float = Field(60.0, gt=0, description="Seconds of the write-rate window.")

    # store backends and the SPARQL endpoint (kg/store/, kg/sparql/)
    data_dir: str = Field(
        "data", description="Local directory for the catalogue index when the store is remote."
    )
    private_store: str | None = Field(
        None,
        description="Where non-public assets (drafts, ...) live, apart from the public store: a "
        "directory or a sparql+http:// URL. Default: <store>/private, or <data_dir>/private "
        "when the store is remote.",
    )
    backup_dir: str | None = Field(
        None,
        description="The only directory POST /admin/backup writes under (relative paths are "
        "resolved against it). Default: 'backups' beside the store directory, or "
        "<data_dir>/backups when the store is remote.",
    )
    sparql_timeout: float = Field(10.0, gt=0, description="Seconds a SPARQL query may run.")
    sparql_max_result_bytes: int = Field(
        64 * 1024 * 1024, ge=1024, description="Largest SPARQL result (serialised bytes)."
    )
    sparql_allowed_services: str = Field(
        "",
        description="Comma-separated IRI prefixes that SERVICE may call ('*': any host). "
        "Empty (default): queries with SERVICE are refused.",
    )
    sparql_workers: int = Field(
        2, ge=1, description="Query worker processes (each stopped when it passes the time limit)."
    )
    sparql_worker_memory_bytes: int = Field(
        1024 * 1024 * 1024,
        ge=0,
        description="Address space a SPARQL query worker may add to its size at the fork "
        "(RLIMIT_AS); past it the query fails with 503. 0: no cap.",
    )
    sparql_isolation: Literal["process", "thread"] = Field(
        "process",
        description="'process': queries run in forked workers that are killed at the "
        "time limit; 'thread': in-process (the limit answers the caller but cannot stop "
        "the query).",
    )

    # harvesting (kg/harvest/engine.py runs the connectors of mappings/)
    openml_url: str = Field("https://www.openml.org/api/v1/json", description="OpenML REST API.")
    huggingface_url: str = Field("https://huggingface.co", description="Hugging Face Hub.")
    huggingface_viewer_url: str = Field(
        "https://datasets-server.huggingface.co", description="HF dataset viewer (parquet files)."
    )
    zenodo_url: str = Field("https://zenodo.org", description="Zenodo (OAI-PMH at /oai2d).")
    zenodo_window_hours: float = Field(24.0, gt=0, description="OAI-PMH from/until window.")
    dcat_url: str | None = Field(None, description="First page of a DCAT-AP catalogue.")
    dcat_platform: str | None = Field(
        None, description="Platform name for DCAT records without one (default: its host)."
    )
    aiod_url: str | None = Field(
        None, description="An AIoD REST API v2 root the `aiod` connector harvests (a central)."
    )
    aiod_platform: str = Field(
        "aiod", description="Platform name for records native to that AIoD API (`aiod`)."
    )

    # AIoD node (kg/sync): a node pushes its shared published assets to a central
    central_url: str | None = Field(
        None, description="The central's AIoD REST API base; set, this aiod-kg is a node."
    )
    central_token: SecretStr | None = Field(
        None, description="Key with the central's `platform_<name>` role, used to push."
    )
    node_platform: str | None = Field(
        None, description="This node's platform name on the central (and in /catalog)."
    )
    sync_max_retries: int = Field(
        5, ge=0, description="Retries of a push to the central before a sync run stops."
    )
    node_view: Literal["merged", "local"] = Field(
        "merged",
        description="A node's /search: 'merged' its own assets and the mirrored central "
        "catalogue (harvest aiod), 'local' its own only; hits say where they come from.",
    )
    sync_concurrency: int = Field(
        4, ge=1, description="Pushes to the central in flight at once (per asset type)."
    )

    harvest_sources: str = Field(
        "openml,huggingface,zenodo",
        description="Connectors `serve --harvest-every` runs (dcat is added when dcat_url is set).",
    )
    harvest_timeout: float = Field(30.0, gt=0, description="Seconds per upstream request.")
    harvest_max_retries: int = Field(5, ge=0, description="Retries of a failed request.")
    harvest_backoff: float = Field(1.0, ge=0, description="First retry delay (doubles).")
    harvest_backoff_max: float = Field(120.0, ge=0, description="Longest retry delay.")
    harvest_concurrency: int = Field(4, ge=1, description="Parallel per-record requests.")
    harvest_page_size: int = Field(100, ge=1, description="Records per upstream list page.")
    harvest_write_batch: int = Field(
        1000, ge=1, description="Harvested records written (and their cursor saved) together."
    )
    harvest_lease_seconds: float = Field(
        60.0,
        ge=1,
        description="Lifetime of a source's harvest lease (renewed every third of it while a run "
        "lasts): of replicas harvesting one catalog, only the holder runs a source; a killed "
        "holder's run is taken over and resumed this long after its last renewal.",
    )

    # outbound HTTP (kg/outbound.py): connectors, OIDC discovery/JWKS
    outbound_hosts: str = Field(
        "",
        description="Comma-separated hosts aiod-kg may connect to (`*.example.org`: with its "
        "subdomains). Empty: any host; link-local and metadata addresses are refused anyway.",
    )
    outbound_allow_link_local: bool = Field(
        False, description="Allow link-local and cloud metadata addresses (169.254.0.0/16...)."
    )
    outbound_connect_timeout: float = Field(5.0, gt=0, description="Seconds to connect.")
    outbound_read_timeout: float = Field(30.0, gt=0, description="Seconds between bytes read.")
    outbound_total_timeout: float = Field(
        300.0, gt=0, description="Seconds for a whole response body."
    )
    outbound_max_bytes: int = Field(
        64 * 1024 * 1024, ge=1024, description="Largest response body accepted (decompressed)."
    )
    outbound_max_redirects: int = Field(5, ge=0, description="Redirects followed per request.")

    # publishing for harvesters: DCAT-AP /catalog, OAI-PMH /oai, VoID, sitemap, dump
    catalog_title: str = Field("AI-on-Demand knowledge graph", description="dct:title of /catalog.")
    catalog_description: str = Field(
        "Datasets, machine-learning models and services of the AI-on-Demand platform.",
        description="dct:description of /catalog.",
    )
    catalog_publisher: str = Field("AI-on-Demand", description="Name of the catalogue publisher.")
    catalog_license: str | None = Field(
        "https://creativecommons.org/publicdomain/zero/1.0/",
        description="Licence of the catalogue metadata (an IRI), or none.",
    )
    catalog_language: str = Field("ENG", description="EU language code of the catalogue.")
    catalog_page_size: int = Field(100, ge=1, description="Default /catalog page size.")
    catalog_max_page_size: int = Field(1000, ge=1, description="Largest /catalog page size.")
    oai_page_size: int = Field(500, ge=1, description="Records per OAI-PMH list response.")
    oai_admin_email: str = Field("admin@example.org", description="OAI-PMH adminEmail.")
    oai_repository_identifier: str | None = Field(
        None, description="oai-identifier namespace (default: the base URL's host name)."
    )
    # -- search (kg/search)
    search_enabled: bool = Field(True, description="Keep a search index beside the store.")
    search_dir: str | None = Field(
        None, description="Where the search index lives (default: search/ beside catalog.sqlite)."
    )
    search_model: Literal["minilm", "static", "fast"] = Field(
        "minilm",
        description="Document vectors: all-MiniLM-L6-v2; the static model distilled from it "
        "(much faster indexing, lower quality); or fast: static when written, MiniLM computed "
        "in the background (bulk speed now, full quality once caught up).",
    )
    search_model_cache: str | None = Field(
        None,
        description="Where the distilled static model and the ONNX export of MiniLM are kept "
        "(default ~/.cache/aiod-kg/models).",
    )
    embedding_backend: Literal["onnx-int8", "onnx", "torch"] = Field(
        "onnx-int8",
        description="How MiniLM runs: onnx-int8 (an ONNX export of the shipped weights, made "
        "locally once into the model cache, int8-quantised: fastest), onnx (float32) or torch "
        "(sentence-transformers, the reference). An index built by another one is re-embedded.",
    )
    search_hnsw_threshold: int = Field(
        50_000, ge=1, description="Vectors from which faiss uses HNSW instead of exact search."
    )
    search_warmup: bool = Field(True, description="Load the search models when the API starts.")
    # -- links across platforms and metadata quality (kg/linking, kg/quality)
    linking_enabled: bool = Field(
        True,
        description="Keep the link index (links.sqlite beside catalog.sqlite) and the derived "
        "link and quality graphs of public assets.",
    )

    # -- files: the content of assets (kg/files, api/routes/files.py)
    files: str | None = Field(
        None,
        description="Where uploaded files live: a directory (content-addressed; default files/ "
        "beside catalog.sqlite) or s3://bucket/prefix (an S3-compatible object store).",
    )
    files_max_bytes: int = Field(
        5 * 1024**3, ge=0, description="Largest file one upload may store (bytes)."
    )
    files_user_quota_bytes: int = Field(
        50 * 1024**3, ge=0, description="Bytes of files one user may store in all; 0: no quota."
    )
    files_s3_endpoint: str | None = Field(
        None, description="S3 endpoint URL (e.g. http://127.0.0.1:9000); None: AWS."
    )
    files_s3_region: str = Field("us-east-1", description="S3 region.")
    files_s3_access_key: SecretStr | None = Field(
        None, description="S3 access key id (None: the default AWS credential chain)."
    )
    files_s3_secret_key: SecretStr | None = Field(None, description="S3 secret access key.")

    @field_validator("database")
    @classmethod
    def _postgres_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith(
            ("postgresql://", "postgres://")
        ):
            raise ValueError("AIOD_KG_DATABASE must be a postgresql:// URL")
        return value

    @property
    def base(self) -> str:
        return self.base_url.rstrip("/")

    @property
    def store_path(self) -> Path:
        return Path(self.store)

    @property
    def state_path(self) -> Path:
        """The folder of the catalog's local files (SQLite files, locks, search index): the
        store's directory, or ``data_dir`` beside a remote store."""
        return Path(self.data_dir) if "://" in self.store else self.store_path

    @property
    def backup_path(self) -> Path:
        if self.backup_dir:
            return Path(self.backup_dir)
        if "://" in self.store:
            return Path(self.data_dir) / "backups"
        return Path(self.store).resolve().parent / "backups"

    @property
    def model_cache_path(self) -> Path:
        if self.search_model_cache:
            return Path(self.search_model_cache)
        return Path.home() / ".cache" / "aiod-kg" / "models"

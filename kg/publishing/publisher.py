"""The outward face for harvesters: catalogue pages, single records, VoID, sitemap, dump.

``Publisher`` ties the public index, the record reader and the profiles together; the HTTP
routes only parse parameters and pick a serialisation.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from xml.sax.saxutils import escape

from kg.catalog import Catalog
from kg.formats.records import PublicRecord, RecordReader
from kg.model.fields import ASSET_TYPES
from kg.model.namespaces import DCT, FOAF, RDF_TYPE, XSD, expand
from kg.model.rdf_mapping import IRI, Lit, Triple
from kg.publishing.dcat_ap import CATALOG_TYPES, DCAT_PREFIXES, DcatApProfile, HydraView
from kg.store.embedded import nt_term
from kg.store.public_index import PublicIndex, Row
from kg.sync.state import SyncState, sync_state

VOID = "http://rdfs.org/ns/void#"
SD = "http://www.w3.org/ns/sparql-service-description#"

SITEMAP_LIMIT = 50_000  # URLs per sitemap file (sitemaps.org protocol)

#: asset types a sitemap / dump / VoID covers: everything public but contact details
PUBLIC_TYPES: tuple[str, ...] = tuple(t for t in ASSET_TYPES if t not in ("contacts",))


@dataclass(frozen=True)
class CatalogPage:
    view: HydraView
    records: list[PublicRecord]
    triples: list[Triple]


def http_date(timestamp: str) -> str:
    """``2024-01-02T03:04:05`` (UTC) -> an HTTP date."""
    moment = datetime.fromisoformat(timestamp[:19])  # 4x faster than strptime (every GET)
    return moment.strftime("%a, %d %b %Y %H:%M:%S GMT")


class Publisher:
    """Everything harvesters read, built from the public part of the catalog."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.settings = catalog.settings
        self.base = catalog.base_url

    @cached_property
    def public(self) -> PublicIndex:
        return PublicIndex(self.catalog.index)

    @cached_property
    def _sync_state(self) -> SyncState | None:
        node = self.settings.central_url or self.settings.node_platform
        return sync_state(self.settings) if node else None

    def withheld(self) -> frozenset[str]:
        """On an AIoD node, the assets their owner keeps local-only (kg/sync): no feed a
        central reads (catalogue, OAI-PMH, sitemap, dump) lists them."""
        state = self._sync_state
        return frozenset(state.local_only()) if state is not None else frozenset()

    def shown(self, rows: list[Row]) -> list[Row]:
        """``rows`` without the withheld (local-only) assets."""
        withheld = self.withheld()
        return [r for r in rows if r.identifier not in withheld] if withheld else rows

    @cached_property
    def reader(self) -> RecordReader:
        return RecordReader(self.catalog, self.public)

    @cached_property
    def dcat(self) -> DcatApProfile:
        return DcatApProfile(self.settings)

    # ------------------------------------------------------------------ DCAT-AP catalogue

    def catalog_page(
        self,
        page: int = 1,
        page_size: int | None = None,
        modified_since: str | None = None,
        after: int | None = None,
        total: int | None = None,
    ) -> CatalogPage:
        """Page ``page`` (1-based) of the DCAT-AP catalogue.

        ``hydra:next`` links carry ``after`` (the last ``seq`` of the previous page: the next
        page is one index range scan, and no asset is skipped when earlier ones are deleted
        during a harvest) and ``total`` (the count made on the harvest's first page, so that
        a harvest does not recount the catalogue on every page)."""
        size = min(
            page_size or self.settings.catalog_page_size, self.settings.catalog_max_page_size
        )
        if after is None or total is None:
            total = self.public.count(CATALOG_TYPES, modified_since)
        rows = self.public.page(
            CATALOG_TYPES, (page - 1) * size, size, modified_since, after_seq=after
        )
        next_after = rows[-1].seq if len(rows) == size else None
        records = self.reader.records(self.shown(rows))
        agents = self.reader.agents(records)
        view = HydraView.build(self.base, page, size, total, modified_since, next_after)
        return CatalogPage(view, records, self.dcat.catalog_page(records, agents, view))

    def dcat_record(self, record: PublicRecord) -> list[Triple]:
        return self.dcat.record_graph(record, self.reader.agents([record]))

    # ------------------------------------------------------------------ discovery

    def void(self) -> list[Triple]:
        """A VoID description of the whole public knowledge graph."""
        base = self.base
        ds = f"{base}/.well-known/void#aiod-kg"
        triples: list[Triple] = [
            (ds, RDF_TYPE, IRI(VOID + "Dataset")),
            (ds, DCT + "title", Lit(self.settings.catalog_title, XSD + "string")),
            (ds, DCT + "description", Lit(self.settings.catalog_description, XSD + "string")),
            (ds, FOAF + "homepage", IRI(f"{base}/")),
            (ds, VOID + "sparqlEndpoint", IRI(f"{base}/sparql")),
            (ds, VOID + "dataDump", IRI(f"{base}/dumps/catalog.nq.gz")),
            (ds, VOID + "rootResource", IRI(f"{base}/catalog")),
            (ds, VOID + "uriSpace", Lit(f"{base}/", XSD + "string")),
            (ds, VOID + "feature", IRI("http://www.w3.org/ns/formats/Turtle")),
            (ds, VOID + "feature", IRI("http://www.w3.org/ns/formats/RDF_XML")),
            (ds, VOID + "feature", IRI("http://www.w3.org/ns/formats/N-Triples")),
            (ds, VOID + "feature", IRI("http://www.w3.org/ns/formats/JSON-LD")),
        ]
        if self.settings.catalog_license:
            triples.append((ds, DCT + "license", IRI(self.settings.catalog_license)))
        latest = self.public.latest_modified(PUBLIC_TYPES)
        if latest:
            triples.append((ds, DCT + "modified", Lit(latest, XSD + "dateTime")))
        total = 0
        for name in PUBLIC_TYPES:
            count = self.public.count((name,))
            if not count:
                continue
            total += count
            asset = ASSET_TYPES[name]
            part = f"{base}/.well-known/void#{name}"
            triples += [
                (ds, VOID + "classPartition", IRI(part)),
                (part, VOID + "class", IRI(expand(asset.primary_class))),
                (part, VOID + "entities", Lit(str(count), XSD + "integer")),
                (part, VOID + "uriSpace", Lit(f"{base}/{name}/", XSD + "string")),
            ]
        triples.append((ds, VOID + "entities", Lit(str(total), XSD + "integer")))
        for prefix, ns in sorted(DCAT_PREFIXES.items()):
            if prefix in ("dcat", "dct", "foaf", "hydra"):
                triples.append((ds, VOID + "vocabulary", IRI(ns)))
        return triples

    def sitemap_parts(self) -> int:
        """How many sitemap files the landing pages need (0: one plain sitemap)."""
        count = self.public.count(PUBLIC_TYPES)
        return 0 if count <= SITEMAP_LIMIT else -(-count // SITEMAP_LIMIT)

    def sitemap(self, part: int | None = None) -> Iterator[bytes]:
        """``/sitemap.xml``: the landing pages of every public asset, or (beyond the
        protocol's 50,000 URLs per file) a sitemap index of ``/sitemap.xml?part=N``."""
        head = b'<?xml version="1.0" encoding="UTF-8"?>\n'
        ns = b'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
        parts = self.sitemap_parts()
        if part is None and parts:
            latest = self.public.latest_modified(PUBLIC_TYPES) or ""
            items = "".join(
                f"<sitemap><loc>{escape(self.base)}/sitemap.xml?part={n}</loc>"
                f"<lastmod>{latest[:19]}Z</lastmod></sitemap>\n"
                for n in range(1, parts + 1)
            )
            yield head + b"<sitemapindex " + ns + b">\n" + items.encode() + b"</sitemapindex>\n"
            return
        yield head + b"<urlset " + ns + b">\n"
        offset, limit = 0, SITEMAP_LIMIT
        if part is not None:
            offset = (part - 1) * SITEMAP_LIMIT
        after: int | None = None
        done = 0
        while done < limit:
            size = min(5000, limit - done)
            rows = self.public.page(
                PUBLIC_TYPES, offset if after is None else 0, size, after_seq=after
            )
            if not rows:
                break
            shown = self.shown(rows)
            yield "".join(
                f"<url><loc>{escape(self.base)}/{r.type}/{r.identifier}</loc>"
                f"<lastmod>{r.date_modified[:19]}Z</lastmod></url>\n"
                for r in shown
            ).encode()
            done += len(rows)
            after = rows[-1].seq
            if len(rows) < size:
                break
        yield b"</urlset>\n"

    def dump_nquads(self) -> Iterator[bytes]:
        """N-Quads of every public asset graph (graph IRI = asset IRI), in batches."""
        store = self.catalog.store
        batch: list[str] = []
        withheld = self.withheld()
        for row in self.public.iter_live(PUBLIC_TYPES):
            if row.identifier in withheld:
                continue
            iri = f"{self.base}/{row.type}/{row.identifier}"
            graph = f" <{iri}> .\n"
            for s, p, o in store.graph(iri):
                batch.append(f"<{s}> <{p}> {nt_term(o)}{graph}")
            if len(batch) >= 5000:
                yield "".join(batch).encode()
                batch = []
        if batch:
            yield "".join(batch).encode()

    def dump_nquads_gz(self) -> Iterator[bytes]:
        """The dump gzip-compressed as it streams (a valid .gz member)."""
        compressor = zlib.compressobj(6, zlib.DEFLATED, 31)  # 31: gzip container
        for chunk in self.dump_nquads():
            out = compressor.compress(chunk)
            if out:
                yield out
        yield compressor.flush()

"""The DCAT-AP 3.0.1 profile: public records as DCAT-AP, the catalogue and its Hydra paging.

The stored graphs use our field table's predicates (``kg.model.fields``); DCAT-AP asks for more and
for different shapes (``dct:title``, licences as ``dct:LicenseDocument``, IANA media types,
typed agents, ``xsd:nonNegativeInteger`` byte sizes, ...). This module builds that view from
AIoD JSON, so that every page validates against the official shapes
(tests/data/standards/dcat-ap/3.0.1/html-shacl: shapes.ttl, range.ttl,
mdr-vocabularies.shape.ttl) with zero violations:

* every object whose class the shapes check is typed in the same page (agents, licences,
  media types, documents, locations, periods, checksums, rights statements);
* controlled-vocabulary objects carry their ``skos:inScheme`` (EU language, file type,
  access right);
* values that cannot be expressed validly are left out rather than emitted wrong (a media
  type that is not ``type/subtype``, a checksum that is not hex, an unknown algorithm).

Datasets and ML models are ``dcat:Dataset``s (models keep ``fair4ml:MLModel``), services are
``dcat:DataService``s; every record also gets a ``dcat:CatalogRecord`` (``<asset>#aiod_entry``).

Origin (``origin``): every record says which platform it comes from and its identifier
there, as an ``adms:identifier`` (``skos:notation`` the identifier, ``adms:schemaAgency`` the
platform) and as ``aiod:platform`` / ``aiod:platformResourceIdentifier``, so a harvester of
this catalogue (mappings/dcat.py) keys it the way every other route does. An asset created
here is a node's (``node_platform``, its identifier) when the settings name one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlencode

from kg.formats import rdf_writer
from kg.formats.records import Agent, PublicRecord, referenced_ids
from kg.model.namespaces import AIOD, DCAT, DCT, FOAF, RDF_TYPE, SKOS, VCARD, XSD
from kg.model.rdf_mapping import IRI, Lit, Triple
from kg.settings import Settings

HYDRA = "http://www.w3.org/ns/hydra/core#"
ADMS = "http://www.w3.org/ns/adms#"
SPDX = "http://spdx.org/rdf/terms#"
SPDX_ALGORITHMS = "https://spdx.org/rdf/terms#checksumAlgorithm_"  # as the CV shape demands
GSP = "http://www.opengis.net/ont/geosparql#"
FAIR4ML = "https://w3id.org/fair4ml#"
EU = "http://publications.europa.eu/resource/authority/"
IANA = "https://www.iana.org/assignments/media-types/"

#: asset types published in the DCAT-AP catalogue, and their DCAT class
CATALOG_TYPES: tuple[str, ...] = ("datasets", "ml_models", "services")
DATA_SERVICE_TYPES = frozenset({"services"})

DCAT_PREFIXES: dict[str, str] = {
    "dcat": DCAT,
    "dct": DCT,
    "foaf": FOAF,
    "vcard": VCARD,
    "skos": SKOS,
    "adms": ADMS,
    "spdx": SPDX,
    "hydra": HYDRA,
    "xsd": XSD,
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "fair4ml": FAIR4ML,
    "gsp": GSP,
    "aiod": AIOD,
}

_MEDIA_TYPE_RE = re.compile(
    r"^(application|audio|font|image|message|model|multipart|text|video)/[A-Za-z0-9!#$&^_.+-]+$"
)
_HEX_RE = re.compile(r"^(?:[0-9a-fA-F]{2})+$")
_YEAR_RE = re.compile(r"^\d{4}$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?$")

#: IANA media type -> EU file-type authority code
FILE_TYPES: dict[str, str] = {
    "text/csv": "CSV",
    "text/tab-separated-values": "TSV",
    "application/json": "JSON",
    "application/ld+json": "JSON_LD",
    "application/zip": "ZIP",
    "application/gzip": "GZIP",
    "application/x-tar": "TAR",
    "application/pdf": "PDF",
    "application/xml": "XML",
    "text/xml": "XML",
    "text/html": "HTML",
    "text/plain": "TXT",
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "application/rdf+xml": "RDF_XML",
    "text/turtle": "RDF_TURTLE",
    "application/vnd.ms-excel": "XLS",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "XLSX",
    "application/vnd.apache.parquet": "PARQUET",
    "application/x-parquet": "PARQUET",
}
CHECKSUM_ALGORITHMS = frozenset({"md5", "sha1", "sha224", "sha256", "sha384", "sha512"})


@lru_cache(maxsize=256)
def _iri(value: str) -> IRI:
    return IRI(value)


def _s(text: object) -> Lit:
    return Lit(str(text), XSD + "string")


@lru_cache(maxsize=8192)
def _dt(text: str) -> Lit | None:
    """A date/dateTime literal DCAT-AP accepts, or None."""
    if _DATETIME_RE.match(text):
        return Lit(text, XSD + "dateTime")
    if _DATE_RE.match(text):
        return Lit(text, XSD + "date")
    if _YEAR_RE.match(text):
        return Lit(text, XSD + "gYear")
    return None


def media_type_iri(encoding_format: object) -> str | None:
    """The IANA IRI of a ``type/subtype`` media type (parameters dropped), or None."""
    if not isinstance(encoding_format, str):
        return None
    media = encoding_format.split(";")[0].strip().lower()
    return IANA + media if _MEDIA_TYPE_RE.match(media) else None


@dataclass(frozen=True)
class HydraView:
    """One page of the catalogue: its IRI and those of its neighbours."""

    collection: str
    iri: str
    first: str
    last: str
    next: str | None
    previous: str | None
    total: int
    page: int
    page_size: int

    @staticmethod
    def build(
        base: str,
        page: int,
        page_size: int,
        total: int,
        modified_since: str | None = None,
        next_after: int | None = None,
    ) -> HydraView:
        collection = f"{base}/catalog"

        def url(number: int, after: int | None = None) -> str:
            params: dict[str, object] = {"page": number, "page_size": page_size}
            if modified_since:
                params["modified_since"] = modified_since
            if after is not None:  # the keyset hint, and the count it was made with
                params["after"] = after
                params["total"] = total
            return f"{collection}?{urlencode(params)}"

        last = max(1, -(-total // page_size))
        return HydraView(
            collection=collection,
            iri=url(page),
            first=url(1),
            last=url(last),
            next=url(page + 1, next_after) if page < last else None,
            previous=url(page - 1) if page > 1 else None,
            total=total,
            page=page,
            page_size=page_size,
        )


class _Graph:
    """A list of triples with small helpers; typed nodes are emitted once."""

    def __init__(self) -> None:
        self.triples: list[Triple] = []
        self.push = self.triples.append  # push((s, p, o)): the hot path, no extra frame
        self._typed: set[tuple[str, str]] = set()

    def a(self, s: str, cls: str) -> None:
        key = (s, cls)
        if key not in self._typed:
            self._typed.add(key)
            self.push((s, RDF_TYPE, _iri(cls)))

    def lit(self, s: str, p: str, value: object) -> None:
        if value is not None and value != "":
            self.push((s, p, _s(value)))

    def date(self, s: str, p: str, value: object) -> None:
        if isinstance(value, str):
            term = _dt(value)
            if term is not None:
                self.push((s, p, term))

    def concept(self, s: str, p: str, iri: str, cls: str, scheme: str) -> None:
        """A controlled-vocabulary object: typed and in its scheme."""
        self.push((s, p, IRI(iri)))
        self.a(iri, cls)
        if (iri, SKOS + "inScheme") not in self._typed:
            self._typed.add((iri, SKOS + "inScheme"))
            self.push((iri, SKOS + "inScheme", IRI(scheme)))

    def document(self, s: str, p: str, url: object) -> None:
        if isinstance(url, str) and url:
            self.push((s, p, IRI(url)))
            self.a(url, FOAF + "Document")

    def license(self, s: str, url: object) -> None:
        if isinstance(url, str) and url:
            self.push((s, DCT + "license", IRI(url)))
            self.a(url, DCT + "LicenseDocument")


NATIVE_PLATFORMS = ("", "aiod")  # the platform value of an asset created on this instance


def origin(
    data: Mapping[str, object], identifier: str, node_platform: str | None
) -> tuple[str, str]:
    """``(platform, platform_resource_identifier)`` of an asset wherever it is published: its
    own for a harvested asset, ``(node_platform, identifier)`` for one created on a node."""
    platform = str(data.get("platform") or "")
    resource_id = str(data.get("platform_resource_identifier") or "") or identifier
    if platform in NATIVE_PLATFORMS:
        return (node_platform or "aiod", identifier if node_platform else resource_id)
    return platform, resource_id


class DcatApProfile:
    """Builds DCAT-AP graphs for catalogue pages and single records."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.base = settings.base
        self.catalog_iri = f"{self.base}/catalog"
        self._catalog_block: tuple[list[Triple], frozenset[tuple[str, str]]] | None = None

    # ------------------------------------------------------------------ agents

    def publisher_iri(self, platform: str) -> str:
        return f"{self.catalog_iri}#publisher-{platform}"

    def _platform_publisher(self, g: _Graph, subject: str, platform: object) -> None:
        if isinstance(platform, str) and platform:
            agent = self.publisher_iri(platform)
            g.push((subject, DCT + "publisher", IRI(agent)))
            if (agent, FOAF + "Agent") not in g._typed:
                g.a(agent, FOAF + "Agent")
                g.lit(agent, FOAF + "name", platform)

    def _agent(self, g: _Graph, agent: Agent) -> None:
        if (agent.iri, FOAF + "Agent") in g._typed:
            return
        g.a(agent.iri, FOAF + "Agent")
        if agent.is_person:
            g.a(agent.iri, FOAF + "Person")
        elif agent.asset.collection == "organisations":
            g.a(agent.iri, FOAF + "Organization")
        g.lit(agent.iri, FOAF + "name", agent.name)

    def _contact(self, g: _Graph, agent: Agent) -> None:
        if (agent.iri, VCARD + "Kind") in g._typed:
            return
        g.a(agent.iri, VCARD + "Kind")
        g.lit(agent.iri, VCARD + "fn", agent.name)
        for email in agent.emails:
            g.push((agent.iri, VCARD + "hasEmail", IRI(f"mailto:{email}")))

    # ------------------------------------------------------------------ records

    def _common(self, g: _Graph, record: PublicRecord, agents: Mapping[str, Agent]) -> None:
        s, data = record.iri, record.data
        g.lit(s, DCT + "title", record.name)
        g.lit(s, DCT + "description", record.description or record.name)
        g.lit(s, DCT + "identifier", record.identifier)
        for keyword in data.get("keyword") or []:
            g.lit(s, DCAT + "keyword", keyword)
        g.date(s, DCT + "issued", data.get("date_published"))
        g.date(s, DCT + "modified", record.date_modified)
        g.document(s, DCAT + "landingPage", data.get("same_as"))
        for link in data.get("relevant_link") or []:
            g.document(s, FOAF + "page", link)
        self._platform_publisher(g, s, data.get("platform"))
        self._origin(g, record)
        for identifier in referenced_ids(data, ("contact",)):
            agent = agents.get(identifier)
            if agent is not None:
                g.push((s, DCAT + "contactPoint", IRI(agent.iri)))
                self._contact(g, agent)

    def _origin(self, g: _Graph, record: PublicRecord) -> None:
        platform, resource_id = origin(record.data, record.identifier, self.settings.node_platform)
        s = record.iri
        node = f"{s}#origin"
        g.push((s, ADMS + "identifier", IRI(node)))
        g.a(node, ADMS + "Identifier")
        g.lit(node, SKOS + "notation", resource_id)
        g.lit(node, ADMS + "schemaAgency", platform)
        g.lit(s, AIOD + "platform", platform)
        g.lit(s, AIOD + "platformResourceIdentifier", resource_id)

    def _dataset(self, g: _Graph, record: PublicRecord, agents: Mapping[str, Agent]) -> None:
        s, data = record.iri, record.data
        g.a(s, DCAT + "Dataset")
        if record.asset.collection == "ml_models":
            g.a(s, FAIR4ML + "MLModel")
        self._common(g, record, agents)
        pid = data.get("pid")
        if pid:
            g.lit(s, DCT + "identifier", pid)
        g.lit(s, DCAT + "version", data.get("version"))
        g.license(s, data.get("license"))
        if data.get("is_accessible_for_free") is True:
            g.concept(
                s,
                DCT + "accessRights",
                EU + "access-right/PUBLIC",
                DCT + "RightsStatement",
                EU + "access-right",
            )
        for identifier in referenced_ids(data, ("creator",)):
            agent = agents.get(identifier)
            if agent is not None:
                g.push((s, DCT + "creator", IRI(agent.iri)))
                self._agent(g, agent)
        self._spatial(g, s, data.get("spatial_coverage"))
        self._temporal(g, s, data.get("temporal_coverage"))
        for index, dist in enumerate(data.get("distribution") or []):
            if isinstance(dist, dict):
                self._distribution(g, s, f"{s}#distribution-{index + 1}", dist, data.get("license"))

    def _distribution(
        self, g: _Graph, dataset: str, node: str, dist: Mapping[str, object], license_url: object
    ) -> None:
        url = dist.get("content_url")
        if not isinstance(url, str) or not url:
            return
        g.push((dataset, DCAT + "distribution", IRI(node)))
        g.a(node, DCAT + "Distribution")
        g.push((node, DCAT + "accessURL", IRI(url)))
        g.push((node, DCAT + "downloadURL", IRI(url)))
        g.lit(node, DCT + "title", dist.get("name"))
        g.lit(node, DCT + "description", dist.get("description"))
        g.date(node, DCT + "issued", dist.get("date_published"))
        g.license(node, license_url)
        size = dist.get("content_size_kb")
        if isinstance(size, int) and not isinstance(size, bool) and size >= 0:
            g.push((node, DCAT + "byteSize", Lit(str(size * 1024), XSD + "nonNegativeInteger")))
        media = media_type_iri(dist.get("encoding_format"))
        if media is not None:
            g.push((node, DCAT + "mediaType", IRI(media)))
            g.a(media, DCT + "MediaType")
            file_type = FILE_TYPES.get(media[len(IANA) :])
            if file_type is not None:
                g.concept(
                    node,
                    DCT + "format",
                    f"{EU}file-type/{file_type}",
                    DCT + "MediaTypeOrExtent",
                    EU + "file-type",
                )
        checksum = dist.get("checksum")
        algorithm = str(dist.get("checksum_algorithm") or "").lower().replace("-", "")
        if (
            isinstance(checksum, str)
            and _HEX_RE.match(checksum)
            and (algorithm in CHECKSUM_ALGORITHMS)
        ):
            cnode = f"{node}.checksum"
            algo = SPDX_ALGORITHMS + algorithm
            g.push((node, SPDX + "checksum", IRI(cnode)))
            g.a(cnode, SPDX + "Checksum")
            g.push((cnode, SPDX + "algorithm", IRI(algo)))
            g.a(algo, SPDX + "ChecksumAlgorithm")
            g.push((cnode, SPDX + "checksumValue", Lit(checksum.lower(), XSD + "hexBinary")))
        rights = dist.get("copyright")
        if isinstance(rights, str) and rights:
            rnode = f"{node}.rights"
            g.push((node, DCT + "rights", IRI(rnode)))
            g.a(rnode, DCT + "RightsStatement")
            g.lit(rnode, "http://www.w3.org/2000/01/rdf-schema#label", rights)

    def _spatial(self, g: _Graph, s: str, location: object) -> None:
        if not isinstance(location, dict):
            return
        node = f"{s}#spatial_coverage"
        g.push((s, DCT + "spatial", IRI(node)))
        g.a(node, DCT + "Location")
        geo = location.get("geo")
        if (
            isinstance(geo, dict)
            and geo.get("latitude") is not None
            and (geo.get("longitude") is not None)
        ):
            wkt = f"POINT({geo['longitude']} {geo['latitude']})"
            g.push((node, DCAT + "centroid", Lit(wkt, GSP + "wktLiteral")))
        address = location.get("address")
        if isinstance(address, dict):
            label = address.get("address") or ", ".join(
                str(address[k])
                for k in ("street", "postal_code", "locality", "region", "country")
                if address.get(k)
            )
            g.lit(node, SKOS + "prefLabel", label)

    def _temporal(self, g: _Graph, s: str, coverage: object) -> None:
        if not isinstance(coverage, str) or "/" not in coverage:
            return
        start, _, end = coverage.partition("/")
        start_term, end_term = _dt(start.strip()), _dt(end.strip())
        if start_term is None and end_term is None:
            return
        node = f"{s}#temporal_coverage"
        g.push((s, DCT + "temporal", IRI(node)))
        g.a(node, DCT + "PeriodOfTime")
        if start_term is not None:
            g.push((node, DCAT + "startDate", start_term))
        if end_term is not None:
            g.push((node, DCAT + "endDate", end_term))

    def _service(self, g: _Graph, record: PublicRecord, agents: Mapping[str, Agent]) -> None:
        s, data = record.iri, record.data
        g.a(s, DCAT + "DataService")
        self._common(g, record, agents)
        links = [data.get("same_as"), *(data.get("relevant_link") or [])]
        endpoint = next((u for u in links if isinstance(u, str) and u), s)
        g.push((s, DCAT + "endpointURL", IRI(endpoint)))

    def _record(self, g: _Graph, record: PublicRecord) -> str:
        node = f"{record.iri}#aiod_entry"
        g.a(node, DCAT + "CatalogRecord")
        g.push((node, FOAF + "primaryTopic", IRI(record.iri)))
        g.date(node, DCT + "issued", record.date_created)
        g.date(node, DCT + "modified", record.date_modified)
        return node

    def describe(self, g: _Graph, record: PublicRecord, agents: Mapping[str, Agent]) -> str:
        """Add one record (resource + catalogue record); returns the catalogue record IRI."""
        if record.asset.collection in DATA_SERVICE_TYPES:
            self._service(g, record, agents)
        else:
            self._dataset(g, record, agents)
        return self._record(g, record)

    # ------------------------------------------------------------------ documents

    def _catalog(self, g: _Graph) -> str:
        c = self.catalog_iri
        g.a(c, DCAT + "Catalog")
        g.lit(c, DCT + "title", self.settings.catalog_title)
        g.lit(c, DCT + "description", self.settings.catalog_description)
        publisher = f"{c}#publisher"
        g.push((c, DCT + "publisher", IRI(publisher)))
        g.a(publisher, FOAF + "Agent")
        g.lit(publisher, FOAF + "name", self.settings.catalog_publisher)
        g.document(c, FOAF + "homepage", f"{self.base}/")
        g.concept(
            c,
            DCT + "language",
            f"{EU}language/{self.settings.catalog_language}",
            DCT + "LinguisticSystem",
            EU + "language",
        )
        g.license(c, self.settings.catalog_license)
        themes = EU + "data-theme"
        g.push((c, DCAT + "themeTaxonomy", IRI(themes)))
        g.a(themes, SKOS + "ConceptScheme")
        g.lit(themes, DCT + "title", "Data theme")
        return c

    def catalog_page(
        self, records: Sequence[PublicRecord], agents: Mapping[str, Agent], view: HydraView
    ) -> list[Triple]:
        """One self-contained page: the catalogue, its Hydra view and the page's records."""
        g = _Graph()
        c = self._catalog(g)
        g.a(c, HYDRA + "Collection")
        total = Lit(str(view.total), XSD + "integer")
        g.push((c, HYDRA + "totalItems", total))
        g.push((c, HYDRA + "view", IRI(view.iri)))
        v = view.iri
        g.a(v, HYDRA + "PartialCollectionView")
        g.push((v, HYDRA + "totalItems", total))
        g.push((v, HYDRA + "itemsPerPage", Lit(str(view.page_size), XSD + "integer")))
        g.push((v, HYDRA + "first", IRI(view.first)))
        g.push((v, HYDRA + "last", IRI(view.last)))
        if view.next:
            g.push((v, HYDRA + "next", IRI(view.next)))
        if view.previous:
            g.push((v, HYDRA + "previous", IRI(view.previous)))
        for record in records:
            predicate = "service" if record.asset.collection in DATA_SERVICE_TYPES else "dataset"
            g.push((c, DCAT + predicate, IRI(record.iri)))
            g.push((c, DCAT + "record", IRI(self.describe(g, record, agents))))
        return g.triples

    def record_graph(self, record: PublicRecord, agents: Mapping[str, Agent]) -> list[Triple]:
        """One record alone (OAI-PMH ``dcat_ap``), with the catalogue it belongs to."""
        if self._catalog_block is None:  # the catalogue's own description never changes
            block = _Graph()
            self._catalog(block)
            self._catalog_block = (block.triples, frozenset(block._typed))
        triples, typed = self._catalog_block
        g = _Graph()
        g.triples.extend(triples)
        g._typed.update(typed)
        c = self.catalog_iri
        predicate = "service" if record.asset.collection in DATA_SERVICE_TYPES else "dataset"
        g.push((c, DCAT + predicate, IRI(record.iri)))
        g.push((c, DCAT + "record", IRI(self.describe(g, record, agents))))
        return g.triples


def serialize(triples: Iterable[Triple], fmt: str) -> bytes:
    """Turtle, RDF/XML, N-Triples or (expanded) JSON-LD with the DCAT-AP prefixes."""
    if fmt == "turtle":
        return rdf_writer.turtle(triples, DCAT_PREFIXES)
    if fmt == "rdfxml":
        return rdf_writer.rdfxml(triples, DCAT_PREFIXES)
    if fmt == "ntriples":
        return rdf_writer.ntriples(triples)
    if fmt == "jsonld":
        return rdf_writer.jsonld(triples)
    raise ValueError(f"unknown RDF format {fmt!r}")

"""Any DCAT-AP catalogue (Turtle, RDF/XML, JSON-LD, N-Triples), paged with Hydra.

Pages are followed through ``hydra:next`` (``hydra:PartialCollectionView``) or the older
``hydra:nextPage`` (``hydra:PagedCollection``); a page already visited ends the walk
(paging loops), and so does ``max_pages``. Each ``dcat:Dataset`` becomes a dataset; a
dataset that a page only names (no properties) is dereferenced. The cursor is the URL
of the next page, so a resumed run continues where it stopped. DCAT-AP has no deletion
markers: a run that walked every page deletes the datasets this catalogue no longer lists.

Identity: a record that carries ``aiod:platform`` and ``aiod:platformResourceIdentifier``
(another aiod-kg node's ``/catalog``), or an ``adms:identifier`` with ``skos:notation`` and
``adms:schemaAgency``, keeps them, so the same asset reached through two
nodes is one asset; otherwise the platform is ``dcat_platform`` (default: the catalogue's
host) and the identifier ``dct:identifier`` or the dataset IRI. A dataset that is also a
``fair4ml:MLModel`` becomes an ml_model.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from kg.errors import ParseError
from kg.formats.rdf_input import parse_jsonld, parse_rdf
from kg.harvest.contract import JSON, Item, Key, MappingError, Page
from kg.harvest.http import FetchError, Http
from kg.model.namespaces import (
    AIOD,
    DCAT,
    DCT,
    FAIR4ML,
    FOAF,
    OWL,
    RDF_TYPE,
    RDFS,
    SCHEMA,
    SKOS,
    SPDX,
)
from kg.model.rdf_mapping import IRI, Lit, Term, Triple, normalise_iri
from mappings.base import (
    BaseConnector,
    as_int,
    clean,
    http_url,
    iso_datetime,
    keywords,
    normalise_doi,
    paragraphs,
    short_hash,
    squash,
    truncate,
    unique,
)

HYDRA = "http://www.w3.org/ns/hydra/core#"
VCARD = "http://www.w3.org/2006/vcard/ns#"
ADMS = "http://www.w3.org/ns/adms#"
RDF_LANG = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"
ACCEPT = (
    "text/turtle, application/ld+json;q=0.9, application/rdf+xml;q=0.8, application/n-triples;q=0.7"
)
FORMATS = {
    "text/turtle": "turtle",
    "application/x-turtle": "turtle",
    "application/rdf+xml": "rdfxml",
    "application/xml": "rdfxml",
    "text/xml": "rdfxml",
    "application/n-triples": "ntriples",
    "text/plain": "ntriples",
    "application/ld+json": "jsonld",
    "application/json": "jsonld",
}

Graph = dict[str, dict[str, list[Term]]]
PROV = "http://www.w3.org/ns/prov#"
# typed link fields (kg.model.fields LINKS) and the DCAT-AP / PROV predicates that state them
LINK_PREDICATES = {
    "is_derived_from": (PROV + "wasDerivedFrom", DCT + "source"),
    "references": (DCT + "references", DCT + "requires"),
    "is_referenced_by": (DCT + "isReferencedBy",),
    "is_version_of": (DCT + "isVersionOf",),
}


def parse_page(body: bytes, content_type: str | None, url: str, base_url: str) -> list[Triple]:
    """Triples of one RDF document, its syntax from the Content-Type (or sniffed)."""
    media = (content_type or "").split(";")[0].strip().lower()
    fmt = FORMATS.get(media)
    if fmt is None:
        head = body.lstrip()[:100]
        if head.startswith((b"{", b"[")):
            fmt = "jsonld"
        elif head.startswith(b"<?xml") or head.startswith(b"<rdf:RDF"):
            fmt = "rdfxml"
        else:
            fmt = "turtle"
    if fmt == "jsonld":
        return parse_jsonld(body, base_url)
    return parse_rdf(body, fmt, url)


def graph_of(triples: list[Triple]) -> Graph:
    graph: Graph = defaultdict(lambda: defaultdict(list))
    for s, p, o in triples:
        p = normalise_iri(p)
        if isinstance(o, IRI):
            o = IRI(normalise_iri(o.value))
        graph[s][p].append(o)
    return graph


def _types(graph: Graph, node: str) -> set[str]:
    return {t.value for t in graph.get(node, {}).get(RDF_TYPE, []) if isinstance(t, IRI)}


class DcatConnector(BaseConnector):
    name = "dcat"

    def __init__(
        self,
        base_url: str,
        platform: str | None = None,
        kg_base: str = "",
        max_pages: int = 100_000,
    ) -> None:
        super().__init__(base_url)
        host = urlsplit(base_url).netloc.split("@")[-1]
        self.platform = platform or host.replace(":", "_") or "dcat"
        self.kg_base = kg_base
        self.max_pages = max_pages

    # ------------------------------------------------------------------ listing

    def pages(self, http: Http, cursor: JSON | None, since: datetime | None) -> Iterator[Page]:
        url: str | None = (cursor or {}).get("next") or self.base_url
        visited: set[str] = set((cursor or {}).get("visited", []))
        count = 0
        while url is not None and count < self.max_pages:
            visited.add(url)
            count += 1
            response = http.get(url, headers={"Accept": ACCEPT})
            try:
                triples = parse_page(
                    response.content,
                    response.headers.get("content-type"),
                    str(response.url),
                    self.kg_base,
                )
            except ParseError as exc:
                raise FetchError(url, response.status_code, f"not DCAT-AP RDF: {exc}") from None
            graph = graph_of(triples)
            next_url = self._next(graph, url, str(response.url))
            if next_url in visited:
                next_url = None  # a loop: every page is read once
            page = Page(total=self._total(graph))
            for node in self._datasets(graph):
                page.entries.append((node, graph))
            page.cursor = (
                {"next": next_url, "visited": sorted(visited)[-50:]}
                if next_url
                else {"next": None, "done": True}
            )
            yield page
            if next_url is None:
                return
            url = next_url

    @staticmethod
    def _next(graph: Graph, url: str, final_url: str) -> str | None:
        candidates: list[tuple[int, str]] = []
        for subject, props in graph.items():
            for predicate in (HYDRA + "next", HYDRA + "nextPage"):
                for term in props.get(predicate, []):
                    if isinstance(term, IRI) and not term.value.startswith("_:"):
                        types = _types(graph, subject)
                        rank = 0 if subject in (url, final_url) else 1
                        if types & {HYDRA + "PartialCollectionView", HYDRA + "PagedCollection"}:
                            rank = min(rank, 0)
                        candidates.append((rank, term.value))
        candidates = [c for c in candidates if c[1] not in (url, final_url)] or candidates
        return min(candidates)[1] if candidates else None

    @staticmethod
    def _total(graph: Graph) -> int | None:
        for props in graph.values():
            for term in props.get(HYDRA + "totalItems", []):
                if isinstance(term, Lit):
                    return as_int(term.lexical)
        return None

    @staticmethod
    def _datasets(graph: Graph) -> list[str]:
        found = [s for s in graph if DCAT + "Dataset" in _types(graph, s)]
        for props in list(graph.values()):
            for term in props.get(DCAT + "dataset", []):
                if isinstance(term, IRI) and term.value not in found:
                    found.append(term.value)
        return found

    def entry_id(self, entry: Any) -> str:
        return str(entry[0])

    def entry_keys(self, entry: Any) -> list[Key]:
        node, graph = entry
        platform, resource_id = self._identity(node, graph)
        return [Key(_asset_of(graph, node), platform, resource_id)]

    # ------------------------------------------------------------------ details

    def fetch(self, http: Http, entry: Any) -> Any:
        node, graph = entry
        if set(graph.get(node, {})) - {RDF_TYPE} or not http_url(node):
            return entry  # described on the page (pages are meant to be self-contained)
        response = http.get(node, headers={"Accept": ACCEPT})
        triples = parse_page(
            response.content, response.headers.get("content-type"), str(response.url), self.kg_base
        )
        return (node, graph_of(triples))

    # ------------------------------------------------------------------ mapping

    def _identity(self, node: str, graph: Graph) -> tuple[str, str]:
        props = graph.get(node, {})
        platform = _literal(props.get(AIOD + "platform"))
        resource_id = _literal(props.get(AIOD + "platformResourceIdentifier"))
        if platform and resource_id:
            return platform, resource_id
        for term in props.get(ADMS + "identifier", []):  # an origin as adms:Identifier
            if isinstance(term, IRI):
                sub = graph.get(term.value, {})
                agency = _literal(sub.get(ADMS + "schemaAgency"))
                notation = _literal(sub.get(SKOS + "notation"))
                if agency and notation:
                    return agency, notation
        identifier = _literal(props.get(DCT + "identifier"))
        return self.platform, identifier or node

    def map(self, raw: Any) -> list[Item]:
        node, graph = raw
        props = graph.get(node)
        if not props:
            raise MappingError("dataset not described in the catalogue")
        title = squash(
            _best(props.get(DCT + "title"))
            or _best(props.get(SCHEMA + "name"))
            or _best(props.get(FOAF + "name"))
        )
        if not title:
            raise MappingError("dataset without dct:title")
        platform, resource_id = self._identity(node, graph)
        distributions = [
            self._distribution(graph, d.value)
            for d in props.get(DCAT + "distribution", [])
            if isinstance(d, IRI)
        ]
        licences = [t.value for t in props.get(DCT + "license", []) if isinstance(t, IRI)]
        for d in props.get(DCAT + "distribution", []):
            licences += [
                t.value
                for t in graph.get(d.value, {}).get(DCT + "license", [])
                if isinstance(t, IRI) and isinstance(d, IRI)
            ]
        landing = [t.value for t in props.get(DCAT + "landingPage", []) if isinstance(t, IRI)]
        same_as = http_url(node) or (landing[0] if landing else None)
        identifier = _literal(props.get(DCT + "identifier"))
        doi = normalise_doi(identifier) if identifier and "10." in identifier else None
        access = " ".join(
            t.value for t in props.get(DCT + "accessRights", []) if isinstance(t, IRI)
        ).upper()
        free = None
        if access:
            free = "PUBLIC" in access and "NON_PUBLIC" not in access
        links = landing + [
            t.value
            for p in (FOAF + "page", RDFS + "seeAlso")
            for t in props.get(p, [])
            if isinstance(t, IRI)
        ]
        record: JSON = {
            "name": truncate(title),
            "description": {"plain": paragraphs(_best(props.get(DCT + "description")))},
            "same_as": same_as,
            "pid": f"https://doi.org/{doi}" if doi else None,
            "date_published": iso_datetime(_literal(props.get(DCT + "issued"))),
            "version": _literal(props.get(DCAT + "version"))
            or _literal(props.get(OWL + "versionInfo")),
            "license": licences[0] if licences else None,
            "keyword": keywords(
                t.lexical for t in props.get(DCAT + "keyword", []) if isinstance(t, Lit)
            ),
            "distribution": [d for d in distributions if d],
            "is_accessible_for_free": free,
            "relevant_link": unique(http_url(link) for link in links if link != same_as)[:50],
            "temporal_coverage": self._temporal(graph, props),
            **self._links(props, same_as),
        }
        creators = [
            c
            for c in (self._agent(graph, t) for t in props.get(DCT + "creator", []))
            if c is not None
        ]
        record.update(platform=platform, platform_resource_identifier=resource_id)
        asset = _asset_of(graph, node)
        if asset == "ml_models":
            record.pop("temporal_coverage")
            record["trained_on"] = unique(
                http_url(t.value)
                for t in props.get(FAIR4ML + "trainedOn", [])
                if isinstance(t, IRI)
            )[:50]
        return [Item(asset, clean(record), {"creator": creators} if creators else {})]

    @staticmethod
    def _links(props: dict[str, list[Term]], same_as: str | None) -> JSON:
        """The typed links a DCAT record states (LINKS of kg.model.fields), by IRI."""
        out: JSON = {}
        for field, predicates in LINK_PREDICATES.items():
            found = [
                http_url(t.value)
                for predicate in predicates
                for t in props.get(predicate, [])
                if isinstance(t, IRI) and t.value != same_as
            ]
            out[field] = unique(found)[:50]
        return out

    def _distribution(self, graph: Graph, node: str) -> JSON | None:
        props = graph.get(node, {})
        url = next(
            (
                t.value
                for p in (DCAT + "downloadURL", DCAT + "accessURL")
                for t in props.get(p, [])
                if isinstance(t, IRI) and http_url(t.value)
            ),
            None,
        )
        if url is None:
            return None
        media = next(iter(props.get(DCAT + "mediaType", []) + props.get(DCT + "format", [])), None)
        encoding = None
        if isinstance(media, IRI):
            value = media.value
            encoding = (
                value.split("media-types/", 1)[1]
                if "media-types/" in value
                else value.rstrip("/").rsplit("/", 1)[-1]
            )
        elif isinstance(media, Lit):
            encoding = squash(media.lexical)
        size = as_int(_literal(props.get(DCAT + "byteSize")))
        checksum_value = algorithm = None
        for checksum in props.get(SPDX + "checksum", []):
            if isinstance(checksum, IRI):
                sub = graph.get(checksum.value, {})
                checksum_value = _literal(sub.get(SPDX + "checksumValue"))
                algo = next(iter(sub.get(SPDX + "algorithm", [])), None)
                if isinstance(algo, IRI):
                    algorithm = algo.value.rsplit("checksumAlgorithm_", 1)[-1]
        return {
            "content_url": url,
            "name": truncate(squash(_best(props.get(DCT + "title")))),
            "description": _best(props.get(DCT + "description")),
            "encoding_format": encoding,
            "content_size_kb": size // 1024 if size is not None and size >= 0 else None,
            "checksum": checksum_value,
            "checksum_algorithm": algorithm if checksum_value else None,
            "date_published": iso_datetime(_literal(props.get(DCT + "issued"))),
        }

    @staticmethod
    def _temporal(graph: Graph, props: dict[str, list[Term]]) -> str | None:
        for term in props.get(DCT + "temporal", []):
            if isinstance(term, IRI):
                sub = graph.get(term.value, {})
                start = _literal(sub.get(DCAT + "startDate"))
                end = _literal(sub.get(DCAT + "endDate"))
                if start or end:
                    return f"{start or '..'}/{end or '..'}"
        return None

    def _agent(self, graph: Graph, term: Term) -> Item | None:
        if not isinstance(term, IRI):
            return None
        props = graph.get(term.value, {})
        name = squash(
            _best(props.get(FOAF + "name"))
            or _best(props.get(VCARD + "fn"))
            or _best(props.get(SCHEMA + "name"))
        )
        if not name:
            return None
        types = _types(graph, term.value)
        asset = (
            "organisations"
            if types & {FOAF + "Organization", SCHEMA + "Organization", VCARD + "Organization"}
            else "persons"
        )
        resource_id = term.value if http_url(term.value) else f"name:{short_hash(name)}"
        return self.item(
            asset,
            resource_id,
            {
                "name": truncate(name),
                "same_as": http_url(term.value),
            },
        )


def _asset_of(graph: Graph, node: str) -> str:
    """``ml_models`` for a dataset that is also a FAIR4ML model, else ``datasets``."""
    return "ml_models" if FAIR4ML + "MLModel" in _types(graph, node) else "datasets"


def _literal(terms: list[Term] | None) -> str | None:
    for term in terms or []:
        if isinstance(term, Lit) and term.lexical.strip():
            return term.lexical.strip()
    return None


def _best(terms: list[Term] | None) -> str | None:
    """The English (or language-less) literal when there are several languages."""
    literals = [t for t in terms or [] if isinstance(t, Lit) and t.lexical.strip()]
    if not literals:
        return None
    plain = [t for t in literals if t.datatype != RDF_LANG]
    return (plain or literals)[0].lexical.strip()

"""The SPARQL 1.1 Service Description of the endpoint (``GET /sparql`` without a query).

The endpoint IRI is the configured base URL (``AIOD_KG_BASE_URL``) + ``/sparql``, never the
request's ``Host`` header (a client-chosen value must not end up in what we publish).
"""

from __future__ import annotations

from collections.abc import Sequence

import pyoxigraph as ox

from kg.settings import Settings
from kg.sparql.formats import OX_RDF, ResultFormat
from kg.sparql.policy import allowed_services

SD = "http://www.w3.org/ns/sparql-service-description#"
FORMATS_NS = "http://www.w3.org/ns/formats/"
FORMAT_IRIS = {
    "json": "SPARQL_Results_JSON",
    "xml": "SPARQL_Results_XML",
    "csv": "SPARQL_Results_CSV",
    "tsv": "SPARQL_Results_TSV",
    "turtle": "Turtle",
    "ntriples": "N-Triples",
    "jsonld": "JSON-LD",
    "rdfxml": "RDF_XML",
}


def service_description(endpoint: str, settings: Settings) -> list[ox.Triple]:
    """A SPARQL 1.1 Service Description of the endpoint."""
    rdf_type = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
    service = ox.NamedNode(endpoint)
    dataset, default_graph = ox.BlankNode("dataset"), ox.BlankNode("defaultGraph")

    def sd(local: str) -> ox.NamedNode:
        return ox.NamedNode(SD + local)

    triples = [
        ox.Triple(service, rdf_type, sd("Service")),
        ox.Triple(service, sd("endpoint"), service),
        ox.Triple(service, sd("supportedLanguage"), sd("SPARQL11Query")),
        ox.Triple(service, sd("supportedLanguage"), sd("SPARQL11Update")),
        ox.Triple(service, sd("feature"), sd("UnionDefaultGraph")),
        ox.Triple(service, sd("feature"), sd("DereferencesURIs")),
        ox.Triple(
            service,
            sd("defaultEntailmentRegime"),
            ox.NamedNode("http://www.w3.org/ns/entailment/Simple"),
        ),
        ox.Triple(service, sd("defaultDataset"), dataset),
        ox.Triple(dataset, rdf_type, sd("Dataset")),
        ox.Triple(dataset, sd("defaultGraph"), default_graph),
        ox.Triple(default_graph, rdf_type, sd("Graph")),
        ox.Triple(
            service,
            ox.NamedNode("http://purl.org/dc/terms/description"),
            ox.Literal(
                "The default graph is the union of the public asset graphs; every asset is also a "
                f"named graph (its IRI). Time limit {settings.sparql_timeout:g} s, results up to "
                f"{settings.sparql_max_result_bytes} bytes. Updates need admin rights."
            ),
        ),
    ]
    if allowed_services(settings):
        triples.append(ox.Triple(service, sd("feature"), sd("BasicFederatedQuery")))
    for name in FORMAT_IRIS.values():
        triples.append(ox.Triple(service, sd("resultFormat"), ox.NamedNode(FORMATS_NS + name)))
    return triples


def serialize_description(triples: Sequence[ox.Triple], fmt: ResultFormat) -> bytes:
    prefixes = {"sd": SD, "formats": FORMATS_NS, "dct": "http://purl.org/dc/terms/"}
    data = ox.serialize(
        triples, None, OX_RDF[fmt.name], prefixes=prefixes if fmt.name != "ntriples" else None
    )
    assert isinstance(data, bytes)
    return data

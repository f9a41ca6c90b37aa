"""Namespace IRIs and the prefixes used in every RDF serialisation the catalog writes."""

from __future__ import annotations

AIOD = "https://w3id.org/aiod-kg/ns#"
AIODM = "http://aiod.eu/data/"  # the AIoD metadata model v3 (aligned, not used for data)
DCAT = "http://www.w3.org/ns/dcat#"
DCT = "http://purl.org/dc/terms/"
SCHEMA = "https://schema.org/"
FOAF = "http://xmlns.com/foaf/0.1/"
PROV = "http://www.w3.org/ns/prov#"
SPDX = "http://spdx.org/rdf/terms#"
FAIR4ML = "https://w3id.org/fair4ml#"
MLS = "http://www.w3.org/ns/mls#"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
XSD = "http://www.w3.org/2001/XMLSchema#"
OWL = "http://www.w3.org/2002/07/owl#"
SH = "http://www.w3.org/ns/shacl#"
SKOS = "http://www.w3.org/2004/02/skos/core#"
VCARD = "http://www.w3.org/2006/vcard/ns#"

PREFIXES: dict[str, str] = {
    "aiod": AIOD,
    "dcat": DCAT,
    "dct": DCT,
    "schema": SCHEMA,
    "foaf": FOAF,
    "prov": PROV,
    "spdx": SPDX,
    "fair4ml": FAIR4ML,
    "mls": MLS,
    "rdf": RDF,
    "rdfs": RDFS,
    "xsd": XSD,
    "owl": OWL,
    "skos": SKOS,
}

RDF_TYPE = RDF + "type"
SCHEMA_HTTP = "http://schema.org/"


def expand(curie: str) -> str:
    """Expand ``prefix:local`` to a full IRI; full IRIs pass through unchanged."""
    prefix, sep, local = curie.partition(":")
    if sep and prefix in PREFIXES and not local.startswith("//"):
        return PREFIXES[prefix] + local
    return curie


def compact(iri: str) -> str:
    """The shortest ``prefix:local`` form of ``iri`` (or the IRI itself)."""
    for prefix, ns in PREFIXES.items():
        if iri.startswith(ns) and iri != ns:
            return f"{prefix}:{iri[len(ns) :]}"
    return iri

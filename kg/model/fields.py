"""The declarative field table: one entry per AIoD JSON field, for every asset type.

This table is the single source of truth for
* JSON -> RDF (``kg.rdf_mapping.asset_to_triples``),
* RDF -> JSON (``kg.rdf_mapping.triples_to_asset``),
* the JSON-LD context (``kg.model.context``, written to ``ontology/context.jsonld``),
* the SHACL shapes (``kg.model.shapes_gen``, written to ``shapes/*.ttl``).

Field names are exactly those of the AIoD REST API v2 as the current API serves it (the
upstream metadata model, ``src/database/model`` of aiondemand/AIOD-rest-api). Where AIoD renamed
a field, the old name is an input ``alias`` (``language`` -> ``languages``).
Predicates reuse DCAT 3, DCTERMS, schema.org, FOAF and FAIR4ML; terms in the ``aiod:``
namespace are minted only where no standard term fits (see ``ontology/aiod.ttl``).
"""

from __future__ import annotations

from kg.model.field_types import XSD_OF_KIND, AssetType, Field, Kind, NodeSpec, canonical_names
from kg.model.nodes import (
    ACCELERATOR,
    AIOD_ENTRY,
    CONTENT,
    CPU,
    DISTRIBUTION,
    EDUCATIONAL_RESOURCE_TYPES,
    ENUM_DIR,
    EVENT_MODES,
    EVENT_STATUS,
    IDENTIFIER_PATTERN,
    LANGUAGE_PATTERN,
    LOCATION,
    MEDIA,
    MEMORY,
    NEWS_CATEGORIES,
    NOTE,
    ORGANISATION_TYPES,
    SIZE,
    STORAGE,
    TEXT,
)

# --------------------------------------------------------------------------- field blocks


def _f(name: str, predicate: str, kind: Kind = Kind.STRING, **kw: object) -> Field:
    return Field(name, predicate, kind, **kw)  # type: ignore[arg-type]


IDENTITY: tuple[Field, ...] = (
    _f("identifier", "dct:identifier", server=True),
    _f(
        "platform",
        "aiod:platform",
        required=True,  # the server fills platform "aiod" when both are absent
        pattern=r"^[A-Za-z0-9_\-.]+$",
        description="Name of the platform this asset comes from (e.g. openml, zenodo, aiod).",
    ),
    _f(
        "platform_resource_identifier",
        "aiod:platformResourceIdentifier",
        required=True,
        description="The asset's identifier on its platform.",
    ),
    _f("aiod_entry", "aiod:aiodEntry", Kind.NODE, node=AIOD_ENTRY),
)

# Fields of every AIoD "AI resource" (everything but contacts and platforms).
RESOURCE: tuple[Field, ...] = (
    *IDENTITY,
    _f("ai_resource_identifier", "aiod:aiResourceIdentifier", server=True),
    _f("name", "schema:name", required=True, max_length=256),
    _f("description", "aiod:description", Kind.NEST, node=TEXT),
    _f("same_as", "schema:sameAs", Kind.IRI),
    _f("date_published", "dct:issued", Kind.DATETIME),
    _f("alternate_name", "schema:alternateName", many=True),
    _f("keyword", "dcat:keyword", many=True),
    _f("relevant_link", "rdfs:seeAlso", Kind.IRI, many=True),
    _f("application_area", "aiod:applicationArea", many=True),
    _f("industrial_sector", "aiod:industrialSector", many=True),
    _f("research_area", "aiod:researchArea", many=True),
    _f("scientific_domain", "aiod:scientificDomain", many=True),
    _f(
        "falls_under_paradigm",
        "aiod:aiParadigm",
        many=True,
        description="The AI paradigms this resource falls under (e.g. Explainable AI).",
    ),
    _f("contact", "dcat:contactPoint", Kind.REF, many=True),
    _f(
        "contacts",
        "aiod:contacts",
        Kind.REF,
        many=True,
        server=True,
        description="Read-only in AIoD (the contact records of `contact`); aiod-kg does not "
        "expand them: read each identifier of `contact` from /contacts.",
    ),
    _f("creator", "dct:creator", Kind.REF, many=True),
    _f(
        "documented_in",
        "aiod:documentedIn",
        Kind.REF,
        many=True,
        description="Knowledge assets (e.g. publications) that document this resource.",
    ),
    _f("has_part", "dct:hasPart", Kind.REF, many=True),
    _f("is_part_of", "dct:isPartOf", Kind.REF, many=True),
    _f("relevant_resource", "dct:relation", Kind.REF, many=True),
    _f("relevant_to", "aiod:relevantTo", Kind.REF, many=True),
    _f("media", "schema:associatedMedia", Kind.NODE, many=True, node=MEDIA),
    _f("note", "aiod:note", Kind.NODE, many=True, node=NOTE),
)

# Typed links that upstream states (aiod-kg extensions, not in AIoD): each holds the IRI of
# the other work as upstream names it (a DOI, arXiv or platform URL). They are the one source
# of truth of a link; kg.linking resolves them to the catalog's assets (derived, rebuildable).
LINKS: tuple[Field, ...] = (
    _f(
        "is_derived_from",
        "prov:wasDerivedFrom",
        Kind.IRI,
        many=True,
        description="Works this one was derived from (a base model, the original data, "
        "DataCite IsDerivedFrom), by their IRI.",
    ),
    _f(
        "references",
        "dct:references",
        Kind.IRI,
        many=True,
        description="Works this one cites or supplements (DataCite Cites, References, "
        "IsSupplementTo), by their IRI.",
    ),
    _f(
        "is_referenced_by",
        "dct:isReferencedBy",
        Kind.IRI,
        many=True,
        description="Works that cite or describe this one (a paper, DataCite IsCitedBy, "
        "IsReferencedBy, IsSupplementedBy, IsDocumentedBy), by their IRI.",
    ),
    _f(
        "is_version_of",
        "dct:isVersionOf",
        Kind.IRI,
        many=True,
        description="The work this is a version of (DataCite IsVersionOf, a concept DOI).",
    ),
)

# Fields of every AIoD "AI asset" (datasets, models, publications, ...).
ASSET: tuple[Field, ...] = (
    *RESOURCE,
    _f("ai_asset_identifier", "aiod:aiAssetIdentifier", server=True),
    _f("version", "dcat:version"),
    _f(
        "pid",
        "schema:identifier",
        Kind.IRI,
        description="Persistent identifier (a URL, e.g. a DOI).",
    ),
    _f("citation", "schema:citation", Kind.REF, many=True),
    _f("distribution", "dcat:distribution", Kind.NODE, many=True, node=DISTRIBUTION),
    _f("license", "dct:license", Kind.IRI),
    _f("is_accessible_for_free", "schema:isAccessibleForFree", Kind.BOOLEAN),
    _f("pricing_info", "aiod:pricingInfo", description="The pricing model of access."),
    _f("applies_to", "aiod:appliesTo", description="Where this asset can be applied."),
    _f("solution", "aiod:solution", many=True),
    _f("approach", "aiod:approach", many=True),
    *LINKS,
)

CONTACT_DETAILS = _f(
    "contact_details",
    "aiod:contactDetails",
    Kind.REF,
    description="The contact record by which this agent can be reached.",
)

AGENT: tuple[Field, ...] = (*RESOURCE, _f("agent_identifier", "aiod:agentIdentifier", server=True))

SCHEDULE: tuple[Field, ...] = (
    _f("start_date", "schema:startDate", Kind.DATETIME),
    _f("end_date", "schema:endDate", Kind.DATETIME),
)

LOCATIONS = _f("location", "schema:location", Kind.NODE, many=True, node=LOCATION)
PRICE = _f("price_per_hour_euro", "aiod:pricePerHourEuro", Kind.DECIMAL, min_value=0)

# --------------------------------------------------------------------------- asset types

ASSET_TYPES: dict[str, AssetType] = {
    t.collection: t
    for t in (
        AssetType(
            "datasets",
            "dataset",
            "data",
            ("dcat:Dataset", "schema:Dataset"),
            (
                *ASSET,
                _f("issn", "schema:issn", pattern=r"^[0-9]{7}[0-9X]$"),
                _f("measurement_technique", "schema:measurementTechnique"),
                _f("temporal_coverage", "schema:temporalCoverage"),
                _f("funder", "schema:funder", Kind.REF, many=True),
                _f("size", "schema:size", Kind.NODE, node=SIZE),
                _f("spatial_coverage", "dct:spatial", Kind.NODE, node=LOCATION),
            ),
            "asset",
            "A collection of data, published or curated by a single agent.",
        ),
        AssetType(
            "ml_models",
            "ml_model",
            "mdl",
            ("fair4ml:MLModel", "schema:CreativeWork"),
            (
                *ASSET,
                _f("related_experiment", "aiod:relatedExperiment", Kind.REF, many=True),
                _f("type", "dct:type"),
                _f(
                    "trained_on",
                    "fair4ml:trainedOn",
                    Kind.IRI,
                    many=True,
                    description="Datasets this model was trained on, by their IRI (a model "
                    "card's datasets).",
                ),
            ),
            "asset",
            "A trained machine-learning model.",
        ),
        AssetType(
            "publications",
            "publication",
            "pub",
            ("schema:ScholarlyArticle",),
            (
                *ASSET,
                _f("permanent_identifier", "aiod:permanentIdentifier", Kind.IRI),
                _f("isbn", "schema:isbn", pattern=r"^[0-9]{9,12}[0-9X]$"),
                _f("issn", "schema:issn", pattern=r"^[0-9]{7}[0-9X]$"),
                _f("documents", "aiod:documents", Kind.REF, many=True),
                _f("type", "dct:type"),
            ),
            "asset",
            "A publication: a journal article, book, proceedings paper, ...",
        ),
        AssetType(
            "experiments",
            "experiment",
            "exp",
            ("aiod:Experiment", "mls:Experiment"),
            (
                *ASSET,
                _f("experimental_workflow", "aiod:experimentalWorkflow"),
                _f("execution_settings", "aiod:executionSettings"),
                _f("reproducibility_explanation", "aiod:reproducibilityExplanation"),
                _f("badge", "aiod:badge", many=True),
            ),
            "asset",
            "An experiment: how to reproduce a result with datasets and models.",
        ),
        AssetType(
            "services",
            "service",
            "srvc",
            ("dcat:DataService", "schema:Service"),
            (
                *RESOURCE,
                _f("slogan", "schema:slogan"),
                _f("terms_of_service", "schema:termsOfService"),
            ),
            "asset",
            "A service offered to users of AI, e.g. an API or consultancy.",
        ),
        AssetType(
            "case_studies",
            "case_study",
            "case",
            ("aiod:CaseStudy", "schema:CreativeWork"),
            ASSET,
            "asset",
            "A case study of AI applied in a business or research setting.",
        ),
        AssetType(
            "computational_assets",
            "computational_asset",
            "comp",
            ("aiod:ComputationalAsset",),
            (
                *ASSET,
                _f("status_info", "aiod:statusInfo", Kind.IRI),
                _f("type", "dct:type"),
                _f("os", "aiod:os", description="The operating system installed."),
                _f("kernel", "aiod:kernel"),
                _f("pricing_scheme", "aiod:pricingScheme"),
                _f("cpu", "aiod:cpu", Kind.NODE, many=True, node=CPU),
                _f("memory", "aiod:memory", Kind.NODE, many=True, node=MEMORY),
                _f("accelerator", "aiod:accelerator", Kind.NODE, many=True, node=ACCELERATOR),
                _f("storage", "aiod:storage", Kind.NODE, many=True, node=STORAGE),
            ),
            "asset",
            "A computing resource: storage, cluster, accelerator, ...",
        ),
        AssetType(
            "educational_resources",
            "educational_resource",
            "edu",
            ("schema:LearningResource",),
            (
                *ASSET,
                _f("access_mode", "schema:accessMode", many=True),
                _f("content", "aiod:content", Kind.NODE, node=CONTENT),
                _f("educational_level", "schema:educationalLevel", many=True),
                _f("in_language", "schema:inLanguage", many=True, pattern=LANGUAGE_PATTERN),
                LOCATIONS,
                _f("prerequisite", "schema:coursePrerequisites", many=True),
                _f("level", "aiod:level"),
                _f("target_audience", "aiod:targetAudience", many=True),
                _f("type", "dct:type", enum=EDUCATIONAL_RESOURCE_TYPES),
            ),
            "asset",
            "Material for learning about AI: a course, a presentation, a book, ...",
        ),
        AssetType(
            "events",
            "event",
            "evnt",
            ("schema:Event",),
            ASSET
            + SCHEDULE
            + (
                LOCATIONS,
                _f("schedule", "aiod:schedule"),
                _f("registration_link", "aiod:registrationLink", Kind.IRI),
                _f("status", "schema:eventStatus", enum=EVENT_STATUS),
                _f("mode", "schema:eventAttendanceMode", enum=EVENT_MODES),
                _f("content", "aiod:content", Kind.NODE, node=CONTENT),
                _f("performer", "schema:performer", Kind.REF, many=True),
                _f("organiser", "schema:organizer", Kind.REF),
            ),
            "community",
            "An event: a conference, workshop, webinar, ...",
        ),
        AssetType(
            "news",
            "news",
            "news",
            ("schema:NewsArticle",),
            (
                *ASSET,
                _f("headline", "schema:headline"),
                _f("alternative_headline", "schema:alternativeHeadline"),
                _f("category", "aiod:newsCategory", many=True, enum=NEWS_CATEGORIES),
            ),
            "community",
            "A news item about AI.",
        ),
        AssetType(
            "projects",
            "project",
            "proj",
            ("foaf:Project", "schema:Project"),
            ASSET
            + SCHEDULE
            + (
                _f(
                    "total_cost_euros",
                    "aiod:totalCostEuro",
                    Kind.DECIMAL,
                    min_value=0,
                    aliases=("total_cost_euro",),
                ),
                _f("funder", "schema:funder", Kind.REF, many=True),
                _f("coordinator", "aiod:coordinator", Kind.REF),
                _f("participant", "schema:member", Kind.REF, many=True),
                _f("produced", "prov:generated", Kind.REF, many=True),
                _f("used", "prov:used", Kind.REF, many=True),
            ),
            "community",
            "A research or innovation project.",
        ),
        AssetType(
            "organisations",
            "organisation",
            "org",
            ("foaf:Organization", "schema:Organization"),
            (
                *AGENT,
                _f("date_founded", "schema:foundingDate", Kind.DATE),
                _f("legal_name", "schema:legalName"),
                _f("ai_relevance", "aiod:aiRelevance"),
                _f("member", "schema:member", Kind.REF, many=True),
                _f("type", "dct:type", enum=ORGANISATION_TYPES),
                CONTACT_DETAILS,
                _f("turnover", "aiod:turnover", description="Revenue bracket (taxonomy)."),
                _f(
                    "number_of_employees",
                    "aiod:numberOfEmployees",
                    description="Employee size bracket (taxonomy).",
                ),
            ),
            "agent",
            "An organisation: a company, university, research institution, ...",
        ),
        AssetType(
            "persons",
            "person",
            "prsn",
            ("foaf:Person", "schema:Person"),
            (
                *AGENT,
                _f("given_name", "schema:givenName"),
                _f("surname", "schema:familyName"),
                _f("expertise", "aiod:expertise", many=True),
                _f(
                    "languages",
                    "schema:knowsLanguage",
                    many=True,
                    pattern=LANGUAGE_PATTERN,
                    aliases=("language",),
                ),
                _f("member_of", "schema:memberOf", Kind.REF, many=True),
                CONTACT_DETAILS,
                PRICE,
                _f("wants_to_be_contacted", "aiod:wantsToBeContacted", Kind.BOOLEAN),
            ),
            "agent",
            "A person: a researcher, developer, expert, ...",
        ),
        AssetType(
            "teams",
            "team",
            "team",
            ("aiod:Team", "foaf:Group"),
            (
                *AGENT,
                PRICE,
                _f("size", "aiod:teamSize", Kind.INTEGER, min_value=0),
                _f("organisation", "schema:parentOrganization", Kind.REF),
                _f("member", "schema:member", Kind.REF, many=True),
            ),
            "agent",
            "A team within an organisation.",
        ),
        AssetType(
            "contacts",
            "contact",
            "con",
            ("schema:ContactPoint",),
            (
                *IDENTITY,
                _f("name", "schema:name", max_length=256),
                _f("email", "schema:email", many=True, pattern=r"^[^@\s]+@[^@\s]+$"),
                _f("telephone", "schema:telephone", many=True),
                LOCATIONS,
                _f("person", "aiod:contactPerson", Kind.REF),
                _f("organisation", "aiod:contactOrganisation", Kind.REF),
            ),
            "agent",
            "Contact details of a person or organisation.",
        ),
        AssetType(
            "platforms",
            "platform",
            "plat",
            ("aiod:Platform",),
            (
                _f("identifier", "dct:identifier", server=True),
                _f("name", "schema:name", required=True, pattern=r"^[A-Za-z0-9_\-.]+$"),
            ),
            "agent",
            "A platform that publishes AI assets (OpenML, Zenodo, ...).",
        ),
    )
}

PREFIX_TO_TYPE: dict[str, AssetType] = {t.prefix: t for t in ASSET_TYPES.values()}


def asset_type(collection: str) -> AssetType:
    """The asset type of a REST collection name; KeyError when there is none."""
    return ASSET_TYPES[collection]


__all__ = [
    "ASSET_TYPES",
    "ENUM_DIR",
    "IDENTIFIER_PATTERN",
    "PREFIX_TO_TYPE",
    "XSD_OF_KIND",
    "AssetType",
    "Field",
    "Kind",
    "NodeSpec",
    "asset_type",
    "canonical_names",
]

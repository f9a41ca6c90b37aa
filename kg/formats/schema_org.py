"""schema.org JSON-LD for landing pages (what Google Dataset Search and other crawlers read).

One small profile from AIoD JSON: the right schema.org type per asset type, names,
descriptions, identifiers, keywords, licence, dates, creators (resolved, public agents only),
downloads (``DataDownload``), places and the catalogue the record belongs to.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kg.formats.records import Agent, PublicRecord

JSON = dict[str, Any]

SCHEMA_TYPES: dict[str, str] = {
    "datasets": "Dataset",
    "ml_models": "CreativeWork",
    "publications": "ScholarlyArticle",
    "experiments": "CreativeWork",
    "services": "Service",
    "case_studies": "CreativeWork",
    "computational_assets": "Product",
    "educational_resources": "LearningResource",
    "events": "Event",
    "news": "NewsArticle",
    "projects": "ResearchProject",
    "organisations": "Organization",
    "persons": "Person",
    "teams": "Organization",
    "contacts": "ContactPoint",
    "platforms": "Organization",
}


def _agent(agent: Agent) -> JSON:
    return {
        "@type": "Person" if agent.is_person else "Organization",
        "name": agent.name,
        "url": agent.iri,
    }


def _place(location: object) -> JSON | None:
    if not isinstance(location, dict):
        return None
    place: JSON = {"@type": "Place"}
    geo = location.get("geo")
    if isinstance(geo, dict) and geo.get("latitude") is not None:
        place["geo"] = {
            "@type": "GeoCoordinates",
            "latitude": geo.get("latitude"),
            "longitude": geo.get("longitude"),
        }
    address = location.get("address")
    if isinstance(address, dict):
        place["address"] = {
            "@type": "PostalAddress",
            **{
                key: address[field]
                for key, field in (
                    ("streetAddress", "street"),
                    ("postalCode", "postal_code"),
                    ("addressLocality", "locality"),
                    ("addressRegion", "region"),
                    ("addressCountry", "country"),
                )
                if address.get(field)
            },
        }
    return place if len(place) > 1 else None


def schema_org(
    record: PublicRecord, agents: Mapping[str, Agent], catalog_name: str, base_url: str
) -> JSON:
    """The schema.org description of one record, as a JSON-LD document."""
    data = record.data
    doc: JSON = {
        "@context": "https://schema.org/",
        "@type": SCHEMA_TYPES.get(record.asset.collection, "Thing"),
        "@id": record.iri,
        "url": record.iri,
        "name": record.name,
        "identifier": [i for i in (data.get("pid"), record.identifier) if i],
    }
    if record.asset.collection == "ml_models":
        doc["additionalType"] = "https://w3id.org/fair4ml#MLModel"
    description = record.description
    if description:
        doc["description"] = description
    simple = {
        "sameAs": data.get("same_as"),
        "license": data.get("license"),
        "version": data.get("version"),
        "datePublished": data.get("date_published"),
        "dateModified": f"{record.date_modified}Z",
        "dateCreated": f"{record.date_created}Z",
        "isAccessibleForFree": data.get("is_accessible_for_free"),
        "temporalCoverage": data.get("temporal_coverage"),
        "measurementTechnique": data.get("measurement_technique"),
        "alternateName": data.get("alternate_name") or None,
        "keywords": data.get("keyword") or None,
        "startDate": data.get("start_date"),
        "endDate": data.get("end_date"),
        "headline": data.get("headline"),
        "givenName": data.get("given_name"),
        "familyName": data.get("surname"),
        "email": data.get("email") or None,
    }
    doc.update({k: v for k, v in simple.items() if v is not None})
    creators = [_agent(agents[i]) for i in data.get("creator") or [] if i in agents]
    if creators:
        doc["creator"] = creators
    funders = [_agent(agents[i]) for i in data.get("funder") or [] if i in agents]
    if funders:
        doc["funder"] = funders
    if data.get("platform"):
        doc["publisher"] = {"@type": "Organization", "name": data["platform"]}
    downloads = []
    for dist in data.get("distribution") or []:
        if isinstance(dist, dict) and dist.get("content_url"):
            item: JSON = {"@type": "DataDownload", "contentUrl": dist["content_url"]}
            if dist.get("encoding_format"):
                item["encodingFormat"] = dist["encoding_format"]
            if dist.get("name"):
                item["name"] = dist["name"]
            if isinstance(dist.get("content_size_kb"), int):
                item["contentSize"] = f"{dist['content_size_kb']} KB"
            downloads.append(item)
    if downloads:
        doc["distribution" if record.asset.collection == "datasets" else "associatedMedia"] = (
            downloads
        )
    spatial = _place(data.get("spatial_coverage"))
    if spatial:
        doc["spatialCoverage"] = spatial
    locations = [p for p in (_place(x) for x in data.get("location") or []) if p]
    if locations:
        doc["location"] = locations
    if record.asset.collection == "datasets":
        doc["includedInDataCatalog"] = {
            "@type": "DataCatalog",
            "name": catalog_name,
            "url": f"{base_url}/catalog",
        }
    return doc

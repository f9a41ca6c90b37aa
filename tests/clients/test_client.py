"""The light Python client (``aiod_kg_client``, clients/python) and ``aiod-kg get|search|export
--server`` against a real running server: every method, typed answers, errors with the server's
detail; the client's RDF conversions; and the server's offline conversions between AIoD JSON,
JSON-LD, Turtle and Croissant (kg.formats.convert)."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiod_kg_client import (
    ApiError,
    AuthenticationError,
    BadRequest,
    Client,
    ConflictError,
    NotFoundError,
    PermissionDenied,
    Rows,
    SearchResults,
    TypeSearchResults,
    Unreachable,
    ValidationError,
)
from aiod_kg_client import rdf as client_rdf
from rdflib import Dataset, Graph

from api.cli.main import main
from kg.formats.convert import ConversionError, convert, from_record, reserialize, to_record
from tests.support.data import ADMIN_KEY, AUTH, REPO, example_records
from tests.support.server import LiveServer, free_port, running_server, starts_server
from tests.support.ui_data import seed, wait_indexed

pytestmark = pytest.mark.slow


class World:
    def __init__(self, server: LiveServer, ids: dict[str, str], user_key: str) -> None:
        self.base = server.base_url
        self.ids = ids
        self.user_key = user_key


@pytest.fixture(scope="module")
@starts_server
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with running_server(tmp_path_factory.mktemp("client") / "store") as server:
        with Client(server.base_url, ADMIN_KEY) as admin:
            ids = seed(admin)
        wait_indexed(server.base_url, len(ids))
        key = httpx.post(
            f"{server.base_url}/api_keys",
            headers=AUTH,
            timeout=30,
            json={"name": "Grace", "roles": ["edit_aiod_resources"]},
        ).json()["key"]
        yield World(server, ids, key)


@pytest.fixture
def anonymous(world: World) -> Iterator[Client]:
    with Client(world.base) as client:
        yield client


@pytest.fixture
def admin(world: World) -> Iterator[Client]:
    with Client(world.base, token=ADMIN_KEY) as client:
        yield client


# --------------------------------------------------------------------------- reads


def test_three_lines(world: World) -> None:
    kg = Client(world.base)
    hits = kg.search("flower photographs", type="datasets", limit=3)
    assert hits.hits[0].name == "oxford_flowers102"


def test_list_iter_get(world: World, anonymous: Client) -> None:
    page = anonymous.list("datasets", limit=5)
    assert len(page) == 5 and all(d["identifier"].startswith("data_") for d in page)
    assert page == anonymous.list("datasets", offset=0, limit=5)
    every = list(anonymous.iter("datasets", page_size=7))
    assert len(every) == 29 and len({d["identifier"] for d in every}) == 29
    flowers = anonymous.get("datasets", world.ids["flowers"])
    assert flowers["name"] == "oxford_flowers102"
    assert sorted(flowers["keyword"]) == ["image", "image-classification"]
    assert flowers["creator"] == [world.ids["person"]]


def test_get_as_every_format(world: World, anonymous: Client) -> None:
    identifier = world.ids["flowers"]
    iri = f"{world.base}/datasets/{identifier}"
    jsonld = anonymous.get_as("datasets", identifier, "jsonld")
    assert isinstance(jsonld, dict) and jsonld["@id"] == iri
    turtle = anonymous.get_as("datasets", identifier, "turtle")
    assert isinstance(turtle, str)
    graph = Graph().parse(data=turtle, format="turtle")
    assert len(graph) > 10
    for fmt, rdflib_fmt in (("ntriples", "nt"), ("rdfxml", "xml")):
        text = anonymous.get_as("datasets", identifier, fmt)
        assert isinstance(text, str)
        assert len(Graph().parse(data=text, format=rdflib_fmt)) == len(graph)
    croissant = anonymous.get_as("datasets", identifier, "croissant")
    assert isinstance(croissant, dict)
    assert croissant["conformsTo"].startswith("http://mlcommons.org/croissant/")
    assert anonymous.get_as("datasets", identifier, "json") == anonymous.get("datasets", identifier)
    listed = anonymous.list_as("datasets", "ntriples", limit=3)
    assert len({line.split(" ")[0].strip("<>").split("#")[0] for line in listed.splitlines()}) == 3


def test_counts(anonymous: Client) -> None:
    counts = anonymous.counts()
    assert sum(counts["datasets"].values()) == 29
    assert counts["publications"] == {"example": 1}


def test_search_filters_facets_similar(world: World, anonymous: Client) -> None:
    found = anonymous.search("images", license="https://opensource.org/licenses/MIT")
    assert isinstance(found, SearchResults)
    assert sorted(h.name for h in found) == ["oxford_flowers102", "plant_village"]
    assert found.total == 2 and len(found) == 2
    assert found.facets["platform"] == {"huggingface": 1, "zenodo": 1}
    hit = found.hits[0]
    assert hit.url == f"{world.base}/{hit.type}/{hit.identifier}" and hit.score > 0
    assert hit.highlight and "<em>" in (hit.highlight["description"] or "")

    narrowed = anonymous.search(
        "images", license=["https://opensource.org/licenses/MIT"], platform=["zenodo"], full=True
    )
    assert [h.name for h in narrowed] == ["plant_village"]
    assert narrowed.hits[0].asset and narrowed.hits[0].asset["platform"] == "zenodo"
    dated = anonymous.search("", type="datasets", keyword="image", date_from="2010-01-01")
    assert [h.name for h in dated] == ["plant_village"]
    browse = anonymous.search(limit=50)
    assert browse.total == 31 and browse.query == ""
    lexical = anonymous.search("SQuAD", mode="lexical", type=["datasets"])
    assert lexical.hits[0].name == "SQuAD"

    similar = anonymous.similar("datasets", world.ids["flowers"], limit=3)
    assert 1 <= len(similar) <= 3
    assert world.ids["flowers"] not in {h.identifier for h in similar}
    assert "plant_village" in {h.name for h in similar} | {
        h.name for h in anonymous.similar("datasets", world.ids["flowers"], limit=10)
    }


# --------------------------------------------------------------------------- SPARQL


def test_sparql_rows_ask_construct_dataframe(anonymous: Client) -> None:
    rows = anonymous.sparql(
        "SELECT ?name ?issued (STRLEN(?name) AS ?length) WHERE { ?d a dcat:Dataset ; "
        "schema:name ?name ; dct:issued ?issued . FILTER(!STRSTARTS(?name, 'Synthetic')) } "
        "ORDER BY ?name"
    )
    assert isinstance(rows, Rows)
    assert rows.vars == ["name", "issued", "length"]
    assert [r["name"] for r in rows] == sorted(
        ["LibriSpeech", "SQuAD", "oxford_flowers102", "plant_village", "wmt14_translate"]
    )
    assert rows[0]["length"] == len(rows[0]["name"]) and isinstance(rows[0]["length"], int)
    assert rows[0]["issued"].startswith("20")

    assert anonymous.sparql("ASK { ?d schema:name 'SQuAD' }") is True
    assert anonymous.sparql("ASK { ?d schema:name 'nothing like it' }") is False
    turtle = anonymous.sparql(
        "CONSTRUCT { ?d schema:name ?n } WHERE { ?d a dcat:Dataset ; schema:name ?n } LIMIT 3"
    )
    assert isinstance(turtle, str) and len(Graph().parse(data=turtle, format="turtle")) == 3

    pandas = pytest.importorskip("pandas")
    frame = rows.to_pandas()
    assert isinstance(frame, pandas.DataFrame)
    assert list(frame.columns) == ["name", "issued", "length"] and len(frame) == 5
    counted = anonymous.sparql_frame(
        "SELECT ?platform (COUNT(?d) AS ?n) WHERE { ?d a dcat:Dataset ; aiod:platform "
        "?platform } GROUP BY ?platform ORDER BY ?platform"
    )
    assert dict(zip(counted["platform"], counted["n"], strict=True)) == {
        "example": 24,
        "huggingface": 2,
        "openml": 1,
        "zenodo": 2,
    }
    with pytest.raises(ValueError):
        anonymous.sparql_frame("ASK { ?s ?p ?o }")


def test_sparql_syntax_error_has_position(anonymous: Client) -> None:
    with pytest.raises(BadRequest) as caught:
        anonymous.sparql("SELECT ?x WHERE { ?x ?y }")
    error = caught.value
    assert error.status == 400 and error.reference
    assert isinstance(error.detail, dict) and error.detail.get("line") == 1


# --------------------------------------------------------------------------- writes


def test_create_update_delete(world: World, admin: Client, anonymous: Client) -> None:
    record = {
        **example_records("datasets")[0],
        "aiod_entry": {"status": "published"},
        "platform_resource_identifier": "client-1",
    }
    for name in ("creator", "funder", "contact", "citation", "has_part", "is_part_of"):
        record.pop(name, None)
    identifier = admin.create("datasets", record)
    assert identifier.startswith("data_")
    assert anonymous.get("datasets", identifier)["name"] == record["name"]

    admin.replace("datasets", identifier, {**record, "name": "Renamed by the client"})
    assert anonymous.get("datasets", identifier)["name"] == "Renamed by the client"

    turtle = admin.get_as("datasets", identifier, "turtle")
    assert isinstance(turtle, str)
    admin.replace(
        "datasets",
        identifier,
        turtle.replace("Renamed by the client", "From Turtle"),
        format="turtle",
    )
    assert anonymous.get("datasets", identifier)["name"] == "From Turtle"

    with pytest.raises(ConflictError) as conflict:
        admin.create("datasets", record)
    assert identifier in str(conflict.value.detail)

    admin.delete("datasets", identifier)
    with pytest.raises(NotFoundError) as missing:
        anonymous.get("datasets", identifier)
    assert missing.value.status == 404 and missing.value.reference


def test_create_from_turtle_and_croissant(admin: Client) -> None:
    record = {
        "name": "Turtle-born dataset",
        "platform": "example",
        "platform_resource_identifier": "ttl-1",
        "keyword": ["rdf"],
        "aiod_entry": {"status": "published"},
    }
    turtle = convert(record, "json", "turtle", "datasets")
    assert isinstance(turtle, str)
    identifier = admin.create("datasets", turtle, format="turtle")
    assert admin.get("datasets", identifier)["keyword"] == ["rdf"]

    croissant = convert(
        {
            "name": "croissant-born",
            "platform": "example",
            "platform_resource_identifier": "cr-1",
            "same_as": "https://example.org/cr-1",
        },
        "json",
        "croissant",
    )
    assert isinstance(croissant, dict)
    created = admin.create("datasets", json.dumps(croissant), format="jsonld")
    assert admin.get("datasets", created)["name"] == "croissant-born"
    for made in (identifier, created):
        admin.delete("datasets", made)


def test_errors_carry_the_servers_detail(world: World, anonymous: Client) -> None:
    with pytest.raises(AuthenticationError) as unauthenticated:
        anonymous.create("datasets", {"name": "x"})
    assert unauthenticated.value.status == 401
    with pytest.raises(AuthenticationError):
        Client(world.base, token="aiodkg_not_a_key").list("datasets")
    with Client(world.base, token=ADMIN_KEY) as admin, pytest.raises(ValidationError) as bad:
        admin.create("datasets", {"name": "x", "date_published": "soon", "colour": "red"})
    fields = {p["field"] for p in bad.value.problems}
    assert fields == {"date_published", "colour"}
    with Client(world.base, token=world.user_key) as user:
        draft = user.create("datasets", {"name": "Grace's draft"})
        assert user.get("datasets", draft)["aiod_entry"]["status"] == "draft"
        with pytest.raises(NotFoundError):
            anonymous.get("datasets", draft)  # drafts are the owner's
        assert user.whoami()["name"] == "Grace"
        assert user.submit(draft, comment="please review") == "submitted"
        with pytest.raises(PermissionDenied):
            user.delete("datasets", world.ids["flowers"])
        user.delete("datasets", draft)


# --------------------------------------------------------------------------- conversions


def test_conversions_round_trip() -> None:
    record = {
        k: v
        for k, v in example_records("datasets")[0].items()
        if k
        not in ("creator", "funder", "contact", "citation", "has_part", "is_part_of", "aiod_entry")
    }
    turtle = convert(record, "json", "turtle")
    assert isinstance(turtle, str) and "dcat:Dataset" in turtle
    back = convert(turtle, "turtle", "json")
    assert isinstance(back, dict)
    assert back["name"] == record["name"] and sorted(back["keyword"]) == sorted(record["keyword"])
    assert same_graph(convert(back, "json", "turtle"), turtle)
    jsonld = convert(record, "json", "jsonld")
    assert isinstance(jsonld, dict) and "@context" in jsonld
    assert same_graph(convert(convert(jsonld, "jsonld", "json"), "json", "turtle"), turtle)
    assert same_graph(convert(json.dumps(jsonld), "json-ld", "ttl"), turtle)
    croissant = convert(record, "json", "croissant")
    assert isinstance(croissant, dict) and croissant["name"] == record["name"]
    from_croissant = convert(croissant, "croissant", "json")
    assert isinstance(from_croissant, dict)
    assert from_croissant["name"] == record["name"]
    assert from_croissant["keyword"] == record["keyword"]
    assert (
        from_croissant["distribution"][0]["content_url"] == record["distribution"][0]["content_url"]
    )
    rdfxml = convert(turtle, "turtle", "rdfxml")
    assert isinstance(rdfxml, str) and "rdf:RDF" in rdfxml
    assert same_graph(convert(to_record(rdfxml, "rdfxml"), "json", "turtle"), turtle)
    assert reserialize(turtle.encode(), "turtle", "ntriples").count(b"\n") > 10
    person = from_record({"name": "Ada", "identifier": "prsn_" + "a" * 24}, "turtle", "persons")
    assert "persons/prsn_aaaaaaaaaaaaaaaaaaaaaaaa" in str(person)
    with pytest.raises(ConversionError):
        convert(record, "json", "croissant", "persons")
    with pytest.raises(ConversionError):
        convert(record, "json", "yaml")


def same_graph(one: Any, other: Any) -> bool:
    from rdflib.compare import isomorphic

    return isomorphic(
        Graph().parse(data=one, format="turtle"), Graph().parse(data=other, format="turtle")
    )


# --------------------------------------------------------------------------- CLI --server


def test_cli_get_search_export_remote(
    world: World, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    identifier = world.ids["flowers"]
    assert main(["get", "datasets", identifier, "--server", world.base]) == 0
    assert json.loads(capsys.readouterr().out)["name"] == "oxford_flowers102"
    assert main(["get", "datasets", identifier, "--format", "turtle", "--server", world.base]) == 0
    assert len(Graph().parse(data=capsys.readouterr().out, format="turtle")) > 10
    assert (
        main(["get", "datasets", identifier, "--format", "croissant", "--server", world.base]) == 0
    )
    assert json.loads(capsys.readouterr().out)["name"] == "oxford_flowers102"
    assert main(["get", "datasets", "data_" + "x" * 24, "--server", world.base]) == 1
    assert "not found" in capsys.readouterr().err

    assert (
        main(
            ["search", "flower photographs", "--type", "datasets", "--json", "--server", world.base]
        )
        == 0
    )
    found = json.loads(capsys.readouterr().out)
    assert found["items"][0]["name"] == "oxford_flowers102"
    assert main(["search", "speech", "--limit", "2", "--server", world.base]) == 0
    captured = capsys.readouterr()
    assert "LibriSpeech" in captured.out and "hits)" in captured.err

    out = tmp_path / "all.json"
    assert main(["export", "--format", "json", "--server", world.base, "-o", str(out)]) == 0
    exported = json.loads(out.read_text())
    assert len(exported["datasets"]) == 29 and len(exported["persons"]) == 1

    nquads = tmp_path / "all.nq"
    assert main(["export", "--server", world.base, "-o", str(nquads)]) == 0
    dataset = Dataset()
    dataset.parse(nquads, format="nquads")
    graphs = {str(g.identifier) for g in dataset.graphs() if len(g)}
    assert f"{world.base}/datasets/{identifier}" in graphs
    assert len([g for g in graphs if "/datasets/" in g]) == 29
    public_dump = gzip.decompress(
        httpx.get(f"{world.base}/dumps/catalog.nq.gz", timeout=30).content
    )
    assert len(dataset) == len(Dataset().parse(data=public_dump, format="nquads"))

    turtle = tmp_path / "datasets.ttl"
    assert (
        main(
            [
                "export",
                "--type",
                "datasets",
                "--format",
                "turtle",
                "--server",
                world.base,
                "-o",
                str(turtle),
            ]
        )
        == 0
    )
    assert len(Graph().parse(turtle, format="turtle")) > 29 * 10


def test_cli_get_local_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from kg.catalog import Catalog
    from kg.model.fields import ASSET_TYPES
    from kg.settings import Settings

    store = str(tmp_path / "store")
    catalog = Catalog(Settings(store=store))
    identifier = catalog.create(ASSET_TYPES["datasets"], {"name": "local one"})
    catalog.close()
    monkeypatch.setenv("AIOD_KG_SEARCH_ENABLED", "false")
    assert main(["get", "datasets", identifier, "--store", store]) == 0
    assert json.loads(capsys.readouterr().out)["name"] == "local one"
    assert main(["get", "datasets", identifier, "--store", store, "--format", "jsonld"]) == 0
    assert json.loads(capsys.readouterr().out)["name"] == "local one"
    assert main(["get", "datasets", identifier, "--store", store, "--format", "ntriples"]) == 0
    assert "local one" in capsys.readouterr().out
    assert main(["get", "datasets", identifier, "--store", store, "--format", "croissant"]) == 0
    assert json.loads(capsys.readouterr().out)["name"] == "local one"
    assert main(["get", "persons", identifier, "--store", store]) == 1


# --------------------------------------------------------------------------- typed views, RDF


def test_typed_asset_views(world: World, admin: Client, anonymous: Client) -> None:
    flowers = world.ids["flowers"]
    assert anonymous.datasets.get(flowers) == anonymous.get("datasets", flowers)
    assert anonymous["datasets"].list(limit=3) == anonymous.list("datasets", limit=3)
    assert len(list(anonymous.persons.iter())) == 1
    identifier = admin.ml_models.create(
        {
            "name": "Typed model",
            "platform": "example",
            "platform_resource_identifier": "typed-1",
            "aiod_entry": {"status": "published"},
        }
    )
    assert identifier.startswith("mdl_")
    admin.ml_models.replace(
        identifier,
        {
            "name": "Typed model, replaced",
            "platform": "example",
            "platform_resource_identifier": "typed-1",
            "aiod_entry": {"status": "published"},
        },
    )
    assert anonymous.ml_models.get(identifier)["name"] == "Typed model, replaced"
    admin.ml_models.delete(identifier)
    with pytest.raises(NotFoundError):
        anonymous.ml_models.get(identifier)
    with pytest.raises(AttributeError):
        anonymous.not_a_type  # noqa: B018
    found = anonymous.datasets.search("flower photographs", limit=2)
    assert found.hits[0].identifier == flowers and {h.type for h in found} == {"datasets"}


def test_search_one_type_aiod_contract(world: World, anonymous: Client) -> None:
    page = anonymous.search_type("datasets", "flower", limit=5)
    assert isinstance(page, TypeSearchResults) and page.total >= 1
    assert page.resources[0]["name"] == "oxford_flowers102"
    narrowed = anonymous.search_type("datasets", "images", platforms="zenodo", full=True)
    assert narrowed.resources[0]["name"] == "plant_village"  # then other zenodo datasets
    assert narrowed.resources[0]["identifier"] == world.ids["plants"]
    assert {r["platform"] for r in narrowed} == {"zenodo"}
    by_name = anonymous.search_type("datasets", "SQuAD", fields=["name"])
    assert [r["name"] for r in by_name] == ["SQuAD"]
    with pytest.raises(ValidationError) as bad_field:
        anonymous.search_type("datasets", "x", fields=["colour"])
    assert "colour" in str(bad_field.value.detail)


def test_unreachable_and_timeout() -> None:
    with pytest.raises(Unreachable):  # nothing listens there
        Client(f"http://127.0.0.1:{free_port()}").counts()
    import socket

    with socket.socket() as silent:  # listens, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        port = silent.getsockname()[1]
        with (
            Client(f"http://127.0.0.1:{port}", timeout=0.5) as client,
            pytest.raises(Unreachable) as caught,
        ):
            client.counts()
    assert "timed out" in str(caught.value).lower() or "timeout" in str(caught.value).lower()


def test_client_rdf_conversions(world: World, anonymous: Client) -> None:
    identifier = world.ids["flowers"]
    graph = anonymous.get_graph("datasets", identifier)
    turtle = anonymous.get_as("datasets", identifier, "turtle")
    assert isinstance(turtle, str)  # turtle comes as text
    assert len(graph) == len(Graph().parse(data=turtle, format="turtle")) > 10
    jsonld = client_rdf.convert(str(turtle), "ttl", "jsonld")
    back = client_rdf.convert(json.loads(jsonld), "jsonld", "ntriples")
    assert len(Graph().parse(data=back, format="nt")) == len(graph)
    rdfxml = client_rdf.convert(back, "nt", "rdfxml")
    assert "rdf:RDF" in rdfxml
    with pytest.raises(ValueError):
        client_rdf.convert(back, "ntriples", "yaml")


def test_cli_names_the_client_install_when_it_is_missing(world: World) -> None:
    # sys.modules[name] = None is how Python marks a module as not importable
    code = (
        "import sys; sys.modules['aiod_kg_client'] = None\n"
        "from api.cli.main import main\n"
        f"sys.exit(main(['get', 'datasets', '{world.ids['flowers']}', '--server', "
        f"'{world.base}']))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode != 0
    assert "pip install ./clients/python" in done.stderr


def test_api_error_is_the_base(world: World, anonymous: Client) -> None:
    with pytest.raises(ApiError) as caught:
        anonymous.get("datasets", "data_" + "x" * 24)
    assert isinstance(caught.value, NotFoundError)
    assert "reference" not in str(caught.value.detail) and caught.value.reference


# --------------------------------------------------------------------------- files


def test_upload_download_with_progress(
    world: World, admin: Client, anonymous: Client, tmp_path: Path
) -> None:
    identifier = admin.create("datasets", {"name": "Files by the client"})
    source = tmp_path / "weights.bin"
    data = bytes(range(256)) * 10_000  # 2.56 MB
    source.write_bytes(data)
    seen: list[tuple[int, int | None]] = []
    result = admin.upload(
        "datasets", identifier, source, progress=lambda done, total: seen.append((done, total))
    )
    assert result["size"] == len(data) and seen[-1] == (len(data), len(data))
    assert [f["name"] for f in anonymous.files("datasets", identifier)] == ["weights.bin"]
    received: list[int] = []
    path = anonymous.download(
        "datasets",
        identifier,
        "weights.bin",
        tmp_path / "out.bin",
        progress=lambda done, total: received.append(done),
    )
    assert path.read_bytes() == data and received[-1] == len(data)
    with pytest.raises(NotFoundError):
        anonymous.download("datasets", identifier, "nothing.bin", tmp_path)
    assert not (tmp_path / "nothing.bin").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".download-")] == []
    # the command line: aiod-kg upload / download
    assert (
        main(
            [
                "upload",
                "datasets",
                identifier,
                str(source),
                "--name",
                "copy.bin",
                "--server",
                world.base,
                "--token",
                ADMIN_KEY,
            ]
        )
        == 0
    )
    out = tmp_path / "cli"
    out.mkdir()
    assert (
        main(
            ["download", "datasets", identifier, "copy.bin", "-o", str(out), "--server", world.base]
        )
        == 0
    )
    assert (out / "copy.bin").read_bytes() == data
    assert main(["upload", "datasets", identifier, str(source), "--server", world.base]) == 1
    admin.delete_file("datasets", identifier, "copy.bin")
    assert [f["name"] for f in anonymous.files("datasets", identifier)] == ["weights.bin"]

"""Hostile input against a real server: each gets a clear 4xx (or the SPARQL time-limit
error) in the error envelope, nothing is fetched from the network, and the server stays
healthy (it answers /health and a normal request after every one)."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.data import AUTH
from tests.support.robust import server
from tests.support.server import LiveServer, starts_server

MB = 1024 * 1024
BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
         xmlns:schema="https://schema.org/">
  <rdf:Description rdf:about="http://example.org/d">
    <schema:name>&lol9;</schema:name>
  </rdf:Description>
</rdf:RDF>
"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE r [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
         xmlns:schema="https://schema.org/">
  <rdf:Description rdf:about="http://example.org/d"><schema:name>&xxe;</schema:name>
  </rdf:Description>
</rdf:RDF>
"""


class _Counter(http.server.BaseHTTPRequestHandler):
    hits = 0

    def do_GET(self) -> None:
        type(self).hits += 1
        body = b'{"@context": {"name": "https://schema.org/name"}}'
        self.send_response(200)
        self.send_header("Content-Type", "application/ld+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
@starts_server
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    store = tmp_path_factory.mktemp("hostile") / "store"
    with server(store, AIOD_KG_SPARQL_TIMEOUT="2") as running:
        yield running


@pytest.fixture(scope="module")
def context_host() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Counter)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def _healthy(live: LiveServer) -> None:
    assert live.process.poll() is None, "the server died"
    assert httpx.get(f"{live.base_url}/health", timeout=30).status_code == 200
    assert httpx.get(f"{live.base_url}/datasets?limit=1", timeout=30).status_code == 200


def _clear_4xx(answer: httpx.Response, allowed: tuple[int, ...] = ()) -> None:
    assert 400 <= answer.status_code < 500 or answer.status_code in allowed, (
        answer.status_code,
        answer.text[:500],
    )
    body = answer.json()
    assert "detail" in body and "reference" in body, body


def _post(live: LiveServer, path: str, content: bytes, media: str) -> httpx.Response:
    return httpx.post(
        f"{live.base_url}{path}",
        content=content,
        timeout=120,
        headers={**AUTH, "Content-Type": media},
    )


CASES: dict[str, tuple[str, bytes, str]] = {
    "invalid UTF-8 JSON": ("/datasets", b'{"name": "\xff\xfe\xfa"}', "application/json"),
    "invalid UTF-8 Turtle": ("/datasets", b'<http://x/a> <http://x/b> "\xff\xfe" .', "text/turtle"),
    "10 MB string": ("/datasets", b'{"name": "' + b"a" * (10 * MB) + b'"}', "application/json"),
    "9 MB name": ("/datasets", b'{"name": "' + b"a" * (9 * MB) + b'"}', "application/json"),
    "deeply nested array": ("/datasets", b"[" * 200_000 + b"]" * 200_000, "application/json"),
    "deeply nested object": (
        "/datasets",
        b'{"name": "x", "description": ' + b'{"a": ' * 50_000 + b"1" + b"}" * 50_001,
        "application/json",
    ),
    "nested JSON-LD": (
        "/datasets",
        b'{"@id": "http://x/a", "http://x/p": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",
        "application/ld+json",
    ),
    "nested Turtle blank nodes": (
        "/datasets",
        b"<http://x/a> <http://x/p> " + b"[ <http://x/p> " * 20_000 + b"1" + b" ]" * 20_000 + b" .",
        "text/turtle",
    ),
    "nested Turtle collections": (
        "/datasets",
        b"<http://x/a> <http://x/p> " + b"(" * 20_000 + b")" * 20_000 + b" .",
        "text/turtle",
    ),
    "RDF/XML billion laughs": ("/datasets", BILLION_LAUGHS, "application/rdf+xml"),
    "RDF/XML external entity": ("/datasets", EXTERNAL_ENTITY, "application/rdf+xml"),
    "binary garbage": ("/datasets", bytes(range(256)) * 100, "application/json"),
    "SPARQL invalid UTF-8": (
        "/sparql",
        b'SELECT * WHERE { ?s ?p "\xff" }',
        "application/sparql-query",
    ),
    "SPARQL deep nesting": (
        "/sparql",
        b"SELECT * WHERE " + b"{ " * 20_000 + b"?s ?p ?o" + b" }" * 20_000,
        "application/sparql-query",
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_hostile_body_is_a_clear_4xx(live: LiveServer, name: str) -> None:
    path, content, media = CASES[name]
    answer = _post(live, path, content, media)
    _clear_4xx(answer)
    if "external entity" in name or "laughs" in name:
        assert "root:" not in answer.text and "lollol" not in answer.text
    _healthy(live)


def test_jsonld_remote_context_never_fetched(live: LiveServer, context_host: str) -> None:
    contexts = (
        f"{context_host}/ctx.jsonld",
        [f"{context_host}/a", {"x": "http://x/"}],
        {"@import": f"{context_host}/import"},
        {"p": {"@id": "http://x/p", "@context": f"{context_host}/scoped"}},
    )
    for context in contexts:
        document = {"@context": context, "@id": "http://x/a", "name": "remote context"}
        for headers in (AUTH, {}):  # anonymous: 401, the body is never read
            answer = httpx.post(
                f"{live.base_url}/datasets",
                json=document,
                timeout=60,
                headers={**headers, "Content-Type": "application/ld+json"},
            )
            _clear_4xx(answer)
            assert answer.status_code == (400 if headers else 401), answer.text
    assert _Counter.hits == 0
    _healthy(live)


@pytest.mark.slow
def test_sparql_cross_product_hits_the_time_limit(live: LiveServer) -> None:
    # some data, so the cross product is huge
    for i in range(30):
        httpx.post(
            f"{live.base_url}/datasets",
            headers=AUTH,
            timeout=60,
            json={
                "name": f"cross {i}",
                "platform": "example",
                "platform_resource_identifier": f"cross-{i}",
            },
        )
    query = (
        "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l . ?m ?n2 ?o }"
    )
    answer = httpx.post(f"{live.base_url}/sparql", data={"query": query}, timeout=120)
    _clear_4xx(answer, allowed=(503,))
    assert answer.status_code in (503, 400, 413, 422), answer.status_code
    _healthy(live)


@pytest.mark.parametrize(
    "target",
    [
        "http://example.org/sparql",
        "http://127.0.0.1:1/sparql",
        "http://169.254.169.254/latest",
    ],
)
def test_sparql_service_to_other_hosts_refused(live: LiveServer, target: str) -> None:
    query = f"SELECT * WHERE {{ SERVICE <{target}> {{ ?s ?p ?o }} }}"
    answer = httpx.post(f"{live.base_url}/sparql", data={"query": query}, timeout=60)
    _clear_4xx(answer)
    assert answer.status_code == 403
    _healthy(live)


def test_oversized_and_odd_requests(live: LiveServer, tmp_path: Path) -> None:
    base = live.base_url
    huge_query = "x" * (12 * MB)
    _clear_4xx(httpx.post(f"{base}/sparql", data={"query": huge_query}, timeout=120))
    _clear_4xx(httpx.get(f"{base}/datasets", params={"limit": "1" * 5000}))
    _clear_4xx(httpx.get(f"{base}/datasets/" + "a" * 20_000))
    _clear_4xx(httpx.get(f"{base}/search", params={"q": "x", "limit": "-1"}))

    _clear_4xx(
        httpx.put(
            f"{base}/datasets/data_x",
            content=b"\x00" * 1000,
            headers={**AUTH, "Content-Type": "application/json"},
        )
    )
    _healthy(live)

"""Hostile caller bodies against a real ``aiod-kg serve`` (DESIGN.md section 9): anonymous
writes are refused before the body is read; authenticated ones get a clear 4xx in the error
envelope while the server stays up, its memory bounded and ``/health`` answering; no context,
DTD or entity is ever fetched. Plus the bounded worker itself, and a short fuzzing run over
the body readers."""

from __future__ import annotations

import http.server
import os
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import ClassVar
from urllib.parse import urlsplit

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kg.errors import CatalogError
from kg.formats.bounded import BodyTooCostly, BoundedPool
from kg.formats.rdf_input import asset_from_body, load_json
from tests.support.data import AUTH
from tests.support.robust import server
from tests.support.server import LiveServer, starts_server

MB = 1024 * 1024
RDF = 'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:s="https://schema.org/"'
DCAT_DATASET = '<rdf:type rdf:resource="http://www.w3.org/ns/dcat#Dataset"/>'


class _ContextHost(http.server.BaseHTTPRequestHandler):
    """The would-be host of contexts, DTDs and entities: it must never be asked."""

    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        type(self).hits.append(self.path)
        body = b'{"@context": {"name": "https://schema.org/name"}}'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def host() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _ContextHost)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture(scope="module")
@starts_server
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    store = tmp_path_factory.mktemp("hostile-bodies") / "store"
    with server(store) as running:
        yield running


def _xml(inner: str, doctype: str = "") -> bytes:
    return (
        f'<?xml version="1.0"?>{doctype}<rdf:RDF {RDF}><rdf:Description rdf:about="http://x/d">'
        f"{DCAT_DATASET}{inner}</rdf:Description></rdf:RDF>"
    ).encode()


def corpus(host: str) -> dict[str, tuple[bytes, str]]:
    """name -> (body, media type): every one must be refused with a clear 4xx."""
    laughs = '<!ENTITY a0 "lollollollollollollollollollol">' + "".join(
        f'<!ENTITY a{i} "{f"&a{i - 1};" * 10}">' for i in range(1, 10)
    )
    blowup = f'<!ENTITY big "{"x" * 50_000}">'
    nested = 100_000
    return {
        "billion laughs": (_xml("<s:name>&a9;</s:name>", f"<!DOCTYPE r [{laughs}]>"), "rdfxml"),
        "quadratic blowup": (
            _xml("<s:name>" + "&big;" * 20_000 + "</s:name>", f"<!DOCTYPE r [{blowup}]>"),
            "rdfxml",
        ),
        "external entity": (
            _xml("<s:name>&e;</s:name>", '<!DOCTYPE r [<!ENTITY e SYSTEM "file:///etc/passwd">]>'),
            "rdfxml",
        ),
        "external entity over http": (
            _xml("<s:name>&e;</s:name>", f'<!DOCTYPE r [<!ENTITY e SYSTEM "{host}/e">]>'),
            "rdfxml",
        ),
        "parameter entity": (
            _xml("<s:name>x</s:name>", f'<!DOCTYPE r [<!ENTITY % p SYSTEM "{host}/p.dtd"> %p;]>'),
            "rdfxml",
        ),
        "external DTD": (
            _xml("<s:name>x</s:name>", f'<!DOCTYPE r SYSTEM "{host}/r.dtd">'),
            "rdfxml",
        ),
        "100k nested elements": (
            _xml("<s:about>" + "<s:a>" * nested + "</s:a>" * nested + "</s:about>"),
            "rdfxml",
        ),
        "remote context": (
            orjson.dumps({"@context": f"{host}/c.jsonld", "@type": "Dataset", "name": "x"}),
            "jsonld",
        ),
        "@import": (
            orjson.dumps({"@context": {"@import": f"{host}/i.jsonld"}, "name": "x"}),
            "jsonld",
        ),
        "type-scoped context": (
            orjson.dumps(
                {
                    "@context": {"T": {"@id": "http://x/T", "@context": f"{host}/t.jsonld"}},
                    "@type": "T",
                }
            ),
            "jsonld",
        ),
        "property-scoped context": (
            orjson.dumps(
                {
                    "@context": {"p": {"@id": "http://x/p", "@context": [f"{host}/p.jsonld"]}},
                    "p": {"name": "x"},
                }
            ),
            "jsonld",
        ),
        "nested node context": (
            orjson.dumps({"http://x/p": {"@context": f"{host}/n.jsonld", "name": "x"}}),
            "jsonld",
        ),
        "file context": (orjson.dumps({"@context": "file:///etc/passwd", "name": "x"}), "jsonld"),
        "relative context": (orjson.dumps({"@context": "ctx.jsonld", "name": "x"}), "jsonld"),
        "deep JSON": (b'{"name": ' + b"[" * 1000 + b"]" * 1000 + b"}", "json"),
        "deeper than orjson": (b"[" * 200_000 + b"]" * 200_000, "json"),
        "deep JSON-LD": (
            b'{"@id": "http://x/a", "http://x/p": ' + b"[" * 5000 + b"]" * 5000 + b"}",
            "jsonld",
        ),
        "deep Turtle blank nodes": (
            b"<http://x/a> <http://x/p> "
            + b"[ <http://x/p> " * 200_000
            + b"1"
            + b" ]" * 200_000
            + b" .",
            "turtle",
        ),
        "deep Turtle collections": (
            b"<http://x/a> <http://x/p> " + b"( " * 300_000 + b")" * 300_000 + b" .",
            "turtle",
        ),
        "many triples": (
            b"".join(b'<http://x/a> <http://x/p> "%d" .\n' % i for i in range(150_000)),
            "ntriples",
        ),
        "huge literal": (b'<http://x/a> <http://x/p> "' + b"a" * (9 * MB) + b'" .', "ntriples"),
        "over the size cap": (b'{"name": "' + b"a" * (11 * MB) + b'"}', "json"),
        "invalid UTF-8 RDF/XML": (
            _xml("<s:name>x</s:name>").replace(b">x<", b">\xff\xfe<"),
            "rdfxml",
        ),
        "UTF-16 RDF/XML": (_xml("<s:name>x</s:name>").decode().encode("utf-16"), "rdfxml"),
    }


MEDIA = {
    "json": "application/json",
    "jsonld": "application/ld+json",
    "turtle": "text/turtle",
    "ntriples": "application/n-triples",
    "rdfxml": "application/rdf+xml",
}


def _rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def _envelope(answer: httpx.Response, statuses: tuple[int, ...]) -> None:
    assert answer.status_code in statuses, (answer.status_code, answer.text[:300])
    body = answer.json()
    assert set(body) >= {"detail", "reference"}, body


def _healthy(live: LiveServer) -> None:
    assert live.process.poll() is None, "the server died"
    assert httpx.get(f"{live.base_url}/health", timeout=30).status_code == 200


def test_anonymous_writes_are_refused_before_the_body_is_read(live: LiveServer) -> None:
    """The server answers 401 to a write whose body has not even been sent: it never
    waited for (so never parsed) the body."""
    address = urlsplit(live.base_url)
    for method, path in (
        ("POST", "/datasets"),
        ("PUT", "/datasets/data_missing"),
        ("POST", "/ui/validate/datasets"),
    ):
        with socket.create_connection((address.hostname, address.port), timeout=20) as sock:
            sock.sendall(
                f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/rdf+xml\r\n"
                f"Content-Length: {5 * MB}\r\n\r\n".encode()
                + b'<?xml version="1.0"?><!DOCTYPE r ['  # and then nothing more
            )
            answer = b""
            while b'"reference"' not in answer:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 401"), (path, answer[:200])
        assert b'"reference"' in answer, answer
    _healthy(live)


def test_anonymous_hostile_corpus_is_401(live: LiveServer, host: str) -> None:
    for name, (body, fmt) in corpus(host).items():
        if name == "over the size cap":
            continue  # 413 by the size limit, before anything else
        for method, path in (
            ("POST", "/datasets"),
            ("PUT", "/datasets/data_missing"),
            ("POST", "/ui/validate/datasets"),
        ):
            answer = httpx.request(
                method,
                f"{live.base_url}{path}",
                content=body,
                headers={"Content-Type": MEDIA[fmt]},
                timeout=60,
            )
            _envelope(answer, (401,))
            assert "Authorization" in str(answer.json()["detail"]), name
    assert _ContextHost.hits == []
    _healthy(live)


def test_hostile_corpus_is_a_clear_4xx(live: LiveServer, host: str) -> None:
    pid = live.process.pid
    before = _rss(pid)
    for name, (body, fmt) in corpus(host).items():
        for path in ("/datasets", "/ui/validate/datasets"):
            answer = httpx.post(
                f"{live.base_url}{path}",
                content=body,
                headers={**AUTH, "Content-Type": MEDIA[fmt]},
                timeout=120,
            )
            assert "root:" not in answer.text and "lollollol" not in answer.text, name
            if path.startswith("/ui/") and answer.status_code == 200:  # a report, not written
                report = answer.json()
                assert not report["valid"] and report["problems"], (name, report)
                detail = str(report["problems"])
            else:
                _envelope(answer, (400, 413, 422))
                detail = str(answer.json()["detail"])
            if "context" in name or name == "@import":
                assert "not fetched" in detail and "/" in detail, (name, detail)
        _healthy(live)
    grown = _rss(pid) - before
    assert grown < 300 * MB, f"the server grew by {grown // MB} MB"
    assert _ContextHost.hits == []


def test_xinclude_is_not_processed(live: LiveServer, host: str) -> None:
    body = _xml(
        '<s:name>xi</s:name><s:description><xi:include xmlns:xi="http://www.w3.org/2001/XInclude"'
        f' href="{host}/xi" parse="text"/></s:description>'
    )
    answer = httpx.post(
        f"{live.base_url}/datasets",
        content=body,
        headers={**AUTH, "Content-Type": MEDIA["rdfxml"]},
        timeout=60,
    )
    assert answer.status_code in (200, 400, 422), answer.text
    assert _ContextHost.hits == []
    _healthy(live)


def test_a_good_rdf_body_still_works(live: LiveServer) -> None:
    body = _xml("<s:name>fine dataset</s:name>")
    answer = httpx.post(
        f"{live.base_url}/datasets",
        content=b"\xef\xbb\xbf" + body,  # a UTF-8 BOM is accepted
        headers={**AUTH, "Content-Type": MEDIA["rdfxml"]},
        timeout=60,
    )
    assert answer.status_code == 200, answer.text
    identifier = answer.json()["identifier"]
    got = httpx.get(f"{live.base_url}/datasets/{identifier}", headers=AUTH, timeout=30)
    assert got.json()["name"] == "fine dataset"
    own = {
        "@context": f"{live.base_url}/context.jsonld",
        "@type": "Dataset",
        "name": "with our context",
    }
    answer = httpx.post(
        f"{live.base_url}/datasets",
        content=orjson.dumps(own),
        headers={**AUTH, "Content-Type": MEDIA["jsonld"]},
        timeout=60,
    )
    assert answer.status_code == 200, answer.text


@pytest.mark.server
def test_health_answers_while_a_body_is_parsed(tmp_path: Path) -> None:
    """A costly body (1M triples allowed, 9 MB of N-Triples) is read in a worker: the server
    keeps answering meanwhile, and the parse is cut at its deadline."""
    body = b"".join(b'<http://x/a> <http://x/p> "%07d" .\n' % i for i in range(260_000))
    with server(
        tmp_path / "store",
        AIOD_KG_BODY_MAX_TRIPLES="10000000",
        AIOD_KG_BODY_PARSE_TIMEOUT="30",
    ) as running:
        with ThreadPoolExecutor(1) as pool:
            pending = pool.submit(
                httpx.post,
                f"{running.base_url}/datasets",
                content=body,
                headers={**AUTH, "Content-Type": MEDIA["ntriples"]},
                timeout=120,
            )
            answered_during = 0
            while not pending.done():
                health = httpx.get(f"{running.base_url}/health", timeout=30)
                assert health.status_code == 200
                if not pending.done():
                    answered_during += 1
                time.sleep(0.02)
            _envelope(pending.result(), (400, 413, 422))
        assert answered_during > 0
        assert running.process.poll() is None


# --------------------------------------------------------------------------- the worker


def test_bounded_pool_kills_late_and_crashing_workers() -> None:
    pool = BoundedPool(1, timeout=1.0, memory_bytes=512 * MB)
    try:
        assert pool.call(os.getpid) != os.getpid()  # it runs elsewhere
        (first,) = pool.pids()
        with pytest.raises(BodyTooCostly):
            pool.call(time.sleep, 60)  # past the deadline: killed
        assert first not in pool.pids()
        with pytest.raises(BodyTooCostly):
            pool.call(bytearray, 2 * 1024 * MB)  # over the memory cap
        with pytest.raises(BodyTooCostly):
            pool.call(os.abort)  # a crash costs only the call
        assert pool.call(len, b"still working") == 13
        with pytest.raises(RuntimeError):
            pool.call(int, "not a number")
    finally:
        pool.close()
    assert pool.pids() == []


# --------------------------------------------------------------------------- fuzzing

_ATOMS = st.sampled_from(
    [
        "<http://x/a>",
        "<rel>",
        "_:b",
        "[",
        "]",
        "(",
        ")",
        ";",
        ",",
        ".",
        "a",
        '"lit"',
        '"""long"""',
        "@prefix",
        "s:",
        "<http://www.w3.org/ns/dcat#Dataset>",
        "1",
        "true",
        "^^",
        "@en",
        "\\u0000",
        "\ufeff",
        "<!DOCTYPE r [",
        '<!ENTITY e "x">',
        "&e;",
        "]>",
        "<rdf:RDF",
        RDF,
        ">",
        "</rdf:RDF>",
        "<rdf:Description",
        'rdf:about="http://x/d"',
        "/>",
        "<![CDATA[",
        "]]>",
        "<?xml",
        "?>",
    ]
)
_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.text(max_size=20)
    | st.sampled_from(["@id", "@type", "@context", "http://x/a", "file:///etc/passwd", "Dataset"]),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "@context",
                    "@id",
                    "@type",
                    "@import",
                    "@graph",
                    "@list",
                    "@value",
                    "name",
                    "http://x/p",
                ]
            ),
            inner,
            max_size=4,
        )
    ),
    max_leaves=20,
)


def _read(fmt: str, body: bytes) -> None:
    """The worker's entry point, in-process (a crash would fail the run, not hide in 413)."""
    try:
        if fmt in ("json", "jsonld"):
            load_json(body, 64)
        outcome = asset_from_body("datasets", fmt, body, "http://localhost:8000", 1000, 64)
    except CatalogError:
        return
    assert outcome[0] in ("ok", "error"), outcome


@settings(max_examples=2000, deadline=None, suppress_health_check=list(HealthCheck))
@given(document=_JSON, raw=st.binary(max_size=64))
def test_fuzz_jsonld(document: object, raw: bytes) -> None:
    _read("jsonld", orjson.dumps(document))
    _read("jsonld", raw)


@settings(max_examples=2000, deadline=None, suppress_health_check=list(HealthCheck))
@given(tokens=st.lists(_ATOMS, max_size=30), raw=st.binary(max_size=64))
def test_fuzz_turtle_and_rdfxml(tokens: list[str], raw: bytes) -> None:
    text = " ".join(tokens).encode("utf-8", "surrogatepass")
    for fmt in ("turtle", "ntriples", "rdfxml"):
        _read(fmt, text)
        _read(fmt, raw)

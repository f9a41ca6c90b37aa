"""URL-valued fields against a real ``aiod-kg serve``: control characters, hostile schemes
and characters outside RFC 3987 are refused with 422 naming the field, never a 500, and
leave no journal row behind; the store writer itself refuses what it cannot serialise; the
web UI links only http(s)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.ui.templating import is_url
from kg.model.iris import check_iri, is_valid_iri
from kg.model.rdf_mapping import IRI, Lit
from kg.store.embedded import EmbeddedStore, UnsafeTerm, update_request
from tests.support.data import AUTH
from tests.support.robust import server
from tests.support.server import starts_server

BAD_URLS = [
    "https://example.org/\u0001",
    "https://example.org/a\x00b",
    "https://example.org/\x7f",
    "https://example.org/\x85",
    "https://example.org/\x1b[31m",
    "https://example.org/line\nbreak",
    "javascript:alert(1)",
    "JAVASCRIPT:alert(1)",
    "JavaScript:alert(document.cookie)",
    " javascript:alert(1)",
    "\tjavascript:alert(1)",
    "\u0001javascript:alert(1)",
    "vbscript:msgbox(1)",
    "data:text/html,<script>alert(1)</script>",
    "file:///etc/passwd",
    "https://example.org/a b",
    "https://example.org/<script>",
    'https://example.org/"quote',
    "https://example.org/{x}",
    "https://example.org/a|b",
    "https://example.org/a\\b",
    "https://example.org/a^b",
    "https://example.org/a`b",
    "https://example.org/\u202egnp.exe",
    "https://example.org/\u200fx",
    "https://example.org/\u2066x",
    "https://example.org/ ",
]
URL_FIELDS = ["license", "same_as", "relevant_link", "distribution"]


def record(field: str, url: str) -> dict[str, Any]:
    base: dict[str, Any] = {"name": "IRI probe", "aiod_entry": {"status": "published"}}
    if field == "relevant_link":
        return {**base, "relevant_link": [url]}
    if field == "distribution":
        return {**base, "distribution": [{"content_url": url}]}
    return {**base, field: url}


@pytest.fixture(scope="module")
@starts_server
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    store = tmp_path_factory.mktemp("iri") / "store"
    with server(store) as running:
        yield running.base_url, store


@pytest.mark.parametrize("url", BAD_URLS)
@pytest.mark.parametrize("field", URL_FIELDS)
def test_bad_urls_are_refused_with_the_field_path(
    live: tuple[str, Path], field: str, url: str
) -> None:
    base, _ = live
    answer = httpx.post(f"{base}/datasets", json=record(field, url), headers=AUTH, timeout=30)
    assert answer.status_code == 422, answer.text
    body = answer.json()
    assert set(body) >= {"detail", "reference"}
    paths = [p["field"] for p in body["detail"]]
    expected = {
        "relevant_link": "relevant_link[0]",
        "distribution": "distribution[0].content_url",
    }.get(field, field)
    assert expected in paths


def test_good_urls_are_kept(live: tuple[str, Path]) -> None:
    base, _ = live
    good = {
        "name": "Good links",
        "license": "https://creativecommons.org/licenses/by/4.0/",
        "pid": "doi:10.1000/182",
        "same_as": "https://example.org/r%C3%A9sum%C3%A9?q=1#top",
        "relevant_link": ["https://例え.テスト/パス"],
        "distribution": [{"content_url": "http://[2001:db8::1]:8080/file.csv"}],
        "aiod_entry": {"status": "published"},
    }
    created = httpx.post(f"{base}/datasets", json=good, headers=AUTH, timeout=30)
    assert created.status_code == 200, created.text
    stored = httpx.get(f"{base}/datasets/{created.json()['identifier']}", timeout=30).json()
    for key in ("license", "pid", "same_as", "relevant_link", "distribution"):
        assert stored[key] == good[key]
    # an identifier scheme is for identifier fields only
    doi_link = httpx.post(
        f"{base}/datasets", json={"name": "x", "license": "doi:10.1/x"}, headers=AUTH
    )
    assert doi_link.status_code == 422


def test_refusals_leave_no_journal_rows(live: tuple[str, Path], tmp_path: Path) -> None:
    base, store = live
    for url in BAD_URLS[:6]:
        for method, path in (("POST", "/datasets"), ("PUT", None)):
            if path is None:
                made = httpx.post(f"{base}/datasets", json={"name": "target"}, headers=AUTH)
                path = f"/datasets/{made.json()['identifier']}"
            answer = httpx.request(
                method, f"{base}{path}", json=record("license", url), headers=AUTH, timeout=30
            )
            assert answer.status_code == 422, answer.text
    # the server's index (SQLite in WAL mode, readable beside it): no stale journal rows, no
    # row of a refused record
    with sqlite3.connect(f"file:{store / 'catalog.sqlite'}?mode=ro", uri=True) as db:
        assert db.execute("SELECT COUNT(*) FROM pending").fetchone() == (0,)
        probes = db.execute(
            "SELECT COUNT(*) FROM assets WHERE CAST(document AS TEXT) LIKE '%IRI probe%'"
        ).fetchone()
        assert probes == (0,)
        assert db.execute("SELECT COUNT(*) FROM assets").fetchone()[0] >= 6  # the targets


def test_the_store_writer_refuses_what_it_cannot_serialise() -> None:
    store = EmbeddedStore(None)
    for bad in ("http://x/\x01", "http://x/a b", "http://x/>", ""):
        with pytest.raises(UnsafeTerm):
            store.replace_graphs({"http://g/1": [("http://s", "http://p", IRI(bad))]})
        with pytest.raises(UnsafeTerm):
            update_request({}, [bad])
    assert store.graph("http://g/1") == []
    # every control character in a literal is escaped and comes back unchanged
    text = "".join(chr(c) for c in range(32)) + '\x7f"\\end'
    store.replace_graphs({"http://g/2": [("http://s", "http://p", Lit(text, "http://t"))]})
    assert store.graph("http://g/2")[0][2] == Lit(text, "http://t")


def test_the_ui_links_only_http() -> None:
    for url in [*BAD_URLS, "mailto:a@b.org", "doi:10.1/x", "ftp://example.org/f"]:
        assert not is_url(url), url
    assert is_url("https://example.org/a?b=c#d")
    assert is_url("http://example.org/")


def test_grammar_and_schemes() -> None:
    assert is_valid_iri("urn:isbn:0451450523")
    assert is_valid_iri("https://example.org/%41")
    assert not is_valid_iri("https://example.org/%4")
    assert not is_valid_iri("http://[::g]/")
    assert check_iri("Apache License 2.0") is None  # plain text, kept as a literal
    assert check_iri("Custom: see the website") is None
    assert check_iri("hxxp://example.org") is not None  # a scheme not on the list
    assert check_iri("doi:10.1000/182", "pid") is None
    assert check_iri("doi:10.1000/182", "license") is not None

"""Every example query of the SPARQL editor (api/routes/sparql_editor.py) runs and returns at
least one row on the demo catalog (the recorded harvest of ``aiod-kg serve --demo``) with its
derived graphs: links, quality and suggestions; the sameAs example after a moderator confirmed
one of the proposed duplicates, as on a live node."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.demo.catalog import load_demo_catalog
from api.routes.sparql_editor import EXAMPLES
from kg.catalog import Catalog
from kg.settings import Settings
from tests.support.data import ADMIN_KEY, AUTH

ACCEPT = "application/sparql-results+json, text/turtle;q=0.9"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    store: Path = tmp_path_factory.mktemp("demo") / "store"
    settings = Settings(
        store=str(store), admin_key=ADMIN_KEY, base_url="http://127.0.0.1:8000", search_warmup=False
    )
    catalog = Catalog(settings)
    assert load_demo_catalog(catalog) > 100
    try:
        with TestClient(create_app(settings, catalog), raise_server_exceptions=False) as client:
            linker = client.app.state.linker  # type: ignore[attr-defined]
            assert linker.flush(timeout=900)
            proposals = client.get("/duplicates", headers=AUTH).json()["items"]
            confirmed = client.post(f"/duplicates/{proposals[0]['id']}/confirm", headers=AUTH)
            assert confirmed.status_code == 200, confirmed.text
            assert linker.flush(timeout=900)
            yield client
    finally:
        catalog.close()


@pytest.mark.slow
@pytest.mark.parametrize("title", [title for title, _ in EXAMPLES])
def test_example_returns_rows(demo: TestClient, title: str) -> None:
    query = dict(EXAMPLES)[title]
    response = demo.post("/sparql", data={"query": query}, headers={"Accept": ACCEPT})
    assert response.status_code == 200, response.text
    if response.headers["content-type"].startswith("application/sparql-results+json"):
        assert len(response.json()["results"]["bindings"]) >= 1, title
    else:  # CONSTRUCT / DESCRIBE: Turtle with at least one triple
        assert response.text.strip().endswith("."), title

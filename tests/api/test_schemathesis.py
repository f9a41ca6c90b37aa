"""Schemathesis over ``/openapi.json`` of a real server (a subprocess, so that nothing the
generated requests change leaks into other tests): every operation (the ``/v2`` copies share
their handlers and are skipped; ``/admin/backup`` writes to server paths), with the admin key,
a bounded number of generated examples each -- no 5xx anywhere."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator

import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, Phase, settings  # noqa: E402
from schemathesis import Case  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402

from api.app import create_app  # noqa: E402
from kg.settings import Settings  # noqa: E402
from tests.support.data import AUTH  # noqa: E402
from tests.support.robust import server  # noqa: E402
from tests.support.server import LiveServer, starts_server  # noqa: E402

# the document only (no request is made in-process); the requests go to the live server
_SPEC = create_app(
    Settings(store=tempfile.mkdtemp(prefix="aiod-kg-openapi-"), search_enabled=False)
).openapi()
schema = (
    schemathesis.openapi.from_dict(_SPEC)
    .exclude(path_regex=r"^/v2/")
    .exclude(operation_id="admin_backup")
)


@pytest.fixture(scope="module")
@starts_server
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    store = tmp_path_factory.mktemp("schemathesis") / "store"
    with server(
        store,
        AIOD_KG_SPARQL_TIMEOUT="5",
        AIOD_KG_SEARCH_ENABLED="true",
        AIOD_KG_SEARCH_MODEL="static",
    ) as running:
        yield running


@pytest.mark.slow
@schema.parametrize()
@settings(
    max_examples=4,
    deadline=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_no_server_errors(live: LiveServer, case: Case) -> None:
    case.call_and_validate(
        base_url=live.base_url, checks=[not_a_server_error], headers=AUTH, timeout=60
    )

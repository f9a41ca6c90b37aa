"""Schemathesis over ``/openapi.json`` of the in-process app: every operation (the ``/v2``
copies share their handlers and are skipped; ``/admin/backup`` writes to server paths), with
the admin key, a bounded number of generated examples each -- no 5xx anywhere."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, Phase, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402

from api.app import create_app  # noqa: E402
from kg.catalog import Catalog  # noqa: E402
from kg.settings import Settings  # noqa: E402
from tests.conftest import ADMIN_KEY, AUTH  # noqa: E402

_STORE = Path(tempfile.mkdtemp(prefix="aiod-kg-schemathesis-")) / "store"
_SETTINGS = Settings(
    store=str(_STORE),
    admin_key=ADMIN_KEY,
    base_url="http://127.0.0.1:8000",
    search_model="static",
    write_rate_limit=0,
    sparql_timeout=5,
)
_CATALOG = Catalog(_SETTINGS)
APP = create_app(_SETTINGS, _CATALOG)

schema = (
    schemathesis.openapi.from_asgi("/openapi.json", APP)
    .exclude(path_regex=r"^/v2/")
    .exclude(operation_id="admin_backup")
)


@pytest.mark.slow
@schema.parametrize()
@settings(
    max_examples=4,
    deadline=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_no_server_errors(case: schemathesis.Case) -> None:
    case.call_and_validate(checks=[not_a_server_error], headers=AUTH)

"""The documentation says what the code does: the README's settings table is the one generated
from the Settings class, every setting is described, and every ``AIOD_KG_*`` variable or test
file the docs name exists."""

from __future__ import annotations

import re

import pytest

from kg.settings import Settings
from kg.settings_table import END, START, with_settings_table
from tests.support.data import REPO

DOCS = [
    REPO / "README.md",
    REPO / "clients" / "python" / "README.md",
    *(REPO / "docs").glob("*.md"),
]
# named in the docs but not server settings: the client's token, and the cluster tier's
# database (docs/design.md section 8, not built yet)
NOT_SETTINGS = {"AIOD_KG_TOKEN", "AIOD_KG_DATABASE"}


def test_readme_settings_table_is_generated_from_the_settings_class() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert START in readme and END in readme
    assert readme == with_settings_table(readme), "stale: run `aiod-kg generate`"
    for name in Settings.model_fields:
        assert f"`AIOD_KG_{name.upper()}`" in readme


def test_every_setting_is_described() -> None:
    undocumented = [name for name, f in Settings.model_fields.items() if not f.description]
    assert not undocumented


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_variables_and_test_files_named_in_the_docs_exist(doc: object) -> None:
    text = doc.read_text(encoding="utf-8")  # type: ignore[attr-defined]
    known = {f"AIOD_KG_{name.upper()}" for name in Settings.model_fields} | NOT_SETTINGS
    for variable in set(re.findall(r"AIOD_KG_[A-Z0-9_]*[A-Z0-9]\b", text)):
        assert variable in known or any(k.startswith(variable + "_") for k in known), variable
    for path in set(re.findall(r"\btests/[\w/]+\.py\b", text)):
        assert (REPO / path).is_file(), path

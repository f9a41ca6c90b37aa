"""Where the data files shipped with the package live: SHACL shapes and ontology.

The top-level ``shapes/`` and ``ontology/`` directories of the repository are mapped to the data
packages ``kg.model.shapes`` and ``kg.model.ontology`` (``[tool.setuptools] package-dir`` in
pyproject.toml), so editable and regular installs (wheel, ``pip install .``) find them the same
way, with ``importlib.resources``.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def package_dir(package: str) -> Path:
    """The directory of an installed data package (always a real directory: no zip installs)."""
    root = resources.files(package)
    if not isinstance(root, Path):
        raise RuntimeError(f"{package} is not installed as a directory ({root!r})")
    return root


SHAPES_DIR = package_dir("kg.model.shapes")
ONTOLOGY_DIR = package_dir("kg.model.ontology")
ONTOLOGY_PATH = ONTOLOGY_DIR / "aiod.ttl"
CONTEXT_PATH = ONTOLOGY_DIR / "context.jsonld"

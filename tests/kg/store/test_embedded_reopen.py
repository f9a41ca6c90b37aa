"""Reopening an on-disk store in the process that closed it (kg/store/embedded.py ``_open``)."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from kg.model.rdf_mapping import Lit
from kg.store.embedded import EmbeddedStore

IRI = "http://127.0.0.1:8000/datasets/data_cycle"
TRIPLE = (IRI, "http://schema.org/name", Lit("kept", "http://www.w3.org/2001/XMLSchema#string"))


def test_a_closed_store_caught_in_a_reference_cycle_can_be_reopened(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "store")
    store.replace_graphs({IRI: [TRIPLE]})
    cycle: list[object] = [store.store]
    cycle.append(cycle)  # what a suspended generator or a kept traceback does to an iterator
    gc.disable()
    try:
        store.close()
        del cycle  # garbage, but not freed until the collector runs
        reopened = EmbeddedStore(tmp_path / "store")
        assert reopened.graph(IRI) == [TRIPLE]
        reopened.close()
    finally:
        gc.enable()


def test_a_store_held_elsewhere_still_refuses(tmp_path: Path) -> None:
    held = EmbeddedStore(tmp_path / "store")
    try:
        with pytest.raises(OSError):
            EmbeddedStore(tmp_path / "store")
    finally:
        held.close()

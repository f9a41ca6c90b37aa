"""MiniLM's back ends (kg/search/embed.py, kg/search/embed_onnx.py): the ONNX export's vectors
against the sentence-transformers reference, the export's cache, the back end recorded in the
search index (another back end's index is re-embedded), and the export working offline.

The ONNX export is made once in the shared model cache (as the server does) by the first test
that needs it; the offline test makes its own in a temporary directory, without network.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from kg.search import embed
from kg.search.embed import MINILM, ONNX, ONNX_INT8, TORCH, embedder_id, get_embedder
from kg.search.embed_onnx import (
    FP32_FILE,
    INT8_FILE,
    RECIPE,
    OnnxMiniLMEmbedder,
    ensure_export,
    export_dir,
)
from kg.search.index import SearchIndex, SearchQuery
from kg.search.text import SearchDocument
from tests.support.data import REPO, SEARCH_EVAL


def sample_texts() -> list[str]:
    """Texts as the index embeds them (name, start of description, tags) and short queries."""
    lines = (SEARCH_EVAL / "corpus.jsonl").read_text(encoding="utf-8").splitlines()[:40]
    items = [json.loads(line) for line in lines]
    docs = [
        SearchDocument(
            identifier=str(i),
            type="datasets",
            name=item["name"],
            description=item["description"],
            keywords=tuple(item["tags"]),
            labels=tuple(item["tags"]),
        ).dense_text
        for i, item in enumerate(items)
    ]
    queries = [
        json.loads(line)["query"]
        for line in (SEARCH_EVAL / "dev_queries.jsonl").read_text().splitlines()
        if line.strip()
    ]
    return docs + queries + ["image classification", "ml.task.question-answering", "x"]


@pytest.fixture(scope="module")
def reference() -> tuple[list[str], np.ndarray]:
    texts = sample_texts()
    return texts, get_embedder(MINILM, backend=TORCH).encode(texts)


@pytest.mark.parametrize(("backend", "least"), [(ONNX_INT8, 0.985), (ONNX, 0.9999)])
def test_onnx_vectors_match_the_torch_reference(
    reference: tuple[list[str], np.ndarray], backend: str, least: float
) -> None:
    texts, expected = reference
    embedder = get_embedder(MINILM, backend=backend)
    assert embedder.dim == 384 and getattr(embedder, "backend", None) == backend
    batch = embedder.encode(texts)  # sorted by length into batches, padded per batch
    one_by_one = np.vstack([embedder.encode([t]) for t in texts[:8]])  # the query path
    assert batch.shape == expected.shape and batch.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(batch, axis=1), 1.0, rtol=1e-5)
    cosines = (batch * expected).sum(axis=1)
    assert cosines[:-1].min() >= least, (cosines.min(), texts[int(cosines.argmin())])
    # a one-letter text, all special tokens: int8's largest error (0.976 measured)
    assert cosines[-1] >= min(least, 0.97)
    # padding a text beside longer ones changes nothing beyond float noise in float32; int8
    # quantises activations per batch, so a text's vector moves a little with its batch
    assert ((one_by_one * batch[:8]).sum(axis=1) >= least).all()
    assert ((one_by_one * expected[:8]).sum(axis=1) >= least).all()
    assert embedder.encode([]).shape == (0, 384)


def test_the_export_is_cached_and_reused() -> None:
    cache = embed.default_cache_dir()
    folder = ensure_export(cache)
    assert folder == export_dir(cache)
    stamps = {name: (folder / name).stat().st_mtime_ns for name in (FP32_FILE, INT8_FILE)}
    # a second embedder (as another process would) loads the same files, exporting nothing
    again = OnnxMiniLMEmbedder(cache, quantised=True)
    assert again.encode(["speech recognition"]).shape == (1, 384)
    assert ensure_export(cache) == folder
    assert {n: (folder / n).stat().st_mtime_ns for n in stamps} == stamps
    assert not [p for p in folder.parent.iterdir() if ".tmp" in p.name]
    # int8 weights: about a quarter of the float32 graph
    assert (folder / INT8_FILE).stat().st_size < (folder / FP32_FILE).stat().st_size / 3


def _documents() -> list[SearchDocument]:
    return [
        SearchDocument(
            identifier=f"data_{i}",
            type="datasets",
            name=name,
            description=description,
            keywords=("image",) if i else ("audio",),
            labels=("image",) if i else ("audio",),
        )
        for i, (name, description) in enumerate(
            [
                ("LibriSpeech", "Read English speech: audio recordings of audiobooks."),
                ("oxford_flowers102", "Photographs of 102 flower species, for classification."),
            ]
        )
    ]


def test_the_index_records_its_back_end_and_another_one_re_embeds(tmp_path: Path) -> None:
    path = tmp_path / "search"
    index = SearchIndex(path, embedding_backend=ONNX_INT8)
    index.index_documents(_documents())
    assert index.search(SearchQuery("spoken audiobooks")).hits[0].identifier == "data_0"
    index.close()
    meta = json.loads((path / "meta.json").read_text())
    assert meta["embedding"] == embedder_id(MINILM, ONNX_INT8)
    assert meta["embedding"] == f"minilm/onnx-int8-r{RECIPE}/{embed.MAX_TOKENS}"

    same = SearchIndex(path, embedding_backend=ONNX_INT8)
    assert len(same) == 2  # same back end: kept
    same.close()

    other = SearchIndex(path, embedding_backend=TORCH)
    assert len(other) == 0  # vectors of another back end: dropped, to be re-embedded
    other.index_documents(_documents())
    other.close()
    assert json.loads((path / "meta.json").read_text())["embedding"] == embedder_id(MINILM, TORCH)

    # an index made by an older export recipe (same back end and token limit) is re-embedded
    again = SearchIndex(path, embedding_backend=ONNX_INT8)
    again.index_documents(_documents())
    again.close()
    meta = json.loads((path / "meta.json").read_text())
    meta["embedding"] = f"minilm/onnx-int8/{embed.MAX_TOKENS}"  # as recipe 2 recorded it
    (path / "meta.json").write_text(json.dumps(meta))
    older = SearchIndex(path, embedding_backend=ONNX_INT8)
    assert len(older) == 0
    older.close()

    # an index from before back ends were recorded (torch vectors, no "embedding") is re-embedded
    meta = json.loads((path / "meta.json").read_text())
    del meta["embedding"]
    (path / "meta.json").write_text(json.dumps(meta))
    old = SearchIndex(path, embedding_backend=ONNX_INT8)
    assert len(old) == 0
    old.close()

    with pytest.raises(ValueError, match="back end"):
        get_embedder(MINILM, backend="tensorflow")


OFFLINE = """
import socket, sys
from pathlib import Path

def refuse(*args, **kwargs):
    raise OSError("no network in this test")

socket.socket.connect = refuse
socket.create_connection = refuse
from kg.search.embed_onnx import OnnxMiniLMEmbedder, ensure_export

cache = Path(sys.argv[1])
embedder = OnnxMiniLMEmbedder(cache)
vectors = embedder.encode(["speech recognition", "flower photographs", "x"])
print(vectors.shape, round(float((vectors[0] * vectors[0]).sum()), 3))
"""


@pytest.mark.slow
def test_the_export_works_offline(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "TRANSFORMERS_"))}
    env |= {"HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9"}
    stale = tmp_path / "models" / "minilm-onnx-0.0.1-r0"  # an export by an older recipe
    stale.mkdir(parents=True)
    (stale / INT8_FILE).write_bytes(b"old")
    done = subprocess.run(
        [sys.executable, "-c", OFFLINE, str(tmp_path / "models")],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["(3,", "384)", "1.0"]
    folder = export_dir(tmp_path / "models")
    assert (folder / INT8_FILE).exists() and (folder / FP32_FILE).exists()
    assert "exporting all-MiniLM-L6-v2 to ONNX" in done.stderr  # the log line says so
    assert not stale.exists()  # replaced by the new export

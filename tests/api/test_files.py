"""Files of assets over HTTP (api/routes/files.py, kg/files): permissions, checksums, limits,
names and metadata in-process; streaming, Range, HEAD, interrupted and concurrent uploads and
the server's peak memory against a real ``aiod-kg serve``. Every test runs on both back ends:
the local directory and S3 (moto's server on loopback, tests/support/s3.py)."""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from kg.files.store import FileStore, open_file_store
from kg.settings import Settings
from tests.support.auth import Issuer, auth_client, auth_settings
from tests.support.data import AUTH
from tests.support.s3 import S3Server, running_s3
from tests.support.server import LiveServer, running_server, starts_server

MiB = 1024 * 1024


class Users:
    def __init__(self, client: TestClient, issuer: Issuer) -> None:
        self.client = client
        self.alice = issuer.headers("alice-sub", ["edit_aiod_resources"], ["lab"])
        self.bob = issuer.headers("bob-sub", ["edit_aiod_resources"], ["friends"])
        self.mallory = issuer.headers("mallory-sub", ["edit_aiod_resources"], ["other"])

    def dataset(self, headers: dict[str, str], **extra: Any) -> str:
        record = {"name": "Files test", "description": {"plain": "x"}, **extra}
        response = self.client.post("/datasets", json=record, headers=headers)
        assert response.status_code == 200, response.text
        return str(response.json()["identifier"])


BACK_ENDS = ["local", "s3"]


@pytest.fixture(scope="module")
def s3_server() -> Iterator[S3Server]:
    with running_s3() as server:
        yield server


def _back_end(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Settings of the back end the test is parametrised with (nothing: the local default)."""
    if request.param == "local":
        return {}
    server: S3Server = request.getfixturevalue("s3_server")
    return server.settings(server.location())


@pytest.fixture(scope="module", params=BACK_ENDS)
def users(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Users]:
    issuer = Issuer()
    settings = auth_settings(
        tmp_path_factory.mktemp("files"),
        issuer,
        files_max_bytes=64 * 1024,
        files_user_quota_bytes=100 * 1024,
        search_enabled=False,
        **_back_end(request),
    )
    try:
        with auth_client(settings) as (client, _catalog):
            yield Users(client, issuer)
    finally:
        issuer.close()


def test_upload_becomes_a_validated_distribution(users: Users) -> None:
    c = users.client
    identifier = users.dataset(users.alice)
    body = b"a,b\n1,2\n"
    sha = hashlib.sha256(body).hexdigest()
    put = c.put(f"/datasets/{identifier}/files/data.csv", content=body, headers=users.alice)
    assert put.status_code == 201, put.text
    assert put.json()["sha256"] == sha and put.headers["etag"] == f'"{sha}"'
    again = c.put(f"/datasets/{identifier}/files/data.csv", content=body, headers=users.alice)
    assert again.status_code == 200
    record = c.get(f"/datasets/{identifier}", headers=users.alice).json()
    assert record["distribution"] == [
        {
            "checksum": sha,
            "checksum_algorithm": "sha256",
            "content_size_kb": 1,
            "content_url": f"http://127.0.0.1:8000/datasets/{identifier}/files/data.csv",
            "encoding_format": "text/csv",
            "name": "data.csv",
        }
    ]
    # the Croissant export lists the stored file with its checksum (kg/formats/croissant.py)
    croissant = c.get(f"/datasets/{identifier}?format=croissant", headers=users.alice).json()
    objects = [d for d in croissant["distribution"] if d.get("sha256") == sha]
    assert objects and objects[0]["contentUrl"].endswith("/files/data.csv")
    listed = c.get(f"/datasets/{identifier}/files", headers=users.alice).json()
    assert [(f["name"], f["sha256"]) for f in listed] == [("data.csv", sha)]
    turtle = c.get(f"/datasets/{identifier}?format=turtle", headers=users.alice).text
    assert "dcat:downloadURL" in turtle or "downloadURL" in turtle
    got = c.get(f"/datasets/{identifier}/files/data.csv", headers=users.alice)
    assert got.status_code == 200 and got.content == body
    assert got.headers["content-disposition"].startswith('attachment; filename="data.csv"')
    assert got.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in got.headers["content-security-policy"]
    # AIoD's content route leads to the stored file
    content = c.get(f"/datasets/{identifier}/content", headers=users.alice, follow_redirects=False)
    assert content.status_code == 307
    assert content.headers["location"].endswith(f"/datasets/{identifier}/files/data.csv")
    # delete: the distribution goes, and the file with it
    gone = c.delete(f"/datasets/{identifier}/files/data.csv", headers=users.alice)
    assert gone.status_code == 200, gone.text
    assert c.get(f"/datasets/{identifier}", headers=users.alice).json().get("distribution") in (
        None,
        [],
    )
    assert c.get(f"/datasets/{identifier}/files/data.csv", headers=users.alice).status_code == 404


def test_permissions_are_checked_before_the_body(users: Users) -> None:
    c = users.client
    identifier = users.dataset(users.alice)
    url = f"/datasets/{identifier}/files/x.bin"
    assert c.put(url, content=b"x").status_code == 401
    # mallory cannot even see alice's draft: the draft's own 404
    refused = c.put(url, content=b"x", headers=users.mallory)
    missing = c.put(
        "/datasets/data_AAAAAAAAAAAAAAAAAAAAAAAA/files/x.bin", content=b"x", headers=users.mallory
    )
    assert refused.status_code == missing.status_code == 404
    assert refused.json()["detail"] == missing.json()["detail"].replace(
        "data_AAAAAAAAAAAAAAAAAAAAAAAA", identifier
    )
    # a reader (read grant) gets 403; a write grant may upload
    shared = c.put(
        f"/assets/{identifier}/access",
        headers=users.alice,
        json={"grants": [{"group": "friends", "permission": "read"}]},
    )
    assert shared.status_code == 200, shared.text
    assert c.put(url, content=b"x", headers=users.bob).status_code == 403
    c.put(
        f"/assets/{identifier}/access",
        headers=users.alice,
        json={"grants": [{"group": "friends", "permission": "write"}]},
    )
    assert c.put(url, content=b"x", headers=users.bob).status_code == 201
    # the draft's file is invisible exactly like the draft
    assert c.put(url, content=b"SECRETBYTES", headers=users.alice).status_code == 200
    for who in ({}, users.mallory):
        hidden = c.get(url, headers=who)
        assert hidden.status_code == 404 and b"SECRETBYTES" not in hidden.content
        assert hidden.json()["detail"] == f"Dataset '{identifier}' not found in the database."
        assert c.head(url, headers=who).status_code == 404
        assert c.get(f"/datasets/{identifier}/files", headers=who).status_code == 404
    assert c.get(url, headers=users.bob).content == b"SECRETBYTES"


def test_checksums_names_and_limits(users: Users) -> None:
    c = users.client
    identifier = users.dataset(users.alice)
    base = f"/datasets/{identifier}/files"
    body = b"checked content"
    sha = hashlib.sha256(body).hexdigest()
    b64 = base64.b64encode(bytes.fromhex(sha)).decode()
    ok = [
        c.put(f"{base}/q.txt?sha256={sha}", content=body, headers=users.alice),
        c.put(
            f"{base}/h.txt",
            content=body,
            headers={**users.alice, "Content-Digest": f"sha-256=:{b64}:"},
        ),
        c.put(f"{base}/d.txt", content=body, headers={**users.alice, "Digest": f"SHA-256={b64}"}),
    ]
    assert [r.status_code for r in ok] == [201, 201, 201], [r.text for r in ok]
    wrong = c.put(f"{base}/w.txt?sha256={'0' * 64}", content=body, headers=users.alice)
    assert wrong.status_code == 400 and "sha256" in wrong.json()["detail"]
    assert set(wrong.json()) == {"detail", "reference"}
    assert c.get(f"{base}/w.txt", headers=users.alice).status_code == 404
    for bad in ("%2E%2E", "a%00b", "a%0Ab", "%E2%80%AEexe.txt"):
        refused = c.put(f"{base}/{bad}", content=b"x", headers=users.alice)
        assert refused.status_code == 400, (bad, refused.text)
        assert set(refused.json()) == {"detail", "reference"}
    # per file: 64 KiB (by Content-Length, and while streaming without one)
    big = c.put(f"{base}/big.bin", content=b"x" * (64 * 1024 + 1), headers=users.alice)
    assert big.status_code == 413 and set(big.json()) == {"detail", "reference"}

    def chunks() -> Iterator[bytes]:
        for _ in range(20):
            yield b"y" * 4096

    streamed = c.put(f"{base}/big2.bin", content=chunks(), headers=users.alice)
    assert streamed.status_code == 413, streamed.text
    # per user: 100 KiB in all
    other = users.dataset(users.alice)
    assert (
        c.put(f"/datasets/{other}/files/a.bin", content=b"a" * 60_000, headers=users.alice)
    ).status_code == 201
    over = c.put(f"/datasets/{other}/files/b.bin", content=b"b" * 60_000, headers=users.alice)
    assert over.status_code == 413 and "quota" in over.json()["detail"]
    # replacing a file frees its old size
    assert (
        c.put(f"/datasets/{other}/files/a.bin", content=b"c" * 61_000, headers=users.alice)
    ).status_code == 200


def test_multipart_form_uploads(users: Users) -> None:
    """``POST /{type}/{id}/files`` (the share page's form): several files in one form, each a
    distribution; authorised before the body; the same names, checksums and caps as PUT."""
    c = users.client
    identifier = users.dataset(users.alice)
    url = f"/datasets/{identifier}/files"
    form = [
        ("file", ("a.csv", b"x,y\n1,2\n", "text/csv")),
        ("note", (None, b"a plain field is skipped")),
        ("file", ("données.bin", b"\x00\x01" * 3000, "application/octet-stream")),
    ]
    assert c.post(url, files=form).status_code == 401
    refused = c.post(url, files=form, headers=users.mallory)
    assert refused.status_code == 404 and set(refused.json()) == {"detail", "reference"}
    posted = c.post(url, files=form, headers=users.alice)
    assert posted.status_code == 201, posted.text
    stored = posted.json()["files"]
    assert [(f["name"], f["size"]) for f in stored] == [("a.csv", 8), ("données.bin", 6000)]
    assert stored[0]["sha256"] == hashlib.sha256(b"x,y\n1,2\n").hexdigest()
    listed = c.get(url, headers=users.alice).json()
    assert sorted(f["name"] for f in listed) == ["a.csv", "données.bin"]
    assert c.get(f"{url}/données.bin", headers=users.alice).content == b"\x00\x01" * 3000
    # not a form, no file, a bad name, too large (the 64 KiB cap): the error envelope
    wrong_type = c.post(url, content=b"x", headers={**users.alice, "Content-Type": "text/plain"})
    assert wrong_type.status_code == 415 and set(wrong_type.json()) == {"detail", "reference"}
    empty = c.post(url, files=[("note", (None, b"x"))], headers=users.alice)
    assert empty.status_code == 400 and "no file" in empty.json()["detail"]
    bad = c.post(url, files=[("file", ("..", b"x"))], headers=users.alice)
    assert bad.status_code == 400 and set(bad.json()) == {"detail", "reference"}
    big = c.post(url, files=[("file", ("big.bin", b"z" * (64 * 1024 + 1)))], headers=users.alice)
    assert big.status_code == 413 and set(big.json()) == {"detail", "reference"}
    cut = b"--B\r\nContent-Disposition: form-data; name=file; filename=cut.bin\r\n\r\nhalf"
    truncated = c.post(
        url,
        content=cut,
        headers={**users.alice, "Content-Type": "multipart/form-data; boundary=B"},
    )
    assert truncated.status_code == 400, truncated.text
    names = sorted(f["name"] for f in c.get(url, headers=users.alice).json())
    assert names == ["a.csv", "données.bin"]


# ---------------------------------------------------------------- a real server


@pytest.fixture(scope="module", params=BACK_ENDS)
@starts_server
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[LiveServer, FileStore]]:
    """A real server and (opened here too) its file store, to look at what it holds."""
    store = tmp_path_factory.mktemp("files-server") / "store"
    env = {"AIOD_KG_SEARCH_ENABLED": "false", "AIOD_KG_FILES_MAX_BYTES": str(512 * MiB)}
    back_end = _back_end(request)
    if back_end:
        server: S3Server = request.getfixturevalue("s3_server")
        env.update(server.env(back_end["files"]))
    with running_server(store, env=env) as live:
        settings = Settings(store=str(store), **back_end)
        yield live, open_file_store(settings)


def _dataset(live: LiveServer) -> str:
    record = {"name": "Served files", "description": {"plain": "x"}}
    response = httpx.post(f"{live.base_url}/datasets", json=record, headers=AUTH)
    assert response.status_code == 200, response.text
    return str(response.json()["identifier"])


def _sparse(path: Path, size: int) -> Path:
    with path.open("wb") as handle:
        handle.truncate(size)
    return path


def _file_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while chunk := handle.read(MiB):
            yield chunk


def _sha(path: Path) -> str:
    digest = hashlib.sha256()
    for chunk in _file_chunks(path):
        digest.update(chunk)
    return digest.hexdigest()


def _peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def _objects(files: FileStore) -> list[str]:
    return [stat.sha256 for stat in files.iterate()]


def test_round_trips_stream_and_memory_stays_flat(
    server: tuple[LiveServer, FileStore], tmp_path: Path
) -> None:
    live, _store = server
    identifier = _dataset(live)
    url = f"{live.base_url}/datasets/{identifier}/files"
    for size in (0, 1, 3 * MiB + 5):
        data = os.urandom(size)
        put = httpx.put(f"{url}/f{size}.bin", content=data, headers=AUTH)
        assert put.status_code == 201, put.text
        got = httpx.get(f"{url}/f{size}.bin")
        assert got.content == data
        assert got.headers["etag"] == f'"{hashlib.sha256(data).hexdigest()}"'
    big = _sparse(tmp_path / "big.bin", 256 * MiB)
    before = _peak_rss(live.process.pid)
    with httpx.Client(timeout=120) as client:
        put = client.put(f"{url}/big.bin", content=_file_chunks(big), headers=AUTH)
        assert put.status_code == 201, put.text
        assert put.json()["sha256"] == _sha(big) and put.json()["size"] == 256 * MiB
        digest = hashlib.sha256()
        received = 0
        with client.stream("GET", f"{url}/big.bin") as response:
            assert response.status_code == 200
            for chunk in response.iter_bytes():
                digest.update(chunk)
                received += len(chunk)
    assert received == 256 * MiB and digest.hexdigest() == _sha(big)
    grown = _peak_rss(live.process.pid) - before
    assert grown < 64 * MiB, f"peak RSS grew by {grown / MiB:.0f} MiB for a 256 MiB file"


def test_range_and_head(server: tuple[LiveServer, FileStore]) -> None:
    live, _ = server
    identifier = _dataset(live)
    url = f"{live.base_url}/datasets/{identifier}/files/r.bin"
    data = bytes(range(256)) * 40  # 10240 bytes
    assert httpx.put(url, content=data, headers=AUTH).status_code == 201
    cases = {
        "bytes=0-9": (206, data[:10], "bytes 0-9/10240"),
        "bytes=10000-": (206, data[10000:], "bytes 10000-10239/10240"),
        "bytes=-5": (206, data[-5:], "bytes 10235-10239/10240"),
        "bytes=100-99999": (206, data[100:], "bytes 100-10239/10240"),
    }
    for header, (status, body, content_range) in cases.items():
        response = httpx.get(url, headers={"Range": header})
        assert (response.status_code, response.content) == (status, body), header
        assert response.headers["content-range"] == content_range
    unsatisfiable = httpx.get(url, headers={"Range": "bytes=20000-"})
    assert unsatisfiable.status_code == 416
    assert unsatisfiable.headers["content-range"] == "bytes */10240"
    assert set(unsatisfiable.json()) == {"detail", "reference"}
    head = httpx.head(url)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == "10240" and head.headers["accept-ranges"] == "bytes"
    etag = head.headers["etag"]
    assert httpx.get(url, headers={"If-None-Match": etag}).status_code == 304
    stale = httpx.get(url, headers={"Range": "bytes=0-1", "If-Range": '"other"'})
    assert stale.status_code == 200 and stale.content == data


def test_interrupted_upload_leaves_nothing(server: tuple[LiveServer, FileStore]) -> None:
    live, files = server
    identifier = _dataset(live)
    objects = set(_objects(files))
    path = f"/datasets/{identifier}/files/cut.bin"
    with socket.create_connection(("127.0.0.1", live.port)) as sock:
        sock.sendall(
            (
                f"PUT {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {AUTH['Authorization']}"
                f"\r\nContent-Length: {64 * MiB}\r\n\r\n"
            ).encode()
            + b"z" * (4 * MiB)
        )
    deadline = time.monotonic() + 30
    while files.temporary() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert files.temporary() == []
    assert set(_objects(files)) == objects
    assert httpx.get(f"{live.base_url}{path}", headers=AUTH).status_code == 404
    record = httpx.get(f"{live.base_url}/datasets/{identifier}", headers=AUTH).json()
    assert not record.get("distribution")


def test_concurrent_uploads_of_the_same_content_store_it_once(
    server: tuple[LiveServer, FileStore],
) -> None:
    live, files = server
    data = os.urandom(2 * MiB)
    sha = hashlib.sha256(data).hexdigest()
    targets = [(_dataset(live), f"copy{i}.bin") for i in range(6)]
    statuses: list[int] = []

    def upload(identifier: str, name: str) -> None:
        url = f"{live.base_url}/datasets/{identifier}/files/{name}"
        statuses.append(httpx.put(url, content=data, headers=AUTH, timeout=60).status_code)

    threads = [threading.Thread(target=upload, args=target) for target in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [201] * 6
    assert _objects(files).count(sha) == 1
    for identifier, name in targets:
        got = httpx.get(f"{live.base_url}/datasets/{identifier}/files/{name}")
        assert got.content == data


@pytest.mark.slow
@pytest.mark.server
def test_two_gib_sparse_round_trip_keeps_memory_flat(tmp_path: Path) -> None:
    """2 GiB streamed from a sparse file and back (local back end), compared by sha256; the
    server's peak RSS (VmHWM) grows by less than 128 MiB."""
    size = 2 * 1024 * MiB
    big = _sparse(tmp_path / "two.bin", size)
    expected = _sha(big)
    env = {"AIOD_KG_SEARCH_ENABLED": "false", "AIOD_KG_FILES_MAX_BYTES": str(size)}
    with running_server(tmp_path / "store", env=env) as live:
        identifier = _dataset(live)
        url = f"{live.base_url}/datasets/{identifier}/files/two.bin"
        before = _peak_rss(live.process.pid)
        with httpx.Client(timeout=600) as client:
            put = client.put(url, content=_file_chunks(big), headers=AUTH)
            assert put.status_code == 201, put.text
            assert put.json()["sha256"] == expected and put.json()["size"] == size
            digest = hashlib.sha256()
            received = 0
            with client.stream("GET", url) as response:
                assert response.status_code == 200
                assert response.headers["content-length"] == str(size)
                for chunk in response.iter_bytes():
                    digest.update(chunk)
                    received += len(chunk)
        grown = _peak_rss(live.process.pid) - before
    assert received == size and digest.hexdigest() == expected
    assert grown < 128 * MiB, f"peak RSS grew by {grown / MiB:.0f} MiB for a 2 GiB file"

"""A local stand-in for the upstream platforms, replaying the recorded fixtures.

``ReplayServer`` answers, on one loopback port, the endpoints the connectors call, with the
payloads recorded in ``api/demo/recorded`` (package data; see its SOURCES.md):

* OpenML ``{url}/openml/api/v1/json``: ``/data/list/limit/n/offset/o``, ``/data/{id}``,
  ``/data/qualities/{id}``, ``/flow/list/limit/n/offset/o``, ``/flow/{id}``;
* Hugging Face ``{url}/huggingface``: ``/api/datasets``, ``/api/models`` (``Link`` header
  cursor paging, ``sort=lastModified``) and the dataset viewer's ``/parquet?dataset=``;
* Zenodo ``{url}/zenodo``: OAI-PMH ``/oai2d`` (``ListRecords``, ``from``/``until`` on the
  records' datestamps, resumption tokens) and ``/api/records/{id}/files``;
* DCAT-AP: any static document (``static``) and a generated Hydra-paged catalogue.

The data is mutable (``data``) and faults can be injected (``fail``, ``delay``), so tests can
replay rate limits, server errors, malformed records, upstream changes and deletions. It is
used by the tests, by ``bench/harvest.py`` (``scale``) and by the demo catalog
(``aiod-kg serve --demo``). ``python -m api.demo.replay --port 8010`` runs it alone.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit
from xml.sax.saxutils import escape

# the recorded upstream payloads, shipped as package data of api.demo
RECORDED = Path(str(resources.files("api.demo") / "recorded"))
DEFAULT_FIXTURES = RECORDED
JSON = dict[str, Any]

_RECORD_RE = re.compile(r"<record>.*?</record>", re.S)
_ID_RE = re.compile(r"<identifier>\s*(oai:[^<\s]+)\s*</identifier>")
_STAMP_RE = re.compile(r"<datestamp>\s*([^<\s]+)\s*</datestamp>")


@dataclass
class ZenodoRecord:
    identifier: str  # oai:zenodo.org:123
    datestamp: str  # 2023-05-23T08:43:15Z
    xml: str  # the <record> element, verbatim
    deleted: bool = False

    @property
    def number(self) -> str:
        return self.identifier.rsplit(":", 1)[-1]


@dataclass
class ReplayData:
    """What the replayed upstreams hold; change it between harvests to replay changes."""

    openml_datasets: dict[int, JSON] = field(default_factory=dict)  # summary/detail/qualities
    openml_flows: dict[int, JSON] = field(default_factory=dict)  # summary/detail
    hf_datasets: list[JSON] = field(default_factory=list)
    hf_models: list[JSON] = field(default_factory=list)
    hf_parquet: dict[str, JSON | None] = field(default_factory=dict)  # None: 404
    zenodo_records: list[ZenodoRecord] = field(default_factory=list)
    zenodo_files: dict[str, JSON] = field(default_factory=dict)
    dcat_datasets: list[JSON] = field(default_factory=list)  # for the generated catalogue
    static: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # path -> (type, body)

    @classmethod
    def from_fixtures(cls, fixtures: Path = DEFAULT_FIXTURES) -> ReplayData:
        data = cls()
        openml = fixtures / "openml"
        for name in ("list_offset_0.json", "list_offset_2.json"):
            for summary in _load(openml / name)["data"]["dataset"]:
                did = int(summary["did"])
                detail = _load(openml / f"data_{did}.json")
                qualities = _load(openml / f"data_{did}_qualities.json")
                data.openml_datasets[did] = {
                    "summary": summary,
                    "detail": detail,
                    "qualities": qualities,
                }
        for name in ("mlmodel_list_offset_0.json", "mlmodel_list_offset_2.json"):
            for summary in _load(openml / name)["flows"]["flow"]:
                fid = int(summary["id"])
                data.openml_flows[fid] = {
                    "summary": summary,
                    "detail": _load(openml / f"mlmodel_{fid}.json"),
                }
        hf = fixtures / "huggingface"
        data.hf_datasets = _load(hf / "data_list.json")
        for entry in data.hf_datasets:
            path = hf / f"parquet_{entry['id'].replace('/', '_')}.json"
            body = _load(path) if path.exists() else None
            data.hf_parquet[entry["id"]] = None if body is None or "error" in body else body
        zenodo = fixtures / "zenodo"
        for name in ("list_records_1.xml", "list_records_2.xml"):
            text = (zenodo / name).read_text(encoding="utf-8")
            for chunk in _RECORD_RE.findall(text):
                ident, stamp = _ID_RE.search(chunk), _STAMP_RE.search(chunk)
                if ident and stamp:
                    data.zenodo_records.append(ZenodoRecord(ident.group(1), stamp.group(1), chunk))
        for path in zenodo.glob("[0-9]*.json"):
            data.zenodo_files[path.stem] = _load(path)
        return data

    def scaled(
        self, openml: int = 0, huggingface: int = 0, zenodo: int = 0, dcat: int = 0
    ) -> ReplayData:
        """Copies of the recorded records under new identifiers (for benchmarks)."""
        out = ReplayData(static=dict(self.static))
        templates = sorted(self.openml_datasets.items())
        for i in range(openml):
            _did, template = templates[i % len(templates)]
            new = 100_000 + i
            name = f"{template['summary']['name']}-{i}"
            summary = dict(template["summary"], did=new, name=name)
            detail = copy.deepcopy(template["detail"])
            description = detail["data_set_description"]
            description.update(id=str(new), name=summary["name"])
            out.openml_datasets[new] = {
                "summary": summary,
                "detail": detail,
                "qualities": template["qualities"],
            }
        for i in range(huggingface):
            template = self.hf_datasets[i % len(self.hf_datasets)]
            repo = f"replay{i}/{template['id'].split('/')[-1]}"
            out.hf_datasets.append(dict(template, _id=f"{i:024x}", id=repo))
            out.hf_parquet[repo] = self.hf_parquet.get(template["id"])
        for i in range(zenodo):
            record = self.zenodo_records[i % len(self.zenodo_records)]
            number = str(90_000_000 + i)
            out.zenodo_records.append(
                ZenodoRecord(
                    f"oai:zenodo.org:{number}",
                    record.datestamp,
                    record.xml.replace(record.number, number),
                )
            )
            if record.number in self.zenodo_files:
                out.zenodo_files[number] = self.zenodo_files[record.number]
        for i in range(dcat):
            out.dcat_datasets.append(synthetic_dcat_dataset(i))
        return out


def synthetic_dcat_dataset(i: int) -> JSON:
    return {
        "id": f"ds-{i}",
        "title": f"Replayed DCAT dataset {i}",
        "description": f"Dataset number {i} of the generated DCAT-AP catalogue.",
        "keywords": ["replay", f"group-{i % 10}"],
        "issued": "2024-01-02",
        "download": f"https://data.example.org/files/ds-{i}.csv",
        "media": "text/csv",
        "license": "http://publications.europa.eu/resource/authority/licence/CC_BY_4_0",
        "bytes": 1024 * (i % 50 + 1),
    }


def _load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


@dataclass
class Fault:
    match: str  # substring of "path?query"
    status: int
    times: int
    retry_after: str | None = None
    body: bytes = b'{"error": "injected"}'


class ReplayServer:
    """The replay on a free loopback port, in a thread. Use as a context manager."""

    def __init__(
        self,
        data: ReplayData | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        oai_page_size: int = 25,
    ) -> None:
        self.data = data if data is not None else ReplayData.from_fixtures()
        self.lock = threading.RLock()
        self.faults: list[Fault] = []
        self.delay = 0.0  # seconds added to every request
        self.requests: list[str] = []
        self.oai_page_size = oai_page_size
        self.cache_oai = False  # reuse one window's record list between pages (benchmarks)
        self._oai_cache: tuple[tuple[str, str, int], list[ZenodoRecord]] | None = None
        handler = type("Handler", (_Handler,), {"replay": self})
        self.httpd = _Server((host, port), handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="replay", daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def openml_url(self) -> str:
        return f"{self.url}/openml/api/v1/json"

    @property
    def huggingface_url(self) -> str:
        return f"{self.url}/huggingface"

    @property
    def zenodo_url(self) -> str:
        return f"{self.url}/zenodo"

    @property
    def dcat_url(self) -> str:
        return f"{self.url}/dcat/catalog"

    def start(self) -> ReplayServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> ReplayServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def fail(
        self, match: str, status: int = 503, times: int = 1, retry_after: str | None = None
    ) -> None:
        """The next ``times`` requests whose path and query contain ``match`` get ``status``."""
        with self.lock:
            self.faults.append(Fault(match, status, times, retry_after))

    def count(self, match: str) -> int:
        with self.lock:
            return sum(1 for r in self.requests if match in r)

    def settled(self, quiet: float) -> int:
        """How many requests were answered once those in flight (a killed client's, recorded
        when their delay has passed) are in: none for ``quiet`` seconds."""
        count = -1
        while len(self.requests) != count:
            count = len(self.requests)
            time.sleep(quiet)
        return count

    # ------------------------------------------------------------------ routing

    def handle(self, path: str, query: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        target = path + ("?" + urlencode(query) if query else "")
        with self.lock:
            self.requests.append(target)
            for fault in self.faults:
                if fault.times > 0 and fault.match in target:
                    fault.times -= 1
                    headers = {"Content-Type": "application/json"}
                    if fault.retry_after is not None:
                        headers["Retry-After"] = fault.retry_after
                    return fault.status, headers, fault.body
            if path in self.data.static:
                content_type, body = self.data.static[path]
                return 200, {"Content-Type": content_type}, body
            if path.startswith("/openml/api/v1/json/"):
                return self._openml(path[len("/openml/api/v1/json") :])
            if path.startswith("/huggingface/"):
                return self._huggingface(path[len("/huggingface") :], query)
            if path.startswith("/zenodo/"):
                return self._zenodo(path[len("/zenodo") :], query)
            if path == "/dcat/catalog":
                return self._dcat(query)
        return _json(404, {"error": "Not found."})

    def _openml(self, path: str) -> tuple[int, dict[str, str], bytes]:
        parts = path.strip("/").split("/")
        no_results = _json(412, {"error": {"code": "372", "message": "No results"}})
        if len(parts) == 6 and parts[1:3] == ["list", "limit"] and parts[4] == "offset":
            limit, offset = int(parts[3]), int(parts[5])
            if parts[0] == "data":
                rows = [v["summary"] for _, v in sorted(self.data.openml_datasets.items())]
                chunk = rows[offset : offset + limit]
                return _json(200, {"data": {"dataset": chunk}}) if chunk else no_results
            if parts[0] == "flow":
                rows = [v["summary"] for _, v in sorted(self.data.openml_flows.items())]
                chunk = rows[offset : offset + limit]
                return _json(200, {"flows": {"flow": chunk}}) if chunk else no_results
        if len(parts) == 2 and parts[0] == "data" and parts[1].isdigit():
            found = self.data.openml_datasets.get(int(parts[1]))
            if found:
                return _json(200, found["detail"])
        if len(parts) == 3 and parts[:2] == ["data", "qualities"] and parts[2].isdigit():
            found = self.data.openml_datasets.get(int(parts[2]))
            if found:
                return _json(200, found["qualities"])
        if len(parts) == 2 and parts[0] == "flow" and parts[1].isdigit():
            found = self.data.openml_flows.get(int(parts[1]))
            if found:
                return _json(200, found["detail"])
        return _json(412, {"error": {"code": "111", "message": "Unknown dataset"}})

    def _huggingface(self, path: str, query: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        if path in ("/api/datasets", "/api/models"):
            rows = self.data.hf_datasets if path == "/api/datasets" else self.data.hf_models
            if query.get("sort") == "lastModified":
                rows = sorted(
                    rows,
                    key=lambda r: str(r.get("lastModified", "")),
                    reverse=query.get("direction") == "-1",
                )
            limit = int(query.get("limit", "1000"))
            start = int(query.get("cursor", "0"))
            chunk = rows[start : start + limit]
            headers = {"Content-Type": "application/json"}
            if start + limit < len(rows):
                following = dict(query, cursor=str(start + limit))
                headers["Link"] = (
                    f'<{self.url}/huggingface{path}?{urlencode(following)}>; rel="next"'
                )
            return 200, headers, json.dumps(chunk).encode()
        if path == "/parquet":
            body = self.data.hf_parquet.get(query.get("dataset", ""))
            return _json(200, body) if body else _json(404, {"error": "Not found."})
        return _json(404, {"error": "Not found."})

    def _zenodo(self, path: str, query: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        match = re.fullmatch(r"/api/records/(\d+)/files", path)
        if match:
            body = self.data.zenodo_files.get(match.group(1))
            return (
                _json(200, body) if body else _json(404, {"status": 404, "message": "Not found."})
            )
        if path == "/oai2d" and query.get("verb") == "ListRecords":
            return self._list_records(query)
        return _oai_error("badVerb", "Illegal OAI verb")

    def _list_records(self, query: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        token = query.get("resumptionToken")
        if token:
            try:
                offset_text, start, until = token.split("|")
                offset = int(offset_text)
            except ValueError:
                return _oai_error("badResumptionToken", "The token is invalid")
        else:
            if query.get("metadataPrefix") != "oai_datacite":
                return _oai_error("cannotDisseminateFormat", "Use oai_datacite")
            offset, start, until = 0, query.get("from", ""), query.get("until", "")
        low, high = _oai_time(start, "0000"), _oai_time(until, "9999")
        cache_key = (low, high, len(self.data.zenodo_records))
        if self.cache_oai and self._oai_cache and self._oai_cache[0] == cache_key:
            rows = self._oai_cache[1]
        else:
            rows = sorted(
                (r for r in self.data.zenodo_records if low <= r.datestamp <= high),
                key=lambda r: (r.datestamp, r.identifier),
            )
            self._oai_cache = (cache_key, rows)
        if not rows:
            return _oai_error("noRecordsMatch", "No records match")
        chunk = rows[offset : offset + self.oai_page_size]
        body = []
        for record in chunk:
            if record.deleted:
                body.append(
                    f'<record><header status="deleted"><identifier>{record.identifier}'
                    f"</identifier><datestamp>{record.datestamp}</datestamp></header>"
                    "</record>"
                )
            else:
                body.append(record.xml)
        following = offset + len(chunk)
        if following < len(rows):
            body.append(
                f'<resumptionToken completeListSize="{len(rows)}" cursor="{offset}">'
                f"{escape(f'{following}|{start}|{until}')}</resumptionToken>"
            )
        elif offset:
            body.append(f'<resumptionToken completeListSize="{len(rows)}" cursor="{offset}"/>')
        return (
            200,
            {"Content-Type": "text/xml; charset=utf-8"},
            _oai("<ListRecords>" + "".join(body) + "</ListRecords>"),
        )

    def _dcat(self, query: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        page = int(query.get("page", "1"))
        size = int(query.get("size", "100"))
        rows = self.data.dcat_datasets
        chunk = rows[(page - 1) * size : page * size]
        base = f"{self.url}/dcat"
        lines = [
            "@prefix dcat: <http://www.w3.org/ns/dcat#> .",
            "@prefix dct: <http://purl.org/dc/terms/> .",
            "@prefix hydra: <http://www.w3.org/ns/hydra/core#> .",
            "@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .",
            f"<{base}/catalog> a dcat:Catalog, hydra:Collection ;",
            f'  dct:title "Replayed DCAT-AP catalogue" ; hydra:totalItems {len(rows)} ;',
            f"  hydra:view <{base}/catalog?page={page}&size={size}> .",
            f"<{base}/catalog?page={page}&size={size}> a hydra:PartialCollectionView"
            + (
                f" ; hydra:next <{base}/catalog?page={page + 1}&size={size}>"
                if page * size < len(rows)
                else ""
            )
            + " .",
        ]
        for row in chunk:
            node = f"<{base}/dataset/{quote(row['id'])}>"
            keywords = ", ".join(json.dumps(k) for k in row["keywords"])
            lines += [
                f"<{base}/catalog> dcat:dataset {node} .",
                f"{node} a dcat:Dataset ; dct:identifier {json.dumps(row['id'])} ;",
                f"  dct:title {json.dumps(row['title'])} ;",
                f"  dct:description {json.dumps(row['description'])} ;",
                f"  dcat:keyword {keywords} ;",
                f'  dct:issued "{row["issued"]}"^^xsd:date ;',
                f"  dcat:distribution {node[:-1]}#csv> .",
                f"{node[:-1]}#csv> a dcat:Distribution ; dcat:downloadURL <{row['download']}> ;",
                f"  dcat:mediaType <https://www.iana.org/assignments/media-types/{row['media']}>"
                f" ; dct:license <{row['license']}> ;",
                f'  dcat:byteSize "{row["bytes"]}"^^xsd:nonNegativeInteger .',
            ]
        return 200, {"Content-Type": "text/turtle"}, "\n".join(lines).encode()


def _oai_time(value: str, default_year: str) -> str:
    if not value:
        return f"{default_year}-01-01T00:00:00Z"
    if len(value) == 10:
        return value + ("T00:00:00Z" if default_year == "0000" else "T23:59:59Z")
    return value


def _oai(inner: str) -> bytes:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        "<?xml version='1.0' encoding='UTF-8'?>\n"
        '<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"'
        ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f"<responseDate>{now}</responseDate><request>replay</request>{inner}</OAI-PMH>"
    ).encode()


def _oai_error(code: str, message: str) -> tuple[int, dict[str, str], bytes]:
    return (
        200,
        {"Content-Type": "text/xml; charset=utf-8"},
        _oai(f'<error code="{code}">{escape(message)}</error>'),
    )


def _json(status: int, body: Any) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "application/json"}, json.dumps(body).encode()


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that hang up (a killed harvester) are not the replay's concern


class _Handler(BaseHTTPRequestHandler):
    replay: ReplayServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed ACKs

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        if self.replay.delay:
            time.sleep(self.replay.delay)
        try:
            status, headers, body = self.replay.handle(parts.path, query)
        except Exception as exc:  # a replay bug shows as a 500, as upstream bugs do
            status, headers, body = _json(500, {"error": f"replay: {exc}"})
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description="Replay upstream platforms from fixtures.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8010)
    parser.add_argument("--fixtures", default=str(DEFAULT_FIXTURES))
    parser.add_argument(
        "--scale",
        type=int,
        default=0,
        help="serve N copies per platform instead of the recorded records",
    )
    for name in ("openml", "huggingface", "zenodo", "dcat"):
        parser.add_argument(f"--{name}", type=int, help=f"copies of {name} records (--scale)")
    parser.add_argument("--oai-page-size", type=int, default=25)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds per request")
    args = parser.parse_args()
    data = ReplayData.from_fixtures(Path(args.fixtures))
    counts = [getattr(args, n) for n in ("openml", "huggingface", "zenodo", "dcat")]
    if args.scale or any(c is not None for c in counts):
        data = data.scaled(*(args.scale if c is None else c for c in counts))
    server = ReplayServer(data, args.host, args.port, oai_page_size=args.oai_page_size)
    server.delay = args.delay
    server.cache_oai = True
    print(
        f"openml      {server.openml_url}\nhuggingface {server.huggingface_url}\n"
        f"zenodo      {server.zenodo_url}\ndcat        {server.dcat_url}",
        flush=True,
    )
    with contextlib.suppress(KeyboardInterrupt):
        server.httpd.serve_forever()


if __name__ == "__main__":
    main()

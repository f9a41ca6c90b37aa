"""Replicas behind a load balancer (issue 13, part 3): PostgreSQL + an Oxigraph server per
partition + three ``aiod-kg serve`` replicas + nginx, all on loopback
(tests/support/topology.py, the same topology as deploy/compose.yaml).

A write through one replica is read through the others -- REST (GET, list, counts), search,
SPARQL, /catalog, OAI-PMH -- with the same answer within 1 s (polled up to 1 s, then asserted);
concurrent PUTs with one If-Match through two replicas give one 200 and one 412; a replica
killed (SIGKILL) during a bulk import through it leaves every asset wholly there or wholly
absent on the survivors, and the catalogue index equal to the store; nginx keeps answering
(no 5xx) while a replica is stopped and started again; API keys, their revocation, grants and
the write rate limit are shared by every replica.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import pytest
import yaml

from kg.settings import Settings
from tests.support.auth import AUDIENCE, Issuer
from tests.support.data import AUTH, REPO
from tests.support.postgres import PostgresServer
from tests.support.server import needs_engine, starts_server
from tests.support.topology import NGINX_CONF, REPLICA_SHARED, Cluster, cluster, nginx_binary

slow = pytest.mark.slow  # the cluster's tests (its fixture marks them engine and server)

WITHIN = 1.0  # seconds every replica has to agree (issue 13)
RATE_LIMIT = 12  # writes per key and window, shared by the replicas
SPARQL_JSON = {"Accept": "application/sparql-results+json"}


def _engines_and_servers(fixture_function: Callable[..., Any]) -> Callable[..., Any]:
    """Both tags of tests/support/server.py (each alone would replace the other)."""
    needs_engine(starts_server(fixture_function))
    fixture_function.aiod_kg_markers = ("engine", "server")  # type: ignore[attr-defined]
    return fixture_function


@pytest.fixture(scope="module")
@_engines_and_servers
def replicas(
    postgres: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    if nginx_binary() is None:
        pytest.skip("nginx is not installed (.ci/run installs it)")
    folder: Path = tmp_path_factory.mktemp("replicas")
    issuer = Issuer()  # the identity provider every replica trusts (its JWKS on loopback)
    env = {
        "AIOD_KG_WRITE_RATE_LIMIT": str(RATE_LIMIT),
        "AIOD_KG_WRITE_RATE_WINDOW": "3600",
        "AIOD_KG_OIDC_ISSUER": issuer.url,
        "AIOD_KG_OIDC_AUDIENCE": AUDIENCE,
        "AIOD_KG_OIDC_JWKS_MIN_REFRESH": "0.5",
    }
    try:
        with cluster(folder, postgres.create_database(), env=env) as running:
            running.issuer = issuer  # type: ignore[attr-defined]
            _search_ready(running)
            yield running
    finally:
        issuer.close()


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=60) as client:
        yield client


def _dataset(name: str, resource: str, words: str = "") -> dict[str, Any]:
    return {
        "name": name,
        "platform": "example",
        "platform_resource_identifier": resource,
        "description": {"plain": f"{name}: readings of a test rig {words}".strip()},
        "keyword": ["replica", resource],
    }


def _search_ready(replicas: Cluster) -> None:
    """Until every replica's search has caught up (``/health`` stops reporting its progress)
    and loaded its models (which happens in the background: a first write, found by every
    replica's search): the 1 s bounds below are for replicas in service, not starting."""
    deadline = time.monotonic() + 180
    with httpx.Client(timeout=30) as http:
        for replica in replicas.replicas:
            while "search" in http.get(f"{replica.url}/health").json():
                assert time.monotonic() < deadline, f"replica {replica.index} search not ready"
                time.sleep(0.2)
        first = replicas.replicas[0].url
        record = _dataset("Warm-up rig", "warm-up", "wombat")
        made = http.post(f"{first}/datasets", headers=AUTH, json=record)
        assert made.status_code == 200, made.text
        for replica in replicas.replicas:
            while made.json()["identifier"] not in _searched(http, replica.url, "wombat"):
                assert time.monotonic() < deadline, f"replica {replica.index} search is cold"
                time.sleep(0.2)


def eventually(check: Callable[[], Any], what: str) -> None:
    """Poll ``check`` for up to ``WITHIN`` s; then it must hold."""
    deadline = time.monotonic() + WITHIN
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.02)
    assert check(), f"not within {WITHIN} s: {what}"


def _normalised(path: str, answer: httpx.Response) -> Any:
    """An answer with what legitimately differs per request taken out."""
    if answer.headers.get("content-type", "").startswith("application/json"):
        body = answer.json()
        if isinstance(body, dict) and "reference" in body:  # an error's log reference
            body = {k: v for k, v in body.items() if k != "reference"}
        return answer.status_code, body
    text = re.sub(r"<responseDate>[^<]*</responseDate>", "", answer.text)
    if "ntriples" in path or "n-triples" in answer.headers.get("content-type", ""):
        return answer.status_code, sorted(text.splitlines())
    return answer.status_code, text


def same_everywhere(
    http: httpx.Client, replicas: Cluster, path: str, headers: dict[str, str] | None = None
) -> Any:
    """The answer to ``GET path``, once every replica gives the same one (within 1 s)."""
    answers: list[Any] = []

    def agree() -> bool:
        answers[:] = [
            _normalised(path, http.get(r.url + path, headers=headers or {}))
            for r in replicas.replicas
        ]
        return all(a == answers[0] for a in answers)

    eventually(agree, f"every replica answers GET {path} alike")
    return answers[0]


def _sparql(http: httpx.Client, url: str, query: str) -> Any:
    answer = http.get(f"{url}/sparql", params={"query": query}, headers=SPARQL_JSON)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _searched(http: httpx.Client, url: str, word: str) -> set[str]:
    answer = http.get(f"{url}/search", params={"q": word, "mode": "lexical"})
    assert answer.status_code == 200, answer.text
    return {item["identifier"] for item in answer.json()["items"]}


def _every_channel(http: httpx.Client, replicas: Cluster, identifier: str, word: str) -> None:
    """REST, search, SPARQL, /catalog and OAI-PMH answer alike on every replica."""
    same_everywhere(http, replicas, f"/datasets/{identifier}")
    same_everywhere(http, replicas, "/datasets?limit=1000")
    same_everywhere(http, replicas, "/counts")
    ask = f'ASK {{ GRAPH ?g {{ ?s ?p ?o . FILTER(CONTAINS(STR(?o), "{word}")) }} }}'
    same_everywhere(http, replicas, "/sparql?query=" + quote(ask), SPARQL_JSON)
    first = replicas.replicas[0].url
    for replica in replicas.replicas[1:]:

        def alike(url: str = replica.url) -> bool:
            return _searched(http, first, word) == _searched(http, url, word)

        eventually(alike, f"search on replica {replica.index}")
    same_everywhere(http, replicas, "/catalog?format=ntriples")
    same_everywhere(http, replicas, "/oai?verb=ListIdentifiers&metadataPrefix=oai_dc")


@slow
def test_a_write_through_one_replica_is_read_through_the_others(
    replicas: Cluster, http: httpx.Client
) -> None:
    first, second, third = (r.url for r in replicas.replicas)
    made = http.post(f"{first}/datasets", headers=AUTH, json=_dataset("Quokka rig", "quokka"))
    assert made.status_code == 200, made.text
    identifier = made.json()["identifier"]
    status, body = same_everywhere(http, replicas, f"/datasets/{identifier}")
    assert status == 200 and body["name"] == "Quokka rig"
    _every_channel(http, replicas, identifier, "quokka")
    assert identifier in _searched(http, third, "quokka")
    _, lines = same_everywhere(http, replicas, "/catalog?format=ntriples")
    assert any(identifier in line for line in lines)

    # an update through the second replica
    etag = http.get(f"{second}/datasets/{identifier}").headers["etag"]
    changed = http.put(
        f"{second}/datasets/{identifier}",
        headers={**AUTH, "If-Match": etag},
        json=_dataset("Quokka rig", "quokka", "wombatword"),
    )
    assert changed.status_code == 200, changed.text
    status, body = same_everywhere(http, replicas, f"/datasets/{identifier}")
    assert "wombatword" in body["description"]["plain"]
    _every_channel(http, replicas, identifier, "wombatword")
    assert identifier in _searched(http, first, "wombatword")

    # a deletion through the third
    gone = http.delete(f"{third}/datasets/{identifier}", headers=AUTH)
    assert gone.status_code == 200, gone.text
    assert same_everywhere(http, replicas, f"/datasets/{identifier}")[0] == 404
    _every_channel(http, replicas, identifier, "wombatword")
    assert identifier not in _searched(http, first, "wombatword")
    ask = f"ASK {{ GRAPH ?g {{ ?s ?p ?o . FILTER(CONTAINS(STR(?s), '{identifier}')) }} }}"
    for replica in replicas.replicas:
        assert _sparql(http, replica.url, ask)["boolean"] is False


@slow
def test_concurrent_puts_with_one_etag_through_two_replicas(
    replicas: Cluster, http: httpx.Client
) -> None:
    first, second = replicas.replicas[0].url, replicas.replicas[1].url
    made = http.post(f"{first}/datasets", headers=AUTH, json=_dataset("Numbat rig", "numbat"))
    identifier = made.json()["identifier"]
    eventually(lambda: http.get(f"{second}/datasets/{identifier}").status_code == 200, "the create")
    etag = http.get(f"{second}/datasets/{identifier}").headers["etag"]
    statuses: dict[str, int] = {}
    start = threading.Barrier(2)

    def put(url: str) -> None:
        body = _dataset(f"Numbat rig edited through {url}", "numbat")
        with httpx.Client(timeout=60) as own:
            start.wait()
            statuses[url] = own.put(
                f"{url}/datasets/{identifier}", headers={**AUTH, "If-Match": etag}, json=body
            ).status_code

    threads = [threading.Thread(target=put, args=(url,)) for url in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses.values()) == [200, 412], statuses
    (winner,) = [url for url, status in statuses.items() if status == 200]
    _, body = same_everywhere(http, replicas, f"/datasets/{identifier}")
    assert body["name"] == f"Numbat rig edited through {winner}"


@slow
def test_a_hot_asset_changed_through_one_replica_is_read_anew_through_another(
    replicas: Cluster, http: httpx.Client
) -> None:
    """Replica B answers a hot asset from its hot-document cache (kg/store/document_cache.py);
    an edit, a restriction (a status change: no longer public) and a deletion through A
    reach B's answers within 1 s."""
    first, second = replicas.replicas[0].url, replicas.replicas[1].url
    made = http.post(f"{first}/datasets", headers=AUTH, json=_dataset("Bilby rig", "bilby"))
    assert made.status_code == 200, made.text
    path = f"/datasets/{made.json()['identifier']}"
    eventually(lambda: http.get(second + path).status_code == 200, "the create on B")

    def hot(headers: dict[str, str] | None = None) -> httpx.Response:
        for _ in range(50):
            answer = http.get(second + path, headers=headers or {})
        return answer

    assert hot().json()["name"] == "Bilby rig"
    etag = http.get(first + path).headers["etag"]
    renamed = http.put(
        first + path, headers={**AUTH, "If-Match": etag}, json=_dataset("Bilby rig II", "bilby")
    )
    assert renamed.status_code == 200, renamed.text
    eventually(lambda: http.get(second + path).json()["name"] == "Bilby rig II", "the edit")

    assert hot().status_code == 200 and hot(AUTH).status_code == 200
    access = f"{first}/assets/{made.json()['identifier']}/access"
    restricted = http.put(access, headers=AUTH, json={"restricted": True})
    assert restricted.status_code == 200 and restricted.json()["status"] == "restricted"
    eventually(lambda: http.get(second + path).status_code == 404, "the restriction")
    seen = http.get(second + path, headers=AUTH)  # an admin still reads it, restricted
    assert seen.status_code == 200 and seen.json()["aiod_entry"]["status"] == "restricted"

    assert hot(AUTH).status_code == 200
    gone = http.delete(first + path, headers=AUTH)
    assert gone.status_code == 200, gone.text
    eventually(lambda: http.get(second + path, headers=AUTH).status_code == 404, "the deletion")


def _graphs(http: httpx.Client, url: str, base: str) -> set[str]:
    """The identifiers of the dataset graphs in the public store (SPARQL)."""
    prefix = f"{base}/datasets/"
    query = (
        "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o }"
        f' FILTER(STRSTARTS(STR(?g), "{prefix}")) }}'
    )
    rows = _sparql(http, url, query)["results"]["bindings"]
    return {row["g"]["value"].removeprefix(prefix) for row in rows}


def _listed(http: httpx.Client, url: str) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    offset = 0
    while True:
        page = http.get(f"{url}/datasets", params={"offset": offset, "limit": 1000})
        assert page.status_code == 200, page.text
        items = page.json()
        out.update({item["identifier"]: item for item in items})
        if len(items) < 1000:
            return out
        offset += 1000


@slow
def test_a_replica_killed_during_a_bulk_import_leaves_whole_assets(
    replicas: Cluster, http: httpx.Client
) -> None:
    victim = replicas.replicas[2]
    sent: dict[str, dict[str, Any]] = {}
    acknowledged: dict[str, str] = {}  # identifier -> resource
    lock = threading.Lock()
    stop = threading.Event()

    def importer(worker: int) -> None:
        with httpx.Client(timeout=30) as own:
            for n in range(10_000):
                if stop.is_set():
                    return
                resource = f"bulk-{worker}-{n}"
                record = _dataset(f"Bulk rig {worker} {n}", resource, f"batch{worker}x{n}")
                record["distribution"] = [
                    {"content_url": f"https://example.org/{resource}/{k}.csv", "name": f"part {k}"}
                    for k in range(3)
                ]
                with lock:
                    sent[resource] = record
                try:
                    answer = own.post(f"{victim.url}/datasets", headers=AUTH, json=record)
                except httpx.HTTPError:
                    return  # the replica died under this request
                if answer.status_code == 200:
                    with lock:
                        acknowledged[answer.json()["identifier"]] = resource

    threads = [threading.Thread(target=importer, args=(k,)) for k in range(4)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 120
    while len(acknowledged) < 40 and time.monotonic() < deadline:
        time.sleep(0.01)
    replicas.kill(victim.index)
    stop.set()
    for thread in threads:
        thread.join()
    assert len(acknowledged) >= 40, "the import was too slow to be interrupted"
    try:
        for survivor in replicas.replicas[:2]:
            # the killed replica's interrupted write is repaired by a survivor (its journal
            # is seen once the write lock is free: kg/catalog.py, a look every second)
            deadline = time.monotonic() + 15
            while True:
                listed = _listed(http, survivor.url)
                stored = _graphs(http, survivor.url, replicas.url)
                if set(listed) == stored or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            assert set(listed) == stored  # the catalogue index is the store
            assert set(acknowledged) <= stored  # nothing answered 200 was lost
            counted = http.get(f"{survivor.url}/counts").json()
            assert sum(counted["datasets"].values()) == len(listed)
            bulk = {i: item for i, item in listed.items() if item["name"].startswith("Bulk rig")}
            for identifier, item in bulk.items():  # wholly there: every part of what was sent
                record = sent[item["platform_resource_identifier"]]
                assert item["name"] == record["name"]
                assert item["description"] == record["description"]
                assert sorted(item["keyword"]) == sorted(record["keyword"])
                urls = sorted(d["content_url"] for d in item.get("distribution", []))
                assert urls == sorted(d["content_url"] for d in record["distribution"])
                got = http.get(f"{survivor.url}/datasets/{identifier}")
                assert got.status_code == 200 and got.json()["name"] == record["name"]
    finally:
        replicas.start(victim.index)
    # the restarted replica agrees with the survivors
    same_everywhere(http, replicas, "/counts")
    assert set(_listed(http, victim.url)) == _graphs(http, victim.url, replicas.url)


@slow
def test_the_balancer_keeps_answering_while_a_replica_restarts(
    replicas: Cluster, http: httpx.Client
) -> None:
    answers: list[int] = []
    failures: list[str] = []
    upstreams: set[str] = set()
    done = threading.Event()

    def load() -> None:
        with httpx.Client(base_url=replicas.url, timeout=30) as own:
            while not done.is_set():
                for path in ("/health", "/datasets?limit=5", "/counts"):
                    try:
                        answer = own.get(path)
                    except httpx.HTTPError as error:
                        failures.append(f"{path}: {error!r}")
                        continue
                    answers.append(answer.status_code)
                    upstreams.add(answer.headers.get("x-aiod-kg-upstream", ""))

    threads = [threading.Thread(target=load) for _ in range(2)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(1)
        replicas.stop(1)
        time.sleep(2)
        replicas.start(1)
        time.sleep(4)  # past nginx's fail_timeout: the restarted replica is used again
    finally:
        done.set()
        for thread in threads:
            thread.join()
    assert not failures, failures[:5]
    assert answers and all(status < 500 for status in answers), sorted(set(answers))
    restarted = f"127.0.0.1:{replicas.replicas[1].port}"
    assert any(restarted in u for u in upstreams), upstreams
    for replica in replicas.replicas:
        assert http.get(f"{replica.url}/health").status_code == 200


def _on_every_replica(
    http: httpx.Client, replicas: Cluster, path: str, headers: dict[str, str], status: int
) -> None:
    for replica in replicas.replicas:

        def answers(url: str = replica.url) -> bool:
            return http.get(url + path, headers=headers).status_code == status

        eventually(answers, f"GET {path} is {status} on replica {replica.index}")


def _new_key(http: httpx.Client, url: str, name: str) -> tuple[str, dict[str, str]]:
    made = http.post(f"{url}/api_keys", headers=AUTH, json={"name": name, "roles": []})
    assert made.status_code == 200, made.text
    return made.json()["id"], {"Authorization": f"Bearer {made.json()['key']}"}


@slow
def test_an_api_key_and_its_revocation_reach_every_replica(
    replicas: Cluster, http: httpx.Client
) -> None:
    key_id, key = _new_key(http, replicas.replicas[0].url, "harvester")
    _on_every_replica(http, replicas, "/authorization_test", key, 200)
    revoked = http.delete(f"{replicas.replicas[1].url}/api_keys/{key_id}", headers=AUTH)
    assert revoked.status_code == 200 and revoked.json()["revoked"] is True, revoked.text
    _on_every_replica(http, replicas, "/authorization_test", key, 401)


@slow
def test_a_new_signing_key_is_accepted_by_every_replica(
    replicas: Cluster, http: httpx.Client
) -> None:
    """The provider rotates its key: a token signed with the new one is accepted by every
    replica within a second (each refetches the key set in the background on the first
    unknown key id; AIOD_KG_OIDC_JWKS_MIN_REFRESH bounds how often) and the retired key's
    tokens are refused."""
    issuer: Issuer = replicas.issuer  # type: ignore[attr-defined]
    old = {"Authorization": f"Bearer {issuer.token('carol')}"}
    _on_every_replica(http, replicas, "/authorization_test", old, 200)
    time.sleep(0.6)  # past the least time between two refetches of a replica
    new_key = issuer.rotate(f"key-{time.monotonic_ns()}")
    new = {"Authorization": f"Bearer {issuer.token('carol', key=new_key)}"}
    _on_every_replica(http, replicas, "/authorization_test", new, 200)
    _on_every_replica(http, replicas, "/authorization_test", old, 401)


@slow
def test_a_changed_grant_reaches_every_replica(replicas: Cluster, http: httpx.Client) -> None:
    first, second, third = (r.url for r in replicas.replicas)
    _, alice = _new_key(http, first, "alice")
    _, bob = _new_key(http, first, "bob")
    _on_every_replica(http, replicas, "/authorization_test", bob, 200)
    subject = http.get(f"{second}/authorization_test", headers=bob).json()["subject"]
    draft = {"name": "Draft rig", "description": {"plain": "A user's upload: a draft."}}
    made = http.post(f"{second}/datasets", headers=alice, json=draft)
    assert made.status_code == 200, made.text
    path = f"/datasets/{made.json()['identifier']}"
    _on_every_replica(http, replicas, path, alice, 200)
    _on_every_replica(http, replicas, path, bob, 404)  # a draft: alice's alone
    access = f"/assets/{made.json()['identifier']}/access"
    granted = http.put(
        third + access, headers=alice, json={"grants": [{"user": subject, "permission": "read"}]}
    )
    assert granted.status_code == 200, granted.text
    _on_every_replica(http, replicas, path, bob, 200)
    withdrawn = http.put(first + access, headers=alice, json={"grants": []})
    assert withdrawn.status_code == 200, withdrawn.text
    _on_every_replica(http, replicas, path, bob, 404)


@slow
def test_the_write_rate_limit_is_shared_by_the_replicas(
    replicas: Cluster, http: httpx.Client
) -> None:
    _, key = _new_key(http, replicas.replicas[0].url, "eager")
    statuses = []
    for n in range(RATE_LIMIT + 3):  # round robin over the replicas
        url = replicas.replicas[n % len(replicas.replicas)].url
        statuses.append(http.delete(f"{url}/datasets/data_{n:024d}", headers=key).status_code)
    # one bucket for the key: the limit holds across replicas, not per replica
    assert 429 not in statuses[:RATE_LIMIT], statuses
    assert statuses[RATE_LIMIT:] == [429] * 3, statuses
    refused = http.delete(f"{replicas.url}/datasets/data_{0:024d}", headers=key)
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    assert set(refused.json()) == {"detail", "reference"}


# ------------------------------------------------------------------ deploy/ (not run here: CI
# has no containers) names the same topology, with real settings


DEPLOY = REPO / "deploy"


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return loaded


def test_compose_names_the_topology_of_the_test() -> None:
    services = _compose()["services"]
    replica_names = sorted(name for name in services if name.startswith("replica"))
    assert {"postgres", "oxigraph-public", "oxigraph-private", "nginx"} <= set(services)
    assert len(replica_names) >= 2
    settings = {f"AIOD_KG_{name.upper()}" for name in Settings.model_fields}
    for name in replica_names:
        env = services[name]["environment"]
        assert set(env) <= settings, set(env) - settings  # every variable is a real setting
        # what the test topology gives every replica, the compose file gives too
        shared = set(REPLICA_SHARED) | {"AIOD_KG_DATA_DIR", "AIOD_KG_ADMIN_KEY"}
        assert shared <= set(env), shared - set(env)
        assert env["AIOD_KG_STORE"] == "sparql+http://oxigraph-public:7878"
        assert env["AIOD_KG_PRIVATE_STORE"] == "sparql+http://oxigraph-private:7878"
        database = re.sub(r"\$\{[^}]*\}", "secret", env["AIOD_KG_DATABASE"])  # ${VARIABLE}
        assert urlsplit(database).hostname == "postgres"
        assert services[name]["build"]["dockerfile"] == "deploy/Dockerfile"
        volumes = services[name]["volumes"]
        assert f"{name}:/var/lib/aiod-kg" in volumes  # its own data folder
        assert f"files:{env['AIOD_KG_FILES']}" in volumes  # one files folder for all
    assert "./nginx.conf:/etc/nginx/nginx.conf:ro" in services["nginx"]["volumes"]
    # nginx balances exactly the compose file's replicas, skipping a stopped one
    conf = (DEPLOY / "nginx.conf").read_text()
    upstream = re.findall(r"^\s*server (replica\d+):8000", conf, flags=re.MULTILINE)
    assert sorted(upstream) == replica_names
    assert "proxy_next_upstream error timeout;" in conf
    assert "proxy_next_upstream error timeout;" in NGINX_CONF


def test_the_dockerfile_copies_what_exists() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    for source in re.findall(r"^COPY (\S+)", dockerfile, flags=re.MULTILINE):
        assert (REPO / source).exists(), source
    for variable in set(re.findall(r"AIOD_KG_[A-Z_]+", dockerfile)):
        assert variable.removeprefix("AIOD_KG_").lower() in Settings.model_fields, variable

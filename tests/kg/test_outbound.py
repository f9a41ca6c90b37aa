"""The one outbound HTTP client (``kg.outbound``) against real loopback servers: the allow-list,
link-local/metadata refusal, timeouts, the size cap, redirects, and the harvest ``Http`` on it."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import ip_address

import httpx
import pytest

from kg.harvest import FetchError, Http
from kg.outbound import Outbound, OutboundPolicy, Refused, TooLarge
from kg.settings import Settings
from tests.support.harvest import RecordingSleep

MB = 1024 * 1024


class Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        if self.path == "/ok":
            self._send(200, b'{"ok": true}')
        elif self.path == "/huge":  # no Content-Length: the cap applies while reading
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            chunk = b"x" * 65536
            try:
                for _ in range(64):  # 4 MiB
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.write(b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                pass
        elif self.path == "/declared-huge":
            self.send_response(200)
            self.send_header("Content-Length", str(4 * MB))
            self.end_headers()
        elif self.path.startswith("/redirect?to="):
            self.send_response(302)
            self.send_header("Location", self.path.split("=", 1)[1])
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path == "/loop":
            self.send_response(302)
            self.send_header("Location", "/loop")
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            self._send(404, b"{}")

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@contextmanager
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


@contextmanager
def silent_server() -> Iterator[str]:
    """Accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        for conn in accepted:
            conn.close()
        listener.close()


def test_allowed_host_is_fetched() -> None:
    with server() as base, Outbound(OutboundPolicy(hosts=("127.0.0.1",))) as client:
        response = client.get(f"{base}/ok")
    assert response.status_code == 200 and response.json() == {"ok": True}


def test_host_not_on_the_allow_list_is_refused() -> None:
    policy = OutboundPolicy(hosts=("*.example.org",))
    with server() as base, Outbound(policy) as client, pytest.raises(Refused, match="allow-list"):
        client.get(f"{base}/ok")
    policy = OutboundPolicy(hosts=("*.example.org", "zenodo.org"))
    assert policy.host_allowed("data.example.org") and policy.host_allowed("example.org")
    assert policy.host_allowed("zenodo.org") and not policy.host_allowed("evil-zenodo.org")
    assert not policy.host_allowed("example.org.evil.net")


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://127.0.0.1/x",
        "gopher://127.0.0.1/x",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fe80::1]/",
        "http://[::ffff:169.254.169.254]/",
        "http://[fd00:ec2::254]/",
        "http://0.0.0.0/",
    ],
)
def test_other_schemes_and_link_local_or_metadata_addresses_are_refused(url: str) -> None:
    with Outbound() as client, pytest.raises(Refused):
        client.get(url)


def test_link_local_only_when_explicitly_allowed() -> None:
    assert not OutboundPolicy().address_allowed(ip_address("169.254.169.254"))
    assert OutboundPolicy(allow_link_local=True).address_allowed(ip_address("169.254.169.254"))
    assert OutboundPolicy().address_allowed(
        ip_address("127.0.0.1")
    )  # loopback replays, dev providers


def test_a_server_that_never_answers_times_out() -> None:
    policy = OutboundPolicy(connect_timeout=0.5, read_timeout=0.5)
    with silent_server() as base, Outbound(policy) as client, pytest.raises(httpx.ReadTimeout):
        client.get(f"{base}/anything")


def test_a_huge_response_is_capped() -> None:
    with server() as base, Outbound(OutboundPolicy(max_bytes=1 * MB)) as client:
        with pytest.raises(TooLarge):
            client.get(f"{base}/huge")
        with pytest.raises(TooLarge, match="4194304 bytes"):
            client.get(f"{base}/declared-huge")
        assert client.get(f"{base}/ok").status_code == 200  # the pool is still usable


def test_redirects_are_checked_and_limited() -> None:
    with server() as base, Outbound(OutboundPolicy(hosts=("127.0.0.1",))) as client:
        assert client.get(f"{base}/redirect?to=/ok").json() == {"ok": True}
        with pytest.raises(Refused, match="allow-list"):
            client.get(f"{base}/redirect?to=http://localhost:1/ok")
        with pytest.raises(Refused, match="redirects"):
            client.get(f"{base}/loop")
    with server() as base, Outbound() as client, pytest.raises(Refused, match=r"169\.254"):
        client.get(f"{base}/redirect?to=http://169.254.169.254/latest/meta-data/")


def test_harvest_http_does_not_retry_what_the_policy_refuses() -> None:
    sleep = RecordingSleep()
    http = Http(max_retries=3, sleep=sleep, policy=OutboundPolicy(hosts=("zenodo.org",)))
    try:
        with server() as base, pytest.raises(FetchError, match="allow-list"):
            http.get(f"{base}/ok")
    finally:
        http.close()
    assert sleep.delays == [] and http.requests == 1 and http.retries == 0


def test_policy_from_settings() -> None:
    settings = Settings(
        outbound_hosts=" openml.org, *.huggingface.co ",
        outbound_max_bytes=2 * MB,
        outbound_connect_timeout=9.0,
    )
    policy = OutboundPolicy.from_settings(settings, read_timeout=4.0)
    assert policy.hosts == ("openml.org", "*.huggingface.co")
    assert policy.max_bytes == 2 * MB and policy.read_timeout == 4.0
    assert policy.connect_timeout == 4.0  # never longer than the read timeout
    assert not policy.allow_link_local
    # a caller (OIDC) may tighten the cap and the deadline, never loosen them
    oidc = OutboundPolicy.from_settings(settings, 5.0, total_timeout=5.0, max_bytes=64 * MB)
    assert oidc.max_bytes == 2 * MB and oidc.total_timeout == 5.0
    assert oidc.hosts == policy.hosts

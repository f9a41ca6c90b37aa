"""The one outbound HTTP client: every connection aiod-kg opens to another host goes through it.

Connectors (``kg.harvest.http.Http`` wraps it with retries), OIDC discovery and JWKS
(``api.auth.tokens``) and, later, node sync use ``Outbound``; request handling never does
(DESIGN.md section 9). What it enforces, from ``OutboundPolicy`` (settings ``outbound_*``):

* schemes: ``http`` and ``https`` only;
* hosts: an allow-list (``outbound_hosts``: ``example.org`` exactly, ``*.example.org`` or
  ``.example.org`` for its subdomains too; empty: any host);
* addresses: link-local (``169.254.0.0/16``, ``fe80::/10``) and cloud metadata addresses,
  unspecified and multicast addresses are refused unless ``outbound_allow_link_local``. The
  check runs where the socket is opened, on the address actually connected to (a host name
  that resolves differently between a check and the connection gains nothing);
* timeouts: connect and read, and a deadline for the whole response body;
* size: a response body (after decompression) larger than ``max_bytes`` is refused;
* redirects: at most ``max_redirects``, each target checked like the first URL.

Environment proxies are ignored (``trust_env=False``): the policy is about the hosts
connected to.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

from kg.settings import Settings

# instance metadata services that are not link-local (AWS IPv6, Alibaba Cloud)
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("fd00:ec2::254", "100.100.100.200")
)
DEFAULT_USER_AGENT = "aiod-kg/0.1 (+https://github.com/aiondemand)"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class OutboundError(Exception):
    """An outbound request refused by the policy (never retried)."""

    def __init__(self, url: str, message: str) -> None:
        super().__init__(f"{message} ({url})")
        self.url = url


class Refused(OutboundError):
    """The URL, host or address is not allowed."""


class TooLarge(OutboundError):
    """The response body is larger than the policy allows."""


@dataclass(frozen=True)
class OutboundPolicy:
    hosts: tuple[str, ...] = ()  # empty: any host (addresses are still checked)
    allow_link_local: bool = False
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    total_timeout: float = 300.0  # the whole body must arrive within this
    max_bytes: int = 64 * 1024 * 1024
    max_redirects: int = 5

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        read_timeout: float | None = None,
        total_timeout: float | None = None,
        max_bytes: int | None = None,
    ) -> OutboundPolicy:
        """The policy of the settings; a caller may only tighten its timeouts and size cap."""
        hosts = tuple(h.strip().lower() for h in settings.outbound_hosts.split(",") if h.strip())
        read = settings.outbound_read_timeout if read_timeout is None else read_timeout
        total = settings.outbound_total_timeout if total_timeout is None else total_timeout
        cap = settings.outbound_max_bytes
        return cls(
            hosts=hosts,
            allow_link_local=settings.outbound_allow_link_local,
            connect_timeout=min(settings.outbound_connect_timeout, read),
            read_timeout=read,
            total_timeout=max(total, read),
            max_bytes=cap if max_bytes is None else min(cap, max_bytes),
            max_redirects=settings.outbound_max_redirects,
        )

    def host_allowed(self, host: str) -> bool:
        if not self.hosts:
            return True
        host = host.lower().rstrip(".")
        for allowed in self.hosts:
            if allowed.startswith(("*.", ".")):
                suffix = allowed.lstrip("*")
                if host == suffix[1:] or host.endswith(suffix):
                    return True
            elif host == allowed:
                return True
        return False

    def address_allowed(self, address: IPAddress) -> bool:
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if address.is_unspecified or address.is_multicast:
            return False
        if self.allow_link_local:
            return True
        return not (address.is_link_local or address in METADATA_ADDRESSES)

    def check_url(self, url: str | httpx.URL) -> None:
        """Raise ``Refused`` unless the URL's scheme and host are allowed."""
        text = str(url)
        parts = urlsplit(text)
        if parts.scheme not in ("http", "https"):
            raise Refused(text, f"scheme {parts.scheme or '(none)'!r} is not allowed")
        host = parts.hostname
        if not host:
            raise Refused(text, "no host")
        if not self.host_allowed(host):
            raise Refused(text, f"host {host!r} is not on the outbound allow-list")
        try:
            literal = ipaddress.ip_address(host)
        except ValueError:
            return
        if not self.address_allowed(literal):
            raise Refused(text, f"address {literal} is not allowed")


class _GuardedBackend(httpcore.SyncBackend):
    """Resolves the host itself and connects only to addresses the policy allows."""

    def __init__(self, policy: OutboundPolicy) -> None:
        self.policy = policy

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        allowed = [a for a in addresses if self.policy.address_allowed(ipaddress.ip_address(a))]
        if not allowed:
            raise _RefusedAddress(f"{host} resolves only to refused addresses {addresses}")
        last: Exception | None = None
        for address in allowed:
            try:
                return super().connect_tcp(
                    address, port, timeout, local_address, socket_options=socket_options
                )
            except httpcore.ConnectError as exc:  # try the next address of the host
                last = exc
        assert last is not None
        raise last


class _RefusedAddress(httpcore.ConnectError):
    """Raised inside the transport; ``Outbound`` turns it into ``Refused``."""


class Outbound:
    """GET under an ``OutboundPolicy``. Thread-safe (one pooled ``httpx.Client``)."""

    def __init__(
        self,
        policy: OutboundPolicy | None = None,
        *,
        user_agent: str = DEFAULT_USER_AGENT,
        max_connections: int = 10,
    ) -> None:
        self.policy = policy or OutboundPolicy()
        transport = httpx.HTTPTransport(
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            )
        )
        # httpx does not expose the pool's network backend; the address check lives there
        transport._pool._network_backend = _GuardedBackend(self.policy)
        self.client = httpx.Client(
            transport=transport,
            timeout=httpx.Timeout(self.policy.read_timeout, connect=self.policy.connect_timeout),
            follow_redirects=False,
            trust_env=False,
            headers={"User-Agent": user_agent},
        )

    @classmethod
    def from_settings(cls, settings: Settings, **kw: Any) -> Outbound:
        return cls(OutboundPolicy.from_settings(settings), **kw)

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> Outbound:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(
        self,
        url: str,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """The response (any status), its body read. Raises ``Refused``, ``TooLarge`` or an
        ``httpx.TransportError`` (timeouts, refused connections)."""
        request = self.client.build_request("GET", url, params=params, headers=headers)
        deadline = time.monotonic() + self.policy.total_timeout
        for _ in range(self.policy.max_redirects + 1):
            self.policy.check_url(request.url)
            response = self._send(request, deadline)
            if not response.is_redirect:
                return response
            if response.next_request is None:
                return response
            request = response.next_request
        raise Refused(str(url), f"more than {self.policy.max_redirects} redirects")

    def request(
        self,
        method: str,
        url: str,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """A write (POST, PUT, DELETE: node sync, kg/sync) under the same policy; redirects
        are not followed (a write is not replayed elsewhere)."""
        request = self.client.build_request(method, url, content=content, headers=headers)
        self.policy.check_url(request.url)
        return self._send(request, time.monotonic() + self.policy.total_timeout)

    def _send(self, request: httpx.Request, deadline: float) -> httpx.Response:
        text = str(request.url)
        try:
            response = self.client.send(request, stream=True)
        except httpx.ConnectError as exc:  # httpx wraps the transport's error
            if isinstance(exc.__cause__, _RefusedAddress):
                raise Refused(text, str(exc)) from exc
            raise
        try:
            cap = self.policy.max_bytes
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > cap:
                raise TooLarge(text, f"response of {declared} bytes exceeds {cap}")
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > cap:
                    raise TooLarge(text, f"response exceeds {cap} bytes")
                if time.monotonic() > deadline:
                    raise httpx.ReadTimeout("response body took too long", request=request)
                chunks.append(chunk)
            response._content = b"".join(chunks)
        finally:
            response.close()
        return response

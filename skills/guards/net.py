"""Fetch policy: which URLs and addresses a run may reach, how long it waits, what it retries."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass

import httpcore
import httpx
from tenacity import (
    AsyncRetrying,
)

from phasegraph.skills.core.errors import URLRefused
from phasegraph.skills.core.retry import TOOLS, retrying

# Every request a skill makes goes through this module twice: check_url() judges each
# hop's URL before it is sent (scheme, literal addresses, "localhost"), and the network
# backend judges every address a connection is actually opened to, after DNS. The
# second check is the one that matters: it sees redirects, DNS names that point inside
# and DNS answers that change between two lookups, because the address it checks is the
# address it connects to.

#: Schemes a skill may fetch.
ALLOWED_SCHEMES = frozenset({"http", "https"})
#: Redirect hops followed before giving up.
MAX_REDIRECTS = 5
#: Attempts per fetch, the first one included.
ATTEMPTS = 3
#: Sent with every request so servers can tell who is asking.
USER_AGENT = "phasegraph/0.1 (fetch_url)"


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# NAT64 prefixes carry an IPv4 address in their last 32 bits (RFC 6052, RFC 8215).
_NAT64 = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))
_LEGACY_IPV4 = re.compile(r"[0-9a-fA-FxX.]+")


def address_problem(address: IPAddress) -> str | None:
    """Why a run must not connect to ``address`` (``None`` when it is a public address).

    Loopback, private, link-local (169.254.169.254, where cloud metadata lives),
    multicast, unspecified, reserved and other non-global ranges are refused,
    for IPv4 and IPv6 alike; an IPv4 address carried inside IPv6 (mapped,
    6to4, Teredo, NAT64) is judged as the IPv4 address it carries.
    """
    if isinstance(address, ipaddress.IPv6Address):
        carried = _carried_ipv4(address)
        if carried is not None:
            inner = address_problem(carried)
            return f"{inner} (carried in the IPv6 address {address})" if inner else None
        if address.is_site_local:
            return f"{address} is a site-local address"
    for attribute, kind in (
        ("is_loopback", "loopback"),
        ("is_link_local", "link-local"),
        ("is_multicast", "multicast"),
        ("is_unspecified", "unspecified"),
        ("is_reserved", "reserved"),
        ("is_private", "private"),
    ):
        if getattr(address, attribute):
            return f"{address} is a {kind} address"
    if not address.is_global:
        return f"{address} is not a public address"
    return None


def _carried_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if any(address in net for net in _NAT64):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    # IPv4-compatible (::a.b.c.d, deprecated) addresses are refused as reserved.
    return None


def literal_address(host: str) -> IPAddress | None:
    """``host`` as an IP address when it is one, legacy IPv4 spellings included.

    ``2130706433``, ``0x7f.1`` and ``127.1`` all mean 127.0.0.1 to the C resolver.
    """
    bare = host.strip("[]").split("%", 1)[0]
    try:
        return ipaddress.ip_address(bare)
    except ValueError:
        pass
    if _LEGACY_IPV4.fullmatch(bare):
        with contextlib.suppress(OSError):
            return ipaddress.IPv4Address(socket.inet_aton(bare))
    return None


@dataclass(frozen=True)
class AllowList:
    """Hosts the user trusts although they are internal: names, addresses or networks.

    Example: ``AllowList.of(["127.0.0.1", "intranet.example", "10.1.0.0/16"])``.
    """

    names: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def of(cls, hosts: Iterable[str]) -> AllowList:
        names: set[str] = set()
        networks: list[IPNetwork] = []
        for host in hosts:
            entry = host.strip()
            try:
                networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            except ValueError:
                names.add(_normal_name(entry))
        return cls(frozenset(names), tuple(networks))

    def allows_name(self, host: str) -> bool:
        return _normal_name(host) in self.names

    def allows_address(self, address: IPAddress) -> bool:
        return any(address in net for net in self.networks if net.version == address.version)

    def beyond(self, hosts: Iterable[str]) -> list[str]:
        """The entries of ``hosts`` (names, addresses, networks) this list does not cover:
        a name not listed here, an address or network not inside one listed here (a name is
        never covered by a network: it is trusted whatever it resolves to)."""
        out = []
        for host in hosts:
            entry = host.strip()
            try:
                net = ipaddress.ip_network(entry.strip("[]"), strict=False)
            except ValueError:
                if not self.allows_name(entry):
                    out.append(host)
                continue
            if not any(_inside(net, mine) for mine in self.networks):
                out.append(host)
        return out


def _inside(net: IPNetwork, outer: IPNetwork) -> bool:
    if isinstance(net, ipaddress.IPv4Network) and isinstance(outer, ipaddress.IPv4Network):
        return net.subnet_of(outer)
    if isinstance(net, ipaddress.IPv6Network) and isinstance(outer, ipaddress.IPv6Network):
        return net.subnet_of(outer)
    return False


def _normal_name(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


def _refusal(host: str, why: str) -> str:
    return (
        f"{why}; fetch_url only reaches public addresses. If you trust {host!r}, "
        f'allow it: --allow-host {host} (phasegraph run), or RunOptions(allow_hosts=("{host}",))'
    )


def check_url(url: str | httpx.URL, allow: AllowList | None = None) -> httpx.URL:
    """Parse ``url`` and return it if a skill may request it; raise :class:`URLRefused`.

    Judged here without DNS: the scheme, literal IP addresses and ``localhost``
    names. Addresses a name resolves to are judged when connecting.
    """
    allow = allow or AllowList()
    try:
        parsed = url if isinstance(url, httpx.URL) else httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise URLRefused(f"{str(url)!r} is not a valid URL ({exc})", url=str(url)) from exc
    shown = str(url)
    if parsed.scheme not in ALLOWED_SCHEMES:
        scheme = parsed.scheme or "no scheme"
        raise URLRefused(
            f"{shown!r} uses {scheme}; only http:// and https:// URLs can be fetched", url=shown
        )
    if not parsed.host:
        raise URLRefused(f"{shown!r} has no host; give a full http(s):// URL", url=shown)
    host = parsed.host
    if allow.allows_name(host):
        return parsed
    address = literal_address(host)
    if address is not None:
        problem = address_problem(address)
        if problem and not allow.allows_address(address):
            raise URLRefused(_refusal(host, f"{shown!r}: {problem}"), url=shown)
    elif _normal_name(host) == "localhost" or _normal_name(host).endswith(".localhost"):
        raise URLRefused(_refusal(host, f"{shown!r} names this machine ({host})"), url=shown)
    return parsed


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """A network backend that connects only to addresses the fetch policy allows.

    It resolves the name itself, refuses the connection when any address the
    name resolves to is internal (unless allow-listed), and connects to the
    addresses it checked, so a second DNS answer cannot differ from the first.
    TLS still verifies the certificate against the name in the URL.
    """

    def __init__(self, allow: AllowList, inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        self._allow = allow
        self._inner = inner or httpcore.AnyIOBackend()

    async def resolve(self, host: str, port: int) -> list[str]:
        """The addresses ``host`` may be connected to, or :class:`URLRefused`."""
        if self._allow.allows_name(host):
            return [host]
        literal = literal_address(host)
        if literal is not None:
            found = [literal]
        else:
            try:
                infos = await asyncio.get_running_loop().getaddrinfo(
                    host, port, type=socket.SOCK_STREAM
                )
            except socket.gaierror as exc:
                raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
            found = []
            for info in infos:
                address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
                if address not in found:
                    found.append(address)
        for address in found:
            problem = address_problem(address)
            if problem and not self._allow.allows_address(address):
                where = f"{host} resolves to {address}: " if literal is None else ""
                raise URLRefused(_refusal(host, where + problem), url=host)
        return [str(a) for a in found]

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        last: Exception | None = None
        for address in await self.resolve(host, port):
            try:
                return await self._inner.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        raise last or httpcore.ConnectError(f"cannot connect to {host}")

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise URLRefused("fetch_url never connects to unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport, with its connection pool on a :class:`GuardedBackend`.

    No proxy is used, from the environment or otherwise: a proxy would resolve
    and connect on its own, out of reach of the address check.
    """

    def __init__(self, allow: AllowList) -> None:
        super().__init__(trust_env=False)
        # httpx has no public way to give its pool a network backend; the pool it
        # builds is replaced by the same pool on the guarded backend.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=10,
            max_keepalive_connections=5,
            keepalive_expiry=5.0,
            network_backend=GuardedBackend(allow),
        )


def retrying_fetch(*, attempts: int = ATTEMPTS) -> AsyncRetrying:
    """The retry loop for one fetch: ``attempts`` tries, the tools' short waits (0.2 s, then
    0.4 s), transient faults only (:func:`phasegraph.skills.core.retry.is_transient`)."""
    return retrying(attempts, TOOLS)


def client_timeout(total: float) -> httpx.Timeout:
    """Per-operation timeouts for a fetch that may take ``total`` seconds in all."""
    return httpx.Timeout(min(30.0, total), connect=min(10.0, total))


def make_client(*, timeout: float, allow_hosts: Iterable[str] = ()) -> httpx.AsyncClient:
    """An HTTP client wired to the fetch policy: every hop and address checked, redirects capped.

    ``allow_hosts`` names the internal hosts (names, addresses, networks) the
    user trusts; every other loopback, private or link-local target is refused.
    """
    allow = AllowList.of(allow_hosts)

    async def check_hop(request: httpx.Request) -> None:
        check_url(request.url, allow)

    return httpx.AsyncClient(
        follow_redirects=True,
        max_redirects=MAX_REDIRECTS,
        timeout=client_timeout(timeout),
        headers={"User-Agent": USER_AGENT},
        event_hooks={"request": [check_hop]},
        transport=GuardedTransport(allow),
        trust_env=False,
    )

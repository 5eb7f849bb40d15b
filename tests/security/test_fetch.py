"""SSRF: fetch_url reaches public http(s) addresses only, at every hop, within caps.

Internal targets are checked either under respx (which answers at the connection
pool, so nothing can leave the machine even if a check failed) or against real
servers on 127.0.0.1 that count what reaches them. No case sends traffic to any
address that is not on this machine.
"""

from __future__ import annotations

import gzip
import ipaddress
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from hypothesis import given
from hypothesis import strategies as st
from support.repos import init_repo, run_collecting

from phasegraph.skills.base import SkillContext
from phasegraph.skills.core.errors import SkillError, URLRefused
from phasegraph.skills.fetch_url import SKILL, fetch_url
from phasegraph.skills.guards.net import AllowList, GuardedBackend, check_url

PUBLIC = "https://docs.example.test"


async def fetch(url: str, tmp_path: Path, **ctx: Any) -> dict[str, Any]:
    context = SkillContext(workspace=tmp_path, step_id="s1", **ctx)
    result = await fetch_url(SKILL.parse_args({"url": url}), context)
    return {"summary": result.summary, **result.data}


class Counting(BaseHTTPRequestHandler):
    """A loopback server: /page is text, /redirect?to=URL redirects, /drip and /flood never end."""

    seen: list[str]

    def do_GET(self) -> None:
        self.seen.append(self.path)
        if self.path.startswith("/redirect?to="):
            self.send_response(302)
            self.send_header("location", self.path.split("=", 1)[1])
            self.end_headers()
        elif self.path == "/drip":  # a byte at a time, for ever (bounded: 600 bytes)
            self.send_response(200)
            self.send_header("content-type", "text/plain")
            self.end_headers()
            for _ in range(600):
                try:
                    self.wfile.write(b"a")
                    self.wfile.flush()
                except OSError:
                    return
                time.sleep(0.05)
        elif self.path == "/flood":  # 50 MB of text, chunk after chunk
            self.send_response(200)
            self.send_header("content-type", "text/plain")
            self.end_headers()
            for _ in range(800):
                try:
                    self.wfile.write(b"a" * 65536)
                except OSError:
                    return
        elif self.path == "/bomb":  # 20 MB of text in 20 kB of gzip
            body = gzip.compress(b"a" * 20_000_000)
            self.send_response(200)
            self.send_header("content-type", "text/plain")
            self.send_header("content-encoding", "gzip")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            try:
                self.wfile.write(body)
            except OSError:
                return
        else:
            body = b"page"
            self.send_response(200)
            self.send_header("content-type", "text/plain")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class Server:
    def __init__(self) -> None:
        class Handler(Counting):
            pass

        self.seen: list[str] = []
        Handler.seen = self.seen  # a fresh list per server, shared by its handlers
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.block_on_close = False
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    srv = Server()
    yield srv
    srv.close()


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://example.test/x",
        "gopher://example.test:70/_x",
        "dict://example.test:11211/stat",
        "data:text/plain,hi",
        "javascript:alert(1)",
        "ws://example.test/socket",
    ],
)
@pytest.mark.respx(assert_all_called=False)
async def test_non_http_schemes_are_refused(
    respx_mock: respx.MockRouter, tmp_path: Path, url: str
) -> None:
    with pytest.raises(SkillError, match=r"only http:// and https:// URLs can be fetched") as info:
        await fetch(url, tmp_path)
    assert info.value.transient is False
    assert respx_mock.calls.call_count == 0


INTERNAL = {
    "ipv4_loopback": ("http://127.0.0.1/", "loopback"),
    "ipv4_loopback_short_form": ("http://127.1/", "loopback"),
    "ipv4_loopback_as_an_integer": ("http://2130706433/", "loopback"),
    "ipv4_loopback_in_hex": ("http://0x7f.0.0.1/", "loopback"),
    "unspecified_reaches_this_machine": ("http://0.0.0.0:8080/", "unspecified|private"),
    "private_10": ("http://10.0.0.1/", "private"),
    "private_172": ("http://172.16.5.4/", "private"),
    "private_192": ("https://192.168.1.1/admin", "private"),
    "cloud_metadata_link_local": ("http://169.254.169.254/latest/meta-data/", "link-local"),
    "carrier_grade_nat": ("http://100.64.0.1/", "not a public"),
    "ipv4_multicast": ("http://224.0.0.1/", "multicast"),
    "ipv4_reserved": ("http://240.0.0.1/", "reserved"),
    "ipv4_broadcast": ("http://255.255.255.255/", "reserved|private"),
    "ipv6_loopback": ("http://[::1]/", "loopback"),
    "ipv6_unspecified": ("http://[::]/", "unspecified"),
    "ipv6_link_local": ("http://[fe80::1]/", "link-local"),
    "ipv6_unique_local": ("http://[fc00::1]/", "private"),
    "ipv6_multicast": ("http://[ff02::1]/", "multicast"),
    "ipv4_mapped_loopback": ("http://[::ffff:127.0.0.1]/", "loopback"),
    "ipv4_mapped_metadata": ("http://[::ffff:169.254.169.254]/", "link-local"),
    "ipv4_mapped_private": ("http://[::ffff:a00:1]/", "private"),
    "6to4_carrying_loopback": ("http://[2002:7f00:1::1]/", "loopback"),
    "nat64_carrying_metadata": ("http://[64:ff9b::a9fe:a9fe]/", "link-local"),
    "localhost_name": ("http://localhost:8000/", "names this machine"),
    "localhost_subdomain": ("http://api.localhost/", "names this machine"),
}


@pytest.mark.parametrize("threat", sorted(INTERNAL))
@pytest.mark.respx(assert_all_called=False)
async def test_internal_addresses_are_refused(
    respx_mock: respx.MockRouter, tmp_path: Path, threat: str
) -> None:
    url, why = INTERNAL[threat]
    catch_all = respx_mock.route().respond(200, text="internal secret")
    with pytest.raises(SkillError, match=why) as info:
        await fetch(url, tmp_path)
    assert "fetch_url only reaches public addresses" in str(info.value)
    assert "allow_hosts" in str(info.value)  # the message says how to trust a host
    assert info.value.transient is False
    assert not catch_all.called


@pytest.mark.parametrize(
    "target",
    [
        "http://169.254.169.254/latest/meta-data/iam/",
        "http://[::ffff:127.0.0.1]:6379/",
        "http://localhost/",
        "file:///etc/passwd",
    ],
)
@pytest.mark.respx(assert_all_called=False)
async def test_a_redirect_to_an_internal_address_is_refused(
    respx_mock: respx.MockRouter, tmp_path: Path, target: str
) -> None:
    respx_mock.get(f"{PUBLIC}/innocent").respond(302, headers={"location": target})
    respx_mock.get(f"{PUBLIC}/hop").respond(301, headers={"location": f"{PUBLIC}/innocent"})
    internal = respx_mock.route(host__regex=r"^(?!docs\.example\.test$)").respond(
        200, text="secret"
    )
    with pytest.raises(SkillError, match=r"GET https://docs\.example\.test/hop was refused"):
        await fetch(f"{PUBLIC}/hop", tmp_path)
    assert not internal.called


async def test_a_dns_name_that_resolves_inside_is_refused_when_connecting(
    server: Server,
) -> None:
    # "localhost" resolves through the system resolver (/etc/hosts) to loopback; the
    # connection is refused after resolution, before any socket is opened.
    backend = GuardedBackend(AllowList())
    with pytest.raises(URLRefused, match=r"localhost resolves to .*loopback"):
        await backend.connect_tcp("localhost", server.port)
    assert server.seen == []


async def test_a_hostname_pointing_at_this_machine_is_refused_end_to_end(
    server: Server, tmp_path: Path
) -> None:
    name = socket.gethostname()
    try:
        found = {info[4][0] for info in socket.getaddrinfo(name, server.port)}
    except socket.gaierror:
        pytest.skip(f"this machine's name {name!r} does not resolve")
    if not all(ipaddress.ip_address(a).is_loopback for a in found):
        pytest.skip(f"{name!r} resolves to {found}, not only to loopback")
    with pytest.raises(SkillError, match=rf"{name} resolves to 127\.\d+\.\d+\.\d+.*loopback"):
        await fetch(f"http://{name}:{server.port}/page", tmp_path)
    assert server.seen == []


async def test_an_allow_listed_host_is_reached(server: Server, tmp_path: Path) -> None:
    out = await fetch(f"{server.url}/page", tmp_path, allow_hosts=("127.0.0.1",))
    assert out["text"] == "page"
    out = await fetch(f"{server.url}/page", tmp_path, allow_hosts=("127.0.0.0/8",))
    assert out["text"] == "page"
    assert server.seen == ["/page", "/page"]


@pytest.mark.parametrize("hop", ["http://127.0.0.2:{port}/page", "http://localhost:{port}/page"])
async def test_allow_listing_one_host_does_not_open_another(
    server: Server, tmp_path: Path, hop: str
) -> None:
    target = hop.format(port=server.port)
    with pytest.raises(SkillError, match="was refused"):
        await fetch(f"{server.url}/redirect?to={target}", tmp_path, allow_hosts=("127.0.0.1",))
    assert server.seen == [f"/redirect?to={target}"]  # the second hop never arrived


async def test_proxy_settings_in_the_environment_cannot_route_around_the_check(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy = Server()
    try:
        for var in ("HTTP_PROXY", "http_proxy", "ALL_PROXY"):
            monkeypatch.setenv(var, proxy.url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        with pytest.raises(SkillError, match="loopback"):
            await fetch("http://127.0.0.1:9/", tmp_path)
        out = await fetch(f"{server.url}/page", tmp_path, allow_hosts=("127.0.0.1",))
        assert out["text"] == "page"
        assert proxy.seen == []
    finally:
        proxy.close()


async def test_an_endless_response_stops_at_the_size_cap(server: Server, tmp_path: Path) -> None:
    out = await fetch(
        f"{server.url}/flood", tmp_path, allow_hosts=("127.0.0.1",), fetch_max_bytes=5000
    )
    assert out["truncated"] is True
    assert len(out["text"]) == 5000


async def test_a_compression_bomb_stops_at_the_size_cap(server: Server, tmp_path: Path) -> None:
    out = await fetch(
        f"{server.url}/bomb", tmp_path, allow_hosts=("127.0.0.1",), fetch_max_bytes=5000
    )
    assert out["truncated"] is True
    assert out["text"] == "a" * 5000


async def test_a_drip_fed_response_stops_at_the_time_cap(server: Server, tmp_path: Path) -> None:
    with pytest.raises(SkillError, match=r"did not finish within 0\.5 s") as info:
        await fetch(f"{server.url}/drip", tmp_path, allow_hosts=("127.0.0.1",), fetch_timeout=0.5)
    assert info.value.transient is True


@pytest.mark.parametrize(
    "content_type",
    ["image/png", "application/octet-stream", "application/zip", "application/pdf", "video/mp4"],
)
async def test_binary_content_types_are_not_passed_on(
    respx_mock: respx.MockRouter, tmp_path: Path, content_type: str
) -> None:
    respx_mock.get(f"{PUBLIC}/file").respond(
        200, content=b"looks like text", headers={"content-type": content_type}
    )
    with pytest.raises(SkillError, match=rf"returned binary content \({content_type}\)"):
        await fetch(f"{PUBLIC}/file", tmp_path)


@pytest.mark.parametrize(
    "content_type",
    ["text/html; charset=utf-8", "application/json", "application/problem+json", "text/x-python"],
)
async def test_text_content_types_are_passed_on(
    respx_mock: respx.MockRouter, tmp_path: Path, content_type: str
) -> None:
    respx_mock.get(f"{PUBLIC}/doc").respond(200, text="{}", headers={"content-type": content_type})
    assert (await fetch(f"{PUBLIC}/doc", tmp_path))["text"] == "{}"


INTERNAL_NETWORKS = [
    "127.0.0.0/8",
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "169.254.0.0/16",
    "100.64.0.0/10",
    "0.0.0.0/8",
    "224.0.0.0/4",
    "240.0.0.0/4",
]


def _spellings(address: ipaddress.IPv4Address) -> list[str]:
    """The ways a URL can name one IPv4 address."""
    n = int(address)
    return [
        str(address),
        str(n),
        hex(n),
        f"[::ffff:{address}]",
        f"[2002:{n >> 16:x}:{n & 0xFFFF:x}::1]",
        f"[64:ff9b::{n >> 16:x}:{n & 0xFFFF:x}]",
    ]


@given(
    address=st.sampled_from(INTERNAL_NETWORKS).flatmap(
        lambda net: st.ip_addresses(v=4, network=net)
    ),
    spelling=st.integers(min_value=0, max_value=5),
)
def test_any_internal_ipv4_in_any_spelling_is_refused(
    address: ipaddress.IPv4Address, spelling: int
) -> None:
    host = _spellings(address)[spelling]
    with pytest.raises(URLRefused, match="fetch_url only reaches public addresses"):
        check_url(f"http://{host}/x")


@given(st.ip_addresses(v=6).filter(lambda a: not a.is_global or a.is_multicast))
def test_any_non_global_ipv6_literal_is_refused(address: ipaddress.IPv6Address) -> None:
    with pytest.raises(URLRefused):
        check_url(f"http://[{address}]/x")


@pytest.mark.parametrize(
    "url", ["http://8.8.8.8/", "https://[2606:4700::1111]/", "https://docs.example.test/"]
)
def test_public_addresses_pass_the_policy(url: str) -> None:
    assert check_url(url).host


def test_the_allow_list_matches_names_addresses_and_networks() -> None:
    allow = AllowList.of(["Intranet.Example.", "10.1.0.0/16", "::1"])
    assert check_url("http://intranet.example/x", allow)
    assert check_url("http://10.1.2.3/x", allow)
    assert check_url("http://[::1]/x", allow)
    for refused in ("http://10.2.0.1/", "http://127.0.0.1/", "http://other.localhost/"):
        with pytest.raises(URLRefused):
            check_url(refused, allow)


def test_no_url_ever_crashes_the_policy() -> None:
    for url in ("http://[::1", "http://a b/", "http://\x00/", "", "http:///x", "http://[zz]/"):
        try:
            check_url(url)
        except URLRefused:
            pass
        except httpx.InvalidURL:  # pragma: no cover - must not happen
            pytest.fail(f"{url!r} raised InvalidURL instead of URLRefused")


class DripServer:
    """A raw socket server on 127.0.0.1: for each connection, the headers, then one byte
    of body every 0.2 s, for up to a minute; it counts the requests it was sent."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/slow"
        self.requests = 0
        self.stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._drip, args=(conn,), daemon=True).start()

    def _drip(self, conn: socket.socket) -> None:
        with conn:
            conn.recv(65536)
            self.requests += 1
            try:
                conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\n")
                for _ in range(300):
                    if self.stop.wait(0.2):
                        return
                    conn.sendall(b"a")
            except OSError:
                return

    def close(self) -> None:
        self.stop.set()
        self.sock.close()


async def test_the_time_cap_holds_for_the_whole_fetch_retries_included(tmp_path: Path) -> None:
    # Through a whole run: the step's own retries must not start the fetch over.
    drip = DripServer()
    ws = init_repo(tmp_path / "ws", {"README.md": "hi\n"})
    step = {"id": "get", "skill": "fetch_url", "args": {"url": drip.url, "timeout": 2}}
    try:
        started = time.monotonic()
        report, _ = await run_collecting(
            {"goal": "read a slow page", "steps": [step]}, ws, allow_hosts=("127.0.0.1",)
        )
        elapsed = time.monotonic() - started
    finally:
        drip.close()
    assert report.status == "stopped" and report.failed_step == "get"
    assert report.error is not None
    assert "did not finish within 2 s" in report.error
    assert drip.requests == 1, "the fetch was started over after its time cap"
    assert elapsed < 6, f"a 2 s cap took {elapsed:.1f} s"

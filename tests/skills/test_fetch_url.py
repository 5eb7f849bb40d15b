"""fetch_url: text pages, redirects, a size cap, and retries only for transient faults.

HTTP is mocked at the transport with respx, or served by a real server on 127.0.0.1;
nothing here leaves the machine.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from phasegraph.skills.base import SkillContext
from phasegraph.skills.core.errors import SkillError, TransientHTTPStatus
from phasegraph.skills.core.retry import is_transient, transient_status
from phasegraph.skills.fetch_url import SKILL, fetch_url
from phasegraph.skills.guards.net import check_url, retrying_fetch

BASE = "https://docs.example.test"


async def fetch(url: str, tmp_path: Path, **ctx: Any) -> dict[str, Any]:
    context = SkillContext(workspace=tmp_path, step_id="s1", **ctx)
    result = await fetch_url(SKILL.parse_args({"url": url}), context)
    return {"summary": result.summary, **result.data}


@respx.mock
async def test_returns_the_page_as_text(tmp_path: Path) -> None:
    respx.get(f"{BASE}/page").respond(
        200, text="<h1>hi é</h1>", headers={"content-type": "text/html; charset=utf-8"}
    )
    out = await fetch(f"{BASE}/page", tmp_path)
    assert out["text"] == "<h1>hi é</h1>"
    assert out["status"] == 200
    assert out["content_type"] == "text/html; charset=utf-8"
    assert out["url"] == f"{BASE}/page"
    assert out["truncated"] is False
    assert out["summary"].startswith(f"GET {BASE}/page: 200, ")


@respx.mock
async def test_the_declared_charset_is_used(tmp_path: Path) -> None:
    respx.get(f"{BASE}/latin").respond(
        200,
        content="café".encode("latin-1"),
        headers={"content-type": "text/plain; charset=latin-1"},
    )
    assert (await fetch(f"{BASE}/latin", tmp_path))["text"] == "café"


@respx.mock
async def test_redirects_are_followed_to_the_final_url(tmp_path: Path) -> None:
    respx.get(f"{BASE}/a").respond(301, headers={"location": f"{BASE}/b"})
    respx.get(f"{BASE}/b").respond(302, headers={"location": "/c"})
    respx.get(f"{BASE}/c").respond(200, text="final")
    out = await fetch(f"{BASE}/a", tmp_path)
    assert (out["url"], out["text"]) == (f"{BASE}/c", "final")


@respx.mock
async def test_more_than_five_redirects_is_a_permanent_error(tmp_path: Path) -> None:
    for i in range(10):
        respx.get(f"{BASE}/r{i}").respond(302, headers={"location": f"{BASE}/r{i + 1}"})
    with pytest.raises(SkillError, match="redirected more than 5 times") as info:
        await fetch(f"{BASE}/r0", tmp_path)
    assert info.value.transient is False
    assert respx.calls.call_count == 6


@respx.mock
async def test_a_redirect_to_another_scheme_is_refused(tmp_path: Path) -> None:
    respx.get(f"{BASE}/sneaky").respond(302, headers={"location": "file:///etc/passwd"})
    with pytest.raises(SkillError, match=r"was refused: .*only http:// and https://"):
        await fetch(f"{BASE}/sneaky", tmp_path)


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("file:///etc/passwd", "uses file"),
        ("ftp://example.test/x", "uses ftp"),
        ("example.test/page", "only http:// and https://"),
        ("http://", "no host"),
    ],
)
@respx.mock
async def test_only_http_urls_are_fetched(tmp_path: Path, url: str, why: str) -> None:
    with pytest.raises(SkillError, match=why) as info:
        await fetch(url, tmp_path)
    assert info.value.transient is False
    assert info.value.step_id == "s1"
    assert respx.calls.call_count == 0


@respx.mock
async def test_a_404_is_not_retried(tmp_path: Path) -> None:
    route = respx.get(f"{BASE}/gone").respond(404)
    with pytest.raises(SkillError, match="answered 404 Not Found") as info:
        await fetch(f"{BASE}/gone", tmp_path)
    assert info.value.transient is False
    assert route.call_count == 1


@pytest.mark.parametrize("status", [429, 503])
@respx.mock
async def test_busy_answers_are_retried_until_one_succeeds(tmp_path: Path, status: int) -> None:
    route = respx.get(f"{BASE}/flaky").mock(
        side_effect=[httpx.Response(status), httpx.Response(status), httpx.Response(200, text="ok")]
    )
    out = await fetch(f"{BASE}/flaky", tmp_path)
    assert out["text"] == "ok"
    assert route.call_count == 3


@respx.mock
async def test_connection_blips_are_retried(tmp_path: Path) -> None:
    route = respx.get(f"{BASE}/blip").mock(
        side_effect=[httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), httpx.Response(200)]
    )
    assert (await fetch(f"{BASE}/blip", tmp_path))["status"] == 200
    assert route.call_count == 3


@respx.mock
async def test_exhausted_retries_raise_a_transient_error(tmp_path: Path) -> None:
    down = respx.get(f"{BASE}/down").respond(503)
    with pytest.raises(SkillError, match=r"failed 3 times, last: .*503") as info:
        await fetch(f"{BASE}/down", tmp_path)
    assert info.value.transient is True
    assert info.value.retried is True
    assert down.call_count == 3

    unreachable = respx.get(f"{BASE}/unreachable").mock(side_effect=httpx.ConnectError("no route"))
    with pytest.raises(SkillError, match="no route") as info:
        await fetch(f"{BASE}/unreachable", tmp_path)
    assert info.value.transient is True
    assert info.value.retried is True
    assert unreachable.call_count == 3


async def test_retries_back_off_briefly() -> None:
    # fetch_url retries with this policy: 0.2 s, then 0.4 s, between its three tries.
    # idle_for adds up the waits the policy chose, not a clock reading.
    policy = retrying_fetch()
    with pytest.raises(TransientHTTPStatus):
        async for attempt in policy:
            with attempt:
                raise TransientHTTPStatus(f"{BASE}/down", 503, "Service Unavailable")
    assert policy.statistics["attempt_number"] == 3
    assert policy.statistics["idle_for"] == pytest.approx(0.2 + 0.4)


@respx.mock
async def test_binary_bodies_are_refused(tmp_path: Path) -> None:
    respx.get(f"{BASE}/img").respond(
        200, content=b"\x89PNG\x00\x00", headers={"content-type": "image/png"}
    )
    with pytest.raises(SkillError, match=r"binary content \(image/png\)"):
        await fetch(f"{BASE}/img", tmp_path)


def test_policy_helpers() -> None:
    assert check_url("https://a.test/x").host == "a.test"
    assert [s for s in (200, 301, 404, 429, 500, 503) if transient_status(s)] == [429, 500, 503]
    assert is_transient(httpx.ConnectTimeout("t"))
    assert not is_transient(httpx.TooManyRedirects("r"))
    assert not is_transient(ValueError("x"))


# A real server on the loopback interface, for streaming behaviour respx cannot show.
# Loopback is an internal address, so these fetches allow-list it, as a user would.
LOOPBACK = ("127.0.0.1",)


class _Server(ThreadingHTTPServer):
    """The test server; ``hung_up`` is set once a client drops a stalled response."""

    hung_up: threading.Event


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/big":
            self._send(b"a" * 1_000_000)
        elif self.path == "/exact":
            self._send(b"b" * 1000)
        elif self.path == "/slow":
            self.send_response(200)
            self.send_header("content-length", "10")
            self.end_headers()
            # The 10 bytes never come: wait for the client to give up and hang up.
            self.connection.settimeout(30)
            with contextlib.suppress(OSError):
                if self.connection.recv(1) == b"" and isinstance(self.server, _Server):
                    self.server.hung_up.set()
        else:
            self.send_error(404)

    def _send(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/plain")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        # The client may stop reading at its cap and hang up.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def httpd(monkeypatch: pytest.MonkeyPatch) -> Iterator[_Server]:
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    httpd = _Server(("127.0.0.1", 0), _Handler)
    httpd.hung_up = threading.Event()
    httpd.daemon_threads = True
    httpd.block_on_close = False
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def server(httpd: _Server) -> str:
    return f"http://127.0.0.1:{httpd.server_address[1]}"


async def test_large_bodies_stop_at_the_cap(server: str, tmp_path: Path) -> None:
    out = await fetch(f"{server}/big", tmp_path, fetch_max_bytes=1000, allow_hosts=LOOPBACK)
    assert out["truncated"] is True
    assert out["text"] == "a" * 1000
    assert out["summary"].endswith("1000 bytes of text/plain (truncated at the size cap)")


async def test_a_body_exactly_at_the_cap_is_whole(server: str, tmp_path: Path) -> None:
    out = await fetch(f"{server}/exact", tmp_path, fetch_max_bytes=1000, allow_hosts=LOOPBACK)
    assert out["truncated"] is False
    assert out["text"] == "b" * 1000


async def test_a_real_404_is_reported(server: str, tmp_path: Path) -> None:
    with pytest.raises(SkillError, match="404"):
        await fetch(f"{server}/missing", tmp_path, allow_hosts=LOOPBACK)


async def test_a_stalled_server_times_out_as_transient(
    httpd: _Server, server: str, tmp_path: Path
) -> None:
    with pytest.raises(SkillError) as info:
        await fetch(f"{server}/slow", tmp_path, timeout=0.5, allow_hosts=LOOPBACK)
    # The step's own deadline ended the fetch, not the server closing. Transient (worth a try
    # later), but the cap covered the fetch's retries already: nothing above starts it over.
    assert info.value.message.startswith(f"GET {server}/slow did not finish within 0.5 s")
    assert info.value.transient is True
    assert info.value.retried is True
    # The fetch hung up on the stalled response rather than leaving the connection open.
    assert httpd.hung_up.wait(timeout=10), "the server never saw the connection close"

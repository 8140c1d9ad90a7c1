"""Hostile pages (issue 7) served on loopback: each ends as a clear FetchError or a clean extraction, within caps."""

from __future__ import annotations

import asyncio
import functools
import random
import socket
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

import pytest
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse

from knowledge_agg.errors import FetchError
from knowledge_agg.extract import ChallengePageError, extract_text
from knowledge_agg.fetch import FetchedPage, Fetcher, _GuardedBackend, _RefusedConnect
from knowledge_agg.settings import Settings
from tests.helpers.servers import NamedPages, serve

ARTICLE = "<p>" + "Der Bürgermeister von Köln eröffnete die Straße für Fußgänger und Radfahrer. " * 12 + "</p>"
CAP = 1_000_000


@functools.cache
def _bomb() -> bytes:
    squeeze = zlib.compressobj(6, zlib.DEFLATED, 31)
    block = b" " * 1_000_000
    return b"".join(squeeze.compress(block) for _ in range(200)) + squeeze.flush()  # 200 MB of spaces


class Hostile(NamedPages):
    """Pages that misbehave in one way each; ``hits`` counts requests per path."""

    def __init__(self, redirect_target: str = "") -> None:
        super().__init__()
        self.redirect_target = redirect_target

    async def _gzip_bomb(self, request: Request) -> Response:
        return Response(_bomb(), headers={"content-type": "text/html", "content-encoding": "gzip"})

    async def _huge(self, request: Request) -> Response:
        async def body() -> AsyncIterator[bytes]:
            chunk = b"<p>" + b"garbage " * 8190 + b"</p>"
            for _ in range(50_000_000 // len(chunk)):
                yield chunk

        return StreamingResponse(body(), headers={"content-type": "text/html"})

    async def _huge_declared(self, request: Request) -> Response:
        async def body() -> AsyncIterator[bytes]:
            for _ in range(800):
                yield b"x" * 65_536

        return StreamingResponse(body(), headers={"content-type": "text/html", "content-length": str(800 * 65_536)})

    async def _trickle(self, request: Request) -> Response:
        async def body() -> AsyncIterator[bytes]:
            for byte in b"<html><body><p>slow" * 10:
                yield bytes([byte])
                await asyncio.sleep(1)

        return StreamingResponse(body(), headers={"content-type": "text/html"})

    async def _loop(self, request: Request) -> Response:
        return RedirectResponse("/loop-2", status_code=302)

    async def _loop_2(self, request: Request) -> Response:
        return RedirectResponse("/loop", status_code=302)

    async def _to_refused(self, request: Request) -> Response:
        return RedirectResponse(request.query_params["to"], status_code=302)

    async def _shift_jis(self, request: Request) -> Response:
        text = "<html><body><article><p>" + "日本語のテキストです。東京は日本の首都です。" * 20 + "</p></article></body></html>"
        return Response(text.encode("shift_jis"), headers={"content-type": "text/html; charset=Shift_JIS"})

    async def _undeclared_cp1251(self, request: Request) -> Response:
        text = "<html><body><article><p>" + "Москва является столицей России и крупнейшим городом страны. " * 15
        return Response((text + "</p></article></body></html>").encode("cp1251"), headers={"content-type": "text/html"})

    async def _latin1_says_utf8(self, request: Request) -> Response:
        body = f"<html><body><article>{ARTICLE}</article></body></html>".encode("cp1252")
        return Response(body, headers={"content-type": "text/html; charset=utf-8"})

    async def _utf8_says_latin1(self, request: Request) -> Response:
        body = f"<html><head><meta charset='iso-8859-1'></head><body><article>{ARTICLE}</article></body></html>"
        return Response(body.encode(), headers={"content-type": "text/html"})

    async def _binary(self, request: Request) -> Response:
        return Response(random.Random(7).randbytes(300_000), headers={"content-type": "text/html; charset=utf-8"})

    async def _png_as_html(self, request: Request) -> Response:
        return Response(b"\x89PNG\r\n\x1a\n" + bytes(5000), headers={"content-type": "text/html"})

    async def _empty(self, request: Request) -> Response:
        return Response(b"", headers={"content-type": "text/html"})

    async def _blank(self, request: Request) -> Response:
        return Response(b" \n\t\n ", headers={"content-type": "text/html"})

    async def _challenge(self, request: Request) -> Response:
        html = (
            "<!DOCTYPE html><html><head><title>Just a moment...</title></head><body>"
            "<h2>Checking your browser before accessing example.com.</h2>"
            "<p>This process is automatic. Your browser will redirect to your requested content shortly.</p>"
            "<script src='/cdn-cgi/challenge-platform/h/g/orchestrate/jsch/v1'></script></body></html>"
        )
        return Response(html.encode(), status_code=200, headers={"content-type": "text/html; charset=UTF-8"})

    async def _pdf(self, request: Request) -> Response:
        return Response(b"%PDF-1.7\n" + bytes(100_000), headers={"content-type": "application/pdf"})

    async def _secret(self, request: Request) -> Response:
        return Response(b"<p>internal secret</p>", headers={"content-type": "text/html"})


@pytest.fixture(scope="module")
def hostile() -> Iterator[tuple[str, Hostile]]:
    pages = Hostile()
    _bomb()  # built before serving, so the server's loop is never blocked by it
    with serve(pages.app()) as url:
        yield url, pages


@pytest.fixture(scope="module")
def internal() -> Iterator[tuple[str, Hostile]]:
    """A second server standing for an internal service that must never be reached."""
    pages = Hostile()
    with serve(pages.app()) as url:
        yield url, pages


def _settings(**overrides: Any) -> Settings:
    base: dict[str, Any] = dict(
        allow_private_hosts=True, fetch_max_bytes=CAP, fetch_connect_timeout=1,
        fetch_read_timeout=1.5, fetch_total_timeout=3,
    )
    return Settings(**{**base, **overrides})


async def _fetch(url: str, *, resolver: Any = None, **overrides: Any) -> FetchedPage:
    async with Fetcher(_settings(**overrides), resolver=resolver) as fetcher:
        return await asyncio.wait_for(fetcher.fetch(url), 30)  # a guard against hanging, not a timing assert


async def _error(url: str, kind: str, **overrides: Any) -> FetchError:
    with pytest.raises(FetchError) as info:
        await _fetch(url, **overrides)
    assert info.value.kind == kind, info.value
    assert info.value.url == url and len(str(info.value)) > 10
    return info.value


async def test_gzip_bomb_stops_at_the_cap_without_inflating(hostile: tuple[str, Hostile]) -> None:
    base, _ = hostile
    tracemalloc.start()
    try:
        error = await _error(f"{base}/gzip-bomb", "too_large")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "KNOWLEDGE_AGG_FETCH_MAX_BYTES" in str(error)
    assert peak < 12 * CAP  # the 200 MB behind the bomb never sits in memory


async def test_50_mb_body_stops_at_the_cap(hostile: tuple[str, Hostile]) -> None:
    base, _ = hostile
    await _error(f"{base}/huge", "too_large")
    await _error(f"{base}/huge-declared", "too_large")


async def test_trickling_body_hits_the_total_deadline(hostile: tuple[str, Hostile]) -> None:
    base, _ = hostile
    error = await _error(f"{base}/trickle", "timeout", fetch_total_timeout=1.5)
    assert "1.5 s" in str(error)


async def test_redirect_loop(hostile: tuple[str, Hostile]) -> None:
    base, _ = hostile
    await _error(f"{base}/loop", "redirect_loop")


@pytest.mark.parametrize(("name", "phrase"), [
    ("shift-jis", "東京は日本の首都です"),
    ("undeclared-cp1251", "Москва является столицей России"),
    ("latin1-says-utf8", "Der Bürgermeister von Köln eröffnete die Straße"),
    ("utf8-says-latin1", "Der Bürgermeister von Köln eröffnete die Straße"),
])
async def test_foreign_and_mislabelled_charsets_extract_cleanly(hostile: tuple[str, Hostile], name: str,
                                                                phrase: str) -> None:
    base, _ = hostile
    page = await _fetch(f"{base}/{name}")
    text = extract_text(page.text, page.final_url)
    assert phrase in text and "\ufffd" not in text


@pytest.mark.parametrize(("name", "kind"), [
    ("binary", "binary_content"), ("png-as-html", "binary_content"), ("empty", "empty"), ("blank", "empty"),
    ("pdf", "unsupported_content"),
])
async def test_unreadable_bodies_are_typed_errors(hostile: tuple[str, Hostile], name: str, kind: str) -> None:
    base, _ = hostile
    await _error(f"{base}/{name}", kind)


async def test_challenge_page_is_reported_not_extracted(hostile: tuple[str, Hostile]) -> None:
    base, _ = hostile
    page = await _fetch(f"{base}/challenge")
    with pytest.raises(ChallengePageError):
        extract_text(page.text, page.final_url)


class _Table:
    """A resolver over a fixed table (no network): names map to loopback only."""

    def __init__(self, table: dict[str, Sequence[str]]) -> None:
        self.table = table

    async def __call__(self, host: str) -> Sequence[str]:
        if host not in self.table:
            raise OSError(f"unknown host {host}")
        return self.table[host]


async def test_redirect_from_an_allowed_page_to_a_refused_address_is_refused(
    hostile: tuple[str, Hostile], internal: tuple[str, Hostile]
) -> None:
    base, _ = hostile
    secret, inside = internal
    port = secret.rsplit(":", 1)[1]
    allowed = [base.removeprefix("http://")]  # only the hostile server itself is exempt from the policy
    resolver = _Table({"internal.test": ["127.0.0.1"], "localhost": ["127.0.0.1"]})
    before = sum(inside.hits.values())
    for target in (f"{secret}/secret", f"http://localhost:{port}/secret", f"http://internal.test:{port}/secret",
                   f"http://[::1]:{port}/secret", "http://169.254.169.254/latest/meta-data/",
                   f"http://[::ffff:127.0.0.1]:{port}/secret", "file:///etc/passwd"):
        url = f"{base}/to-refused?to={target}"
        with pytest.raises(FetchError) as info:
            await _fetch(url, resolver=resolver, allow_private_hosts=False, fetch_allow_hosts=allowed)
        assert info.value.kind == "refused_address", (target, info.value)
    assert sum(inside.hits.values()) == before


async def test_allowed_host_is_still_readable_with_the_policy_on(hostile: tuple[str, Hostile]) -> None:
    base, _ = hostile
    page = await _fetch(f"{base}/utf8-says-latin1", allow_private_hosts=False,
                        fetch_allow_hosts=[base.removeprefix("http://")])
    assert "Köln" in page.text


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1"])
async def test_loopback_is_refused_end_to_end_and_sees_no_request(host: str) -> None:
    if host == "::1" and not _ipv6_loopback():
        pytest.skip("no IPv6 loopback here")
    pages = Hostile()
    with serve(pages.app(), host="::1" if host == "::1" else "127.0.0.1") as base:
        port = base.rsplit(":", 1)[1]
        url = f"http://{'[::1]' if host == '::1' else host}:{port}/secret"
        with pytest.raises(FetchError) as info:
            await _fetch(url, allow_private_hosts=False)  # the real system resolver
        assert info.value.kind == "refused_address"
        assert "KNOWLEDGE_AGG_ALLOW_PRIVATE_HOSTS" in str(info.value)
        page = await _fetch(url, allow_private_hosts=True)
        assert "internal secret" in page.text
    assert pages.hits["secret"] == 1  # only the request made with the allow setting on


async def test_connection_guard_refuses_a_name_that_rebinds_to_loopback(internal: tuple[str, Hostile]) -> None:
    secret, inside = internal
    port = int(secret.rsplit(":", 1)[1])
    before = sum(inside.hits.values())
    guard = _GuardedBackend(_Table({"rebind.test": ["127.0.0.1"]}), allowed=[])
    with pytest.raises(_RefusedConnect):
        await guard.connect_tcp("rebind.test", port)
    with pytest.raises(_RefusedConnect):
        await guard.connect_tcp("127.0.0.1", port)
    assert sum(inside.hits.values()) == before

"""The page fetcher against a real loopback server: content, charsets, redirects, timeouts, retries, limits."""

from __future__ import annotations

import asyncio
import gzip
import zlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse

from knowledge_agg.decode import BodyDecoder, DecodeError, decode_text, detect_codec, looks_binary
from knowledge_agg.errors import FetchError
from knowledge_agg.fetch import Fetcher
from knowledge_agg.settings import Settings
from tests.helpers.servers import NamedPages, serve

PAGE = "<html><head><title>T</title></head><body><p>Grüße aus Köln – café.</p></body></html>"


def _html(body: bytes, content_type: str = "text/html; charset=utf-8", **headers: str) -> Response:
    return Response(body, headers={"content-type": content_type, **headers})


class Pages(NamedPages):
    """A small site whose pages exercise one fetch behaviour each; counts the requests per path."""

    def __init__(self) -> None:
        super().__init__()
        self.in_flight = 0
        self.max_in_flight = 0

    async def _page(self, request: Request) -> Response:
        return _html(PAGE.encode())

    async def _latin1(self, request: Request) -> Response:
        return _html(PAGE.encode("cp1252"), "text/html; charset=ISO-8859-1")

    async def _meta_charset(self, request: Request) -> Response:
        body = PAGE.replace("<head>", '<head><meta charset="windows-1252">').encode("cp1252")
        return _html(body, "text/html")

    async def _utf8_labelled_latin1(self, request: Request) -> Response:
        return _html(PAGE.encode(), "text/html; charset=iso-8859-1")

    async def _latin1_labelled_utf8(self, request: Request) -> Response:
        return _html(PAGE.encode("cp1252"), "text/html; charset=utf-8")

    async def _bogus_charset(self, request: Request) -> Response:
        return _html(PAGE.encode(), "text/html; charset=x-no-such-charset")

    async def _cyrillic_undeclared(self, request: Request) -> Response:
        text = "<p>" + "Привет, мир! Это тестовая страница на русском языке. " * 20 + "</p>"
        return _html(text.encode("cp1251"), "text/html")

    async def _plain(self, request: Request) -> Response:
        return _html(b"just text\n", "text/plain")

    async def _gzip(self, request: Request) -> Response:
        return _html(gzip.compress(PAGE.encode()), "text/html; charset=utf-8", **{"content-encoding": "gzip"})

    async def _deflate_raw(self, request: Request) -> Response:
        squeeze = zlib.compressobj(wbits=-15)
        body = squeeze.compress(PAGE.encode()) + squeeze.flush()
        return _html(body, "text/html; charset=utf-8", **{"content-encoding": "deflate"})

    async def _brotli(self, request: Request) -> Response:
        return _html(b"\x8b\x00\x80", "text/html", **{"content-encoding": "br"})

    async def _pdf(self, request: Request) -> Response:
        return Response(b"%PDF-1.7\n...", headers={"content-type": "application/pdf"})

    async def _image(self, request: Request) -> Response:
        return Response(b"\x89PNG\r\n\x1a\n", headers={"content-type": "image/png"})

    async def _chain(self, request: Request) -> Response:
        left = int(request.query_params["n"])
        return RedirectResponse(f"/chain?n={left - 1}" if left else "/page", status_code=302)

    async def _loop_a(self, request: Request) -> Response:
        return RedirectResponse("/loop-b", status_code=301)

    async def _loop_b(self, request: Request) -> Response:
        return RedirectResponse("/loop-a", status_code=307)

    async def _no_location(self, request: Request) -> Response:
        return Response(status_code=302)

    async def _missing(self, request: Request) -> Response:
        return Response(b"nope", status_code=404)

    async def _flaky(self, request: Request) -> Response:
        return Response(b"busy", status_code=503) if self.hits["flaky"] == 1 else await self._page(request)

    async def _down(self, request: Request) -> Response:
        return Response(b"bad gateway", status_code=502)

    async def _slow(self, request: Request) -> Response:
        await asyncio.sleep(5)
        return await self._page(request)

    async def _hold(self, request: Request) -> Response:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(0.2)
            return await self._page(request)
        finally:
            self.in_flight -= 1

    async def _big(self, request: Request) -> Response:
        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(64):
                yield b"<p>" + b"x" * 16_000 + b"</p>"

        return StreamingResponse(chunks(), headers={"content-type": "text/html"})


@pytest.fixture(scope="module")
def site() -> Iterator[tuple[str, Pages]]:
    pages = Pages()
    with serve(pages.app()) as url:
        yield url, pages


def _settings(**overrides: Any) -> Settings:
    base: dict[str, Any] = dict(
        allow_private_hosts=True, fetch_connect_timeout=1, fetch_read_timeout=0.5, fetch_total_timeout=4
    )
    return Settings(**{**base, **overrides})


async def _fetch(url: str, **overrides: Any) -> Any:
    async with Fetcher(_settings(**overrides)) as fetcher:
        return await fetcher.fetch(url)


async def _error(url: str, **overrides: Any) -> FetchError:
    with pytest.raises(FetchError) as info:
        await _fetch(url, **overrides)
    assert info.value.url == url
    assert str(info.value)
    return info.value


async def test_reads_a_normal_page(site: tuple[str, Pages]) -> None:
    base, _ = site
    page = await _fetch(f"{base}/page")
    assert page.text == PAGE
    assert (page.status, page.content_type, page.final_url) == (200, "text/html", f"{base}/page")
    assert page.bytes_read == len(PAGE.encode())


@pytest.mark.parametrize(
    "name", ["latin1", "meta-charset", "utf8-labelled-latin1", "latin1-labelled-utf8", "bogus-charset", "gzip",
             "deflate-raw"],
)
async def test_charsets_and_encodings_decode_to_the_same_text(site: tuple[str, Pages], name: str) -> None:
    base, _ = site
    page = await _fetch(f"{base}/{name}")
    assert "Grüße aus Köln – café." in page.text


async def test_undeclared_charset_is_detected(site: tuple[str, Pages]) -> None:
    base, _ = site
    page = await _fetch(f"{base}/cyrillic-undeclared")
    assert "Привет, мир!" in page.text


async def test_plain_text_is_accepted(site: tuple[str, Pages]) -> None:
    base, _ = site
    page = await _fetch(f"{base}/plain")
    assert (page.text, page.content_type) == ("just text\n", "text/plain")


@pytest.mark.parametrize(("name", "kind"), [("pdf", "unsupported_content"), ("image", "unsupported_content"),
                                            ("brotli", "unsupported_content"), ("no-location", "http_status"),
                                            ("loop-a", "redirect_loop")])
async def test_unreadable_pages_are_typed_errors(site: tuple[str, Pages], name: str, kind: str) -> None:
    base, _ = site
    assert (await _error(f"{base}/{name}")).kind == kind


async def test_redirects_are_followed_up_to_the_limit(site: tuple[str, Pages]) -> None:
    base, _ = site
    page = await _fetch(f"{base}/chain?n=4", fetch_max_redirects=5)
    assert page.final_url == f"{base}/page" and page.text == PAGE
    error = await _error(f"{base}/chain?n=5", fetch_max_redirects=5)
    assert error.kind == "too_many_redirects"
    assert "KNOWLEDGE_AGG_FETCH_MAX_REDIRECTS" in str(error)


async def test_4xx_is_not_retried(site: tuple[str, Pages]) -> None:
    base, pages = site
    before = pages.hits["missing"]
    error = await _error(f"{base}/missing")
    assert error.kind == "http_status" and "404" in str(error)
    assert pages.hits["missing"] == before + 1


async def test_a_transient_503_is_retried_once(site: tuple[str, Pages]) -> None:
    base, pages = site
    page = await _fetch(f"{base}/flaky")
    assert page.text == PAGE and pages.hits["flaky"] == 2
    before = pages.hits["down"]
    assert (await _error(f"{base}/down")).kind == "http_status"
    assert pages.hits["down"] == before + 2


async def test_a_server_that_does_not_answer_times_out(site: tuple[str, Pages]) -> None:
    base, pages = site
    before = pages.hits["slow"]
    error = await _error(f"{base}/slow")
    assert error.kind == "timeout"
    assert pages.hits["slow"] == before + 2  # the read timeout is worth one retry


async def test_the_total_deadline_bounds_everything(site: tuple[str, Pages]) -> None:
    base, _ = site
    error = await _error(f"{base}/slow", fetch_read_timeout=10, fetch_total_timeout=0.5)
    assert error.kind == "timeout" and "KNOWLEDGE_AGG_FETCH_TOTAL_TIMEOUT" in str(error)


async def test_body_over_the_cap_is_refused(site: tuple[str, Pages]) -> None:
    base, _ = site
    error = await _error(f"{base}/big", fetch_max_bytes=100_000)
    assert error.kind == "too_large" and "100,000" in str(error)
    page = await _fetch(f"{base}/big", fetch_max_bytes=2_000_000)
    assert page.bytes_read == 64 * 16_007


async def test_connection_refused_is_a_connection_error() -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert (await _error(f"http://127.0.0.1:{port}/")).kind == "connection"


async def test_per_host_limit_caps_concurrency(site: tuple[str, Pages]) -> None:
    base, pages = site
    pages.max_in_flight = 0
    async with Fetcher(_settings(fetch_per_host=2)) as fetcher:
        results = await asyncio.gather(*(fetcher.fetch(f"{base}/hold?i={i}") for i in range(6)))
    assert all(r.text == PAGE for r in results)
    assert 1 <= pages.max_in_flight <= 2


def test_body_decoder_stops_at_the_limit_even_inside_one_chunk() -> None:
    bomb = gzip.compress(b" " * 5_000_000)
    decoder = BodyDecoder("gzip", 100_000)
    with pytest.raises(DecodeError) as info:
        b"".join(decoder.feed(bomb))
    assert info.value.kind == "too_large" and decoder.size <= 100_001


def test_body_decoder_inflates_a_chunk_in_bounded_pieces() -> None:
    page = b"<p>" + b"so compressible " * 100_000 + b"</p>"
    pieces = list(BodyDecoder("gzip", 10_000_000).feed(gzip.compress(page)))
    assert len(pieces) > 1 and max(map(len, pieces)) <= 65_536 and b"".join(pieces) == page
    raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)  # "deflate" sent without its zlib header
    assert b"".join(BodyDecoder("deflate", 10_000_000).feed(raw.compress(page) + raw.flush())) == page


def test_body_decoder_handles_multi_member_gzip() -> None:
    decoder = BodyDecoder("gzip", 1000)
    assert b"".join(decoder.feed(gzip.compress(b"ab") + gzip.compress(b"cd"))) == b"abcd"


def test_binary_sniffing() -> None:
    assert looks_binary(b"%PDF-1.4 ...")
    assert looks_binary(b"<html>\x00\x01\x02")
    assert looks_binary(bytes(range(1, 32)) * 10)
    assert not looks_binary(PAGE.encode())
    assert not looks_binary("<p>ünïcödé\t\r\n</p>".encode())
    assert not looks_binary("<p>hi</p>".encode("utf-16"))


def test_detect_codec_names_a_codec_that_decodes_the_whole_page() -> None:
    russian = "<p>Привет, мир</p>" * 10_000  # longer than one validation chunk
    assert detect_codec(russian.encode("utf-8"), "windows-1251") == "utf-8"  # mislabelled single-byte: UTF-8 wins
    assert detect_codec(russian.encode("cp1251"), "windows-1251") == "cp1251"
    assert detect_codec(b"<p>plain</p>", None) == "utf-8"
    assert detect_codec("<p>hi</p>".encode("utf-16"), "utf-8") == "utf-16"  # the BOM first
    cut = "é".encode() * 40_000  # a two-byte character split by every 64 KiB chunk boundary
    assert detect_codec(cut, None) == "utf-8"
    assert detect_codec(cut + b"\xff", "utf-8") != "utf-8"  # invalid at the very end


def test_decode_text_prefers_bom_and_never_fails() -> None:
    assert decode_text(PAGE.encode("utf-16"), "iso-8859-1") == PAGE
    assert decode_text(b"\xef\xbb\xbf<p>x</p>", None) == "<p>x</p>"
    assert isinstance(decode_text(bytes(range(128, 256)), "utf-8"), str)

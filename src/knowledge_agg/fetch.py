"""Read web pages safely: streamed with a byte cap, deadlines, checked redirects and an address policy."""

from __future__ import annotations

import asyncio
import io
import ipaddress
import random
import ssl
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx

from .decode import BodyDecoder, DecodeError, decode_text, looks_binary
from .errors import FetchError
from .settings import Settings
from .tls import LazyTransport, tls_context
from .urls import Resolver, check_url, is_exempt, is_public_ip, system_resolver

__all__ = ["FetchedPage", "Fetcher", "TEXT_TYPES"]

#: The content types a page may have to be read as text.
TEXT_TYPES = frozenset({"text/html", "application/xhtml+xml", "text/plain"})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_TRANSIENT_STATUS = frozenset({502, 503, 504})
_HEADERS = {
    "User-Agent": "knowledge-agg/0.1 (+https://github.com/knowledge-agg)",
    "Accept": "text/html,application/xhtml+xml,text/plain;q=0.9,*/*;q=0.1",
    "Accept-Encoding": "gzip, deflate",
}


@dataclass(frozen=True, slots=True)
class FetchedPage:
    """A page as read: its (content-decoded) ``body`` bytes and the header's ``charset``; ``text`` decodes them.

    The bytes are kept rather than a ``str``: the extractor parses bytes, in another process, so the
    run's own process never holds the page a second time as text (up to four times its size).
    """

    url: str
    final_url: str
    status: int
    content_type: str
    body: bytes
    charset: str | None
    bytes_read: int

    @property
    def text(self) -> str:
        """The body as text: BOM, header charset, ``<meta charset>``, then detection, never failing."""
        return decode_text(self.body, self.charset)


class _Transient(FetchError):
    """A failure that one quick retry may cure (connect error, read timeout, 502/503/504)."""


class _RefusedConnect(Exception):
    """Raised inside the connection pool when a host resolves to an address the policy refuses."""


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """Connects only to addresses that pass the policy, to the very address checked (no DNS rebinding)."""

    def __init__(self, resolver: Resolver, allowed: Iterable[str]) -> None:
        self._inner = httpcore.AnyIOBackend()
        self._resolver = resolver
        self._allowed = tuple(allowed)

    async def connect_tcp(
        self, host: str, port: int, timeout: float | None = None,
        local_address: str | None = None, socket_options: Any = None,
    ) -> httpcore.AsyncNetworkStream:
        if is_exempt(host, port, self._allowed):
            return await self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
        try:
            addresses = [str(host)] if _is_ip(host) else list(await self._resolver(host))
        except OSError as exc:
            raise httpcore.ConnectError(f"could not resolve {host!r}: {exc}") from exc
        if not addresses or not all(is_public_ip(a) for a in addresses):
            raise _RefusedConnect(f"{host!r} resolves to a non-public address ({', '.join(addresses) or 'none'})")
        error: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectError as exc:
                error = exc
        raise error or httpcore.ConnectError(f"could not connect to {host!r}")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


class Fetcher:
    """Reads pages over one shared ``httpx.AsyncClient``; use as ``async with Fetcher(settings) as f``."""

    def __init__(
        self, settings: Settings, *, resolver: Resolver | None = None, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self._settings = settings
        self._resolver = resolver or system_resolver
        self._slots: dict[str, asyncio.Semaphore] = {}
        # Every read takes a gate slot first, so none ever waits inside httpcore's pool: a request
        # cancelled while queued there can orphan a connection for good (encode/httpcore#1093).
        self._gate = asyncio.Semaphore(settings.fetch_max_connections)
        limits = httpx.Limits(
            max_connections=settings.fetch_max_connections, max_keepalive_connections=20, keepalive_expiry=5.0
        )
        mounts: dict[str, httpx.AsyncBaseTransport] = {}
        if transport is None:
            transport = self._transport(limits, None)
            # the TLS context (a CA bundle to load) is built by the first https:// read, never for http://
            mounts["https://"] = LazyTransport(lambda: self._transport(limits, tls_context()))
        timeout = httpx.Timeout(
            settings.fetch_read_timeout, connect=settings.fetch_connect_timeout, pool=settings.fetch_total_timeout
        )
        self._client = httpx.AsyncClient(
            transport=transport, mounts=mounts, timeout=timeout, headers=_HEADERS, trust_env=False
        )

    def _transport(self, limits: httpx.Limits, ssl_context: ssl.SSLContext | None) -> httpx.AsyncHTTPTransport:
        """The pooled transport for plain http (no context) or for https, with the address guard when asked."""
        transport = httpx.AsyncHTTPTransport(verify=ssl_context or False, retries=0, limits=limits)
        if not self._settings.allow_private_hosts:
            # httpx has no public hook for the network backend; the pool is rebuilt with the guard.
            transport._pool = httpcore.AsyncConnectionPool(
                ssl_context=ssl_context,
                max_connections=limits.max_connections,
                max_keepalive_connections=limits.max_keepalive_connections,
                keepalive_expiry=limits.keepalive_expiry,
                network_backend=_GuardedBackend(self._resolver, self._settings.fetch_allow_hosts),
            )
        return transport

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP client and every connection it holds."""
        await self._client.aclose()

    async def fetch(self, url: str) -> FetchedPage:
        """Read ``url`` as text, or raise ``FetchError`` whose ``kind`` says why it could not be read."""
        total = self._settings.fetch_total_timeout
        try:
            # The deadline starts once a connection slot is ours: waiting behind other runs' reads
            # is load, not a slow page.
            async with self._gate, asyncio.timeout(total):
                try:
                    return await self._follow(url)
                except _Transient:
                    await asyncio.sleep(random.uniform(0.1, 0.4))
                    return await self._follow(url)
        except TimeoutError as exc:
            raise FetchError(
                f"The page took longer than {total:g} s to read (KNOWLEDGE_AGG_FETCH_TOTAL_TIMEOUT).",
                url=url, kind="timeout",
            ) from exc

    async def _follow(self, url: str) -> FetchedPage:
        current, seen = url, {url.split("#", 1)[0]}
        for _ in range(self._settings.fetch_max_redirects + 1):
            await self._check(current)
            async with self._slot(current), self._request(current) as response:
                if response.status_code not in _REDIRECTS:
                    return await self._read(url, response)
                location = response.headers.get("location")
                if not location:
                    raise FetchError(f"The server redirected ({response.status_code}) without a Location.",
                                     url=url, kind="http_status")
                current = urljoin(str(response.url), location).split("#", 1)[0]
            if current in seen:
                raise FetchError(f"The page redirects in a loop (back to {current}).", url=url, kind="redirect_loop")
            seen.add(current)
        raise FetchError(
            f"The page redirected more than {self._settings.fetch_max_redirects} times "
            "(KNOWLEDGE_AGG_FETCH_MAX_REDIRECTS).", url=url, kind="too_many_redirects",
        )

    async def _check(self, url: str) -> None:
        if self._settings.allow_private_hosts:
            await check_url(url, allow_private=True, resolver=self._resolver)
            return
        try:
            parts = urlsplit(url)
            exempt = is_exempt(parts.hostname or "", parts.port, self._settings.fetch_allow_hosts)
        except ValueError:
            exempt = False
        await check_url(url, allow_private=exempt, resolver=self._resolver)

    @asynccontextmanager
    async def _slot(self, url: str) -> AsyncIterator[None]:
        host = urlsplit(url).netloc.lower()
        slot = self._slots.setdefault(host, asyncio.Semaphore(self._settings.fetch_per_host))
        async with slot:
            yield

    @asynccontextmanager
    async def _request(self, url: str) -> AsyncIterator[httpx.Response]:
        try:
            async with self._client.stream("GET", url) as response:
                yield response
        except _RefusedConnect as exc:
            raise FetchError(f"Refused to fetch: {exc}.", url=url, kind="refused_address") from exc
        except (httpx.ConnectTimeout, httpx.ReadTimeout) as exc:
            raise _Transient(f"The server did not answer in time ({type(exc).__name__}).", url=url,
                             kind="timeout") from exc
        except httpx.TimeoutException as exc:
            raise FetchError(f"The server did not answer in time ({type(exc).__name__}).", url=url,
                             kind="timeout") from exc
        except httpx.ConnectError as exc:
            raise _Transient(f"Could not connect to the server: {exc}", url=url, kind="connection") from exc
        except (httpx.TransportError, httpx.InvalidURL) as exc:
            raise FetchError(f"The connection failed: {exc or type(exc).__name__}", url=url,
                             kind="connection") from exc

    async def _read(self, url: str, response: httpx.Response) -> FetchedPage:
        status = response.status_code
        if status >= 400:
            error = _Transient if status in _TRANSIENT_STATUS else FetchError
            raise error(f"The server answered {status} {response.reason_phrase}.", url=url, kind="http_status")
        content_type = response.headers.get("content-type", "")
        mime = content_type.split(";", 1)[0].strip().lower()
        if mime and mime not in TEXT_TYPES:
            raise FetchError(f"The page is {mime}, not HTML or text; only text pages are read.",
                             url=url, kind="unsupported_content")
        cap = self._settings.fetch_max_bytes
        if int(response.headers.get("content-length", "0") or 0) > cap and "content-encoding" not in response.headers:
            raise FetchError(f"The page is larger than the {cap:,}-byte cap (KNOWLEDGE_AGG_FETCH_MAX_BYTES).",
                             url=url, kind="too_large")
        body = await self._body(url, response, cap)
        if not body.strip():
            raise FetchError("The page is empty.", url=url, kind="empty")
        if looks_binary(body[:4096]):
            raise FetchError(f"The page is labelled {mime or 'without a type'} but holds binary data.",
                             url=url, kind="binary_content")
        return FetchedPage(url, str(response.url), status, mime or "text/html", body, response.charset_encoding,
                           len(body))

    async def _body(self, url: str, response: httpx.Response, cap: int) -> bytes:
        try:
            decoder = BodyDecoder(response.headers.get("content-encoding", ""), cap)
            body = io.BytesIO()
            async for chunk in response.aiter_raw():
                for piece in decoder.feed(chunk):
                    body.write(piece)
            # getvalue() hands over BytesIO's own buffer (trimmed, not copied): the page is held once, where
            # a list of chunks and their join held it twice at the end
            return body.getvalue()
        except DecodeError as exc:
            raise FetchError(str(exc), url=url, kind=exc.kind) from exc
        except httpx.ReadTimeout as exc:
            raise _Transient("The server stopped sending the page (read timeout).", url=url, kind="timeout") from exc
        except httpx.TransportError as exc:
            raise FetchError(f"The connection broke while reading: {exc or type(exc).__name__}", url=url,
                             kind="connection") from exc

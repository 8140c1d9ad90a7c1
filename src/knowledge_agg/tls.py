"""The one TLS context of the process, built on the first ``https://`` request and never for ``http://``.

Building a verifying context loads the CA bundle (25-70 ms of CPU), so it is made once, lazily, and
shared by the Brave client and the page fetcher.
"""

from __future__ import annotations

import functools
import ssl
from collections.abc import Callable

import httpx

__all__ = ["LazyTransport", "tls_context"]


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The verifying TLS context every client of the process shares."""
    return httpx.create_ssl_context()


class LazyTransport(httpx.AsyncBaseTransport):
    """A transport made by ``build`` on its first request (mounted for ``https://``, it keeps TLS off plain runs)."""

    def __init__(self, build: Callable[[], httpx.AsyncBaseTransport]) -> None:
        self._build = build
        self._inner: httpx.AsyncBaseTransport | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._inner is None:
            self._inner = self._build()
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        if self._inner is not None:
            await self._inner.aclose()

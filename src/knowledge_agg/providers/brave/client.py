"""The Brave Search provider: validated, paced, retried, cached requests on one shared HTTP client."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from pydantic import SecretStr

from ..._warm import busy, waiting
from ...analyze import altered_terms
from ...models import Hit, Hits
from ...settings import setting_default
from ...tls import tls_context
from ._cache import ResponseCache
from ._errors import (
    BraveAuthError,
    BraveError,
    BraveQuotaExceeded,
    BraveRateLimited,
    BraveResponseError,
    BraveUnavailable,
    error_from_response,
    quota_message,
)
from .protocol import PATHS, TOKEN_HEADER, Endpoint, encode, key_digest
from .rate_headers import Quota, RateState, parse_rate_headers
from .rate_limiter import shared_limiter
from .response import BraveResponse, hits_with_faq, parse_response
from .retry import backoff_delay, reset_for, retry_after

if TYPE_CHECKING:
    from ...settings import Settings
    from .. import Notify

__all__ = ["BraveProvider", "PAGE_SIZE", "MAX_PAGES"]

logger = logging.getLogger("knowledge_agg.providers.brave")

PAGE_SIZE, MAX_PAGES = 20, 10


class BraveProvider:
    """Search the web through the Brave Search API (``name = "brave"``); see ``web_search`` for the raw call."""

    name = "brave"

    def __init__(
        self,
        api_key: str | SecretStr,
        *,
        base_url: str = setting_default("brave_base_url"),
        rate_limit: float = setting_default("brave_rate_limit"),
        max_retries: int = setting_default("brave_max_retries"),
        timeout: float = setting_default("brave_timeout"),
        search_timeout: float = setting_default("search_timeout"),
        cache_dir: Path | None = None,
        cache_ttl: float = setting_default("brave_cache_ttl"),
        extra_snippets: bool = setting_default("brave_extra_snippets"),
        retry_backoff: float = 0.5,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        secret = api_key if isinstance(api_key, SecretStr) else SecretStr(api_key)
        if not secret.get_secret_value().strip():
            raise BraveAuthError("no Brave API key: set BRAVE_API_KEY to the key from the Brave Search API dashboard",
                                 kind="auth_failed")
        self._key = secret
        self._digest = key_digest(secret.get_secret_value())
        self.base_url = base_url.rstrip("/")
        self._limiter = shared_limiter(self.base_url, self._digest, rate_limit)
        self._max_retries = max_retries
        self._timeout = timeout
        self._search_timeout = search_timeout
        self._cache_dir = cache_dir
        self._cache_ttl = cache_ttl
        self._cache: ResponseCache | None = None
        self._extra_snippets = extra_snippets
        self._backoff = retry_backoff
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        #: The monthly quota from the last response's headers (``str()`` reads "1,965 of 2,000 left this month").
        self.quota: Quota | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> BraveProvider:
        """A provider configured by ``Settings`` (``brave_*`` fields, ``cache_dir``)."""
        if settings.brave_api_key is None:
            raise BraveAuthError("no Brave API key: set BRAVE_API_KEY or choose the local provider",
                                 kind="auth_failed")
        return cls(
            settings.brave_api_key,
            base_url=settings.brave_base_url,
            rate_limit=settings.brave_rate_limit,
            max_retries=settings.brave_max_retries,
            timeout=settings.brave_timeout,
            search_timeout=settings.search_timeout,
            cache_dir=settings.cache_dir / "brave" if settings.brave_cache else None,
            cache_ttl=settings.brave_cache_ttl,
            extra_snippets=settings.brave_extra_snippets,
        )

    def __repr__(self) -> str:
        cache = "on" if self._cache_dir is not None else "off"
        return f"BraveProvider(base_url={self.base_url!r}, key=sha256:{self._digest}, cache={cache})"

    async def search(self, query: str, *, count: int, notify: Notify | None = None) -> Hits:
        """Up to ``count`` web hits, best first, with FAQ answers added to the snippets of their pages."""
        extras = {"extra_snippets": True} if self._extra_snippets else {}
        return await self.search_pages(query, count=count, notify=notify, **extras)

    async def search_pages(self, query: str, *, count: int, notify: Notify | None = None, **params: Any) -> Hits:
        """``count`` web hits over as many pages as needed (``offset`` 0–9), de-duplicating URLs across pages.

        When Brave corrected the query, the hits' ``respelt`` says which words it searched instead.
        """
        hits = Hits()
        seen: set[str] = set()
        size = min(count, PAGE_SIZE)
        for offset in range(MAX_PAGES):
            response = await self.web_search(query, count=size, offset=offset, notify=notify, **params)
            if offset == 0 and response.altered_query:
                hits.respelt = altered_terms(query, response.altered_query)
                if notify is not None:
                    notify(f"Brave searched for {response.altered_query!r} instead")
            for hit in hits_with_faq(response):
                if hit.url not in seen and len(hits) < count:
                    seen.add(hit.url)
                    hits.append(dataclasses.replace(hit, rank=len(hits) + 1))
            if count <= PAGE_SIZE or len(hits) >= count or not response.more_results_available or not response.hits:
                break
        return hits

    async def web_search(self, q: str, *, notify: Notify | None = None, **params: Any) -> BraveResponse:
        """One ``/res/v1/web/search`` call with Brave's own parameters (validated before sending)."""
        return await self._search("web", q, params, notify)

    async def news_search(self, q: str, *, notify: Notify | None = None, **params: Any) -> BraveResponse:
        """One ``/res/v1/news/search`` call with Brave's own parameters (validated before sending)."""
        return await self._search("news", q, params, notify)

    async def document(self, hit: Hit) -> None:
        """Brave holds no documents: pages are fetched over HTTP."""
        return None

    async def aclose(self) -> None:
        """Close the HTTP client and the cache."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        if self._cache is not None:
            self._cache.close()
            self._cache = None

    async def _search(self, endpoint: Endpoint, q: str, params: dict[str, Any], notify: Notify | None) -> BraveResponse:
        items = encode(endpoint, {"q": q, **params})
        offset = int(params.get("offset") or 0)
        count = int(params.get("count") or PAGE_SIZE)
        body = await self._get(endpoint, items, notify)
        return parse_response(endpoint, body, first_rank=offset * count + 1)

    async def _get(self, endpoint: Endpoint, items: list[tuple[str, str]], notify: Notify | None) -> Any:
        """The JSON body for one request: from the cache, or fetched with pacing and bounded retries."""
        cache = self._response_cache()
        cache_key = ResponseCache.make_key(self.base_url, endpoint, items, self._digest)
        if cache is not None and (cached := cache.get(cache_key)) is not None:
            logger.debug("brave %s cache hit", endpoint)
            return cached
        self._refuse_if_quota_spent()
        deadline = time.monotonic() + self._search_timeout
        say: Notify = notify or (lambda message: None)
        attempt = 0
        while True:
            try:
                async with self._limiter.slot(lambda delay: say(f"waiting {delay:.1f} s for Brave's rate limit")):
                    body = await self._request(endpoint, items)
            except BraveError as error:
                delay = self._retry_delay(error, attempt)
                if delay is None or attempt >= self._max_retries or time.monotonic() + delay > deadline:
                    raise
                attempt += 1
                say(f"{error}; retry {attempt} of {self._max_retries} in {delay:.1f} s")
                logger.info("brave %s: %s; retrying in %.1f s", endpoint, error, delay)
                await asyncio.sleep(delay)
                continue
            if cache is not None:
                cache.set(cache_key, body)
            return body

    async def _request(self, endpoint: Endpoint, items: list[tuple[str, str]]) -> Any:
        """Send one request and return its JSON body, or raise the typed error it amounts to."""
        headers = {TOKEN_HEADER: self._key.get_secret_value()}
        try:
            response = await self._http().get(
                PATHS[endpoint], params=tuple(items), headers=headers, extensions={"trace": _on_sent}
            )
        except httpx.TimeoutException:
            raise BraveUnavailable(f"Brave did not answer within {self._timeout:g} s", kind="timeout",
                                   retryable=True) from None
        except httpx.TransportError as exc:
            raise BraveUnavailable(f"could not reach Brave at {self.base_url} ({type(exc).__name__})",
                                   retryable=True) from None
        state = parse_rate_headers(response.headers)
        self._learn(state)
        logger.debug("brave %s -> %s", endpoint, response.status_code)
        if not response.is_success:
            error = error_from_response(
                response.status_code, response.content, response.headers.get("content-type", ""),
                rate_reset=reset_for("RATE_LIMITED", state, response.headers),
                quota_reset=reset_for("QUOTA_LIMITED", state, response.headers),
            )
            error.retry_after = retry_after(response.headers)
            if isinstance(error, BraveRateLimited):
                self._limiter.hold(error.reset if error.reset is not None else 1.0)
            raise error
        try:
            return json.loads(response.content)
        except ValueError:
            raise BraveResponseError(
                f"Brave sent a {response.status_code} response that is not valid JSON "
                f"({len(response.content)} bytes, {response.headers.get('content-type', 'no content type')})",
                kind="bad_response",
            ) from None

    def _retry_delay(self, error: BraveError, attempt: int) -> float | None:
        """Seconds to wait before retrying after ``error``, or ``None`` when retrying cannot help."""
        if not error.retryable:
            return None
        if isinstance(error, BraveRateLimited):
            return error.reset if error.reset is not None else 1.0  # the shared limiter holds other runs too
        return backoff_delay(attempt, self._backoff, server_hint=error.retry_after)

    def _learn(self, state: RateState | None) -> None:
        """Teach the limiter the headers' windows and remember the monthly quota."""
        if state is None:
            return
        self._limiter.learn(state)
        monthly = state.monthly
        if monthly is not None:
            self.quota = Quota(monthly.limit, monthly.remaining, monthly.reset, time.time())

    def _refuse_if_quota_spent(self) -> None:
        """Raise instead of spending a request the last headers said would be refused."""
        quota = self.quota
        if quota is not None and quota.exhausted and (quota.resets_in() or 0) > 0:
            reset = quota.resets_in()
            raise BraveQuotaExceeded(quota_message(reset), reset=reset, code="QUOTA_LIMITED")

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                base_url=self.base_url,
                timeout=httpx.Timeout(self._timeout),
                headers={"Accept": "application/json", "Accept-Encoding": "gzip", "User-Agent": "knowledge-agg"},
                # plain http (the stand-in) needs no CA bundle: only an https base URL builds the TLS context
                verify=tls_context() if self.base_url.startswith("https://") else False,
                transport=self._transport,
            )
        return self._client

    def _response_cache(self) -> ResponseCache | None:
        if self._cache is None and self._cache_dir is not None:
            self._cache = ResponseCache(self._cache_dir, ttl=self._cache_ttl)
        return self._cache


async def _on_sent(event: str, info: dict[str, Any]) -> None:
    """httpcore's trace hook: the run's deferred imports use the wait for the answer, and stop when it comes."""
    if event == "http11.send_request_body.complete":
        waiting()
    elif event == "http11.receive_response_headers.complete":
        busy()

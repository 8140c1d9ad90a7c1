"""``/pages/{id}``: every corpus document as a full web page, boilerplate and all, with optional faults.

The stand-in's result URLs point here, so the real fetcher and the real extractor run on real HTML
over real HTTP: navigation, a sidebar, a footer and a cookie notice surround the article just as
on a documentation site, and the extractor has to find the article among them.
"""

from __future__ import annotations

import hashlib
import html
import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote, urlencode

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.types import Receive, Scope, Send

from ..models import Document
from .injection import (
    INJECT_HEADER,
    InjectionConfig,
    InjectionError,
    InjectionLookup,
    PageFault,
    request_injection,
)

__all__ = ["DocumentLookup", "page_url", "render_page", "pages_router"]


#: Finds a document by its id (None when there is no such document).
DocumentLookup = Callable[[str], Awaitable[Document | None]]

_NAV = ("Home", "Tutorial", "Library Reference", "Language Reference", "How-To Guides", "FAQ", "Glossary")
_SIDEBAR = ("What's new", "Installing modules", "Extending and embedding", "C API", "Python setup and usage")


def page_url(base_url: str, doc_id: str, faults: dict[str, Any] | None = None) -> str:
    """Where ``/pages/{doc_id}`` lives on the server at ``base_url``, carrying ``faults`` (page injection) if any."""
    url = f"{base_url.rstrip('/')}/pages/{quote(doc_id, safe='')}"
    if faults:
        url += "?" + urlencode({"inject": json.dumps(faults, separators=(",", ":"))})
    return url


def render_page(doc: Document) -> str:
    """The HTML page of ``doc``: its text as the article, site furniture all around it."""
    title = html.escape(doc.title)
    nav = "".join(f'<li><a href="/pages/{i}">{html.escape(n)}</a></li>' for i, n in enumerate(_NAV))
    side = "".join(f'<li><a href="/pages/related-{i}">{html.escape(n)}</a></li>' for i, n in enumerate(_SIDEBAR))
    canonical = f'<link rel="canonical" href="{html.escape(doc.url)}">' if doc.url else ""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} — knowledge-agg corpus</title>
{canonical}
<meta name="description" content="{html.escape(doc.text[:150])}">
<link rel="stylesheet" href="/static/site.css">
<script>window.dataLayer = window.dataLayer || []; function gtag(){{dataLayer.push(arguments);}}</script>
</head>
<body>
<div class="cookie-banner" id="cookie-consent" role="dialog" aria-label="Cookie consent">
  <p>We use cookies to analyse traffic and remember your preferences. By continuing to browse you
  accept our <a href="/privacy">cookie policy</a>.</p>
  <button type="button">Accept all</button> <button type="button">Manage settings</button>
</div>
<header class="site-header">
  <a class="logo" href="/">knowledge-agg docs</a>
  <form class="search" action="/search" role="search"><input name="q" placeholder="Search the docs"></form>
  <nav class="main-nav" aria-label="Main"><ul>{nav}</ul></nav>
</header>
<div class="layout">
<aside class="sidebar" aria-label="Related">
  <h3>Navigation</h3><ul>{side}</ul>
  <h3>This page</h3><ul><li><a href="#top">Back to top</a></li><li><a href="#edit">Report a bug</a></li></ul>
</aside>
<main id="content">
<nav class="breadcrumbs" aria-label="Breadcrumb"><a href="/">Docs</a> » <a href="/pages">Library</a> » {title}</nav>
<article class="document">
<h1>{title}</h1>
{_article_body(doc.text)}
</article>
<div class="prev-next"><a rel="prev" href="/pages/prev">« Previous topic</a>
  <a rel="next" href="/pages/next">Next topic »</a></div>
</main>
</div>
<footer class="site-footer">
  <p>© 2001-2025 knowledge-agg contributors. Licensed under the PSF License.</p>
  <p><a href="/about">About</a> · <a href="/privacy">Privacy</a> · <a href="/terms">Terms of use</a> ·
  <a href="/sitemap.xml">Sitemap</a></p>
  <p>Last updated on Jan 01, 2025. Found a bug? <a href="/bugs">Report it</a>.</p>
</footer>
</body>
</html>
"""


def _article_body(text: str) -> str:
    """Paragraphs as ``<p>``, indented or ``>>>`` blocks as ``<pre>``."""
    blocks = []
    for block in text.split("\n\n"):
        if not block.strip():
            continue
        lines = block.splitlines()
        if any(line.startswith(("    ", "\t", ">>>")) for line in lines):
            blocks.append(f"<pre><code>{html.escape(block.strip(chr(10)))}</code></pre>")
        else:
            blocks.append(f"<p>{html.escape(' '.join(line.strip() for line in lines))}</p>")
    return "\n".join(blocks)


def pages_router(lookup: DocumentLookup, injection: InjectionLookup) -> APIRouter:
    """The ``/pages/{id}`` route over ``lookup``, with the faults ``injection`` asks for."""
    router = APIRouter(tags=["pages"])

    @router.get(
        "/pages/{doc_id}",
        response_class=HTMLResponse,
        summary="A corpus document as a full HTML page",
        responses={404: {"description": "no such document"}, 422: {"description": "invalid X-Inject override"}},
    )
    async def page(request: Request, doc_id: str, inject: str | None = None) -> Response:
        """The document with site boilerplate around it; under error injection, maybe a broken page.

        ``inject`` (query) or the ``X-Inject`` header override the server's injection settings for
        this page only, as JSON (see ``InjectionConfig``); ignored unless ``error_injection`` is on.
        """
        try:
            config = request_injection(injection(), request.headers.get(INJECT_HEADER), page_override=inject)
        except InjectionError as exc:
            return Response(str(exc), status_code=exc.status, media_type="text/plain")
        doc = await lookup(doc_id)
        if doc is None:
            return HTMLResponse(_error_html(404, f"No document {doc_id!r} in this corpus."), status_code=404)
        if config is None:
            return HTMLResponse(render_page(doc))
        fault = config.page_fault(doc_id)
        if fault is None:
            return _Delayed(config.page_latency, HTMLResponse(render_page(doc)))
        return _Delayed(config.page_latency, _faulty(fault, doc, config))

    return router


def _faulty(fault: PageFault, doc: Document, config: InjectionConfig) -> Response:
    """The broken response ``fault`` names."""
    if fault == "500":
        return HTMLResponse(_error_html(500, "Internal Server Error (injected)"), status_code=500)
    if fault == "timeout":
        return _Delayed(config.page_timeout, HTMLResponse(render_page(doc)))
    if fault == "truncated":
        return _Truncated(render_page(doc).encode())
    if fault == "garbage":
        seed = hashlib.sha256(doc.id.encode()).digest()
        return Response(b"\x00\xff" + seed * 512, media_type="text/html")
    return Response(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n", media_type="application/pdf")


def _error_html(status: int, message: str) -> str:
    return (
        f"<!DOCTYPE html><html><head><title>{status}</title></head>"
        f"<body><h1>{status}</h1><p>{html.escape(message)}</p></body></html>"
    )


class _Delayed(Response):
    """Answers with ``inner`` after ``delay`` seconds, giving up at once if the client hangs up."""

    def __init__(self, delay: float, inner: Response) -> None:
        self.delay = delay
        self.inner = inner
        self.background = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        hung_up = False
        if self.delay:
            async with anyio.create_task_group() as tg:

                async def watch() -> None:
                    nonlocal hung_up
                    while (await receive())["type"] != "http.disconnect":
                        pass
                    hung_up = True
                    tg.cancel_scope.cancel()

                tg.start_soon(watch)
                await anyio.sleep(self.delay)
                tg.cancel_scope.cancel()
        if not hung_up:
            await self.inner(scope, receive, send)


class _Truncated(Response):
    """Declares the full length, sends half of the body, then ends without finishing the response.

    The ASGI server closes the connection of a response left unfinished, so the client sees the
    body cut short, as when a server or proxy dies mid-transfer.
    """

    def __init__(self, body: bytes) -> None:
        self.full = body
        self.background = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"text/html; charset=utf-8"), (b"content-length", str(len(self.full)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": self.full[: len(self.full) // 2], "more_body": True})

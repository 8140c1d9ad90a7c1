"""The benchmark's test bed: the 8001 app (Brave stand-in + pages) in its own process, with real-API latency.

Run by :mod:`benchmarks.streaming` as ``python -m benchmarks.standin_server``; it prints
``LISTENING <url>`` (then polls ``/health`` until it answers). Latency goes through the server's own error injection (the
``error_injection`` flag is on): a thin ASGI layer adds an ``X-Inject`` header with a
``search_latency`` drawn from a range per query, and a ``page_latency`` drawn per page read.
The search latency is a function of (salt, query), so a bare request with the same query waits
exactly as long as the aggregator's, and their difference is the aggregator's own overhead.
``PUT /_bench/latency`` with ``{"search": [lo, hi], "page": [lo, hi], "salt": "..."}`` changes it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import socket
from typing import Any
from urllib.parse import parse_qs

import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

from knowledge_agg.server import ServerSettings, create_app
from knowledge_agg.settings import Settings
from knowledge_agg.standin import INJECT_HEADER, StandinSettings

__all__ = ["LatencyLayer", "main"]

_HEADER = INJECT_HEADER.lower().encode()


class LatencyLayer:
    """Adds real-API latency to stand-in searches and page reads through the ``X-Inject`` header."""

    def __init__(self, app: ASGIApp, *, search: tuple[float, float], page: tuple[float, float]) -> None:
        self.app = app
        self.search = search
        self.page = page
        self.salt = "0"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path == "/_bench/latency":
            await self._control(scope, receive, send)
            return
        field, delay = None, 0.0
        if path.startswith("/res/v1/"):
            query = parse_qs(scope["query_string"].decode("latin-1")).get("q", [""])[0]
            field, delay = "search_latency", _keyed(self.search, f"{self.salt}\x00{query}")
        elif path.startswith("/pages/"):
            field, delay = "page_latency", random.uniform(*self.page)
        headers = scope["headers"]
        if field and delay > 0 and not any(name == _HEADER for name, _ in headers):
            value = json.dumps({field: round(delay, 4)}).encode()
            scope = {**scope, "headers": [*headers, (_HEADER, value)]}
        await self.app(scope, receive, send)

    async def _control(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if scope["method"] == "PUT":
            data: dict[str, Any] = json.loads(body or b"{}")
            self.search = tuple(data.get("search", self.search))  # type: ignore[assignment]
            self.page = tuple(data.get("page", self.page))  # type: ignore[assignment]
            self.salt = str(data.get("salt", self.salt))
        answer = json.dumps({"search": self.search, "page": self.page, "salt": self.salt}).encode()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": answer})


def _keyed(bounds: tuple[float, float], key: str) -> float:
    """A number in ``bounds`` fixed by ``key`` (uniformly spread over keys)."""
    lo, hi = bounds
    unit = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") / 2**64
    return lo + (hi - lo) * unit


def _range(text: str) -> tuple[float, float]:
    lo, _, hi = text.partition(",")
    return float(lo), float(hi or lo)


def main(argv: list[str] | None = None) -> None:
    """Serve the stand-in on a free loopback port until killed; print ``LISTENING <url>`` first."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.standin_server")
    parser.add_argument("--corpus", default="pydocs")
    parser.add_argument("--search-latency", type=_range, default=(0.25, 0.4), help="seconds lo,hi")
    parser.add_argument("--page-latency", type=_range, default=(0.1, 0.8), help="seconds lo,hi")
    args = parser.parse_args(argv)
    settings = Settings(provider="local", corpus=args.corpus, flags="error_injection=on")
    server = ServerSettings(dev_mode=True, max_concurrent_runs=1000)
    standin = StandinSettings(rate_per_second=0, quota_per_month=0)
    app = LatencyLayer(
        create_app(settings, server=server, standin=standin), search=args.search_latency, page=args.page_latency
    )
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on", backlog=2048)
    print(f"LISTENING {url}", flush=True)
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()

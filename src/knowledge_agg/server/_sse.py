"""Streaming responses that own a run: a hang-up cancels the run and frees its slot at once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import partial
from typing import Any

import anyio
from sse_starlette.sse import EventSourceResponse
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from ._runs import RunSlot

__all__ = ["NDJSON", "RunEventSourceResponse", "NDJSONResponse"]

NDJSON = "application/x-ndjson"


class RunEventSourceResponse(EventSourceResponse):
    """Server-Sent Events for one run; closes the run's events and slot however the response ends."""

    media_type = "text/event-stream"

    def __init__(self, content: AsyncIterator[Any], slot: RunSlot | None = None, **kwargs: Any) -> None:
        super().__init__(content, ping=15, **kwargs)
        self._content = content
        self._slot = slot

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await _close(self._content, self._slot)


class NDJSONResponse(StreamingResponse):
    """One JSON event per line for one run; watches for a hang-up even between events."""

    def __init__(
        self, content: AsyncIterator[str], slot: RunSlot | None = None, headers: dict[str, str] | None = None
    ) -> None:
        headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no", **(headers or {})}
        super().__init__(content, media_type=NDJSON, headers=headers)
        self._content = content
        self._slot = slot

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            async with anyio.create_task_group() as tg:

                async def until_done(step: Any) -> None:
                    await step()
                    tg.cancel_scope.cancel()

                tg.start_soon(until_done, partial(self.stream_response, send))
                await until_done(partial(self.listen_for_disconnect, receive))
        except OSError:
            pass  # the client went away while we were writing: the run is closed below
        finally:
            await _close(self._content, self._slot)


async def _close(content: AsyncIterator[Any], slot: RunSlot | None) -> None:
    with anyio.CancelScope(shield=True):
        await content.aclose()  # type: ignore[attr-defined]
        if slot is not None:
            await slot.close()

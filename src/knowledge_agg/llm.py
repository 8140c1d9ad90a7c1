"""Written answers: the synthesis from a chat model behind any OpenAI-compatible endpoint, every sentence checked.

The prompt lists the ranked passages as ``[n] passage text`` (``n`` = the source's citation number)
and asks for sentences that each end with the ``[n]`` of the passages that support them. The
official ``openai`` client (extra ``[llm]``) streams the answer; each failure of the model —
refused connection, 401/429/5xx, timeout, a stream cut off, an empty answer — becomes an
:class:`LLMError`, on which the pipeline reports an ``error`` event and gives the extractive synthesis.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .errors import KnowledgeAggError, require
from .models import Passage, Source
from .settings import Settings
from .support import check_answer
from .synthesize import Synthesis, markdown

if TYPE_CHECKING:
    from openai import AsyncOpenAI, AsyncStream
    from openai.types.chat import ChatCompletionChunk

__all__ = ["AnswerWriter", "Delta", "LLMError", "build_messages", "check", "numbered", "write_answer"]

_SYSTEM = (
    "You answer questions using only the numbered passages you are given. Write a short answer in plain "
    "sentences. End every sentence with the number of each passage that states it, in square brackets, "
    "like [1] or [2][3]. Cite only the numbers listed. Do not state anything the passages do not say; if "
    "they do not answer the question, say so in one sentence citing the closest passage."
)


class LLMError(KnowledgeAggError):
    """The chat model did not give a usable answer; the run goes on with the extractive synthesis."""

    kind = "llm_failed"

    def __init__(self, message: str, *, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True, slots=True)
class Delta:
    """A piece of the answer and when it reached this process (``time.perf_counter``)."""

    text: str
    at: float


def check() -> None:
    """Raise :class:`~knowledge_agg.errors.MissingDependency` unless the ``openai`` client is installed."""
    require("openai", "llm")


def numbered(passages: Sequence[Passage]) -> dict[int, list[str]]:
    """The passages under their source's citation number, sources in order of their best passage."""
    listing: dict[int, list[str]] = {}
    for p in passages:
        listing.setdefault(p.source_id, []).append(" ".join(p.text.split()))
    return listing


def build_messages(question: str, listing: dict[int, list[str]], *, max_words: int) -> list[dict[str, str]]:
    """The chat messages: the rules, then the question and each ``[n] passage text`` on a line of its own."""
    lines = "\n".join(f"[{n}] {' '.join(texts)}" for n, texts in listing.items())
    user = (
        f"Question: {' '.join(question.split())}\n\nPassages:\n{lines}\n\n"
        f"Answer in at most {max_words} words; end each sentence with its [n]."
    )
    return [{"role": "system", "content": _SYSTEM}, {"role": "user", "content": user}]


#: The prefix the openai client puts before the server's own error message.
_ERROR_CODE = re.compile(r"^Error code: \d+ - ")


def _where(base_url: str) -> str:
    """The endpoint without any user:password part, for messages."""
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


class AnswerWriter:
    """Streams answers from one endpoint; the ``openai`` client is made on first use and closed by :meth:`aclose`."""

    def __init__(self, settings: Settings) -> None:
        self._base_url = settings.llm_base_url
        self._key = settings.llm_api_key
        self._timeout = settings.llm_timeout
        self._retries = settings.llm_max_retries
        self._client: AsyncOpenAI | None = None

    def _open(self) -> AsyncOpenAI:
        if self._client is None:
            openai: Any = require("openai", "llm")
            self._client = openai.AsyncOpenAI(
                api_key=self._key.get_secret_value() if self._key else "none",  # local servers take no key
                base_url=self._base_url,
                timeout=self._timeout,
                # Deliberate: a 429/5xx/refused call is retried this often (honouring Retry-After)
                # before the run falls back to the extractive synthesis it already has.
                max_retries=self._retries,
            )
        return self._client

    async def stream(self, messages: list[dict[str, str]], *, model: str, max_tokens: int) -> AsyncIterator[Delta]:
        """The answer's pieces as they arrive; any failure is raised as :class:`LLMError` (nothing chained)."""
        deadline = asyncio.get_running_loop().time() + self._timeout
        received = 0
        # The messages are OpenAI's plain-dict form; with stream=True the call returns an AsyncStream.
        request: Any = self._open().chat.completions.create(
            model=model, messages=messages, stream=True, max_tokens=max_tokens, temperature=0  # type: ignore[arg-type]
        )
        try:
            stream: AsyncStream[ChatCompletionChunk] = await asyncio.wait_for(request, self._timeout)
        except Exception as exc:
            raise self._failure(exc, received) from None
        finish: str | None = None
        try:
            chunks = aiter(stream)
            while True:
                remaining = deadline - asyncio.get_running_loop().time()
                try:
                    chunk = await asyncio.wait_for(anext(chunks), max(remaining, 0.0))
                except StopAsyncIteration:
                    break
                at = time.perf_counter()
                for choice in chunk.choices:
                    if choice.delta.content:
                        received += len(choice.delta.content)
                        yield Delta(choice.delta.content, at)
                    finish = choice.finish_reason or finish
        except LLMError:
            raise
        except Exception as exc:
            raise self._failure(exc, received) from None
        finally:
            await stream.close()
        if finish is None:
            raise LLMError(
                f"the model's answer stream ended without finishing, after {received} characters", kind="llm_cut_off"
            )

    def _failure(self, exc: BaseException, received: int) -> LLMError:
        """What went wrong, in one line that names no key and carries no request (so no headers)."""
        import openai

        where = _where(self._base_url)
        if isinstance(exc, (TimeoutError, openai.APITimeoutError)):
            return LLMError(f"the model at {where} took longer than {self._timeout:g} s", kind="llm_timeout")
        if isinstance(exc, openai.AuthenticationError):
            return LLMError(
                f"the model at {where} refused the API key (401); set KNOWLEDGE_AGG_LLM_API_KEY", kind="llm_auth"
            )
        if isinstance(exc, openai.RateLimitError):
            return LLMError(f"the model at {where} is rate limiting requests (429)", kind="llm_rate_limited")
        if isinstance(exc, openai.APIStatusError):
            detail = self._redact(_ERROR_CODE.sub("", str(getattr(exc, "message", ""))))[:200]
            return LLMError(f"the model at {where} answered {exc.status_code}: {detail}", kind="llm_http_error")
        if isinstance(exc, openai.APIConnectionError) and not received:
            cause = type(exc.__cause__).__name__ if exc.__cause__ else "connection error"
            return LLMError(f"could not reach the model at {where} ({cause})", kind="llm_unreachable")
        if received:
            return LLMError(
                f"the model's answer stream broke off after {received} characters ({type(exc).__name__})",
                kind="llm_cut_off",
            )
        return LLMError(f"the model at {where} failed: {type(exc).__name__}", kind="llm_failed")

    def _redact(self, text: str) -> str:
        if self._key is not None:
            secret = self._key.get_secret_value()
            if secret:
                text = text.replace(secret, "***")
        return text

    async def aclose(self) -> None:
        """Close the HTTP client (if one was opened)."""
        client, self._client = self._client, None
        if client is not None:
            await client.close()

    def __repr__(self) -> str:
        key = "set" if self._key is not None else "not set"
        return f"<AnswerWriter {_where(self._base_url)} key {key}>"


async def write_answer(
    writer: AnswerWriter,
    question: str,
    passages: Sequence[Passage],
    sources: Sequence[Source],
    settings: Settings,
) -> AsyncGenerator[Delta | Synthesis, None]:
    """The written answer's pieces as they stream, then the checked :class:`Synthesis` (raises :class:`LLMError`)."""
    listing = numbered(passages)
    messages = build_messages(question, listing, max_words=settings.max_words)
    pieces: list[str] = []
    async for delta in writer.stream(messages, model=settings.llm_model, max_tokens=settings.llm_max_tokens):
        pieces.append(delta.text)
        yield delta
    points = check_answer("".join(pieces), listing)
    if not points:
        raise LLMError("the model answered with no text", kind="llm_empty")
    if settings.llm_drop_unsupported:
        points = [p for p in points if p.supported]
        if not points:
            raise LLMError("no sentence of the written answer is supported by the passages it cites",
                           kind="llm_unsupported")
    yield Synthesis(text=markdown(points, sources), points=points)

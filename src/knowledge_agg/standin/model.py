"""An OpenAI-compatible chat model stand-in: ``POST /v1/chat/completions``, streamed or not.

It answers deterministically from the ``[n] passage`` lines of the prompt: for each listed
passage, in order, the sentence sharing most words with the question, ending with ``[n]``. Faults
are asked for in the model name, so any client can plant them per request without extra headers:
``standin`` is faithful, ``standin:changed_number,at=1`` changes a number in the second sentence.
Faults (comma-separated after the colon):

- ``wrong_citation`` cites another listed passage (or an unlisted number when only one is listed),
  ``unlisted_citation`` cites a number that is not listed, ``uncited`` drops the citation,
  ``changed_number`` / ``changed_name`` change a number or a name (an unsupported claim);
  ``at=K`` plants them in sentence K only (0-based; all sentences by default);
- ``delay_ms=D`` waits D ms before each token; ``status=429`` (or 401, 500, 503) refuses the call
  with OpenAI's error body; ``cut=N`` drops the connection after N tokens; ``empty`` answers nothing;
  ``sentences=S`` writes S sentences (3 by default).

``paraphrase`` (not a fault) rewords each sentence faithfully, as a model would: a few words swapped
for synonyms, brackets dropped, a long sentence cut at its first clause.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.types import Receive, Scope, Send

__all__ = ["MODEL", "ModelFaults", "Written", "compose", "model_router", "parse_model", "render", "tokens"]

#: The model name the stand-in answers to (with or without ``:faults``).
MODEL = "standin"

FaultKind = Literal["wrong_citation", "unlisted_citation", "uncited", "changed_number", "changed_name"]
_CLAIM_FAULTS: tuple[FaultKind, ...] = (
    "wrong_citation", "unlisted_citation", "uncited", "changed_number", "changed_name"
)
_STATUS = {
    401: ("invalid_request_error", "invalid_api_key"),
    429: ("requests", "rate_limit_exceeded"),
    500: ("server_error", None),
    503: ("server_error", "overloaded"),
}


class ModelFaults(BaseModel):
    """What the stand-in gets wrong on purpose (parsed from the model name)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    claims: tuple[FaultKind, ...] = ()
    at: int | None = Field(None, ge=0, description="the only sentence the claim faults go into (0-based)")
    delay_ms: float = Field(0.0, ge=0, le=60_000)
    status: int | None = Field(None, description="refuse the call with this status (401, 429, 500, 503)")
    cut: int | None = Field(None, ge=0, description="drop the connection after this many tokens")
    empty: bool = False
    paraphrase: bool = False
    sentences: int = Field(3, ge=1, le=20)


def parse_model(model: str) -> ModelFaults:
    """The faults asked for by ``standin:fault,key=value,...``; ``ValueError`` names an unknown one."""
    _, _, spec = model.partition(":")
    claims: list[FaultKind] = []
    options: dict[str, Any] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        key, eq, value = item.partition("=")
        if key in _CLAIM_FAULTS and not eq:
            claims.append(key)
        elif key in ("empty", "paraphrase") and not eq:
            options[key] = True
        elif key in ("at", "delay_ms", "status", "cut", "sentences") and eq:
            options[key] = value
        else:
            raise ValueError(f"unknown stand-in fault {item!r}")
    try:
        faults = ModelFaults(claims=tuple(claims), **options)
    except ValidationError as exc:
        raise ValueError(f"invalid stand-in faults {spec!r}: {exc.errors()[0]['msg']}") from None
    if faults.status is not None and faults.status not in _STATUS:
        raise ValueError(f"status must be one of {sorted(_STATUS)}")
    return faults


# ------------------------------------------------------------------ writing the answer

_LISTED = re.compile(r"^\[(\d+)\] (.+)$", re.MULTILINE)
_QUESTION = re.compile(r"^Question: (.+)$", re.MULTILINE)
_SENTENCE_END = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"'”’)]))\s+(?=[\"'“‘(]?[A-Z0-9])")
_WORDS = re.compile(r"\w+")
_DIGITS = re.compile(r"\d+")
_NAME = re.compile(r"(?<=\s)[A-Z][a-z]{2,}\b")
#: Names planted by ``changed_name``; the first one absent from the passage is used.
_FOREIGN_NAMES = ("Kowalski", "Valparaiso", "Okonkwo", "Ravensworth", "Tiberius")


#: Faithful rewordings used by ``paraphrase``.
_SYNONYMS = {
    "began": "started", "begin": "start", "large": "big", "however": "but", "approximately": "about",
    "located": "situated", "received": "got", "purchased": "bought", "attempted": "tried", "numerous": "many",
    "additionally": "also", "important": "significant", "major": "main", "created": "made", "built": "constructed",
    "called": "named", "largest": "biggest", "often": "frequently", "despite": "in spite of", "used": "employed",
    "several": "various", "completed": "finished", "allowed": "permitted", "required": "needed",
}
_BRACKETS = re.compile(r"\s*\([^()]*\)")
_FIRST_CLAUSE = re.compile(r",\s+(?:which|who|while|although|and|but)\b")


@dataclass(frozen=True, slots=True)
class Written:
    """One sentence the stand-in writes: its text, the numbers it cites, and the fault planted in it."""

    text: str
    source_ids: tuple[int, ...]
    planted: FaultKind | None = None


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if 5 <= len(s.split()) <= 60]


def _best(sentences: Sequence[str], question: set[str], used: set[str]) -> str | None:
    fresh = [s for s in sentences if s not in used]
    if not fresh:
        return None
    return max(fresh, key=lambda s: len(question & {w.lower() for w in _WORDS.findall(s)}))


def _change_number(text: str, evidence: str) -> str | None:
    match = _DIGITS.search(text)
    if match is None:
        return None
    value = int(match.group())
    taken = set(_DIGITS.findall(evidence))
    for step in range(7, 200, 6):
        new = str(value + step)
        if new not in taken:
            return text[: match.start()] + new + text[match.end() :]
    return None


def _change_name(text: str, evidence: str) -> str | None:
    match = _NAME.search(text)
    new = next((n for n in _FOREIGN_NAMES if n.lower() not in evidence.lower()), None)
    if match is None or new is None:
        return None
    return text[: match.start()] + new + text[match.end() :]


def _paraphrase(text: str) -> str:
    """``text`` reworded without changing what it claims (synonyms, no brackets, its first clause when long)."""
    text = _BRACKETS.sub("", text)
    cut = _FIRST_CLAUSE.search(text)
    if cut and len(text.split()) > 25 and len(text[: cut.start()].split()) >= 6:
        text = text[: cut.start()] + "."
    swapped = 0

    def swap(match: re.Match[str]) -> str:
        nonlocal swapped
        word = match.group()
        new = _SYNONYMS.get(word.lower())
        if new is None or swapped >= 2 or (word[0].isupper() and match.start() > 0):  # names stay as they are
            return word
        swapped += 1
        return new.capitalize() if word[0].isupper() else new

    return _WORDS.sub(swap, text)


def _plant(kind: FaultKind, sentence: Written, listed: Sequence[int], evidence: str) -> Written:
    """``sentence`` with fault ``kind`` in it, or unchanged when it has nothing that fault can change."""
    text, ids = sentence.text, sentence.source_ids
    if kind == "uncited":
        return Written(text, (), kind)
    if kind in ("wrong_citation", "unlisted_citation"):
        others = [n for n in listed if n not in ids]
        wrong = others[0] if kind == "wrong_citation" and others else max(listed) + 1
        return Written(text, (wrong,), kind)
    changed = (_change_number if kind == "changed_number" else _change_name)(text, evidence)
    if changed is None:  # no number (name) to change: change the other kind of fact
        changed = (_change_name if kind == "changed_number" else _change_number)(text, evidence)
    return Written(changed, ids, kind) if changed else sentence


def compose(prompt: str, faults: ModelFaults | None = None) -> list[Written]:
    """The answer to ``prompt`` as sentences, with ``faults``' claim faults planted (deterministic)."""
    faults = faults or ModelFaults()
    passages = [(int(n), text) for n, text in _LISTED.findall(prompt)]
    found = _QUESTION.search(prompt)
    question = {w.lower() for w in _WORDS.findall(found.group(1) if found else "") if len(w) > 2}
    listed = [n for n, _ in passages]
    used: set[str] = set()
    written: list[Written] = []
    for n, text in passages:
        if len(written) >= faults.sentences:
            break
        best = _best(_sentences(text), question, used)
        if best is None:
            continue
        used.add(best)
        sentence = Written(_paraphrase(best) if faults.paraphrase else best, (n,))
        index = len(written)
        if faults.at is None or faults.at == index:
            for kind in faults.claims:
                sentence = _plant(kind, sentence, listed, text)
        written.append(sentence)
    return written


def render(written: Sequence[Written]) -> str:
    """The answer's text: each sentence ends with its ``[n]`` marks before the full stop."""
    parts = []
    for w in written:
        body = w.text.rstrip()
        end = body[-1] if body and body[-1] in ".!?" else "."
        body = body.rstrip(".!?")
        marks = "".join(f"[{n}]" for n in w.source_ids)
        parts.append(f"{body} {marks}{end}" if marks else f"{body}{end}")
    return " ".join(parts)


def tokens(text: str) -> list[str]:
    """``text`` cut into the pieces streamed one per chunk (a word and the space after it)."""
    return re.findall(r"\S+\s*", text)


# ------------------------------------------------------------------ OpenAI's wire format


class _Message(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: str
    content: str | list[dict[str, Any]] | None = None


class _ChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    model: str
    messages: list[_Message] = Field(min_length=1)
    stream: bool = False
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    stream_options: dict[str, Any] | None = None


class _StreamCut(Exception):
    """Raised inside a streamed body to drop the connection mid-answer (the ``cut`` fault)."""


class _CuttableStream(StreamingResponse):
    """A streamed body that, on :class:`_StreamCut`, ends without its last message: the server then
    drops the connection, so the client sees a chunked body that never finished, as on a real cut.
    A client that hangs up stops the stream (a slow answer does not go on for nobody)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def body() -> None:
            await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
            try:
                async for chunk in self.body_iterator:
                    data = chunk if isinstance(chunk, bytes) else str(chunk).encode()
                    await send({"type": "http.response.body", "body": data, "more_body": True})
            except _StreamCut:
                return
            await send({"type": "http.response.body", "body": b"", "more_body": False})

        async def hang_up() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass

        async with anyio.create_task_group() as group:

            async def first_to_end(step: Callable[[], Awaitable[None]]) -> None:
                await step()
                group.cancel_scope.cancel()

            group.start_soon(first_to_end, body)
            group.start_soon(first_to_end, hang_up)


def _error(status: int, message: str, kind: str, code: str | None, headers: dict[str, str] | None = None) -> JSONResponse:
    body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return JSONResponse(body, status_code=status, headers=headers)


def _text_of(message: _Message) -> str:
    if isinstance(message.content, list):
        return " ".join(str(part.get("text", "")) for part in message.content)
    return message.content or ""


def _masked(key: str) -> str:
    return f"{key[:3]}{'*' * 8}{key[-4:]}" if len(key) > 8 else "*" * 8


_OPENAI_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["message", "type"],
            "properties": {
                "message": {"type": "string"}, "type": {"type": "string"},
                "param": {"type": ["string", "null"]}, "code": {"type": ["string", "null"]},
            },
        }
    },
}
_ERROR_CONTENT = {"application/json": {"schema": _OPENAI_ERROR}}
_DOC: dict[str, Any] = {
    "responses": {
        200: {
            "description": "a `chat.completion`, or with `stream: true` `chat.completion.chunk` SSE messages "
            "ending with `data: [DONE]`",
            "content": {
                "application/json": {"schema": {"type": "object", "required": ["id", "object", "choices"]}},
                "text/event-stream": {"schema": {"type": "string"}},
            },
        },
        400: {"description": "invalid request, or an unknown fault in the model name", "content": _ERROR_CONTENT},
        401: {"description": "a key the stand-in does not accept (when it is given keys)", "content": _ERROR_CONTENT},
        404: {"description": "a model other than `standin[:faults]`", "content": _ERROR_CONTENT},
        429: {"description": "planted: `standin:status=429`", "content": _ERROR_CONTENT},
        500: {"description": "planted: `standin:status=500`", "content": _ERROR_CONTENT},
        503: {"description": "planted: `standin:status=503`", "content": _ERROR_CONTENT},
    },
    "openapi_extra": {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["model", "messages"],
                        "properties": {
                            "model": {"type": "string", "description": "`standin`, or `standin:fault,...`"},
                            "messages": {
                                "type": "array", "minItems": 1,
                                "items": {
                                    "type": "object", "required": ["role"],
                                    "properties": {"role": {"type": "string"}, "content": {"type": "string"}},
                                },
                            },
                            "stream": {"type": "boolean"},
                            "max_tokens": {"type": "integer", "minimum": 1},
                        },
                    }
                }
            },
        }
    },
}


def model_router(*, keys: set[str] | None = None) -> APIRouter:
    """The stand-in's route; ``keys`` are the API keys it accepts (``None``: any key, or none)."""
    router = APIRouter(tags=["model stand-in"])

    @router.post("/v1/chat/completions", summary="Chat completion (OpenAI-compatible stand-in model)", **_DOC)
    async def chat_completions(request: Request) -> Response:
        """Answer from the prompt's ``[n] passage`` lines, streamed as OpenAI's SSE chunks or as one completion."""
        if keys is not None:
            token = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
            if token not in keys:
                message = f"Incorrect API key provided: {_masked(token)}. You can find your API key in your account."
                return _error(401, message, *_STATUS[401])
        try:
            body = _ChatRequest.model_validate_json(await request.body())
        except ValidationError as exc:
            problem = exc.errors()[0]
            where = ".".join(str(p) for p in problem["loc"])
            return _error(400, f"Invalid request: {where}: {problem['msg']}", "invalid_request_error", None)
        name, _, _ = body.model.partition(":")
        if name != MODEL:
            message = f"The model `{body.model}` does not exist or you do not have access to it."
            return _error(404, message, "invalid_request_error", "model_not_found")
        try:
            faults = parse_model(body.model)
        except ValueError as exc:
            return _error(400, str(exc), "invalid_request_error", None)
        if faults.status is not None:
            kind, code = _STATUS[faults.status]
            refusal = {
                401: "Incorrect API key provided.", 429: "Rate limit reached for requests (stand-in fault).",
                500: "The server had an error while processing your request (stand-in fault).",
                503: "The engine is currently overloaded (stand-in fault).",
            }[faults.status]
            return _error(faults.status, refusal, kind, code, {"retry-after": "0"} if faults.status == 429 else None)
        prompt = "\n".join(_text_of(m) for m in body.messages if m.role == "user")
        pieces = [] if faults.empty else tokens(render(compose(prompt, faults)))
        limit = body.max_completion_tokens or body.max_tokens
        finish = "stop"
        if limit is not None and len(pieces) > limit:
            pieces, finish = pieces[:limit], "length"
        ident = "chatcmpl-" + hashlib.sha256(f"{body.model}\n{prompt}".encode()).hexdigest()[:24]
        head = {"id": ident, "created": int(time.time()), "model": body.model, "system_fingerprint": "fp_standin"}
        usage = {
            "prompt_tokens": len(prompt.split()), "completion_tokens": len(pieces),
            "total_tokens": len(prompt.split()) + len(pieces),
        }
        if not body.stream:
            await asyncio.sleep(faults.delay_ms * len(pieces) / 1000)
            reply = {"role": "assistant", "content": "".join(pieces), "refusal": None}
            choice = {"index": 0, "message": reply, "logprobs": None, "finish_reason": finish}
            return JSONResponse({**head, "object": "chat.completion", "choices": [choice], "usage": usage})
        include_usage = bool((body.stream_options or {}).get("include_usage"))
        chunks = _chunks(head, pieces, finish, faults, usage if include_usage else None)
        return _CuttableStream(chunks, media_type="text/event-stream", headers={"cache-control": "no-cache"})

    return router


async def _chunks(
    head: dict[str, Any], pieces: list[str], finish: str, faults: ModelFaults, usage: dict[str, int] | None
) -> AsyncIterator[bytes]:
    """OpenAI's ``chat.completion.chunk`` events: the role, one per token, the finish reason, ``[DONE]``."""

    def chunk(delta: dict[str, Any], reason: str | None = None, **extra: Any) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": reason}
        data = {**head, "object": "chat.completion.chunk", "choices": [choice], **extra}
        return f"data: {json.dumps(data, separators=(',', ':'))}\n\n".encode()

    yield chunk({"role": "assistant", "content": "", "refusal": None})
    for i, piece in enumerate(pieces):
        if faults.cut is not None and i >= faults.cut:
            raise _StreamCut(f"stand-in fault: stream cut off after {faults.cut} tokens")
        if faults.delay_ms:
            await asyncio.sleep(faults.delay_ms / 1000)
        yield chunk({"content": piece})
    if faults.cut is not None and faults.cut >= len(pieces):
        raise _StreamCut(f"stand-in fault: stream cut off after {len(pieces)} tokens")
    yield chunk({}, finish)
    if usage is not None:
        data = {**head, "object": "chat.completion.chunk", "choices": [], "usage": usage}
        yield f"data: {json.dumps(data, separators=(',', ':'))}\n\n".encode()
    yield b"data: [DONE]\n\n"

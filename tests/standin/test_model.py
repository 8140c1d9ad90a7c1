"""The OpenAI-compatible stand-in model: OpenAI's wire format through the official client and raw, and the
answers it writes (deterministic, faults planted where asked)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import openai
import pytest
from fastapi import FastAPI

from knowledge_agg.standin.model import compose, model_router, parse_model, render
from knowledge_agg.support import check_answer
from tests.helpers.servers import serve


@pytest.fixture(scope="module")
def model_url() -> Iterator[str]:
    """The stand-in model alone on a free loopback port; its OpenAI base URL."""
    app = FastAPI()
    app.include_router(model_router())
    with serve(app) as url:
        yield f"{url}/v1"


def test_the_standin_speaks_openai_chat_completions(model_url: str) -> None:
    """The official client reads both forms; the raw stream is OpenAI's chunks ending with ``data: [DONE]``."""
    messages = [{"role": "user", "content": "Question: who?\n\nPassages:\n[1] Ada Lovelace wrote the first program.\n"}]
    with openai.OpenAI(base_url=model_url, api_key="any", max_retries=0) as client:
        whole = client.chat.completions.create(model="standin", messages=messages)  # type: ignore[arg-type]
        assert whole.choices[0].message.content == "Ada Lovelace wrote the first program [1]."
        assert whole.choices[0].finish_reason == "stop" and whole.usage is not None
        pieces = client.chat.completions.create(model="standin", messages=messages, stream=True)  # type: ignore[arg-type]
        assert "".join(c.choices[0].delta.content or "" for c in pieces if c.choices) == whole.choices[0].message.content
        short = client.chat.completions.create(model="standin", messages=messages, max_tokens=2)  # type: ignore[arg-type]
        assert short.choices[0].finish_reason == "length"
    body = {"model": "standin", "messages": messages, "stream": True}
    raw = httpx.post(f"{model_url}/chat/completions", json=body, timeout=10)
    assert raw.headers["content-type"].startswith("text/event-stream")
    lines = [line for line in raw.text.split("\n\n") if line]
    assert lines[-1] == "data: [DONE]" and all(line.startswith("data: ") for line in lines)
    chunks = [json.loads(line.removeprefix("data: ")) for line in lines[:-1]]
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    bad = httpx.post(f"{model_url}/chat/completions", json={"model": "standin:nonsense", "messages": messages})
    assert bad.status_code == 400 and "unknown stand-in fault 'nonsense'" in bad.json()["error"]["message"]


def test_the_standin_is_deterministic_and_plants_what_it_is_told() -> None:
    prompt = "Question: when?\n\nPassages:\n[1] Rome was founded in 753 BC by Romulus.\n[2] Paris is on the Seine river.\n"
    assert render(compose(prompt)) == render(compose(prompt)) == (
        "Rome was founded in 753 BC by Romulus [1]. Paris is on the Seine river [2]."
    )
    planted = compose(prompt, parse_model("standin:changed_number,wrong_citation,at=0"))
    assert planted[0].planted is not None and planted[0].source_ids == (2,) and "753" not in planted[0].text
    assert planted[1].planted is None
    with pytest.raises(ValueError, match="unknown stand-in fault"):
        parse_model("standin:typo")
    long = ("[1] The company, which was located in Boston (then a large port), began trading in 1820, "
            "and numerous merchants joined it within a decade of its founding there.")
    (reworded,) = compose(f"Question: when?\n\nPassages:\n{long}\n", parse_model("standin:paraphrase"))
    assert reworded.text == (
        "The company, which was situated in Boston, started trading in 1820, "
        "and numerous merchants joined it within a decade of its founding there."
    )
    assert [p.supported for p in check_answer(render([reworded]), {1: [long[4:]]})] == [True]

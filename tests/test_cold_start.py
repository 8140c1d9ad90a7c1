"""Cold start: importing the package and ``knowledge-agg --help`` load none of the heavy libraries.

Not timed (speed is measured by ``python -m benchmarks.cold_start``): these tests pin down *which*
modules a fresh process imports, so a stray top-level import cannot quietly bring the second back.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import knowledge_agg
from tests.helpers.tools_corpus import TOOLS

ROOT = Path(__file__).resolve().parents[1]
#: Libraries the first event never needs: the HTTP client, the extractors, the settings' and events' models.
HEAVY = ("httpx", "httpcore", "trafilatura", "readability", "lxml", "rapidfuzz", "pydantic", "pydantic_settings",
         "charset_normalizer", "ssl", "asyncio")


def last_json(script: str, env: dict[str, str] | None = None) -> Any:
    """Run ``script`` in a fresh interpreter and read the JSON value its last line prints."""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, env=env).stdout
    return json.loads(out.splitlines()[-1])


def loaded_after(code: str) -> set[str]:
    """Top-level names of the modules a fresh interpreter holds after running ``code``."""
    return {name.split(".")[0] for name in last_json(f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))")}


def test_import_knowledge_agg_loads_no_heavy_library() -> None:
    assert not loaded_after("import knowledge_agg") & set(HEAVY)


def test_help_loads_no_heavy_library() -> None:
    code = "from knowledge_agg.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass"
    assert not loaded_after(code) & set(HEAVY)
    # a command's help shows its settings' defaults, so it reads Settings (pydantic), and nothing heavier
    code = "from knowledge_agg.cli import main\ntry:\n    main(['ask', '--help'])\nexcept SystemExit:\n    pass"
    assert not loaded_after(code) & {"httpx", "httpcore", "trafilatura", "readability", "lxml", "rapidfuzz"}


def test_first_event_comes_before_the_http_client_and_the_extractor() -> None:
    code = (
        "import asyncio\nfrom knowledge_agg import KnowledgeAggregator\n"
        "async def main():\n"
        "    async with KnowledgeAggregator() as agg, agg.stream('asyncio tasks', provider='local') as events:\n"
        "        assert (await anext(events)).type == 'status'\n"
        "asyncio.run(main())"
    )
    assert not loaded_after(code) & {"httpx", "httpcore", "trafilatura", "readability", "rapidfuzz"}


def test_the_way_to_the_search_loads_no_fuzzy_matcher_and_no_store_that_is_off() -> None:
    code = (
        "import asyncio, json, sys\nfrom knowledge_agg import KnowledgeAggregator\n"
        "async def main():\n"
        "    async with KnowledgeAggregator() as agg, agg.stream('asyncio tasks', provider='local', store='off') as events:\n"
        "        async for event in events:\n"
        "            if event.type == 'analysis':\n"
        "                return sorted(sys.modules)\n"
        "print(json.dumps(asyncio.run(main())))"
    )
    loaded = set(last_json(code))
    assert not loaded & {"rapidfuzz", "knowledge_agg.store", "knowledge_agg.run", "knowledge_agg.select",
                         "knowledge_agg.rank", "knowledge_agg.workers", "multiprocessing", "knowledge_agg.extract",
                         "httpx"}


def test_a_local_run_never_imports_the_fetcher_or_the_extractor() -> None:
    # its documents come from the index: the imports deferred for the pages are never started
    code = (
        "import asyncio, json, sys, threading\nfrom knowledge_agg import KnowledgeAggregator\n"
        "async def main():\n"
        "    async with KnowledgeAggregator() as agg:\n"
        "        run = await agg.run('asyncio tasks', provider='local', store='off')\n"
        "    return run.done is not None and bool(run.passages), [t.name for t in threading.enumerate()]\n"
        "answered, threads = asyncio.run(main())\n"
        "print(json.dumps([answered, threads, sorted(sys.modules)]))"
    )
    answered, threads, loaded = last_json(code)
    assert answered and "knowledge-agg-warm" not in threads
    assert not set(loaded) & {"knowledge_agg.fetch", "knowledge_agg.extract", "trafilatura", "httpx"}


def test_the_first_status_line_of_ask_is_written_before_pydantic_and_asyncio() -> None:
    # the modules loaded at the moment the CLI first writes to stdout, in a real `ask` run
    code = (
        "import io, json, sys\n"
        "class Out(io.StringIO):\n"
        "    seen = None\n"
        "    def write(self, s):\n"
        "        if Out.seen is None:\n"
        "            Out.seen = sorted(sys.modules)\n"
        "        return super().write(s)\n"
        "out, real = Out(), sys.stdout\n"
        "sys.stdout = out\n"
        "from knowledge_agg.cli import main\n"
        "status = main(['ask', 'asyncio tasks', '--format', 'ndjson', '--provider', 'local'])\n"
        "sys.stdout = real\n"
        "print(json.dumps([status, out.getvalue().splitlines()[0], Out.seen]))"
    )
    status, first, seen = last_json(code)
    assert status == 0 and json.loads(first)["type"] == "status" and json.loads(first)["seq"] == 0
    assert not {name.split(".")[0] for name in seen} & set(HEAVY)


_WAITING_SEARCH = """
import asyncio, json, sys
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route
from tests.helpers.servers import serve
from knowledge_agg import KnowledgeAggregator

LATER = ("knowledge_agg.select", "knowledge_agg.rank", "knowledge_agg.synthesize")
seen = {}

async def search(request):  # holds its answer until the run's later stages are imported (at most 3 s)
    for _ in range(60):
        if all(m in sys.modules for m in LATER):
            break
        await asyncio.sleep(0.05)
    seen["while_waiting"] = [m for m in LATER if m in sys.modules]
    hit = {"title": "Tasks", "url": "https://docs.example/tasks", "description": "asyncio tasks run coroutines"}
    return JSONResponse({"query": {"original": "asyncio tasks"}, "web": {"results": [hit]}})

async def run(url):
    options = dict(provider="brave", brave_api_key="k", brave_base_url=url, brave_cache=False, brave_timeout=20,
                   flags="content_fetch=off")
    async with KnowledgeAggregator() as agg, agg.stream("asyncio tasks", **options) as events:
        async for event in events:
            if event.type == "analysis":
                seen["before_search"] = [m for m in LATER if m in sys.modules]
            seen.setdefault("types", []).append(event.type)

with serve(Starlette(routes=[Route("/res/v1/web/search", search)])) as url:
    asyncio.run(run(url))
print(json.dumps(seen))
"""


def test_the_later_stages_are_imported_while_the_search_is_in_flight() -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
           "KNOWLEDGE_AGG_STORE": "off"}
    seen = last_json(_WAITING_SEARCH, env)
    assert seen["before_search"] == []  # not on the way to the search
    assert seen["while_waiting"] == ["knowledge_agg.select", "knowledge_agg.rank", "knowledge_agg.synthesize"]
    assert "result" in seen["types"] and seen["types"][-1] == "done"


@pytest.mark.parametrize("name", knowledge_agg.__all__)
def test_every_public_name_imports(name: str) -> None:
    namespace: dict[str, object] = {}
    exec(f"from knowledge_agg import {name}", namespace)  # the statement users write, spelt out
    assert namespace[name] is getattr(knowledge_agg, name)


def test_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        knowledge_agg.nope  # noqa: B018


def test_with_the_semantic_flag_the_first_result_comes_before_the_model_is_imported(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime", reason="the semantic extra: pip install 'knowledge-agg[semantic]'")
    corpus = tmp_path / "tools.jsonl"
    corpus.write_text("\n".join(json.dumps(doc) for doc in TOOLS), encoding="utf-8")
    env = {**os.environ, "KNOWLEDGE_AGG_CACHE_DIR": str(tmp_path / "cache")}
    code = (
        "import asyncio, json, sys\nfrom knowledge_agg import KnowledgeAggregator\n"
        "async def main():\n"
        "    options = dict(provider='local', corpus=sys.argv[1], flags='semantic', store='off')\n"
        "    seen, query = {}, 'remove a directory and the files in it'\n"
        "    async with KnowledgeAggregator() as agg, agg.stream(query, **options) as events:\n"
        "        async for event in events:\n"
        "            if event.type in ('result', 'sources'):\n"
        "                seen.setdefault(event.type, 'onnxruntime' in sys.modules)\n"
        "    return seen\n"
        "print(json.dumps(asyncio.run(main())))"
    )
    run = [sys.executable, "-c", code, str(corpus)]

    def seen() -> Any:
        return json.loads(subprocess.run(run, capture_output=True, text=True, check=True, env=env).stdout.splitlines()[-1])

    assert seen() == {"result": True, "sources": True}  # this process made the index's vectors (with the model)
    # a fresh process with the vectors made: its results come by words before the model's import, its sources after
    assert seen() == {"result": False, "sources": True}

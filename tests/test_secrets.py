"""The Brave key never leaves the request header: not in events, errors, logs, repr, frames, metrics or cache files.

Real runs against the Brave stand-in over loopback (which accepts only the keys it is given), through
every face: the Python API, the CLI in a subprocess, the server's endpoints, DataFrame exports.
Everything each produced is gathered and searched for the key (and for a fragment of it).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import traceback
import warnings
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from knowledge_agg import KnowledgeAggregator, ask
from knowledge_agg.cli import main
from knowledge_agg.errors import OptionError
from knowledge_agg.frames import export, metrics_frame
from knowledge_agg.providers.brave import BraveError, BraveProvider
from knowledge_agg.server import ServerSettings, create_app, launcher
from knowledge_agg.settings import Settings
from knowledge_agg.standin import StandinSettings
from tests.helpers.corpus_server import corpus_settings, running_server, write_corpus
from tests.helpers.servers import serve

KEY = "BSAcanary-7f3e9c1d5b2a-knowledge-agg-secret"
WRONG = "BSAwrong-0xdeadbeef42-rejected-canary"
OTHER = "BSAother-standin-key-1b9e77"
QUERY = "how do I cancel an asyncio task"


def _assert_clean(text: str | bytes, where: str) -> None:
    """Neither the key, the rejected key, nor a distinctive fragment of either occurs in ``text``."""
    data = text if isinstance(text, bytes) else text.encode("utf-8", "surrogateescape")
    for secret in (KEY, WRONG, OTHER):
        for needle in (secret, secret[8:24]):
            assert needle.encode() not in data, f"{needle!r} leaked into {where}"


@pytest.fixture(scope="module")
def standin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The Brave stand-in, accepting exactly KEY and OTHER."""
    folder = tmp_path_factory.mktemp("standin")
    with running_server(folder, standin_keys=f"{KEY},{OTHER}", standin_rate_per_second=0) as url:
        yield url


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Every log record at DEBUG, including uvicorn's, which do not propagate to the root logger."""
    caplog.set_level(logging.DEBUG)
    quiet = [logging.getLogger(n) for n in ("uvicorn", "uvicorn.error", "uvicorn.access", "httpx", "httpcore")]
    levels = [lg.level for lg in quiet]
    for lg in quiet:
        lg.setLevel(logging.DEBUG)
        lg.addHandler(caplog.handler)
    try:
        yield caplog
    finally:
        for lg, level in zip(quiet, levels, strict=True):
            lg.setLevel(level)
            lg.removeHandler(caplog.handler)


def _brave_settings(standin: str, cache: Path, key: str = KEY, **overrides: object) -> Settings:
    return Settings(
        provider="brave", brave_api_key=key, brave_base_url=standin, brave_rate_limit=50, brave_max_retries=0,
        fetch_allow_hosts=[standin.removeprefix("http://")], cache_dir=cache, store=str(cache / "runs.sqlite3"),
        **overrides,
    )


def _all_bytes(folder: Path) -> Iterator[tuple[Path, bytes]]:
    for path in folder.rglob("*"):
        if path.is_file():
            yield path, path.read_bytes()


async def test_python_api_run_frames_repr_and_cache(
    standin: str, tmp_path: Path, logs: pytest.LogCaptureFixture
) -> None:
    cache = tmp_path / "cache"
    settings = _brave_settings(standin, cache)
    async with KnowledgeAggregator(settings) as agg:
        run = await agg.run(QUERY)
        again = await agg.run(QUERY)  # answered from the on-disk cache
        _assert_clean(repr(agg._provider(settings)), "repr(provider)")
    assert run.results and run.sources and not run.partial, [e.message for e in run.errors]
    assert run.results[0].provider == "brave"
    assert any("cache hit" in r.getMessage() for r in logs.records)

    for r in (run, again):
        _assert_clean("\n".join(e.to_json() for e in r.events), "events")
        _assert_clean(repr(r) + r._repr_html_(), "repr(run)")
    _assert_clean(repr(settings) + str(settings) + repr(settings.model_dump()), "repr(settings)")
    _assert_clean(settings.model_dump_json() + json.dumps(settings.public()), "settings as JSON")

    frames = {
        "results": run.results_df(), "sources": run.sources_df(), "passages": run.passages_df(),
        "events": run.events_df(), "metrics": metrics_frame([run, again]),
    }
    assert len(frames["results"]) == len(run.results)
    for name, df in frames.items():
        _assert_clean(df.to_string() + repr(df), f"{name} frame")
        for fmt in ("csv", "json", "parquet"):
            path = export(df, tmp_path / f"{name}.{fmt}")
            _assert_clean(path.read_bytes(), path.name)

    files = list(_all_bytes(cache))
    assert any("brave" in p.parts for p, data in files if data), "the Brave response cache was written"
    assert any(p.name == "runs.sqlite3" for p, data in files if data), "the run store was written"
    for path, data in files:
        _assert_clean(data, f"cache file {path.relative_to(cache)}")
    _assert_clean(logs.text + "\n".join(str(r.__dict__) for r in logs.records), "logs")


async def test_a_rejected_key_is_an_error_that_does_not_repeat_it(
    standin: str, tmp_path: Path, logs: pytest.LogCaptureFixture
) -> None:
    settings = _brave_settings(standin, tmp_path / "cache", key=WRONG)
    async with KnowledgeAggregator(settings) as agg:
        run = await agg.run(QUERY)
    (error,) = run.errors
    assert error.stage == "searching" and run.partial
    assert "token" in error.message.lower() or "key" in error.message.lower(), error.message
    _assert_clean("\n".join(e.to_json() for e in run.events), "events of a rejected key")

    provider = BraveProvider(WRONG, base_url=standin, rate_limit=50, max_retries=0)
    try:
        with pytest.raises(BraveError) as caught:
            await provider.web_search(QUERY)
    finally:
        await provider.aclose()
    exc = caught.value
    text = "".join(traceback.format_exception(exc)) + repr(exc) + repr(exc.args) + repr(vars(exc))
    _assert_clean(text + repr(provider), "the exception")
    _assert_clean(logs.text, "logs")


def test_validation_errors_do_not_echo_the_key() -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(brave_api_key=KEY, max_sources=0, max_words=-1)
    _assert_clean(str(caught.value) + repr(caught.value.errors()), "ValidationError")
    with pytest.raises(ValidationError) as caught:
        StandinSettings(keys=[OTHER], rate_per_second=-1)
    _assert_clean(str(caught.value) + repr(caught.value.errors()), "ValidationError of the stand-in")
    _assert_clean(repr(StandinSettings(keys=[OTHER, WRONG])), "repr of the stand-in's settings")
    settings = Settings(brave_api_key=KEY)
    with pytest.raises(OptionError) as bad_option:
        settings.override(max_sources=0, max_words="many")
    _assert_clean(str(bad_option.value), "OptionError")
    _assert_clean(repr(settings.override(max_sources=3)), "repr of an overridden copy")


def _cli(standin: str, cache: Path, key: str, *argv: str, debug_logging: bool = False) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KNOWLEDGE_AGG_", "BRAVE_"))}
    env.update(
        BRAVE_API_KEY=key, KNOWLEDGE_AGG_PROVIDER="brave", KNOWLEDGE_AGG_BRAVE_BASE_URL=standin,
        KNOWLEDGE_AGG_BRAVE_RATE_LIMIT="50", KNOWLEDGE_AGG_BRAVE_MAX_RETRIES="0",
        KNOWLEDGE_AGG_FETCH_ALLOW_HOSTS=standin.removeprefix("http://"), KNOWLEDGE_AGG_CACHE_DIR=str(cache),
        KNOWLEDGE_AGG_STORE=str(cache / "runs.sqlite3"), PYTHONWARNINGS="default",
    )
    if debug_logging:  # the same CLI with every logger at DEBUG on stderr
        code = "import logging, sys; logging.basicConfig(level=logging.DEBUG); " \
               "from knowledge_agg.cli import main; sys.exit(main(sys.argv[1:]))"
        cmd = [sys.executable, "-c", code, *argv]
    else:
        cmd = [sys.executable, "-m", "knowledge_agg.cli", *argv]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize("debug_logging", [False, True], ids=["plain", "debug-logging"])
def test_cli_output_and_stderr(standin: str, tmp_path: Path, debug_logging: bool) -> None:
    cache = tmp_path / "cache"
    ok = _cli(standin, cache, KEY, "ask", QUERY, "--format", "ndjson", debug_logging=debug_logging)
    assert ok.returncode == 0, ok.stderr[-2000:]
    events = [json.loads(line) for line in ok.stdout.splitlines() if line]
    assert events[-1]["type"] == "done" and not events[-1]["partial"]
    assert any(e["type"] == "result" and e["provider"] == "brave" for e in events)
    if debug_logging:
        assert "DEBUG:knowledge_agg.providers.brave" in ok.stderr
    text = _cli(standin, cache, KEY, "ask", QUERY, "--format", "text", debug_logging=debug_logging)
    rejected = _cli(standin, tmp_path / "c2", WRONG, "ask", QUERY, "--format", "text", debug_logging=debug_logging)
    assert "searching" in rejected.stderr and rejected.stdout
    for name, proc in (("ndjson", ok), ("text", text), ("rejected key", rejected)):
        _assert_clean(proc.stdout, f"CLI {name} stdout")
        _assert_clean(proc.stderr, f"CLI {name} stderr")
    for path, data in _all_bytes(tmp_path):
        _assert_clean(data, f"file {path.name} written by the CLI")


def test_server_endpoints_never_show_the_key(
    standin: str, tmp_path: Path, logs: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    """A server whose runs search Brave (the stand-in) with KEY; and the stand-in holding KEY itself."""
    settings = _brave_settings(standin, tmp_path / "cache", corpus=str(write_corpus(tmp_path)))
    seen: list[str] = []
    with serve(create_app(settings)) as url, httpx.Client(timeout=60) as client:
        answer = client.post(f"{url}/v1/answer", json={"query": QUERY})
        assert answer.status_code == 200 and not answer.json()["partial"], answer.text[:500]
        assert any(e["type"] == "result" and e["provider"] == "brave" for e in answer.json()["events"])
        seen.append(answer.text)
        seen.append(client.get(f"{url}/v1/stream", params={"q": QUERY}).text)
        config = client.get(f"{url}/config").json()
        assert config["settings"]["brave_api_key_set"] is True
        seen.append(json.dumps(config))
        for base in (url, standin):
            for path in ("/config", "/metrics", "/health", "/openapi.json", "/v1/flags", "/v1/injection"):
                response = client.get(f"{base}{path}")
                assert response.status_code == 200, path
                seen.append(response.text)
        assert client.get(f"{standin}/config").json()["standin"]["keys_set"] == 2
        wrong = client.get(f"{standin}/res/v1/web/search", params={"q": "x"}, headers={"X-Subscription-Token": WRONG})
        assert wrong.status_code == 422
        seen.append(wrong.text + repr(wrong.headers))
    for i, text in enumerate(seen):
        _assert_clean(text, f"server response {i}")
    out, err = capfd.readouterr()
    _assert_clean(out + err + logs.text, "server logs and output")
    for path, data in _all_bytes(tmp_path):
        _assert_clean(data, f"server file {path.name}")


def test_local_runs_never_see_the_key(tmp_path: Path) -> None:
    """With a key set but the local provider chosen, nothing about the key shows in a run either."""
    run = ask(QUERY, settings=corpus_settings(tmp_path, brave_api_key=KEY))
    assert run.results and run.results[0].provider != "brave"
    _assert_clean(json.dumps(run.to_dicts()) + repr(run), "a local run")


# ---------------------------------------------------------------- binding


class _Bound(Exception):
    """Raised instead of binding: the test needs the decision, not an exposed socket."""


@pytest.fixture
def no_bind(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Record where ``serve`` would bind and stop there, so 0.0.0.0 is never actually opened."""
    calls: list[tuple[str, int]] = []

    def record(host: str, port: int) -> object:
        calls.append((host, port))
        raise _Bound

    monkeypatch.setattr(launcher, "_bind", record)
    return calls


@pytest.mark.parametrize(
    ("argv", "env", "host", "warning"),
    [
        ([], {}, "127.0.0.1", None),
        (["--host", "::1"], {}, "::1", None),
        (["--host", "localhost"], {}, "localhost", None),
        (["--host", "0.0.0.0"], {}, "0.0.0.0", "every network interface"),
        (["--host", "::", "--dev"], {}, "::", "inject errors"),
        (["--host", "192.168.1.5"], {}, "192.168.1.5", "the address 192.168.1.5"),
        ([], {"KNOWLEDGE_AGG_HOST": "0.0.0.0"}, "0.0.0.0", "every network interface"),
    ],
    ids=["default", "ipv6-loopback", "localhost", "any-ipv4", "any-ipv6-dev", "lan-address", "any-from-env"],
)
def test_serve_binds_loopback_by_default_and_warns_otherwise(
    no_bind: list[tuple[str, int]], monkeypatch: pytest.MonkeyPatch, argv: list[str], env: dict[str, str],
    host: str, warning: str | None,
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with warnings.catch_warnings(record=True) as caught, pytest.raises(_Bound):
        warnings.simplefilter("always")
        main(["serve", "--port", "0", "--provider", "local", *argv])
    assert no_bind == [(host, 0)]
    messages = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    if warning is None:
        assert messages == []
    else:
        (message,) = messages
        assert warning in message and "--host 127.0.0.1" in message


def test_development_endpoints_are_off_by_default(tmp_path: Path) -> None:
    """Without dev mode every mutating operation is 403 and an X-Inject header is refused, whatever it asks."""
    assert ServerSettings().dev_mode is False
    with running_server(tmp_path) as url, httpx.Client(base_url=url, timeout=30) as client:
        refused = [
            client.put("/v1/flags", json={"error_injection": True}),
            client.patch("/v1/flags", json={"error_injection": "on"}),
            client.put("/v1/injection", json={"search_failure_rate": 1}),
            client.get("/v1/stream", params={"q": "asyncio"}, headers={"X-Inject": '{"search_failure_rate": 1}'}),
            client.get("/res/v1/web/search", params={"q": "asyncio"},
                       headers={"X-Subscription-Token": OTHER, "X-Inject": '{"search_429_rate": 1}'}),
        ]
        assert [r.status_code for r in refused] == [403] * len(refused)
        flags = client.get("/v1/flags").json()
        run = client.post("/v1/answer", json={"query": "asyncio tasks"}).json()
    assert flags["mutable"] is False and flags["flags"]["error_injection"]["enabled"] is False
    assert not run["partial"]


# ---------------------------------------------------------------- the LLM key

LLM_KEY = "sk-canary-4c8e2a9f7d1b-knowledge-agg-llm"
LLM_WRONG = "sk-wrong-9a7b5c3d1e0f-rejected-llm-key"


def _assert_no_llm_key(text: str | bytes, where: str) -> None:
    data = text if isinstance(text, bytes) else text.encode("utf-8", "surrogateescape")
    for secret in (LLM_KEY, LLM_WRONG):
        for needle in (secret, secret[6:22]):
            assert needle.encode() not in data, f"{needle!r} leaked into {where}"


@pytest.fixture(scope="module")
def keyed_model() -> Iterator[str]:
    """The stand-in model alone, accepting only LLM_KEY (its 401 echoes a masked key, as OpenAI's does)."""
    from fastapi import FastAPI

    from knowledge_agg.standin.model import model_router

    app = FastAPI()
    app.include_router(model_router(keys={LLM_KEY}))
    with serve(app) as url:
        yield f"{url}/v1"


@pytest.mark.parametrize("key", [LLM_KEY, LLM_WRONG], ids=["accepted", "refused"])
async def test_the_llm_key_never_shows(
    keyed_model: str, tmp_path: Path, logs: pytest.LogCaptureFixture, key: str
) -> None:
    for name in ("openai", "httpx2", "httpcore2"):
        logging.getLogger(name).setLevel(logging.DEBUG)
        logging.getLogger(name).addHandler(logs.handler)
    store = tmp_path / "runs.sqlite3"
    settings = corpus_settings(
        tmp_path, answer="llm", llm_base_url=keyed_model, llm_model="standin", llm_api_key=key, llm_max_retries=0,
        store=str(store),
    )
    try:
        async with KnowledgeAggregator(settings) as agg:
            run = await agg.run(QUERY)
            _assert_no_llm_key(repr(agg._writer(settings)), "repr(writer)")
    finally:
        for name in ("openai", "httpx2", "httpcore2"):
            logging.getLogger(name).removeHandler(logs.handler)
    kinds = [e.kind for e in run.errors]
    assert kinds == ([] if key == LLM_KEY else ["llm_auth"]), kinds
    assert run.synthesis is not None
    _assert_no_llm_key("\n".join(e.to_json() for e in run.events) + repr(run) + run._repr_html_(), "events")
    _assert_no_llm_key(repr(settings) + settings.model_dump_json() + json.dumps(settings.public()), "settings")
    assert settings.public()["llm_api_key_set"] is True
    for df in (run.events_df(), run.points_df()):
        _assert_no_llm_key(df.to_string(), "frames")
    _assert_no_llm_key(logs.text + "\n".join(str(r.__dict__) for r in logs.records), "logs")
    files = list(_all_bytes(tmp_path))
    assert any(p == store and data for p, data in files), "the run store was written"
    for path, data in files:
        _assert_no_llm_key(data, f"file {path.name}")


def test_the_llm_key_stays_out_of_the_cli_and_its_debug_logs(keyed_model: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KNOWLEDGE_AGG_", "BRAVE_", "OPENAI_"))}
    corpus = write_corpus(tmp_path)
    code = "import logging, sys; logging.basicConfig(level=logging.DEBUG); " \
           "from knowledge_agg.cli import main; sys.exit(main(sys.argv[1:]))"
    for key in (LLM_KEY, LLM_WRONG):
        env.update(OPENAI_API_KEY=key, KNOWLEDGE_AGG_LLM_BASE_URL=keyed_model, KNOWLEDGE_AGG_LLM_MODEL="standin",
                   KNOWLEDGE_AGG_LLM_MAX_RETRIES="0", KNOWLEDGE_AGG_CACHE_DIR=str(tmp_path / "cache"),
                   OPENAI_LOG="debug")
        proc = subprocess.run(
            [sys.executable, "-c", code, "ask", QUERY, "--provider", "local", "--corpus", str(corpus), "--answer", "llm"],
            env=env, capture_output=True, text=True, timeout=120, check=False,
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert ("Citation check" in proc.stdout) == (key == LLM_KEY), proc.stdout[-1000:]
        assert "DEBUG:" in proc.stderr
        _assert_no_llm_key(proc.stdout + proc.stderr, "CLI output with debug logging")

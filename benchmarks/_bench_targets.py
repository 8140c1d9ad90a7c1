"""The issue-6 targets (and the seed project's looser ones), each checked against the measured figures."""

from __future__ import annotations

from typing import Any

__all__ = ["targets"]


def _check(name: str, value: float | None, op: str, limit: float, unit: str, target: str) -> dict[str, Any]:
    met = None if value is None else value <= limit if op == "<=" else value >= limit
    return {"name": name, "value": value, "unit": unit, "target": target, "met": met}


def _level(results: dict[str, Any], concurrency: int) -> dict[str, Any] | None:
    return next((s for s in results["sweep"] if s["concurrency"] == concurrency), None)


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """One entry per target: its measured value, the target as text, and whether it is met (None: not measured)."""
    single, memory, faults = results["single"], results["memory"], results["faults"]
    top = _level(results, 200)
    twenty = _level(results, 20)
    checks = [
        _check("first status p95 (single run)", single["consumer"]["first_status"]["p95"], "<=", 5, " ms", "<= 5 ms"),
        _check("first-result overhead over bare search p95", single["first_result_overhead_ms"]["p95"], "<=", 10, " ms",
               "<= 10 ms"),
        _check("sources selected after last result p95", single["sources_after_last_result_ms"]["p95"], "<=", 10, " ms",
               "<= 10 ms"),
        _check("peak memory per run p95 (tracemalloc, 5 pages)", memory["tracemalloc_peak_mb"]["p95"], "<=", 2, " MB",
               "<= 2 MB"),
        _check(f"RSS growth over {memory['rss_runs']} runs", memory["rss_growth_mb"], "<=", 5, " MB", "<= 5 MB"),
        _check("200 concurrent: errors (none injected)", top["errors"] if top else None, "<=", 0, "", "0"),
        _check("200 concurrent: first status p95", top["first_status"]["p95"] if top else None, "<=", 50, " ms", "<= 50 ms"),
        _check("after the sweep: page errors in one plain run", results["after_sweep"]["errors"], "<=", 0, "", "0"),
        _check("faults: runs ending in done", faults["done_share"] * 100, ">=", 100, " %", "100 %"),
        _check("faults: runs with a synthesis", faults["synthesis_share"] * 100, ">=", 99, " %", ">= 99 %"),
        _check("faults: unhandled exceptions", faults["escaped_exceptions"] + faults["loop_unhandled"]
               + faults["internal_errors"], "<=", 0, "", "0"),
    ]
    if twenty:
        runs = twenty["runs"]
        checks += [
            _check("seed: 20 concurrent first status p95", twenty["first_status"]["p95"], "<=", 100, " ms", "< 100 ms"),
            _check("seed: 20 concurrent first result p95", twenty["first_result"]["p95"], "<=", 1000, " ms", "< 1 s"),
            _check("seed: 20 concurrent sources p95", twenty["source_select"]["p95"], "<=", 3000, " ms", "< 3 s"),
            _check("seed: 20 concurrent runs with errors", round(100 * twenty["runs_with_errors"] / runs, 2), "<=", 1,
                   " %", "< 1 %"),
        ]
    checks.append(_check("seed: memory per run (tracemalloc max)", memory["tracemalloc_peak_mb"]["max"], "<=", 10, " MB",
                         "< 10 MB"))
    return checks

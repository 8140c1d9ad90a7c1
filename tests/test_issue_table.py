"""``python -m benchmarks --issue-table``: each row read from its sub-benchmark's figures and judged against its target."""

from __future__ import annotations

from typing import Any

from benchmarks.issue_table import ROWS, markdown, rows


def _cold(status: float, brave: float) -> dict[str, Any]:
    def s(median: float) -> dict[str, float]:
        return {"min": median - 1, "median": median, "max": median + 1}

    return {"first_status": s(status), "first_status_cpu": s(status / 2), "help": s(60), "help_cpu": s(40),
            "brave_first_result_minus_search": s(brave), "brave_enter_to_first_result_minus_search": s(brave + 50),
            "brave_warm_first_result_minus_search": s(3), "brave_enter_to_done": s(brave + 900)}


def _pages(rate: float, peak_max: float) -> dict[str, Any]:
    return {"peak_mb_median": 1.2, "peak_mb_max": peak_max, "runs_per_s_median": rate, "cpu_ms_per_run": 130.0,
            "rss_growth_mb": 10.5, "workers_rss_growth_mb": 0.0}


def test_rows_judge_each_target_beside_the_previous_commit() -> None:
    parts = {
        "cold_start": {"this": _cold(100, 240), "before": _cold(480, 200)},
        "pages_real": {"this": _pages(3.2, 1.9), "before": _pages(1.5, 3.7)},
        "pages_generated": {"this": _pages(2.0, 2.5), "before": _pages(1.5, 0.6)},
        "extraction": {"this": {"ms_p50": 24.0, "f1": 0.9712}, "before": {"ms_p50": 81.0, "f1": 0.9703}},
        "brave_pace": {"this": {"searches": 200, "wall_s": 10.4, "per_second": 19.2, "responses_429": 0},
                       "before": {"searches": 20, "wall_s": 19.4, "per_second": 1.03, "responses_429": 0}},
    }
    table = {r["figure"]: r for r in rows(parts)}
    assert len(table) == sum(len(r) for r in ROWS.values())
    status = table["Enter -> first status line of ask, ms (min / median; CPU median)"]
    assert (status["previous"], status["this"], status["met"]) == ("479 / 480; CPU 240", "99 / 100; CPU 50", True)
    assert table["first result - search, fresh process, run's clock, ms (min / median)"]["met"] is False
    assert table["first result - search, fresh process, from Enter, ms (min / median)"]["met"] is None  # no target
    assert table["20 concurrent real-page runs: runs/s (CPU ms per run)"]["met"] is True  # 3.2 >= 2 x 1.5
    assert table["20 concurrent generated-page runs: runs/s (CPU ms per run)"]["met"] is False  # 2.0 < 3.0
    assert table["peak memory, one run of 5 real pages, MB (median / max)"]["met"] is True
    assert table["peak memory, one run of 5 generated pages, MB (median / max)"]["met"] is False
    assert table["extraction per page, 60 dev pages: p50 ms, F1"]["this"] == "24.0, 0.9712"
    pace = table["searches under a 20 req/s plan (client set to 1 req/s): searches in wall s, per s, 429s"]
    assert pace["met"] is True and pace["previous"].startswith("20 in 19.4 s")
    lines = markdown(list(table.values()), "abc1234", "def5678").splitlines()
    assert lines[0] == "| figure | previous commit (abc1234) | this commit (def5678) | target | met? |"
    assert len(lines) == 2 + len(table) and lines[2].endswith("| 479 / 480; CPU 240 | 99 / 100; CPU 50 | <= 150 ms | yes |")


def test_a_part_that_failed_leaves_its_rows_unmeasured_and_says_why() -> None:
    parts = {"cold_start": {"this": _cold(100, 10), "before": None}, "extraction": {"error": "exited with 1: boom"}}
    table = {r["figure"]: r for r in rows(parts)}
    first = table["first result - search, fresh process, run's clock, ms (min / median)"]
    assert first["previous"] is None and first["met"] is True
    extraction = table["extraction per page, 60 dev pages: p50 ms, F1"]
    assert extraction["this"] is None and extraction["met"] is None and "boom" in extraction["note"]
    assert "| not measured (exited with 1: boom) |" in markdown(list(table.values()), "none", "x")
    assert table["20 concurrent real-page runs: runs/s (CPU ms per run)"]["note"] == "not run"

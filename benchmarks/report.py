"""Figures of the streaming benchmark: percentiles, the printed table with targets, and the sweep plots."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["summary", "percentile", "table", "plot_sweep"]


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0–100) with linear interpolation, or None for no values."""
    data = sorted(values)
    if not data:
        return None
    pos = (len(data) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


def summary(values: Iterable[float | None]) -> dict[str, float | int | None]:
    """n, p50, p95, max and mean of the values that are not None, rounded to 0.01."""
    data = [v for v in values if v is not None]

    def r(v: float | None) -> float | None:
        return None if v is None else round(v, 2)

    return {
        "n": len(data),
        "p50": r(percentile(data, 50)),
        "p95": r(percentile(data, 95)),
        "max": r(max(data)) if data else None,
        "mean": r(sum(data) / len(data)) if data else None,
    }


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        text = f"{value:.0f}" if abs(value) >= 100 else f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"
    else:
        text = str(value)
    return f"{text}{unit}"


def table(results: dict[str, Any]) -> str:
    """The figures as a plain-text table: one line per measure, its target and whether it is met."""
    rows: list[tuple[str, str, str, str]] = []
    for check in results["targets"]:
        verdict = "n/a" if check["met"] is None else "met" if check["met"] else "MISSED"
        rows.append((check["name"], _fmt(check["value"], check["unit"]), check["target"], verdict))
    single = results["single"]
    for key in ("first_status", "first_result", "source_select", "synthesis", "total", "bare_search"):
        s = single["consumer"].get(key) or single.get(key, {})
        rows.append((f"single run {key} p50/p95", f"{_fmt(s.get('p50'))}/{_fmt(s.get('p95'))} ms", "", ""))
    for level in results["sweep"]:
        c = level["concurrency"]
        rows.append((
            f"{c:>3} concurrent: first status / first result / sources / total p95",
            " / ".join(_fmt(level[k]["p95"]) for k in ("first_status", "first_result", "source_select", "total")) + " ms",
            f"{level['runs']} runs, {level['errors']} errors, {_fmt(level['throughput_runs_per_s'])} runs/s",
            f"CPU {_fmt(level['cpu_client_percent'])}% + server {_fmt(level['cpu_server_percent'])}%",
        ))
    local = results.get("local") or {}
    if local:
        rows.append(("local provider: search queries/s (1 / 8 tasks)",
                     f"{_fmt(local['search_qps_1'])} / {_fmt(local['search_qps_8'])}",
                     f"search p50/p95 {_fmt(local['search_ms']['p50'])}/{_fmt(local['search_ms']['p95'])} ms", ""))
        rows.append(("local provider: full runs/s, total p50/p95",
                     f"{_fmt(local['runs_per_s'])}", f"{_fmt(local['total_ms']['p50'])}/{_fmt(local['total_ms']['p95'])} ms", ""))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    header = "  ".join(h.ljust(w) for h, w in zip(("measure", "value", "target / detail", ""), widths, strict=True))
    return "\n".join([header.rstrip(), "-" * len(header.rstrip()), *lines])


def plot_sweep(sweep: list[dict[str, Any]], out_dir: Path) -> list[Path]:
    """Two PNGs of the concurrency sweep: p50/p95 of each milestone, and throughput with CPU."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    levels = [s["concurrency"] for s in sweep]
    paths = [out_dir / "streaming_sweep_latency.png", out_dir / "streaming_sweep_throughput.png"]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for key, color in (("first_status", "C0"), ("first_result", "C1"), ("source_select", "C2"), ("total", "C3")):
        ax.plot(levels, [s[key]["p50"] for s in sweep], "o-", color=color, label=f"{key} p50")
        ax.plot(levels, [s[key]["p95"] for s in sweep], "s--", color=color, label=f"{key} p95")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(levels, [str(c) for c in levels])
    ax.set_xlabel("concurrent runs")
    ax.set_ylabel("ms since the run started (consumer clock)")
    ax.set_title("knowledge_agg over the Brave stand-in: latency by concurrency")
    ax.legend(fontsize=7, ncol=2)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(paths[0], dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.plot(levels, [s["throughput_runs_per_s"] for s in sweep], "o-", color="C0", label="runs/s")
    ax.set_xscale("log")
    ax.set_xticks(levels, [str(c) for c in levels])
    ax.set_xlabel("concurrent runs")
    ax.set_ylabel("completed runs per second")
    ax2 = ax.twinx()
    ax2.plot(levels, [s["cpu_client_percent"] for s in sweep], "s--", color="C1", label="client CPU %")
    ax2.plot(levels, [s["cpu_server_percent"] for s in sweep], "^--", color="C2", label="server CPU %")
    ax2.set_ylabel("CPU % of one core")
    fig.legend(loc="upper left", fontsize=8)
    ax.set_title("throughput and CPU by concurrency")
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(paths[1], dpi=110)
    plt.close(fig)
    return paths

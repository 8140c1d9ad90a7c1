"""matplotlib charts of where a run's time went, and of a batch's timing distributions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import require
from .events import STAGES
from .frames import events_frame

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes

    from .run import Run

__all__ = ["plot_timeline", "plot_distributions"]

_MARKERS = {
    "status": "|", "analysis": "D", "result": "o", "sources": "s", "passage": "^",
    "synthesis": "*", "error": "X", "done": "P",
}


def _pyplot() -> Any:
    require("matplotlib", "notebook")
    import matplotlib.pyplot as plt

    return plt


def plot_timeline(run: Run, ax: Axes | None = None) -> Axes:
    """Each event as a mark at its arrival time, on the row of the stage it arrived in; stage spans as bars."""
    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 3.5))
    df = events_frame(run)
    df = df[df["stage"].notna()]
    stages = [s for s in STAGES if s in set(df["stage"].astype(str))]
    rows = {stage: i for i, stage in enumerate(stages)}
    starts = df[df["type"] == "status"].drop_duplicates("stage")
    end = float(df["t_ms"].max()) if len(df) else 0.0
    for stage, t0, t1 in zip(starts["stage"], starts["t_ms"], [*starts["t_ms"].iloc[1:], end], strict=True):
        ax.barh(rows[stage], max(t1 - t0, end / 500 or 0.1), left=t0, height=0.6, color="#cfe0f5")
    for kind, group in df.groupby("type", observed=True):
        y = [rows[s] for s in group["stage"].astype(str)]
        ax.scatter(group["t_ms"], y, marker=_MARKERS.get(str(kind), "."), label=str(kind), zorder=3)
    ax.set_yticks(range(len(stages)), stages)
    ax.invert_yaxis()
    ax.set_xlabel("ms since the run started")
    ax.set_title(f"Timeline: {run.query[:60]}")
    ax.legend(loc="lower right", fontsize="small", ncols=2)
    return ax


def plot_distributions(metrics: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Histograms of first-result and total time over a batch's runs (one row per query)."""
    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.5))
    columns = [c for c in ("first_result_ms", "total_ms") if metrics[c].notna().any()]
    data = [metrics[c].dropna().to_numpy() for c in columns]
    ax.hist(data, bins=min(20, max(5, len(metrics))), label=columns, alpha=0.8)
    ax.set_xlabel("ms")
    ax.set_ylabel("runs")
    ax.set_title(f"Timing over {len(metrics)} queries")
    if columns:
        ax.legend()
    return ax

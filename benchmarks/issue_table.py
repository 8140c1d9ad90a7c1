"""``python -m benchmarks --issue-table --code DIR``: every figure of issue 15 beside its target and the previous commit's.

It runs the benchmarks that measure them, each as a child process of its own (``benchmarks.cold_start``,
``benchmarks.pages``, ``benchmarks.brave_pace``, and the extraction score of each checkout's shipped
extractor), with ``--code DIR`` (a ``git worktree`` of the previous commit) measured in the same run
beside this checkout, then prints one table — figure | previous commit | this commit | target | met? —
and writes it with every sub-benchmark's figures to ``benchmarks/results/issue15.json``. Without
``--code`` the previous column stays empty. A sub-benchmark that fails is run once more (the first
failure is kept in the JSON); failing twice, its rows are left unmeasured, saying why, and the others still run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .output import RESULTS, write_json

__all__ = ["ROWS", "main", "markdown", "rows"]

_ROOT = Path(__file__).resolve().parent.parent
_SCORE = (
    "import json\nfrom benchmarks.extraction import score_extraction\nfrom knowledge_agg.extract import extract_text\n"
    "print(json.dumps(score_extraction(extract_text)))"
)

Figures = dict[str, Any]
#: One row: the figure, how to read it from one side's figures (None: not measured), its target, and whether met.
Row = tuple[str, Callable[[Figures], Any], str, Callable[[Figures, Figures | None], bool | None]]


def _run(argv: list[str], env: dict[str, str] | None = None) -> str:
    """Run a child benchmark from the repository root; its output, or an error naming what failed."""
    done = subprocess.run(argv, cwd=_ROOT, env=env, capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"{' '.join(argv[1:4])} exited with {done.returncode}: {tail[0]}")
    return done.stdout


def _sides(results: dict[str, Any]) -> tuple[Figures, Figures | None]:
    """(this checkout's figures, the other one's or None) from a sub-benchmark's ``results``."""
    other = [v for k, v in results.items() if k != "this"]
    return results["this"], other[0] if other else None


def measure(code: Path | None, *, quick: bool, out_dir: Path) -> dict[str, Any]:
    """Run every sub-benchmark; {part: {"this": figures, "before": figures | None} or {"error": text}}."""
    py = sys.executable
    with_code = ["--code", str(code)] if code else []
    parts: dict[str, Any] = {}

    def part(name: str, run: Callable[[], tuple[Figures, Figures | None]]) -> None:
        """Run one part; a failed attempt is tried once more, and its error is kept beside the figures."""
        started = time.monotonic()
        print(f"{name} ...", flush=True)
        failures: list[str] = []
        while len(failures) < 2:
            try:
                this, before = run()
            except (RuntimeError, subprocess.TimeoutExpired, KeyError, ValueError) as exc:
                failures.append(str(exc))
                print(f"  {name} failed: {exc}", file=sys.stderr)
                continue
            parts[name] = {"this": this, "before": before, **({"failed_first": failures[0]} if failures else {})}
            break
        else:
            parts[name] = {"error": failures[-1]}
        print(f"  {time.monotonic() - started:.0f} s", flush=True)

    def cold() -> tuple[Figures, Figures | None]:
        out = out_dir / "cold_start.json"
        _run([py, "-m", "benchmarks.cold_start", "--repeats", "3" if quick else "7", "--out", str(out), *with_code])
        return _sides(json.loads(out.read_text(encoding="utf-8"))["results"])

    def pages(mode: str) -> Callable[[], tuple[Figures, Figures | None]]:
        def run() -> tuple[Figures, Figures | None]:
            out = out_dir / f"pages-{mode}.json"
            sizes = ["--peak-runs", "3", "--rounds", "1"] if quick else ["--peak-runs", "5", "--rounds", "2"]
            _run([py, "-m", "benchmarks.pages", "--pages", mode, *sizes, "--out", str(out), *with_code])
            return _sides(json.loads(out.read_text(encoding="utf-8"))["results"][mode])
        return run

    def pace() -> tuple[Figures, Figures | None]:
        out = out_dir / "brave_pace.json"
        searches = ["--searches", "100", "--code-searches", "10"] if quick else ["--searches", "200"]
        _run([py, "-m", "benchmarks.brave_pace", *searches, "--out", str(out), *with_code])
        return _sides(json.loads(out.read_text(encoding="utf-8"))["results"])

    def extraction() -> tuple[Figures, Figures | None]:
        def score(checkout: Path) -> Figures:  # each checkout's own scorer and extractor
            env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(checkout / "src"), str(checkout)])}
            return dict(json.loads(_run([py, "-c", _SCORE], env).splitlines()[-1]))
        return score(_ROOT), score(code) if code else None

    part("cold_start", cold)
    part("pages_real", pages("real"))
    part("pages_generated", pages("generated"))
    part("brave_pace", pace)
    part("extraction", extraction)
    return parts


def _wall(figures: Figures, name: str) -> str:
    return f"{figures[name]['min']:.0f} / {figures[name]['median']:.0f}"


def _median(figure: str) -> Callable[[Figures], Any]:
    return lambda f: f[figure]["median"]


def _ratio_to_before(key: str, limit: float) -> Callable[[Figures, Figures | None], bool | None]:
    return lambda this, before: None if before is None else this[key] >= limit * before[key]


def _at_most(read: Callable[[Figures], Any], limit: float) -> Callable[[Figures, Figures | None], bool | None]:
    return lambda this, before: read(this) <= limit


#: Each part's rows, in the issue's order.
ROWS: dict[str, list[Row]] = {
    "cold_start": [
        ("Enter -> first status line of ask, ms (min / median; CPU median)",
         lambda f: f"{_wall(f, 'first_status')}; CPU {f['first_status_cpu']['median']:.0f}",
         "<= 150 ms", _at_most(_median("first_status"), 150)),
        ("knowledge-agg --help, ms (min / median; CPU median)",
         lambda f: f"{_wall(f, 'help')}; CPU {f['help_cpu']['median']:.0f}",
         "<= 150 ms", _at_most(_median("help"), 150)),
        ("first result - search, fresh process, run's clock, ms (min / median)",
         lambda f: _wall(f, "brave_first_result_minus_search"),
         "<= 15 ms", _at_most(_median("brave_first_result_minus_search"), 15)),
        ("first result - search, fresh process, from Enter, ms (min / median)",
         lambda f: _wall(f, "brave_enter_to_first_result_minus_search"),
         "-", lambda this, before: None),
        ("Enter -> done, Brave, 5 pages (200 ms each), fresh process, ms (min / median)",
         lambda f: _wall(f, "brave_enter_to_done"), "-", lambda this, before: None),
        ("first result - search, warm (2nd/3rd run), ms (min / median)",
         lambda f: _wall(f, "brave_warm_first_result_minus_search"),
         "<= 15 ms", _at_most(_median("brave_warm_first_result_minus_search"), 15)),
    ],
    "pages_real": [
        ("peak memory, one run of 5 real pages, MB (median / max)",
         lambda f: f"{f['peak_mb_median']} / {f['peak_mb_max']}", "<= 2 MB (max)", _at_most(lambda f: f["peak_mb_max"], 2)),
        ("20 concurrent real-page runs: RSS growth over idle, MB (+ workers)",
         lambda f: f"{f['rss_growth_mb']} (+{f['workers_rss_growth_mb']})", "<= 40 MB",
         _at_most(lambda f: f["rss_growth_mb"] + f["workers_rss_growth_mb"], 40)),
        ("20 concurrent real-page runs: runs/s (CPU ms per run)",
         lambda f: f"{f['runs_per_s_median']} ({f['cpu_ms_per_run']:.0f})", ">= 2x previous",
         _ratio_to_before("runs_per_s_median", 2.0)),
    ],
    "pages_generated": [
        ("20 concurrent generated-page runs: runs/s (CPU ms per run)",
         lambda f: f"{f['runs_per_s_median']} ({f['cpu_ms_per_run']:.0f})", ">= 2x previous",
         _ratio_to_before("runs_per_s_median", 2.0)),
        ("peak memory, one run of 5 generated pages, MB (median / max)",
         lambda f: f"{f['peak_mb_median']} / {f['peak_mb_max']}", "<= 2 MB (max)", _at_most(lambda f: f["peak_mb_max"], 2)),
    ],
    "extraction": [
        ("extraction per page, 60 dev pages: p50 ms, F1",
         lambda f: f"{f['ms_p50']:.1f}, {f['f1']:.4f}", "<= 25 ms, F1 >= 0.97",
         lambda this, before: this["ms_p50"] <= 25 and this["f1"] >= 0.97),
    ],
    "brave_pace": [
        ("searches under a 20 req/s plan (client set to 1 req/s): searches in wall s, per s, 429s",
         lambda f: f"{f['searches']} in {f['wall_s']} s, {f['per_second']}/s, {f['responses_429']}",
         "200 in ~10 s (>= 18/s), 0 x 429",
         lambda this, before: this["per_second"] >= 18 and this["responses_429"] == 0),
    ],
}


def rows(parts: dict[str, Any]) -> list[dict[str, Any]]:
    """The table's rows: figure, previous, this, target, met (None: not judged or not measured)."""
    table = []
    for name, part_rows in ROWS.items():
        part = parts.get(name, {"error": "not run"})
        for figure, read, target, met in part_rows:
            if "error" in part:
                table.append({"figure": figure, "previous": None, "this": None, "target": target, "met": None,
                              "note": part["error"]})
                continue
            this, before = part["this"], part["before"]
            table.append({"figure": figure, "previous": read(before) if before else None, "this": read(this),
                          "target": target, "met": met(this, before)})
    return table


def markdown(table: list[dict[str, Any]], previous: str, this: str) -> str:
    """The table in Markdown, as the README shows it."""
    lines = [f"| figure | previous commit ({previous}) | this commit ({this}) | target | met? |", "|---|---|---|---|---|"]
    for r in table:
        met = {True: "yes", False: "no", None: "-"}[r["met"]]
        this_cell = r["this"] if r["this"] is not None else f"not measured ({r.get('note', '')[:100]})"
        lines.append(f"| {r['figure']} | {r['previous'] or '-'} | {this_cell} | {r['target']} | {met} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks --issue-table", description=__doc__)
    parser.add_argument("--code", type=Path, help="a checkout of the previous commit (git worktree) to measure beside")
    parser.add_argument("--quick", action="store_true", help="fewer repeats and runs (about half the time)")
    parser.add_argument("--out", type=Path, default=RESULTS / "issue15.json")
    parser.add_argument("--render", type=Path, help="measure nothing: print the table of a written issue15.json again")
    args = parser.parse_args(argv)
    if args.render is not None:
        saved = json.loads(args.render.read_text(encoding="utf-8"))
        print(markdown(rows(saved["parts"]), saved["previous"], saved["this"]))
        return 0
    if args.code is not None and not (args.code / "src" / "knowledge_agg").is_dir():
        parser.error(f"--code {args.code}: no src/knowledge_agg there (make one with git worktree add)")
    previous = _commit(args.code) if args.code else "none"
    with tempfile.TemporaryDirectory(prefix="ka-issue15-") as tmp:
        parts = measure(args.code, quick=args.quick, out_dir=Path(tmp))
    table, this = rows(parts), _commit(_ROOT)
    print()
    print(markdown(table, previous, this))
    write_json(args.out, {"this": this, "previous": previous, "quick": args.quick, "command": " ".join(sys.argv),
                          "measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                          "load_average": os.getloadavg(), "rows": table, "parts": parts})
    print(f"wrote {args.out}")
    return 0


def _commit(checkout: Path) -> str:
    """The checkout's commit (short hash, ``+`` when it has uncommitted changes)."""
    def git(*a: str) -> str:
        return subprocess.run(["git", "-C", str(checkout), *a], capture_output=True, text=True).stdout.strip()

    return git("rev-parse", "--short", "HEAD") + ("+" if git("status", "--porcelain", "--untracked-files=no") else "")


if __name__ == "__main__":
    sys.exit(main())

"""Written answers over XQuAD dev with the stand-in model and planted faults: the citation check, streaming, fallback.

Run: ``python -m benchmarks.llm_answer [--limit N] [--concurrency C]``; prints a table and writes
``benchmarks/results/llm_answer.json``. The stand-in model runs in its own process on a loopback
port; the aggregator searches the 48 XQuAD articles with the local provider (no page reads) and
asks the model over real HTTP through the ``openai`` client. Three figures:

- the check: every question is answered faithfully twice (verbatim sentences, and paraphrased ones:
  synonyms, brackets dropped, long sentences cut) and once per planted claim fault in a paraphrased
  answer (in a sentence chosen round-robin); the stand-in's own ``compose`` says which sentence
  carries a fault, so each checked point is scored as planted-and-flagged or faithful-and-flagged;
- streaming: with tokens 10 ms apart, how long after the first token reached the client the
  consumer held the first ``synthesis_delta`` event (and when that event was stamped);
- fallback: under each injected model failure, how many runs end with the extractive synthesis.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import platform
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from knowledge_agg.aggregator import KnowledgeAggregator
from knowledge_agg.events import (
    ErrorEvent,
    PassageEvent,
    SynthesisDeltaEvent,
    SynthesisEvent,
)
from knowledge_agg.llm import build_messages
from knowledge_agg.models import Passage
from knowledge_agg.run import Run
from knowledge_agg.settings import Settings
from knowledge_agg.standin.model import compose, parse_model

from .data import XQUAD_DEV, relative
from .output import RESULTS, write_json
from .quality_data import Question, load_squad, write_corpus
from .report import summary

__all__ = ["CLAIM_FAULTS", "FAILURES", "main"]

_OUT = RESULTS / "llm_answer.json"
#: The planted unsupported claims (stand-in fault names).
CLAIM_FAULTS = ("wrong_citation", "unlisted_citation", "uncited", "changed_number", "changed_name")
#: Injected model failures: name → (model, extra settings, the error kind expected).
FAILURES: dict[str, tuple[str, dict[str, Any], str]] = {
    "refused": ("standin", {"llm_base_url": "DEAD"}, "llm_unreachable"),
    "401": ("standin:status=401", {}, "llm_auth"),
    "429": ("standin:status=429", {}, "llm_rate_limited"),
    "500": ("standin:status=500", {}, "llm_http_error"),
    "503": ("standin:status=503", {}, "llm_http_error"),
    "timeout": ("standin:delay_ms=300", {"llm_timeout": 0.25}, "llm_timeout"),
    "cut_off": ("standin:cut=6", {}, "llm_cut_off"),
    "empty": ("standin:empty", {}, "llm_empty"),
}
_TARGETS = {"flagged_planted": 0.95, "flagged_faithful": 0.05, "first_delta_p95_ms": 20.0, "fallback": 1.0}
_SERVE = (
    "import sys, uvicorn; from fastapi import FastAPI; from knowledge_agg.standin.model import model_router; "
    "app = FastAPI(); app.include_router(model_router()); "
    "uvicorn.run(app, host='127.0.0.1', port=int(sys.argv[1]), log_level='critical')"
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _ModelServer:
    """The stand-in model alone, in its own process (so its event loop does not share this one's CPU time)."""

    def __enter__(self) -> str:
        port = _free_port()
        self.process = subprocess.Popen([sys.executable, "-c", _SERVE, str(port)])
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.post(f"{url}/v1/chat/completions", json={}, timeout=1, trust_env=False)
                return f"{url}/v1"
            except httpx.TransportError:
                time.sleep(0.1)
        self.process.kill()
        raise RuntimeError("the stand-in model did not start")

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:  # streams still open (the timeout fault): no graceful wait
            self.process.kill()
            self.process.wait(5)


async def _ask(agg: KnowledgeAggregator, question: str, **options: Any) -> tuple[Run, dict[str, float]]:
    """Run ``question``; also when (ms, on the run's clock) the consumer held the first delta."""
    run = Run(question)
    seen: dict[str, float] = {}
    zero = 0.0
    async with agg.stream(question, **options) as events:
        async for event in events:
            now = time.perf_counter()
            if not run.events:
                zero = now - event.t_ms / 1000
            if isinstance(event, SynthesisDeltaEvent) and "first_delta_held_ms" not in seen:
                seen["first_delta_held_ms"] = (now - zero) * 1000
            run.events.append(event)
    return run, seen


def _truth(run: Run, model: str, max_words: int) -> list[bool] | None:
    """Which sentences of the run's answer carry a planted fault, from the stand-in's own composition."""
    passages = [Passage(e.source_id, e.url, e.text, e.score) for e in run.events if isinstance(e, PassageEvent)]
    listing: dict[int, list[str]] = {}
    for p in passages:
        listing.setdefault(p.source_id, []).append(" ".join(p.text.split()))
    prompt = build_messages(run.query, listing, max_words=max_words)[1]["content"]
    written = compose(prompt, parse_model(model))
    points = run.synthesis.points if run.synthesis else []
    if len(written) != len(points):
        return None
    return [w.planted is not None for w in written]


async def _check_figures(
    agg: KnowledgeAggregator, questions: Sequence[Question], concurrency: int, max_words: int
) -> dict[str, Any]:
    gate = asyncio.Semaphore(concurrency)
    counts: Counter[str] = Counter()
    per_fault: dict[str, Counter[str]] = {k: Counter() for k in CLAIM_FAULTS}
    missed: list[dict[str, Any]] = []
    false_alarms: list[dict[str, Any]] = []

    async def one(i: int, question: Question, fault: str | None, paraphrase: bool) -> None:
        style = "paraphrase" if paraphrase else "verbatim"
        model = "standin:" + ",".join([*(["paraphrase"] if paraphrase else []), *([f"{fault},at={i % 3}"] if fault else [])])
        async with gate:
            run, _ = await _ask(agg, question.text, llm_model=model)
        truth = _truth(run, model, max_words)
        if run.errors or truth is None:
            counts["unaligned_or_failed"] += 1
            return
        points = run.synthesis.points if run.synthesis else []
        for planted, point in zip(truth, points, strict=True):
            if planted and fault is not None:
                per_fault[fault]["planted"] += 1
                per_fault[fault]["flagged"] += not point.supported
                if point.supported and len(missed) < 10:
                    missed.append({"fault": fault, "question": question.text, "sentence": point.text})
            else:
                counts["faithful"] += 1
                counts["faithful_flagged"] += not point.supported
                counts[f"faithful_{style}"] += 1
                counts[f"faithful_{style}_flagged"] += not point.supported
                if not point.supported and len(false_alarms) < 10 and all(
                    point.text != f["sentence"] for f in false_alarms
                ):
                    false_alarms.append({"question": question.text, "sentence": point.text, "reason": point.reason})
        counts["runs"] += 1

    runs = [(None, False), (None, True), *((f, True) for f in CLAIM_FAULTS)]
    jobs = [one(i, q, f, paraphrase) for i, q in enumerate(questions) for f, paraphrase in runs]
    await asyncio.gather(*jobs)
    planted = sum(c["planted"] for c in per_fault.values())
    flagged = sum(c["flagged"] for c in per_fault.values())
    return {
        "runs": counts["runs"],
        "runs_unaligned_or_failed": counts["unaligned_or_failed"],
        "planted_sentences": planted,
        "planted_flagged": round(flagged / planted, 4) if planted else None,
        "faithful_sentences": counts["faithful"],
        "faithful_flagged": _share(counts, "faithful"),
        "faithful_verbatim_sentences": counts["faithful_verbatim"],
        "faithful_verbatim_flagged": _share(counts, "faithful_verbatim"),
        "faithful_paraphrase_sentences": counts["faithful_paraphrase"],
        "faithful_paraphrase_flagged": _share(counts, "faithful_paraphrase"),
        "per_fault": {
            k: {"planted": c["planted"], "flagged": round(c["flagged"] / c["planted"], 4) if c["planted"] else None}
            for k, c in per_fault.items()
        },
        "missed_examples": missed,
        "false_alarm_examples": false_alarms,
    }


def _share(counts: Counter[str], key: str) -> float | None:
    return round(counts[f"{key}_flagged"] / counts[key], 4) if counts[key] else None


async def _stream_figures(agg: KnowledgeAggregator, questions: Sequence[Question]) -> dict[str, Any]:
    """One run at a time, tokens 10 ms apart: first delta held by the consumer minus first token received."""
    held: list[float] = []
    stamped: list[float] = []
    for question in questions:
        run, seen = await _ask(agg, question.text, llm_model="standin:delay_ms=10")
        metrics = run.metrics
        if metrics.get("first_token_ms") is None or "first_delta_held_ms" not in seen:
            continue
        held.append(seen["first_delta_held_ms"] - metrics["first_token_ms"])
        stamped.append(metrics["first_delta_ms"] - metrics["first_token_ms"])
    return {"runs": len(held), "held_after_first_token_ms": summary(held), "stamped_after_first_token_ms": summary(stamped)}


async def _failure_run(
    agg: KnowledgeAggregator, gate: asyncio.Semaphore, question: Question, kind: str, expected: Run
) -> Counter[str]:
    """One run under a failure: did it report the failure, end with the extractive synthesis, end with done?"""
    async with gate:
        run, _ = await _ask(agg, question.text)
    errors = [e.kind for e in run.events if isinstance(e, ErrorEvent)]
    last = run.events[-3] if len(run.events) >= 3 else None  # synthesis, status "done", done
    wanted = expected.synthesis
    return Counter({
        "runs": 1,
        "error_event": errors == [kind],
        "extractive_synthesis": isinstance(last, SynthesisEvent) and wanted is not None and last.text == wanted.text,
        "done_last": run.done is not None,
    })


async def _failure_figures(settings: Settings, questions: Sequence[Question], concurrency: int) -> dict[str, Any]:
    gate = asyncio.Semaphore(concurrency)
    dead = f"http://127.0.0.1:{_free_port()}/v1"
    report: dict[str, Any] = {}
    async with KnowledgeAggregator(settings) as extractive_agg:
        extractive = {q.id: (await _ask(extractive_agg, q.text, answer="extractive"))[0] for q in questions}
    for name, (model, extra, kind) in FAILURES.items():
        options = {k: (dead if v == "DEAD" else v) for k, v in extra.items()}
        async with KnowledgeAggregator(settings.override(llm_model=model, **options)) as agg:
            counts = await asyncio.gather(*(_failure_run(agg, gate, q, kind, extractive[q.id]) for q in questions))
        outcome = sum(counts, Counter())
        runs = outcome["runs"]
        report[name] = {
            "runs": runs, "error_event": outcome["error_event"] / runs,
            "extractive_synthesis": outcome["extractive_synthesis"] / runs, "done_last": outcome["done_last"] / runs,
        }
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--xquad", type=Path, default=XQUAD_DEV, help="SQuAD-format questions and articles")
    parser.add_argument("--limit", type=int, default=0, help="questions for the check (0: all)")
    parser.add_argument("--stream-runs", type=int, default=60, help="sequential runs for the streaming figure")
    parser.add_argument("--failure-runs", type=int, default=50, help="runs per injected failure")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--max-words", type=int, default=120)
    parser.add_argument("--out", type=Path, default=_OUT, help="where to write the JSON figures")
    args = parser.parse_args(argv)
    articles, questions = load_squad(args.xquad)
    checked = questions[: args.limit] if args.limit else questions
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ka-llm-") as tmp, _ModelServer() as model_url:
        root = Path(tmp)
        settings = Settings(
            provider="local", corpus=str(write_corpus(articles, root / "xquad.jsonl")), cache_dir=root / "cache",
            answer="llm", llm_base_url=model_url, llm_model="standin", llm_max_retries=0, llm_timeout=10,
            max_words=args.max_words,
        )

        async def figures() -> dict[str, Any]:
            marks = [time.perf_counter()]
            async with KnowledgeAggregator(settings) as agg:
                check = await _check_figures(agg, checked, args.concurrency, args.max_words)
                marks.append(time.perf_counter())
                stream = await _stream_figures(agg, questions[: args.stream_runs])
                marks.append(time.perf_counter())
            failures = await _failure_figures(settings, questions[: args.failure_runs], args.concurrency)
            marks.append(time.perf_counter())
            seconds = [round(b - a, 1) for a, b in itertools.pairwise(marks)]
            return {
                "seconds_per_part": dict(zip(("check", "streaming", "failures"), seconds, strict=True)),
                "check": check, "streaming": stream, "failures": failures,
            }

        result = asyncio.run(figures())
    report = {
        "data": relative(args.xquad),
        "questions_checked": len(checked),
        "concurrency": args.concurrency,
        "seconds": round(time.perf_counter() - started, 1),
        "machine": f"{platform.system()} {platform.machine()}, Python {platform.python_version()}",
        "targets": _TARGETS,
        **result,
    }
    write_json(args.out, report)
    print(_table(report))
    return 0


def _table(report: dict[str, Any]) -> str:
    check, stream, failures = report["check"], report["streaming"], report["failures"]
    fallback = min(f["extractive_synthesis"] for f in failures.values())
    rows = [
        ("planted unsupported sentences flagged", f"{check['planted_flagged']:.2%} of {check['planted_sentences']}", "≥ 95 %"),
        ("faithful sentences flagged", f"{check['faithful_flagged']:.2%} of {check['faithful_sentences']}", "≤ 5 %"),
        ("  verbatim", f"{check['faithful_verbatim_flagged']:.2%} of {check['faithful_verbatim_sentences']}", ""),
        ("  paraphrased", f"{check['faithful_paraphrase_flagged']:.2%} of {check['faithful_paraphrase_sentences']}", ""),
        *[(f"  flagged: {k}", f"{v['flagged']:.2%} of {v['planted']}", "") for k, v in check["per_fault"].items()],
        ("first synthesis_delta held after first token, p50 / p95",
         f"{stream['held_after_first_token_ms']['p50']} / {stream['held_after_first_token_ms']['p95']} ms", "≤ 20 ms"),
        ("runs ending with the extractive synthesis, worst failure", f"{fallback:.0%}", "100 %"),
        *[(f"  {k}: error event / extractive / done",
           f"{v['error_event']:.0%} / {v['extractive_synthesis']:.0%} / {v['done_last']:.0%} of {v['runs']}", "")
          for k, v in failures.items()],
    ]
    width = max(len(r[0]) for r in rows)
    lines = [f"{'figure':<{width}}  {'measured':<24}  target", "-" * (width + 36)]
    lines += [f"{a:<{width}}  {b:<24}  {c}" for a, b, c in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())

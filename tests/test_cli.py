"""The terminal face: ``knowledge-agg ask`` in its three formats, over the default pydocs corpus."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from knowledge_agg.cli import main
from knowledge_agg.events import TIMINGS, parse_event

QUESTION = "How do asynchronous generators work?"


def test_ndjson_is_one_event_per_line_in_contract_order(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", QUESTION, "--format", "ndjson", "--flags", "memory_tracking=on"]) == 0
    lines = capsys.readouterr().out.splitlines()
    events = [parse_event(line) for line in lines]  # every line is exactly one valid event
    types = [e.type for e in events]
    assert types[0] == "status" and types[-1] == "done"
    assert types.count("done") == 1 and "result" in types and "sources" in types and "passage" in types
    assert [e.seq for e in events] == list(range(len(events)))
    sources = next(e for e in events if e.type == "sources").sources
    synthesis = next(e for e in events if e.type == "synthesis")
    cited = {int(n) for n in re.findall(r"\[(\d+)\]", synthesis.text)}
    assert cited and cited <= {s.id for s in sources}
    metrics = events[-1].metrics
    for key in TIMINGS:
        assert isinstance(metrics[key], float)
    assert metrics["peak_memory_bytes"] > 0


def test_text_shows_each_section_and_a_timing_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", QUESTION, "--max-sources", "3", "--max-words", "60"]) == 0
    out = capsys.readouterr().out
    for heading in ("Results (local)", "Sources chosen", "Best passages", "Answer", "Sources:"):
        assert heading in out
    assert re.search(r"^\s+\[3\] .+: rank \d", out, re.M) and not re.search(r"^\s+\[4\] ", out, re.M)
    timings = r"first status [\d.]+ ms · first result [\d.]+ ms · source select [\d.]+ ms · synthesis [\d.]+ ms"
    assert re.search(timings + r" · total [\d.]+ ms · \d+ results · 3 sources · \d+ passages · 0 errors$", out, re.M)


def test_sse_frames_match_the_server_wire_format(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", QUESTION, "--format", "sse", "--flags", "content_fetch=off"]) == 0
    frames = [f for f in capsys.readouterr().out.split("\n\n") if f.strip()]
    for i, frame in enumerate(frames):
        event_line, id_line, data_line = frame.splitlines()
        data = json.loads(data_line.removeprefix("data: "))
        assert event_line == f"event: {data['type']}" and id_line == f"id: {i}" == f"id: {data['seq']}"


def test_refused_query_and_bad_flag_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", "   "]) == 2
    assert "empty" in capsys.readouterr().err.lower()
    assert main(["ask", QUESTION, "--flags", "warp_drive=on"]) == 2
    assert "unknown feature flag 'warp_drive'" in capsys.readouterr().err


def test_a_bad_setting_after_the_first_event_still_ends_the_stream_with_done(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KNOWLEDGE_AGG_MAX_WORDS", "3")  # read after the first status line is out
    assert main(["ask", QUESTION, "--format", "ndjson"]) == 2
    captured = capsys.readouterr()
    events = [parse_event(line) for line in captured.out.splitlines()]
    assert [(e.seq, e.type) for e in events] == [(0, "status"), (1, "error"), (2, "status"), (3, "done")]
    assert "max_words" in events[1].message and not events[1].recoverable and events[3].partial
    assert captured.err.count("\n") == 1 and "invalid setting (max_words" in captured.err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["ask", QUESTION, "--max-sources", "0"], "knowledge-agg ask: error: argument --max-sources: must be >= 1"),
        (["ask", QUESTION, "--max-words", "5000"], "knowledge-agg ask: error: argument --max-words: must be <= 2000"),
        (["ask", QUESTION, "--max-passages", "many"],
         "knowledge-agg ask: error: argument --max-passages: invalid int value: 'many'"),
        (["serve", "--port", "70000"], "knowledge-agg serve: error: argument --port: must be <= 65535"),
        (["runs", "--limit", "0"], "knowledge-agg runs: error: argument --limit: must be >= 1"),
    ],
)
def test_a_bad_option_value_is_one_argparse_line(capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    err = capsys.readouterr().err
    assert exited.value.code == 2
    assert err.splitlines()[-1] == message and err.startswith("usage: knowledge-agg ")
    assert "pydantic" not in err and "http" not in err


@pytest.mark.parametrize(("name", "refusal"), [
    ("nowhere", "is not a folder, a .jsonl file or 'pydocs'."),
    ("gone.jsonl", "does not exist; pass a .jsonl file."),
])
def test_a_missing_corpus_is_a_usage_error_naming_the_path(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, name: str, refusal: str
) -> None:
    missing = tmp_path / name
    with pytest.raises(SystemExit) as exited:
        main(["ask", "hello", "--corpus", str(missing)])
    captured = capsys.readouterr()
    assert exited.value.code == 2 and captured.out == ""
    last = captured.err.splitlines()[-1]
    assert last.startswith("knowledge-agg ask: error: argument --corpus: ") and last.endswith(f"{missing} {refusal}")


def test_no_answer_exits_1(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    corpus = tmp_path / "notes.jsonl"
    corpus.write_text(json.dumps({"id": "bread", "title": "Bread", "text": "Bread is flour, water and salt."}) + "\n")
    # by meaning too (the default), a page must come close enough to answer a question none of whose words it has
    for flags in ("semantic=on", "semantic=off"):
        assert main(["ask", "quantum chromodynamics", "--corpus", str(corpus), "--flags", flags]) == 1
        assert "No relevant sources" in capsys.readouterr().out
    assert main(["ask", "what goes into a loaf", "--corpus", str(corpus), "--flags", "semantic=on"]) == 0  # no word shared
    assert main(["ask", "how is bread made", "--corpus", str(corpus)]) == 0


def test_a_failed_search_exits_1(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as closed:  # a loopback port that nothing listens on
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}"
    monkeypatch.setenv("BRAVE_API_KEY", "k")
    monkeypatch.setenv("KNOWLEDGE_AGG_BRAVE_BASE_URL", url)
    monkeypatch.setenv("KNOWLEDGE_AGG_BRAVE_MAX_RETRIES", "0")
    assert main(["ask", QUESTION, "--provider", "brave", "--no-cache"]) == 1
    assert "! searching" in capsys.readouterr().err


def test_help_lists_the_exit_statuses(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["ask", "--help"])
    out = capsys.readouterr().out
    assert exited.value.code == 0
    statuses = re.findall(r"^\s+(\d+)\s+\w", out.split("exit status:")[1], re.M)
    assert statuses == ["0", "1", "2", "130", "141"]


def test_runs_lists_stored_runs_and_show_prints_one_as_ask_did(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("KNOWLEDGE_AGG_STORE", str(tmp_path / "runs.sqlite3"))
    assert main(["runs"]) == 0
    assert "no runs stored yet" in capsys.readouterr().err
    assert main(["ask", QUESTION, "--format", "ndjson"]) == 0
    asked = capsys.readouterr().out
    assert main(["ask", "What does functools.lru_cache do?", "--format", "ndjson"]) == 0
    capsys.readouterr()
    assert main(["runs"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert len(listed) == 2 and listed[1].endswith(QUESTION) and " done " in listed[1]
    run_id = listed[1].split()[0]
    assert main(["show", run_id, "--format", "ndjson"]) == 0
    assert capsys.readouterr().out == asked
    assert main(["show", run_id]) == 0
    text = capsys.readouterr().out
    assert text.startswith(f"{QUESTION}  (done, run {run_id})") and "Answer" in text
    assert main(["runs", "--query", "LRU"]) == 0
    assert "lru_cache" in capsys.readouterr().out
    assert main(["show", "no-such-run"]) == 2
    assert "no run 'no-such-run'" in capsys.readouterr().err
    monkeypatch.setenv("KNOWLEDGE_AGG_STORE", "off")
    assert main(["runs"]) == 2
    assert "run store is off" in capsys.readouterr().err


def test_a_reader_that_goes_away_ends_the_command_quietly() -> None:
    # `knowledge-agg ask ... | head -1`: the pipe closes while events are still being written
    proc = subprocess.Popen(
        [sys.executable, "-m", "knowledge_agg.cli", "ask", "asyncio tasks", "--format", "ndjson"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait(timeout=120) == 141
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr

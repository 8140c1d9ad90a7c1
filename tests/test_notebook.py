"""The live view and its text fallback, driven by real runs over the local pydocs index."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator

import pytest

from knowledge_agg.aggregator import KnowledgeAggregator
from knowledge_agg.errors import MissingDependency
from knowledge_agg.events import Event
from knowledge_agg.notebook import LiveView, TextView, live, live_sync
from knowledge_agg.settings import Settings

QUESTION = "How do I parse JSON text into a Python object?"


async def _events(settings: Settings, query: str = QUESTION) -> list[Event]:
    async with KnowledgeAggregator(settings) as agg:
        return (await agg.run(query)).events


def _clock(step: float) -> Iterator[float]:
    t = 0.0
    while True:
        yield t
        t += step


async def test_live_view_shows_every_part_of_a_real_run(settings: Settings) -> None:
    events = await _events(settings)
    view = LiveView(QUESTION)
    for event in events:
        view.feed(event)
    view.finish()
    run = view.run
    assert run.events == events
    assert QUESTION in view.header.value
    assert "done" in view.stage.value
    assert view.bar.value == 1.0 and view.bar.bar_style == "success"
    assert run.results[0].url in view.results.value
    assert all(f"[{s.id}]" in view.sources.value for s in run.sources)
    assert len(view.passages.children) == len(run.passages) == len(view.passages.titles)
    assert "total" in view.metrics.value
    # The synthesis is Markdown whose citations link to the cited sources' pages.
    (output,) = view.synthesis.outputs
    markdown = output["data"]["text/markdown"]
    links = re.findall(r"\[\\\[(\d+)\\\]\]\(([^)]+)\)", markdown)
    assert links
    urls = {s.id: s.url for s in run.sources}
    assert all(urls[int(n)] == url for n, url in links)
    # Empty sections stay hidden; filled ones are shown.
    assert view._sections[view.errors].layout.display == "none"
    assert view._sections[view.sources].layout.display is None


async def test_renders_are_throttled_to_the_interval(settings: Settings) -> None:
    events = await _events(settings)
    ticks = _clock(0.001)  # 1 ms passes between clock reads: a stream far faster than 10 a second
    view = LiveView(QUESTION, interval=0.1, clock=lambda: next(ticks))
    for event in events * 20:
        view.feed(event)
    elapsed = next(ticks)
    assert 1 <= view.renders <= elapsed / 0.1 + 1
    view.finish()
    assert view.renders >= 2  # the final render always happens


def test_repr_mimebundle_has_a_stable_text_form() -> None:
    bundle = LiveView("q?")._repr_mimebundle_()
    assert bundle["text/plain"] == "<live view of 'q?'>"
    assert "application/vnd.jupyter.widget-view+json" in bundle


async def test_text_view_writes_stages_then_the_run(settings: Settings) -> None:
    lines: list[str] = []
    view = TextView(QUESTION, write=lines.append)
    for event in await _events(settings):
        view.feed(event)
    view.finish()
    stages = [re.search(r"ms\] (\w+):", line)[1] for line in lines[:-1]]  # type: ignore[index]
    assert stages[0] == "started" and stages[-1] == "done"
    assert len(stages) == len(set(stages))
    assert view.run.answer in lines[-1]


async def test_text_view_reports_an_invalid_query(settings: Settings) -> None:
    lines: list[str] = []
    view = TextView("", write=lines.append)
    for event in await _events(settings, ""):
        view.feed(event)
    view.finish()
    assert any("! invalid_query" in line for line in lines)
    assert view.run.partial


async def test_live_awaited_without_a_front_end_returns_the_run(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    run = await live(QUESTION, settings=settings, max_sources=2)
    assert run.done is not None and not run.partial
    assert len(run.sources) <= 2
    out = capsys.readouterr().out
    assert "searching" in out and run.sources[0].url in out


async def test_live_sync_inside_a_running_loop(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    # As in a Jupyter cell: a loop is running, and the sync form must neither block it nor need it.
    run = live_sync(QUESTION, settings=settings, widgets=True)
    assert run.synthesis is not None
    assert {p.source_id for p in run.passages} <= {s.id for s in run.sources}


def test_live_sync_in_a_plain_script(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    run = live_sync(QUESTION, settings=settings, widgets=False)
    assert run.done is not None
    assert "synthesizing" in capsys.readouterr().out


async def test_live_with_a_given_aggregator_leaves_it_open(settings: Settings) -> None:
    async with KnowledgeAggregator(settings) as agg:
        first = await live(QUESTION, aggregator=agg, widgets=True)
        second = await live("What is a generator expression?", aggregator=agg, widgets=True)
    assert first.results and second.results


async def test_unknown_option_is_refused(settings: Settings) -> None:
    with pytest.raises(ValueError):
        await live(QUESTION, settings=settings, widgets=False, no_such_option=True)


def test_missing_ipywidgets_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ipywidgets", None)
    with pytest.raises(MissingDependency, match=r"pip install 'knowledge-agg\[notebook\]'"):
        LiveView("q")

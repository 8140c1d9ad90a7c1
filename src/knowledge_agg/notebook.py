"""A live ipywidgets view of a run for Jupyter, with a text fallback where no widget front end exists.

``await live(query)`` consumes the event stream on the kernel's own loop and updates the widgets
from the kernel thread, the case ipywidgets supports best. ``live_sync(query)`` works in a cell
without ``await``: Jupyter's loop is already running and cannot be re-entered, so the run gets a
private event loop in a worker thread while the cell's thread waits for it; widget updates made
from that thread go out through ipykernel's thread-safe IOPub channel, so the view stays live.
nest-asyncio is not used: it patches the kernel's loop for the whole session, lets other cells'
callbacks run in the middle of ours, and breaks with loops it does not know. Every ``display``
happens in the cell's thread, so output lands in the right cell.

Renders are throttled (at most one per ``interval``, 0.1 s: about 10 a second), whatever the
stream's pace; a ticker keeps the elapsed time moving between events, and a last render at the
end always shows the final state.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from ._render import cite_markdown, errors_html, metrics_line, results_html, run_html, run_text, sources_html
from ._sync import run_sync
from .aggregator import KnowledgeAggregator
from .errors import require
from .events import ErrorEvent, Event, PassageEvent, StatusEvent, SynthesisDeltaEvent
from .run import Run
from .settings import Settings

__all__ = ["live", "live_sync", "synthesis_markdown", "LiveView", "TextView"]


class LiveView:
    """The widget view of one run: stage, progress, elapsed time, results, sources, passages, answer."""

    def __init__(self, query: str, *, interval: float = 0.1, clock: Callable[[], float] = time.monotonic) -> None:
        w = require("ipywidgets", "notebook")
        self.query, self.interval, self._clock = query, interval, clock
        self.run = Run(query)
        self.renders = 0
        self._start = clock()
        self._last = float("-inf")
        self._dirty = False
        self._stage, self._message, self._progress = "started", "", 0.0
        self._lock = threading.Lock()
        self.header = w.HTML(f"<b>{_esc(query)}</b>")
        self.stage = w.HTML("started")
        self.bar = w.FloatProgress(value=0.0, min=0.0, max=1.0, layout=w.Layout(width="50%"))
        self.elapsed = w.HTML("0.0 s")
        self.results = w.HTML()
        self.sources = w.HTML()
        self.passages = w.Accordion(children=())
        self.synthesis = w.Output()
        self._written = ""  # the written answer shown so far, while it streams
        self._final = False  # the checked synthesis is shown
        self.errors = w.HTML()
        self.metrics = w.HTML()
        sections = [("Synthesis", self.synthesis), ("Sources", self.sources), ("Passages", self.passages),
                    ("Results", self.results), ("Errors", self.errors), ("Metrics", self.metrics)]
        self._sections = {child: w.VBox([w.HTML(f"<h4 style='margin:4px 0'>{title}</h4>"), child],
                                        layout=w.Layout(display="none")) for title, child in sections}
        status = w.HBox([self.stage, self.bar, self.elapsed])
        self.widget = w.VBox([self.header, status, *self._sections.values()])

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        # A fixed text/plain, so a notebook run without a widget front end (nbval) compares stably.
        bundle = dict(self.widget._repr_mimebundle_(**kwargs) or {})
        bundle["text/plain"] = f"<live view of {self.query!r}>"
        return bundle

    def feed(self, event: Event) -> None:
        """Take one event; render if the last render is at least ``interval`` old."""
        with self._lock:
            self.run.events.append(event)
            if isinstance(event, StatusEvent):
                self._stage, self._message, self._progress = event.stage, event.message, event.progress
            self._dirty = True
        self.tick()

    def tick(self, force: bool = False) -> None:
        """Render pending changes (and the elapsed time) unless the throttle says wait."""
        now = self._clock()
        if not force and now - self._last < self.interval:
            return
        self._last = now
        self.elapsed.value = f"{now - self._start:.1f} s"
        with self._lock:
            if not (self._dirty or force):
                return
            self._dirty = False
            self._render()

    def finish(self, note: str | None = None) -> None:
        """The final render, with the metrics and a note such as "cancelled"."""
        if note:
            self._message = note
        self.tick(force=True)
        done = self.run.done
        if done is not None:
            self.elapsed.value = f"{done.metrics.get('total_ms', 0) / 1000:.2f} s"
            self.bar.value = 1.0
            self.bar.bar_style = "warning" if done.partial else "success"

    def _render(self) -> None:
        run = self.run
        self.renders += 1
        self.stage.value = f"<b>{_esc(self._stage)}</b> <small>{_esc(self._message[:80])}</small>"
        self.bar.value = self._progress
        self._show(self.results, results_html(run.results, limit=20) if run.results else "")
        self._show(self.sources, sources_html(run.sources) if run.sources else "")
        self._show(self.errors, errors_html(run.errors))
        self._show(self.metrics, _esc(metrics_line(run.metrics)) if run.done else "")
        self._render_passages(run.passages)
        if run.synthesis and not self._final:
            self._final = True
            self._show_synthesis(cite_markdown(run.synthesis.text, run.sources), run.synthesis.text)
        elif not run.synthesis:
            written = "".join(e.text for e in run.events if isinstance(e, SynthesisDeltaEvent))
            if written != self._written:  # the written answer so far, with a cursor while it streams
                self._written = written
                self._show_synthesis(cite_markdown(written, run.sources) + " ▍", written)

    def _show_synthesis(self, markdown: str, plain: str) -> None:
        self.synthesis.outputs = (
            {"output_type": "display_data", "metadata": {}, "data": {"text/markdown": markdown, "text/plain": plain}},
        )
        self._sections[self.synthesis].layout.display = None

    def _render_passages(self, passages: list[PassageEvent]) -> None:
        shown = len(self.passages.children)
        if len(passages) == shown:
            return
        w = require("ipywidgets", "notebook")
        new = [w.HTML(f"<blockquote>{_esc(p.text)}</blockquote>") for p in passages[shown:]]
        self.passages.children = (*self.passages.children, *new)
        self.passages.titles = tuple(f"[{p.source_id}] score {p.score:.2f}: {p.text[:60]}" for p in passages)
        self._sections[self.passages].layout.display = None

    def _show(self, child: Any, html: str) -> None:
        child.value = html
        self._sections[child].layout.display = None if html else "none"


class TextView:
    """The fallback without a widget front end: one line per stage and error, then the whole run."""

    def __init__(self, query: str, *, write: Callable[[str], object] | None = None) -> None:
        self.run = Run(query)
        self._write = write or sys.stdout.write
        self._stage: str | None = None
        self._streaming = False

    def feed(self, event: Event) -> None:
        """Print a line when a new stage starts or an error arrives, and a written answer as it streams."""
        self.run.events.append(event)
        if isinstance(event, SynthesisDeltaEvent):
            if not self._streaming:
                self._streaming = True
                self._write(f"[{event.t_ms:8.0f} ms] written answer: ")
            self._write(event.text)
            return
        if self._streaming:
            self._streaming = False
            self._write("\n")
        if isinstance(event, StatusEvent) and event.stage != self._stage:
            self._stage = event.stage
            self._write(f"[{event.t_ms:8.0f} ms] {event.stage}: {event.message}\n")
        elif isinstance(event, ErrorEvent):
            self._write(f"[{event.t_ms:8.0f} ms] ! {event.kind}: {event.message}\n")

    def tick(self, force: bool = False) -> None:
        """Nothing to refresh: text is written as events arrive."""

    def finish(self, note: str | None = None) -> None:
        """The whole run: HTML in a notebook, text elsewhere."""
        if note:
            self._write(f"({note})\n")
        if _in_kernel():
            from IPython.display import HTML, display

            display(HTML(run_html(self.run)))
        else:
            self._write(run_text(self.run) + "\n")


def _esc(text: str) -> str:
    from html import escape

    return escape(text)


def _in_kernel() -> bool:
    """Whether we run in a Jupyter kernel (where a widget front end may be attached)."""
    shell = sys.modules.get("IPython") and sys.modules["IPython"].get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def _make_view(query: str, widgets: bool | None) -> LiveView | TextView:
    use_widgets = _in_kernel() if widgets is None else widgets
    if use_widgets:
        view = LiveView(query)
        from IPython.display import display

        display(view)
        return view
    return TextView(query)


async def _ticker(view: LiveView | TextView) -> None:
    while True:
        await asyncio.sleep(0.1)
        view.tick()


async def _drive(
    view: LiveView | TextView, query: str, settings: Settings | None, aggregator: KnowledgeAggregator | None,
    options: dict[str, Any],
) -> Run:
    agg = aggregator if aggregator is not None else KnowledgeAggregator(settings)
    ticker = asyncio.create_task(_ticker(view))
    note = None
    try:
        async with agg.stream(query, **options) as stream:
            async for event in stream:
                view.feed(event)
    except asyncio.CancelledError:
        note = "cancelled"
        raise
    finally:
        ticker.cancel()
        await asyncio.gather(ticker, return_exceptions=True)
        view.finish(note)
        if aggregator is None:
            await agg.aclose()
    return view.run


async def live(
    query: str, *, settings: Settings | None = None, aggregator: KnowledgeAggregator | None = None,
    widgets: bool | None = None, **options: Any,
) -> Run:
    """Run ``query`` while showing it live; returns the finished :class:`Run` (``await`` it in a cell)."""
    view = _make_view(query, widgets)
    return await _drive(view, query, settings, aggregator, options)


def live_sync(query: str, *, settings: Settings | None = None, widgets: bool | None = None, **options: Any) -> Run:
    """:func:`live` without ``await``: in Jupyter the run goes to a private loop in a worker thread."""
    view = _make_view(query, widgets)  # shown from the caller's thread, in the cell that asked
    return run_sync(_drive(view, query, settings, None, options))


def synthesis_markdown(run: Run) -> Any:
    """The run's synthesis as an IPython ``Markdown`` object whose ``[n]`` citations link to their sources."""
    require("IPython", "notebook")
    from IPython.display import Markdown

    return Markdown(cite_markdown(run.answer, run.sources))

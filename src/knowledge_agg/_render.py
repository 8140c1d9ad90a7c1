"""Compact HTML, Markdown and text renderings of a run, shared by ``Run._repr_html_`` and the live view.

Pure standard library, so a run renders in plain IPython and nbval without ipywidgets or pandas.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from html import escape
from typing import TYPE_CHECKING, Any

from .events import COUNTS, PEAK_MEMORY, TIMINGS, ErrorEvent, PassageEvent, ResultEvent, SourceInfo
from .synthesize import UNSUPPORTED_MARK

if TYPE_CHECKING:
    from .run import Run

__all__ = [
    "cite_markdown",
    "cite_html",
    "results_html",
    "sources_html",
    "passages_html",
    "errors_html",
    "metrics_line",
    "run_html",
    "run_text",
]

_CITATION = re.compile(r"\[(\d+)\]")
#: How the synthesis text marks a sentence its citations do not support (see ``synthesize.markdown``).
_UNSUPPORTED = re.compile(re.escape(UNSUPPORTED_MARK).replace(re.escape("{reason}"), "[^)]*"))
_TABLE = 'style="border-collapse:collapse;font-size:90%;text-align:left"'


def cite_markdown(text: str, sources: Sequence[SourceInfo]) -> str:
    """Markdown ``text`` with each ``[n]`` turned into a link to source n (and line breaks kept)."""
    urls = {s.id: s.url for s in sources}

    def link(match: re.Match[str]) -> str:
        n = int(match[1])
        return f"[\\[{n}\\]]({urls[n]})" if n in urls else match[0]

    return _CITATION.sub(link, text).replace("\n", "  \n")


def cite_html(text: str, sources: Sequence[SourceInfo]) -> str:
    """The synthesis as HTML paragraphs, each ``[n]`` a link to source n."""
    by_id = {s.id: s for s in sources}

    def link(match: re.Match[str]) -> str:
        source = by_id.get(int(match[1]))
        if source is None:
            return match[0]
        return f'<a href="{escape(source.url)}" title="{escape(source.title)}" target="_blank">[{source.id}]</a>'

    def mark(match: re.Match[str]) -> str:
        return f'<span style="color:#a00;font-weight:bold">{match[0]}</span>'

    paragraphs = (p for p in text.split("\n\n") if p.strip())
    return "".join(
        f"<p>{_CITATION.sub(link, _UNSUPPORTED.sub(mark, escape(p, quote=False))).replace(chr(10), '<br>')}</p>"
        for p in paragraphs
    )


#: Inline, because JupyterLab's table styles do not reach HTML inside widgets.
_CELL = 'style="padding:2px 8px;text-align:left;vertical-align:top"'


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    head = "".join(f"<th {_CELL}>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td {_CELL}>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table {_TABLE}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _link(url: str, text: str) -> str:
    return f'<a href="{escape(url)}" target="_blank">{escape(text or url)}</a>'


def results_html(results: Sequence[ResultEvent], limit: int = 10) -> str:
    """The search hits as a table (the first ``limit``, then a count of the rest)."""
    rows = [(str(r.rank), _link(r.url, r.title), escape(r.domain), escape(r.snippet[:140])) for r in results[:limit]]
    more = f"<div>… and {len(results) - limit} more</div>" if len(results) > limit else ""
    return _table(("#", "title", "domain", "snippet"), rows) + more


def sources_html(sources: Sequence[SourceInfo]) -> str:
    """The chosen sources with their citation number, score and the reason they were chosen."""
    rows = [(f"[{s.id}]", _link(s.url, s.title), escape(s.domain), f"{s.score:.3f}", escape(s.reason)) for s in sources]
    return _table(("id", "title", "domain", "score", "reason"), rows)


def passages_html(passages: Sequence[PassageEvent]) -> str:
    """The passages, each in a collapsible ``<details>`` headed by its source and score."""
    return "".join(
        f"<details><summary>[{p.source_id}] score {p.score:.3f} — {escape(p.text[:90])}…</summary>"
        f"<blockquote>{escape(p.text)}</blockquote></details>"
        for p in passages
    )


def errors_html(errors: Sequence[ErrorEvent]) -> str:
    """One line per error: stage, kind, message and the page concerned."""
    lines = (
        f"<li><b>{escape(e.stage)}</b> {escape(e.kind)}: {escape(e.message)}"
        f"{' — ' + escape(e.url) if e.url else ''}{'' if e.recoverable else ' (fatal)'}</li>"
        for e in errors
    )
    return f'<ul style="color:#a00">{"".join(lines)}</ul>' if errors else ""


def metrics_line(metrics: Mapping[str, Any]) -> str:
    """The run's metrics as one line of text (the CLI's, the notebook's): timings, peak memory, counts.

    A timing the run never reached (``None``) and a peak that was not measured are left out.
    """
    parts = [f"{k.removesuffix('_ms').replace('_', ' ')} {_ms(metrics[k])}" for k in TIMINGS if metrics.get(k) is not None]
    if metrics.get(PEAK_MEMORY) is not None:
        parts.append(f"peak {metrics[PEAK_MEMORY] / 1e6:.1f} MB")
    parts += [f"{metrics[k]} {k}" for k in COUNTS if k in metrics]
    return " · ".join(parts)


def _ms(value: float) -> str:
    return f"{value:.0f} ms" if value >= 10 else f"{value:.1f} ms"


def run_html(run: Run) -> str:
    """A finished run as compact HTML: answer, sources, errors, metrics and the hits folded away."""
    state = "partial" if run.partial else "complete"
    parts = [f"<div><b>{escape(run.query)}</b> <i>({state})</i></div>"]
    if run.synthesis:
        parts.append(cite_html(run.synthesis.text, run.sources))
    if run.sources:
        parts.append(sources_html(run.sources))
    parts.append(errors_html(run.errors))
    parts.append(f"<div><small>{escape(metrics_line(run.metrics))}</small></div>")
    if run.results:
        parts.append(f"<details><summary>{len(run.results)} search results</summary>{results_html(run.results)}</details>")
    if run.passages:
        parts.append(f"<details><summary>{len(run.passages)} passages</summary>{passages_html(run.passages)}</details>")
    return "".join(parts)


def run_text(run: Run) -> str:
    """A finished run as plain text, for terminals and plain IPython."""
    lines = [f"{run.query} ({'partial' if run.partial else 'complete'})", run.answer]
    lines += [f"[{s.id}] {s.title} — {s.url} (score {s.score:.3f})" for s in run.sources]
    lines += [f"! {e.stage} {e.kind}: {e.message}" for e in run.errors]
    lines.append(metrics_line(run.metrics))
    return "\n".join(line for line in lines if line)

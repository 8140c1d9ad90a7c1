"""Events → pandas DataFrames with deliberate dtypes, and their CSV, Parquet and JSON exports.

Every frame is built the same way: plain rows taken from the events, then :func:`conform`,
which casts each known column to its declared dtype. Reading an export back applies the
same cast, so ``load(export(df, path), kind)`` equals ``df`` for CSV, Parquet and JSON alike.
Empty text is recorded as missing (``<NA>``), because CSV cannot tell the two apart.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from .errors import require
from .events import (
    ANSWER_TIMINGS,
    COUNTS,
    METRICS,
    PEAK_MEMORY,
    STAGES,
    TIMINGS,
    AnalysisEvent,
    DoneEvent,
    ErrorEvent,
    Event,
    PassageEvent,
    ResultEvent,
    SourcesEvent,
    StatusEvent,
    SynthesisDeltaEvent,
    SynthesisEvent,
)

if TYPE_CHECKING:
    import pandas as pd

    from .run import Run

__all__ = [
    "FrameKind",
    "parse_age",
    "frame",
    "results_frame",
    "sources_frame",
    "passages_frame",
    "points_frame",
    "events_frame",
    "metrics_frame",
    "conform",
    "export",
    "load",
]

FrameKind = Literal["results", "sources", "passages", "points", "events", "metrics"]

# Column → dtype name; "stage" is an ordered category over STAGES, "utc" a UTC datetime.
_SCHEMAS: dict[str, dict[str, str]] = {
    "results": {
        "seq": "Int64", "t_ms": "float64", "rank": "Int64", "title": "string", "url": "string",
        "domain": "category", "provider": "category", "snippet": "string", "age": "string",
        "published": "utc",
    },
    "sources": {
        "id": "Int64", "url": "string", "title": "string", "domain": "category",
        "score": "float64", "reason": "string", "passages": "Int64", "cited": "boolean",
    },
    "passages": {
        "seq": "Int64", "t_ms": "float64", "source_id": "Int64", "domain": "category",
        "url": "string", "score": "float64", "words": "Int64", "text": "string",
    },
    "points": {
        "point": "Int64", "text": "string", "source_ids": "string", "supported": "boolean",
        "support": "float64", "reason": "string",
    },
    "events": {
        "seq": "Int64", "t_ms": "float64", "type": "category", "stage": "stage", "kind": "category",
        "summary": "string", "progress": "float64", "url": "string", "recoverable": "boolean",
    },
    "metrics": {
        "partial": "boolean", **{t: "float64" for t in (*TIMINGS, *ANSWER_TIMINGS)}, PEAK_MEMORY: "Int64",
        **{c: "Int64" for c in COUNTS},
        "error": "string",
    },
}

_AGO = re.compile(r"^(\d+)\s+(second|minute|hour|day|week|month|year)s?\s+ago$", re.IGNORECASE)
_UNIT_DAYS = {"week": 7.0, "month": 30.0, "year": 365.0}


def _pd() -> Any:
    return require("pandas", "notebook")


def parse_age(age: str | None, now: datetime | None = None) -> datetime | None:
    """A page's publication time from Brave's ``page_age`` (ISO) or ``age`` ("May 3, 2020", "4 days ago")."""
    if not age:
        return None
    text = age.strip()
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    except ValueError:
        pass
    for fmt in ("%B %d, %Y", "%b %d, %Y"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    match = _AGO.match(text)
    if match is None:
        return None
    count, unit = int(match[1]), match[2].lower()
    delta = timedelta(days=count * _UNIT_DAYS[unit]) if unit in _UNIT_DAYS else timedelta(**{unit + "s": count})
    return (now or datetime.now(UTC)) - delta


def _result_rows(run: Run, now: datetime | None) -> Iterator[dict[str, Any]]:
    for e in run.results:
        yield {
            "seq": e.seq, "t_ms": e.t_ms, "rank": e.rank, "title": e.title, "url": e.url,
            "domain": e.domain, "provider": e.provider, "snippet": e.snippet, "age": e.age,
            "published": parse_age(e.age, now),
        }


def _source_rows(run: Run) -> Iterator[dict[str, Any]]:
    cited = {i for p in (run.synthesis.points if run.synthesis else []) for i in p.source_ids}
    for s in run.sources:
        yield {
            **s.model_dump(), "passages": sum(p.source_id == s.id for p in run.passages),
            "cited": s.id in cited,
        }


def _passage_rows(run: Run) -> Iterator[dict[str, Any]]:
    domains = {s.id: s.domain for s in run.sources}
    for e in run.passages:
        yield {
            "seq": e.seq, "t_ms": e.t_ms, "source_id": e.source_id, "domain": domains.get(e.source_id),
            "url": e.url, "score": e.score, "words": len(e.text.split()), "text": e.text,
        }


def _point_rows(run: Run) -> Iterator[dict[str, Any]]:
    for i, p in enumerate(run.synthesis.points if run.synthesis else [], start=1):
        yield {
            "point": i, "text": p.text, "source_ids": ",".join(map(str, p.source_ids)),
            "supported": p.supported, "support": p.support, "reason": p.reason,
        }


def _summary(e: Event) -> tuple[str | None, str]:
    """The ``kind`` and a one-line summary of an event, for the events frame."""
    match e:
        case StatusEvent():
            return None, e.message
        case AnalysisEvent():
            return e.kind, e.search_query
        case ResultEvent():
            return e.provider, e.title
        case SourcesEvent():
            return None, ", ".join(f"[{s.id}] {s.domain or s.url}" for s in e.sources)
        case PassageEvent():
            return None, e.text[:80]
        case SynthesisDeltaEvent():
            return None, e.text
        case SynthesisEvent():
            return None, e.text.split("\n", 1)[0][:120]
        case ErrorEvent():
            return e.kind, e.message
        case DoneEvent():
            return None, "partial" if e.partial else "complete"
    return None, ""


def _event_rows(run: Run) -> Iterator[dict[str, Any]]:
    # Events without a stage of their own are tagged with the stage in progress when they arrived.
    stage: str | None = None
    for e in run.events:
        if isinstance(e, StatusEvent):
            stage = e.stage
        kind, summary = _summary(e)
        yield {
            "seq": e.seq, "t_ms": e.t_ms, "type": e.type,
            "stage": e.stage if isinstance(e, ErrorEvent) else stage, "kind": kind, "summary": summary,
            "progress": e.progress if isinstance(e, StatusEvent) else None,
            "url": getattr(e, "url", None),
            "recoverable": e.recoverable if isinstance(e, ErrorEvent) else None,
        }


def _metrics_row(run: Run, error: str | None = None) -> dict[str, Any]:
    metrics = run.metrics
    fatal = next((e.message for e in run.errors if not e.recoverable), None)
    return {
        "partial": run.partial, **{k: metrics.get(k) for k in METRICS}, "error": error or fatal,
    }


def _rows(kind: FrameKind, run: Run, now: datetime | None) -> Iterator[dict[str, Any]]:
    if kind == "results":
        return _result_rows(run, now)
    if kind == "sources":
        return _source_rows(run)
    if kind == "passages":
        return _passage_rows(run)
    if kind == "points":
        return _point_rows(run)
    if kind == "events":
        return _event_rows(run)
    raise ValueError(f"unknown frame kind {kind!r}; choose one of {sorted(_SCHEMAS)}")


def conform(df: pd.DataFrame, kind: FrameKind) -> pd.DataFrame:
    """Cast ``df``'s known columns to the dtypes of frame ``kind`` (and ``query`` to a category)."""
    schema = {"query": "category", **_SCHEMAS[kind]}
    out = df.copy()
    for column, dtype in schema.items():
        if column in out:
            out[column] = _cast(out[column], dtype)
    return out.reset_index(drop=True)


def _cast(values: pd.Series, dtype: str) -> pd.Series:
    pd = _pd()
    if dtype == "utc":
        return pd.to_datetime(values, utc=True, format="ISO8601").astype("datetime64[ns, UTC]")
    if dtype in ("string", "category", "stage"):
        text = values.astype("string").replace("", pd.NA)
        if dtype == "stage":
            return text.astype(pd.CategoricalDtype(STAGES, ordered=True))
        return text.astype("category") if dtype == "category" else text
    converters: dict[str, Callable[[Any], Any]] = {"boolean": _to_bool, "Int64": lambda v: int(float(v)), "float64": float}
    convert = converters[dtype]
    converted = [None if _missing(v) else convert(v) for v in values]
    return pd.Series(pd.array(converted, dtype=dtype), index=values.index, name=values.name)


def _missing(value: Any) -> bool:
    return value is None or value is _pd().NA or (isinstance(value, float) and math.isnan(value))


def _to_bool(value: Any) -> bool:
    return value.lower() == "true" if isinstance(value, str) else bool(value)


def _jsonable(value: Any) -> Any:
    """A frame cell as a JSON value: missing → null, times → ISO text, numpy scalars → Python."""
    if _missing(value) or value is _pd().NaT:
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value.item() if hasattr(value, "item") else value


def frame(kind: FrameKind, runs: Sequence[Run], *, now: datetime | None = None) -> pd.DataFrame:
    """One frame of ``kind`` over several runs, with a leading ``query`` column (for batches)."""
    pd = _pd()
    if kind == "metrics":
        return metrics_frame(runs)
    rows = [{"query": run.query, **row} for run in runs for row in _rows(kind, run, now)]
    return conform(pd.DataFrame(rows, columns=["query", *_SCHEMAS[kind]]), kind)


def _single(kind: FrameKind, run: Run, now: datetime | None = None) -> pd.DataFrame:
    rows = list(_rows(kind, run, now))
    return conform(_pd().DataFrame(rows, columns=list(_SCHEMAS[kind])), kind)


def results_frame(run: Run, *, now: datetime | None = None) -> pd.DataFrame:
    """Search hits in arrival order; ``published`` parses Brave's age (relative ages count back from ``now``)."""
    return _single("results", run, now)


def sources_frame(run: Run) -> pd.DataFrame:
    """The chosen sources, with how many passages each gave and whether the synthesis cites it."""
    return _single("sources", run)


def passages_frame(run: Run) -> pd.DataFrame:
    """The ranked passages, with their source's domain and word count."""
    return _single("passages", run)


def points_frame(run: Run) -> pd.DataFrame:
    """The synthesis sentence by sentence: what each cites, and whether the cited passages support it."""
    return _single("points", run)


def events_frame(run: Run) -> pd.DataFrame:
    """Every event as one row: when it came, its type, the stage it arrived in and a summary."""
    return _single("events", run)


def metrics_frame(runs: Sequence[Run], errors: Sequence[str | None] | None = None) -> pd.DataFrame:
    """One row per run: its query, whether it was partial, its timings, counts and error (if any)."""
    pd = _pd()
    errors = errors if errors is not None else [None] * len(runs)
    rows = [{"query": run.query, **_metrics_row(run, err)} for run, err in zip(runs, errors, strict=True)]
    return conform(pd.DataFrame(rows, columns=["query", *_SCHEMAS["metrics"]]), "metrics")


def _format(path: Path, fmt: str | None) -> str:
    fmt = (fmt or path.suffix.lstrip(".")).lower()
    if fmt not in ("csv", "parquet", "json"):
        raise ValueError(f"cannot tell the format of {path.name!r}: use .csv, .parquet or .json (or pass fmt=)")
    return fmt


def export(df: pd.DataFrame, path: str | Path, *, fmt: str | None = None) -> Path:
    """Write ``df`` as CSV, Parquet or JSON (records), chosen by ``fmt`` or the file's suffix."""
    path = Path(path)
    kind = _format(path, fmt)
    if kind == "csv":
        df.to_csv(path, index=False)
    elif kind == "parquet":
        require("pyarrow", "notebook")
        df.to_parquet(path, index=False)
    else:
        records = [{k: _jsonable(v) for k, v in row.items()} for row in df.to_dict(orient="records")]
        path.write_text(json.dumps(records, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


def load(path: str | Path, kind: FrameKind, *, fmt: str | None = None) -> pd.DataFrame:
    """Read a frame written by :func:`export` back with its dtypes."""
    pd = _pd()
    path = Path(path)
    fmt = _format(path, fmt)
    if fmt == "csv":
        df = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    elif fmt == "parquet":
        require("pyarrow", "notebook")
        df = pd.read_parquet(path)
    else:
        df = pd.DataFrame(json.loads(path.read_text(encoding="utf-8")))
    return conform(df, kind)

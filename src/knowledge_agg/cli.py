"""``knowledge-agg``: ask a question in the terminal (``ask``), look back at stored runs (``runs``, ``show``),
or run the 8001 server (``serve``)."""

from __future__ import annotations

import argparse
import asyncio
import sys
import textwrap
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TextIO, get_args

from pydantic import ValidationError
from pydantic_settings import BaseSettings

from ._render import metrics_line
from .aggregator import KnowledgeAggregator
from .errors import KnowledgeAggError, MissingDependency
from .events import (
    AnalysisEvent,
    DoneEvent,
    ErrorEvent,
    Event,
    PassageEvent,
    ResultEvent,
    SourcesEvent,
    SynthesisDeltaEvent,
    SynthesisEvent,
    to_ndjson,
    to_sse,
)
from .settings import Settings, parse_setting, refusals, setting_default
from .store import RunStore, open_store

if TYPE_CHECKING:
    from .server.settings import ServerSettings

__all__ = ["main", "EXIT_STATUSES"]

#: What ``knowledge-agg ask`` exits with (shown by ``knowledge-agg ask --help``).
EXIT_STATUSES = """exit status:
  0    answered: passages were found (and, with the synthesis flag on, summarised)
  1    no answer: nothing relevant was found, or the search failed
  2    usage error: a bad option, setting or flag, a refused query, a missing extra
  130  interrupted (Ctrl-C)"""


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        return int(args.func(args))
    except KnowledgeAggError as exc:
        print(f"knowledge-agg: {exc}", file=sys.stderr)
        return 2
    except ValidationError as exc:  # a bad KNOWLEDGE_AGG_* variable: say which, without a traceback
        print(f"knowledge-agg: invalid setting ({refusals(exc)}); check the KNOWLEDGE_AGG_* environment variables",
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="knowledge-agg", description=__doc__)
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    ask = sub.add_parser(
        "ask", help="ask a question and watch the answer stream in", epilog=EXIT_STATUSES, formatter_class=_DefaultsHelp
    )
    ask.add_argument("query")
    ask.add_argument("--format", choices=("text", "ndjson", "sse"), default="text")
    _settings_options(ask)
    ask.add_argument("--max-sources", type=_setting("max_sources"), help="sources to read")
    ask.add_argument("--max-passages", type=_setting("max_passages"), help="passages to keep")
    ask.add_argument("--max-words", type=_setting("max_words"), help="word budget of the synthesis")
    ask.add_argument("--no-cache", action="store_true", help="do not read or write the Brave response cache")
    ask.add_argument(
        "--answer", choices=get_args(Settings.model_fields["answer"].annotation),
        help="'llm': written by the chat model at KNOWLEDGE_AGG_LLM_BASE_URL, every sentence's citations checked",
    )
    ask.add_argument("--model", dest="llm_model", help="chat model for --answer llm")
    ask.add_argument(
        "--drop-unsupported", action="store_true", help="leave out written sentences their cited passages do not support"
    )
    ask.set_defaults(func=_ask)

    runs = sub.add_parser("runs", help="list recent runs from the run store")
    runs.add_argument("--query", help="only runs whose question contains this (any case)")
    runs.add_argument("--batch", help="only the runs of this ask_many batch")
    runs.add_argument("--limit", type=_positive, default=20, help="how many (default 20)")
    runs.set_defaults(func=_runs)

    show = sub.add_parser("show", help="print a stored run the way ask does")
    show.add_argument("run_id")
    show.add_argument("--format", choices=("text", "ndjson", "sse"), default="text")
    show.set_defaults(func=_show)

    serve = sub.add_parser("serve", help="run the HTTP server (streaming API and Brave stand-in)", formatter_class=_DefaultsHelp)
    serve.add_argument("--host", help="address to bind")
    serve.add_argument("--port", type=_setting("port", server=True), help="port to listen on, 0 picks a free one")
    serve.add_argument("--dev", action="store_true", help="development mode: flag changes and error injection")
    _settings_options(serve)
    serve.set_defaults(func=_serve)
    return parser


def _settings_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--provider", choices=get_args(Settings.model_fields["provider"].annotation),
        help="search provider ('auto': brave with a key, else local)",
    )
    parser.add_argument("--corpus", type=_corpus, help=f"local corpus: {Settings.model_fields['corpus'].description}")
    parser.add_argument("--flags", help="feature flags, e.g. memory_tracking=on,synthesis=off")


class _DefaultsHelp(argparse.RawDescriptionHelpFormatter):
    """Ends the help of an option that sets a setting with that setting's default, read where it is defined.

    The server's own options read ``ServerSettings``, imported only when their help is shown.
    """

    def _get_help_string(self, action: argparse.Action) -> str | None:
        model = _defined_in(action.dest)
        if model is None or action.help is None:
            return action.help
        default = setting_default(action.dest, model)
        return f"{action.help} (default {default})" if isinstance(default, str | int | float) else action.help


def _defined_in(name: str) -> type[BaseSettings] | None:
    """The settings class that has the setting ``name`` (``None`` for other options, or without the server extra)."""
    if name in Settings.model_fields:
        return Settings
    try:
        server = _server_settings()
    except MissingDependency:
        return None
    return server if name in server.model_fields else None


def _setting(name: str, *, server: bool = False) -> Callable[[str], Any]:
    """An argparse ``type`` reading a value as ``Settings`` (or ``ServerSettings``) does: a refusal is argparse's one line."""

    def parse(text: str) -> Any:
        try:
            return parse_setting(name, text, _server_settings() if server else Settings)
        except KnowledgeAggError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return parse


def _positive(text: str) -> int:
    """An argparse ``type`` for a count of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be >= 1")
    return value


def _server_settings() -> type[ServerSettings]:
    try:
        from .server.settings import ServerSettings
    except ImportError as exc:
        raise MissingDependency("the server needs its extra: pip install 'knowledge-agg[server]'") from exc
    return ServerSettings


def _corpus(text: str) -> str:
    """An argparse ``type`` that refuses a corpus path that is not there, naming it."""
    from .providers.local import check_corpus

    try:
        check_corpus(text)
    except KnowledgeAggError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _settings(args: argparse.Namespace) -> Settings:
    """Settings from the environment with the command line's options on top."""
    options = ("provider", "corpus", "flags", "max_sources", "max_passages", "max_words", "answer", "llm_model")
    overrides: dict[str, Any] = {k: getattr(args, k) for k in options if getattr(args, k, None) is not None}
    if getattr(args, "no_cache", False):
        overrides["brave_cache"] = False
    if getattr(args, "drop_unsupported", False):
        overrides["llm_drop_unsupported"] = True
    return Settings().override(**overrides)


def _ask(args: argparse.Namespace) -> int:
    settings = _settings(args)
    return asyncio.run(_stream(args.query, settings, _writer(args.format)))


def _writer(fmt: str) -> Callable[[Event], None]:
    return {"text": _TextWriter(sys.stdout).write, "ndjson": _write_ndjson, "sse": _write_sse}[fmt]


def _store() -> RunStore:
    store = open_store(Settings())
    if store is None:
        raise KnowledgeAggError("the run store is off (KNOWLEDGE_AGG_STORE=off): no runs are kept")
    return store


def _runs(args: argparse.Namespace) -> int:
    found = _store().runs(query=args.query, batch=args.batch, limit=args.limit)
    if not found:
        print("no runs stored yet" if not (args.query or args.batch) else "no stored run matches", file=sys.stderr)
        return 0
    for r in found:
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r.started_at))
        total = r.metrics.get("total_ms")
        took = f"{total / 1000:6.2f} s" if isinstance(total, int | float) else "      -"
        batch = f"  [{r.batch}]" if r.batch else ""
        print(f"{r.run_id}  {started}  {r.state:<10}  {took}  {r.query}{batch}")
    return 0


def _show(args: argparse.Namespace) -> int:
    store = _store()
    stored = store.get(args.run_id)
    if stored is None:
        raise KnowledgeAggError(f"no run {args.run_id!r} in the run store {store.path} (knowledge-agg runs lists them)")
    write = _writer(args.format)
    if args.format == "text":
        print(f"{stored.query}  ({stored.state}, run {stored.run_id})")
    for event in store.events(stored.run_id):
        write(event)
    if stored.state != "done" and stored.state != "partial" and args.format == "text":
        print(f"(the run is {stored.state}: these are the events it stored)", file=sys.stderr)
    return 0


async def _stream(query: str, settings: Settings, write: Callable[[Event], None]) -> int:
    """Write each event as it arrives; the exit status (see ``EXIT_STATUSES``) says how the run ended."""
    refused = answered = False
    async with KnowledgeAggregator(settings) as agg, agg.stream(query) as events:
        async for event in events:
            write(event)
            refused = refused or (isinstance(event, ErrorEvent) and not event.recoverable)
            answered = answered or isinstance(event, PassageEvent)
    return 2 if refused else 0 if answered else 1


def _write_ndjson(event: Event) -> None:
    sys.stdout.write(to_ndjson(event))
    sys.stdout.flush()


def _write_sse(event: Event) -> None:
    fields = to_sse(event)
    sys.stdout.write(f"event: {fields['event']}\nid: {fields['id']}\ndata: {fields['data']}\n\n")
    sys.stdout.flush()


class _TextWriter:
    """Prints each event for a person, as it arrives."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.width = 100
        self.section = ""
        self.streamed = False  # pieces of a written answer were printed
        self.written_failed = False  # ... and then the model failed, so the synthesis is extractive

    def _head(self, title: str) -> None:
        if self.section != title:
            self.section = title
            print(f"\n{title}", file=self.out)

    def write(self, event: Event) -> None:
        if isinstance(event, AnalysisEvent):
            terms = ", ".join(event.terms) or "-"
            print(f"{event.kind}: searching {event.search_query!r} (terms: {terms})", file=self.out)
        elif isinstance(event, ResultEvent):
            self._head(f"Results ({event.provider})")
            print(f"{event.rank:>3}. {event.title} - {event.domain}", file=self.out)
            if event.snippet:
                print(self._wrap(event.snippet, 6, 2), file=self.out)
        elif isinstance(event, SourcesEvent):
            self._head("Sources chosen")
            for s in event.sources:
                print(f"  [{s.id}] {s.title} ({s.score:.2f}): {s.reason}", file=self.out)
        elif isinstance(event, PassageEvent):
            self._head("Best passages")
            print(f"  [{event.source_id}] {event.score:.2f}", file=self.out)
            print(self._wrap(event.text, 6, 3), file=self.out)
        elif isinstance(event, SynthesisDeltaEvent):
            self._head("Answer (written by the model)")
            self.streamed = True
            self.out.write(event.text)
        elif isinstance(event, SynthesisEvent):
            self._synthesis(event)
        elif isinstance(event, ErrorEvent):
            if self.streamed and event.stage == "synthesizing":
                self.written_failed = True
                print(file=self.out)
            where = f" {event.url}" if event.url else ""
            print(f"! {event.stage} {event.kind}{where}: {event.message}", file=sys.stderr)
        elif isinstance(event, DoneEvent):
            print("\n" + metrics_line(event.metrics) + (" · partial" if event.partial else ""), file=self.out)
        self.out.flush()

    def _synthesis(self, event: SynthesisEvent) -> None:
        """The answer; after a streamed one, only its citation check and sources (its text is on screen)."""
        if not self.streamed or self.written_failed:
            self._head("Answer (extractive)" if self.written_failed else "Answer")
            print(event.text, file=self.out)
            return
        unsupported = [p for p in event.points if not p.supported]
        supported = len(event.points) - len(unsupported)
        print(f"\n\nCitation check: {supported} of {len(event.points)} sentences supported by what they cite",
              file=self.out)
        for p in unsupported:
            print(self._wrap(f"⚠ {p.text} — {p.reason}", 2, 3), file=self.out)
        _, _, listing = event.text.partition("\n\nSources:\n")
        if listing:
            print("Sources:\n" + listing, file=self.out)

    def _wrap(self, text: str, indent: int, lines: int) -> str:
        pad = " " * indent
        return textwrap.fill(" ".join(text.split()), self.width, initial_indent=pad, subsequent_indent=pad, max_lines=lines)


def _serve(args: argparse.Namespace) -> int:
    try:
        from .server import run_server
    except ImportError as exc:
        raise MissingDependency("the server needs its extra: pip install 'knowledge-agg[server]'") from exc
    given = {"host": args.host, "port": args.port, "dev_mode": True if args.dev else None}
    run_server(_settings(args), _server_settings()(**{k: v for k, v in given.items() if v is not None}))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""``knowledge-agg``: ask a question in the terminal (``ask``), look back at stored runs (``runs``, ``show``),
or run the 8001 server (``serve``)."""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TextIO, get_args

from .choices import Answer, Provider
from .errors import KnowledgeAggError, MissingDependency
from .started import Started

if TYPE_CHECKING:  # imported by the command that needs them, so `knowledge-agg --help` loads none of them
    from pydantic_settings import BaseSettings

    from .events import Event, SynthesisEvent
    from .server.settings import ServerSettings
    from .settings import Settings
    from .store import RunStore

__all__ = ["main", "EXIT_STATUSES"]

#: What ``knowledge-agg ask`` exits with (shown by ``knowledge-agg ask --help``).
EXIT_STATUSES = """exit status:
  0    answered: passages were found (and, with the synthesis flag on, summarised)
  1    no answer: nothing relevant was found, or the search failed
  2    usage error: a bad option, setting or flag, a refused query, a missing extra
  130  interrupted (Ctrl-C)
  141  the output was closed early (e.g. piped into head)"""


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    args = _parser(sys.argv[1:] if argv is None else argv).parse_args(argv)
    try:
        return int(args.func(args))
    except KnowledgeAggError as exc:
        print(f"knowledge-agg: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader went away (``| head``): stop quietly, as other tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit's flush
        return 141
    except Exception as exc:
        from pydantic import ValidationError

        if not isinstance(exc, ValidationError):
            raise
        from .settings import refusals

        # a bad KNOWLEDGE_AGG_* variable: say which, without a traceback
        print(f"knowledge-agg: invalid setting ({refusals(exc)}); check the KNOWLEDGE_AGG_* environment variables",
              file=sys.stderr)
        return 2


def _parser(argv: list[str]) -> argparse.ArgumentParser:
    """The parser; a command's options (which read ``Settings``) are added only when ``argv`` names it."""
    parser = argparse.ArgumentParser(prog="knowledge-agg", description=__doc__)
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    ask = sub.add_parser(
        "ask", help="ask a question and watch the answer stream in", epilog=EXIT_STATUSES, formatter_class=_DefaultsHelp
    )
    ask.set_defaults(func=_ask)
    runs = sub.add_parser("runs", help="list recent runs from the run store")
    runs.set_defaults(func=_runs)
    show = sub.add_parser("show", help="print a stored run the way ask does")
    show.set_defaults(func=_show)
    serve = sub.add_parser("serve", help="run the HTTP server (streaming API and Brave stand-in)", formatter_class=_ServeHelp)
    serve.set_defaults(func=_serve)
    if "ask" in argv:
        _ask_options(ask)
    if "runs" in argv:
        _runs_options(runs)
    if "show" in argv:
        _show_options(show)
    if "serve" in argv:
        _serve_options(serve)
    return parser


def _ask_options(ask: argparse.ArgumentParser) -> None:
    ask.add_argument("query")
    ask.add_argument("--format", choices=("text", "ndjson", "sse"), default="text")
    _settings_options(ask)
    ask.add_argument("--max-sources", type=_setting("max_sources"), help="sources to read")
    ask.add_argument("--max-passages", type=_setting("max_passages"), help="passages to keep")
    ask.add_argument("--max-words", type=_setting("max_words"), help="word budget of the synthesis")
    ask.add_argument("--no-cache", action="store_true", help="do not read or write the Brave response cache")
    ask.add_argument(
        "--answer", choices=get_args(Answer),
        help="'llm': written by the chat model at KNOWLEDGE_AGG_LLM_BASE_URL, every sentence's citations checked",
    )
    ask.add_argument("--model", dest="llm_model", help="chat model for --answer llm")
    ask.add_argument(
        "--drop-unsupported", action="store_true", help="leave out written sentences their cited passages do not support"
    )


def _runs_options(runs: argparse.ArgumentParser) -> None:
    runs.add_argument("--query", help="only runs whose question contains this (any case)")
    runs.add_argument("--batch", help="only the runs of this ask_many batch")
    runs.add_argument("--limit", type=_positive, default=20, help="how many (default 20)")


def _show_options(show: argparse.ArgumentParser) -> None:
    show.add_argument("run_id")
    show.add_argument("--format", choices=("text", "ndjson", "sse"), default="text")


def _serve_options(serve: argparse.ArgumentParser) -> None:
    serve.add_argument("--host", help="address to bind")
    serve.add_argument("--port", type=_setting("port", server=True), help="port to listen on, 0 picks a free one")
    serve.add_argument("--dev", action="store_true", help="development mode: flag changes and error injection")
    _settings_options(serve)


def _settings_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--provider", choices=get_args(Provider), help="search provider ('auto': brave with a key, else local)"
    )
    parser.add_argument("--corpus", type=_corpus, help="local corpus: {description}")
    parser.add_argument("--flags", help="feature flags, e.g. memory_tracking=on,synthesis=off")


class _DefaultsHelp(argparse.RawDescriptionHelpFormatter):
    """Ends the help of an option that sets a setting with that setting's default, read where it is defined.

    A ``{description}`` in the help is the setting's own description. The server's own options read
    ``ServerSettings``, imported (like ``Settings``) only when their help is shown.
    """

    #: Whether the command's options include the server's own (``ServerSettings``, the server extra).
    server = False

    def _get_help_string(self, action: argparse.Action) -> str | None:
        from .settings import setting_default

        model = _defined_in(action.dest, server=self.server)
        if model is None or action.help is None:
            return action.help
        text = action.help.replace("{description}", model.model_fields[action.dest].description or "")
        default = setting_default(action.dest, model)
        return f"{text} (default {default})" if isinstance(default, str | int | float) else text


class _ServeHelp(_DefaultsHelp):
    server = True


def _defined_in(name: str, *, server: bool) -> type[BaseSettings] | None:
    """The settings class that has the setting ``name`` (``None`` for other options, or without the server extra)."""
    from .settings import Settings

    if name in Settings.model_fields:
        return Settings
    if not server:
        return None
    try:
        model = _server_settings()
    except MissingDependency:
        return None
    return model if name in model.model_fields else None


def _setting(name: str, *, server: bool = False) -> Callable[[str], Any]:
    """An argparse ``type`` reading a value as ``Settings`` (or ``ServerSettings``) does: a refusal is argparse's one line."""

    def parse(text: str) -> Any:
        from .settings import Settings, parse_setting

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
    from .settings import Settings

    options = ("provider", "corpus", "flags", "max_sources", "max_passages", "max_words", "answer", "llm_model")
    overrides: dict[str, Any] = {k: getattr(args, k) for k in options if getattr(args, k, None) is not None}
    if getattr(args, "no_cache", False):
        overrides["brave_cache"] = False
    if getattr(args, "drop_unsupported", False):
        overrides["llm_drop_unsupported"] = True
    return Settings().override(**overrides)


def _ask(args: argparse.Namespace) -> int:
    """Start the run's clock and print its first event at once, then import the rest and run it.

    The first ``status`` line goes out before pydantic, asyncio and the pipeline are imported (most of
    a fresh process's time to the first event); the pipeline yields that same event first, and it is
    not printed twice.
    """
    started = Started.now(args.query)
    printed = args.format != "text"  # the text format shows no status events
    if printed:
        _first_line(args.format, started)
    try:
        settings = _settings(args)
    except Exception as exc:  # a bad setting or flag: the stream printed so far still ends with error and done
        if printed:
            _refused(started, exc, _writer(args.format))
        raise
    import asyncio

    return asyncio.run(_stream(args.query, settings, _writer(args.format), started, skip_first=printed))


def _first_line(fmt: str, started: Started) -> None:
    """The run's first event in ``fmt`` (ndjson or sse), written without importing the event models."""
    data = started.to_json()
    sys.stdout.write(data + "\n" if fmt == "ndjson" else _sse_text("status", "0", data))
    sys.stdout.flush()


def _refused(started: Started, exc: Exception, write: Callable[[Event], None]) -> None:
    """End a run refused after its first event was printed, as the pipeline ends one: error, status, done."""
    from pydantic import ValidationError

    from ._recorder import Recorder
    from .errors import OptionError

    rec = Recorder(started.clock)
    rec.first(started)
    if isinstance(exc, ValidationError):
        from .settings import refusals

        exc = OptionError(f"invalid setting ({refusals(exc)})")
    write(rec.error("started", exc, fatal=True))
    write(rec.status("done", "finished"))
    write(rec.done(None))


def _writer(fmt: str) -> Callable[[Event], None]:
    return {"text": _TextWriter(sys.stdout).write, "ndjson": _write_ndjson, "sse": _write_sse}[fmt]


def _store() -> RunStore:
    from .settings import Settings
    from .store import open_store

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


async def _stream(
    query: str, settings: Settings, write: Callable[[Event], None], started: Started, *, skip_first: bool
) -> int:
    """Write each event as it arrives (the first one only unless ``skip_first``: it is out already);
    the exit status (see ``EXIT_STATUSES``) says how the run ended."""
    from .aggregator import KnowledgeAggregator

    refused = answered = False
    async with KnowledgeAggregator(settings) as agg, agg.stream(query, started=started) as events:
        async for event in events:
            if not (skip_first and event.seq == 0):
                write(event)
            refused = refused or (event.type == "error" and not event.recoverable)
            answered = answered or event.type == "passage"
    return 2 if refused else 0 if answered else 1


def _write_ndjson(event: Event) -> None:
    from .events import to_ndjson

    sys.stdout.write(to_ndjson(event))
    sys.stdout.flush()


def _write_sse(event: Event) -> None:
    from .events import to_sse

    fields = to_sse(event)
    sys.stdout.write(_sse_text(fields["event"], fields["id"], fields["data"]))
    sys.stdout.flush()


def _sse_text(event: str, id: str, data: str) -> str:
    return f"event: {event}\nid: {id}\ndata: {data}\n\n"


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
        if event.type == "analysis":
            terms = ", ".join(event.terms) or "-"
            print(f"{event.kind}: searching {event.search_query!r} (terms: {terms})", file=self.out)
        elif event.type == "result":
            self._head(f"Results ({event.provider})")
            print(f"{event.rank:>3}. {event.title} - {event.domain}", file=self.out)
            if event.snippet:
                print(self._wrap(event.snippet, 6, 2), file=self.out)
        elif event.type == "sources":
            self._head("Sources chosen")
            for s in event.sources:
                print(f"  [{s.id}] {s.title} ({s.score:.2f}): {s.reason}", file=self.out)
        elif event.type == "passage":
            self._head("Best passages")
            print(f"  [{event.source_id}] {event.score:.2f}", file=self.out)
            print(self._wrap(event.text, 6, 3), file=self.out)
        elif event.type == "synthesis_delta":
            self._head("Answer (written by the model)")
            self.streamed = True
            self.out.write(event.text)
        elif event.type == "synthesis":
            self._synthesis(event)
        elif event.type == "error":
            if self.streamed and event.stage == "synthesizing":
                self.written_failed = True
                print(file=self.out)
            where = f" {event.url}" if event.url else ""
            print(f"! {event.stage} {event.kind}{where}: {event.message}", file=sys.stderr)
        elif event.type == "done":
            from ._render import metrics_line

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

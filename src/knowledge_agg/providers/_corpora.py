"""The corpora the local index can hold: ``pydocs``, a folder of documents, or a JSONL file."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

from ..errors import ProviderError
from ..models import Document
from . import _pydocs

__all__ = ["Corpus", "SUFFIXES", "Skipped"]

#: File types read from a folder corpus.
SUFFIXES = frozenset({".md", ".markdown", ".rst", ".txt", ".html", ".htm", ".ipynb"})
#: Files larger than this are left out of a folder corpus (they are rarely documentation).
_MAX_FILE_BYTES = 20_000_000
_PYDOCS_TIMEOUT = 300.0
_MD_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
_RST_HEADING = re.compile(r"^(\S.*)\n([=\-~^*#+\"'`:.])\2{2,}\s*$", re.MULTILINE)


@dataclass(slots=True)
class Skipped:
    """Lines of a JSONL corpus left out while reading it: how many, and which was first and why."""

    lines: int = 0
    first: str = ""

    def add(self, number: int, why: str) -> None:
        self.lines += 1
        self.first = self.first or f"line {number}: {why}"

    def meta(self) -> dict[str, str]:
        """The tally as index metadata (see ``IndexStatus.skipped_lines``)."""
        return {"skipped_lines": str(self.lines), "first_skipped": self.first}


@dataclass(frozen=True, slots=True)
class Corpus:
    """Where documents come from; ``name`` doubles as the domain of hits without a host."""

    kind: Literal["pydocs", "directory", "jsonl"]
    name: str
    path: Path | None = None

    @classmethod
    def parse(cls, spec: str | os.PathLike[str]) -> Corpus:
        """``"pydocs"``, a ``.jsonl`` file or a folder (existence is checked when it is read)."""
        if str(spec) == "pydocs":
            return cls("pydocs", "pydocs")
        path = Path(spec).expanduser().resolve()
        kind: Literal["directory", "jsonl"] = "jsonl" if path.suffix.lower() == ".jsonl" else "directory"
        return cls(kind, path.stem if kind == "jsonl" else path.name or "files", path)

    @property
    def key(self) -> str:
        """A file-name-safe key that differs between corpora (the index's file name)."""
        if self.path is None:
            return self.name
        digest = hashlib.sha1(str(self.path).encode("utf-8", "surrogatepass")).hexdigest()[:12]
        safe = re.sub(r"[^\w.-]", "_", self.name)[:40]
        return f"{self.kind}-{safe}-{digest}"

    def fingerprint(self) -> str:
        """A digest that changes whenever the corpus's content may have changed."""
        if self.kind == "pydocs":
            return hashlib.sha1(_pydocs.fingerprint().encode()).hexdigest()
        digest = hashlib.sha1(f"{self.kind}:{self.path}".encode("utf-8", "surrogatepass"))
        for path in self._files():
            stat = path.stat()
            digest.update(f"\0{path}\0{stat.st_size}\0{stat.st_mtime_ns}".encode("utf-8", "surrogatepass"))
        return digest.hexdigest()

    def documents(self, skipped: Skipped | None = None) -> Iterator[Document]:
        """Every document of the corpus, read now; JSONL lines that hold none are tallied in ``skipped``."""
        if self.kind == "pydocs":
            return _pydocs_documents()
        if self.kind == "jsonl":
            return _jsonl_documents(self._require(), self.name, skipped if skipped is not None else Skipped())
        return (doc for path in self._files() if (doc := _file_document(path, self._require())) is not None)

    def check(self) -> None:
        """Raise ``ProviderError`` naming the path when the folder or ``.jsonl`` file is missing."""
        if self.path is not None:
            self._require()

    def _require(self) -> Path:
        assert self.path is not None
        if self.kind == "jsonl" and not self.path.is_file():
            raise ProviderError(f"The corpus file {self.path} does not exist; pass a .jsonl file.", kind="corpus_not_found")
        if self.kind == "directory" and not self.path.is_dir():
            raise ProviderError(
                f"The corpus {self.path} is not a folder, a .jsonl file or 'pydocs'.", kind="corpus_not_found"
            )
        return self.path

    def _files(self) -> list[Path]:
        root = self._require()
        if self.kind == "jsonl":
            return [root]
        found: list[Path] = []
        for folder, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for file in sorted(files):
                path = Path(folder, file)
                wanted = not file.startswith(".") and path.suffix.lower() in SUFFIXES and path.is_file()
                if wanted and path.stat().st_size <= _MAX_FILE_BYTES:
                    found.append(path)
        return found


def _pydocs_documents() -> Iterator[Document]:
    """Collect ``pydocs`` in an isolated child interpreter and read its JSON lines."""
    command = [sys.executable, "-I", "-S", str(Path(_pydocs.__file__))]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL) as proc:
        watchdog = threading.Timer(_PYDOCS_TIMEOUT, proc.kill)  # a module whose import hangs must not hang us
        watchdog.start()
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                data = json.loads(line)
                yield Document(data["id"], data["title"], data["url"], data["text"], data.get("aliases", ""))
            code = proc.wait()
        finally:
            watchdog.cancel()
    if code != 0:
        raise ProviderError(f"Reading the Python documentation failed (exit code {code}).", kind="index_failed")


def _jsonl_documents(path: Path, name: str, skipped: Skipped) -> Iterator[Document]:
    """``{id, title, text, url?, aliases?}`` per line; other lines (blank ones aside) are left out and tallied."""
    with path.open("rb") as lines:
        for number, raw in enumerate(lines, 1):
            if not raw.strip():
                continue
            try:
                data: Any = json.loads(raw.decode("utf-8"))
            except UnicodeDecodeError:
                skipped.add(number, "not UTF-8")
                continue
            except ValueError:
                skipped.add(number, "not valid JSON")
                continue
            if not isinstance(data, dict) or not isinstance(data.get("text"), str) or not data["text"].strip():
                skipped.add(number, 'not a JSON object with a "text"')
                continue
            doc_id = str(data["id"]) if data.get("id") is not None else f"line-{number}"
            title = data.get("title") if isinstance(data.get("title"), str) and data["title"].strip() else None
            url = data.get("url") if isinstance(data.get("url"), str) and data["url"].strip() else None
            text = data["text"]
            aliases = data["aliases"] if isinstance(data.get("aliases"), str) else ""
            yield Document(
                doc_id,
                title or _first_line(text) or doc_id,
                url or f"local://{quote(name, safe='')}/{quote(doc_id, safe='')}",
                text,
                aliases,
            )


def _file_document(path: Path, root: Path) -> Document | None:
    """One file of a folder corpus as a document, or ``None`` when it holds no text."""
    raw = path.read_bytes()
    suffix = path.suffix.lower()
    if suffix in {".html", ".htm"}:
        title, text = _html_text(raw)
    elif suffix == ".ipynb":
        title, text = _notebook_text(raw)
    else:
        text = raw.decode("utf-8", errors="replace")
        title = _heading(text, suffix)
    if not text.strip():
        return None
    return Document(path.relative_to(root).as_posix(), title or path.stem, path.as_uri(), text)


def _heading(text: str, suffix: str) -> str | None:
    pattern = _MD_HEADING if suffix in {".md", ".markdown", ".ipynb"} else _RST_HEADING if suffix == ".rst" else None
    match = pattern.search(text) if pattern is not None else None
    return match.group(1).strip() if match else _first_line(text)


def _html_text(raw: bytes) -> tuple[str | None, str]:
    """Main text and title of an HTML page (trafilatura; the whole text when it finds no article)."""
    import trafilatura
    from trafilatura.settings import Document as Extracted

    doc = trafilatura.bare_extraction(raw, with_metadata=True, include_tables=True)  # an Extracted (as_dict=False)
    if isinstance(doc, Extracted) and doc.text and doc.text.strip():
        return doc.title, doc.text
    from lxml import etree, html

    try:
        tree = html.fromstring(raw)
    except (ValueError, etree.ParserError):
        return None, ""
    for bad in tree.xpath("//script|//style"):
        bad.drop_tree()
    title = tree.findtext(".//title")
    return title.strip() if title else None, " ".join(tree.text_content().split())


def _notebook_text(raw: bytes) -> tuple[str | None, str]:
    """A notebook's markdown cells as they are and its code cells as fenced Python blocks."""
    try:
        cells = json.loads(raw).get("cells", [])
    except (ValueError, AttributeError):
        return None, ""
    parts: list[str] = []
    prose: list[str] = []
    for cell in cells if isinstance(cells, list) else []:
        source = cell.get("source", "") if isinstance(cell, dict) else ""
        source = "".join(source) if isinstance(source, list) else str(source)
        if not source.strip():
            continue
        if cell.get("cell_type") == "code":
            parts.append(f"```python\n{source}\n```")
        else:
            parts.append(source)
            prose.append(source)
    return _heading("\n\n".join(prose), ".ipynb") if prose else None, "\n\n".join(parts)


def _first_line(text: str) -> str | None:
    line = next((line.strip(" #*=-\t") for line in text.splitlines() if line.strip(" #*=-\t")), None)
    return line[:120] if line else None

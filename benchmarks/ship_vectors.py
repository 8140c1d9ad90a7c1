"""``python -m benchmarks.ship_vectors [--out PATH]``: make the shipped MiniLM vectors of the Python docs.

Builds the local index of this Python's documentation in a temporary cache, embeds every document's text
("title. start of the body") and every later passage of a long one ("title. later window": exactly what the
index's vectors are made from) with the ``semantic`` extra's
all-MiniLM-L6-v2 and writes the table the package ships (``knowledge_agg.shipped``), named for the model
(``semantic.MODEL_ID``). Run it again whenever the model changes (its id changes, and an old table is
then simply not used) or to ship another Python version's docs. Takes minutes (the embedding).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

from knowledge_agg import semantic, shipped
from knowledge_agg.providers.local import LocalProvider


def make(out: Path) -> dict[str, float]:
    """Embed the docs' documents and passages and write the table at ``out``; the figures of the run."""
    semantic.check()
    with tempfile.TemporaryDirectory() as cache:
        provider = LocalProvider("pydocs", cache_dir=cache)
        documents = provider.document_texts()
        texts = documents + provider.passage_texts()
        asyncio.run(provider.aclose())
    started = time.perf_counter()
    matrix = semantic.embed(texts)
    embed_s = time.perf_counter() - started
    shipped.write(out, semantic.MODEL_ID, texts, matrix)
    return {"documents": len(documents), "passages": len(texts) - len(documents), "embed_s": round(embed_s, 1),
            "mb": round(out.stat().st_size / 1e6, 2)}


def main(argv: list[str] | None = None) -> int:
    """Make the table and say what it holds."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ship_vectors", description=__doc__)
    parser.add_argument("--out", type=Path, default=shipped.table_path(semantic.MODEL_ID),
                        help="where to write the table (default: the package's own)")
    args = parser.parse_args(argv)
    figures = make(args.out)
    print(f"{figures['documents']} documents and {figures['passages']} later passages embedded in {figures['embed_s']} s; "
          f"wrote {args.out} ({figures['mb']} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Distil all-MiniLM-L6-v2 (the ``semantic`` extra) into a static token table, model2vec-style (issue 14).

Run: ``python -m benchmarks.distil_static [--dims 256] [--out PATH]`` (needs the ``semantic`` extra).
Every WordPiece token of the model's vocabulary goes through the model alone (``[CLS] token [SEP]``,
mean-pooled output, as model2vec distils), the rows are centred and reduced by PCA to ``--dims``, and
the table is written as int8 rows (``tokens.i8``) with a scale each (``scales.f32``), with the vocabulary
and ``model.json`` (its id) beside it. No corpus, no token weighting: the index weights each token by its IDF in the corpus being
indexed (``knowledge_agg.static``), so the table is the same for every corpus. Reproducible: the same
model files give the same table.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path
from typing import Any

from knowledge_agg import semantic

_BATCH = 512
_DEFAULT_OUT = Path(__file__).resolve().parents[1] / "src" / "knowledge_agg" / "static_model"


def token_vectors() -> tuple[list[str], Any]:
    """Every token of the vocabulary and its mean-pooled MiniLM output (384 float32 columns)."""
    import numpy as np

    tokenizer, session, inputs = semantic._model()
    vocab = sorted(tokenizer.get_vocab().items(), key=lambda item: item[1])
    tokens = [token for token, _ in vocab]
    cls, sep = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    out = np.zeros((len(tokens), 384), dtype=np.float32)
    for start in range(0, len(tokens), _BATCH):
        ids = np.array([[cls, i, sep] for i in range(start, min(start + _BATCH, len(tokens)))], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
        if "token_type_ids" in inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        out[start : start + len(ids)] = session.run(None, feeds)[0].mean(axis=1)
    return tokens, out


def pca(matrix: Any, dims: int) -> Any:
    """The rows of ``matrix`` centred and projected on their ``dims`` first principal axes."""
    import numpy as np

    centred = matrix - matrix.mean(axis=0)
    _, _, axes = np.linalg.svd(centred, full_matrices=False)
    return centred @ axes[:dims].T


def quantize(matrix: Any) -> tuple[Any, Any]:
    """int8 rows and one float32 scale per row (the largest magnitude of the row maps to 127)."""
    import numpy as np

    scales = np.abs(matrix).max(axis=1) / 127.0
    scales[scales == 0] = 1.0
    rows = np.round(matrix / scales[:, None]).astype(np.int8)
    return rows, scales.astype(np.float32)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dims", type=int, default=256)
    parser.add_argument("--out", type=Path, default=_DEFAULT_OUT)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    tokens, vectors = token_vectors()
    rows, scales = quantize(pca(vectors, args.dims))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "tokens.i8").write_bytes(rows.tobytes())  # row-major, one row of --dims int8 per token
    (args.out / "scales.f32").write_bytes(scales.astype("<f4").tobytes())
    (args.out / "vocab.txt").write_text("\n".join(tokens) + "\n", encoding="utf-8")
    digest = hashlib.sha256(rows.tobytes() + scales.tobytes()).hexdigest()[:10]
    model = {"id": f"static-minilm-l6-v2-{args.dims}-int8-{digest}", "dims": args.dims, "tokens": len(tokens),
             "teacher": "sentence-transformers/all-MiniLM-L6-v2 (int8 ONNX export, Apache-2.0)",
             "method": "each token alone through the teacher ([CLS] token [SEP], mean-pooled), PCA, int8 rows"}
    (args.out / "model.json").write_text(json.dumps(model, indent=1) + "\n", encoding="utf-8")
    print(json.dumps({**model, "seconds": round(time.perf_counter() - started, 1),
                      "mb": round((rows.nbytes + scales.nbytes) / 1e6, 2), "out": str(args.out)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

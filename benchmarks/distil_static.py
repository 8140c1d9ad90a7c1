"""Distil all-MiniLM-L6-v2 (the ``semantic`` extra) into a static token table, model2vec-style (issue 14).

Run: ``python -m benchmarks.distil_static [--dims 256] [--refine] [--steps 80] [--small-corpus 8]
[--teacher-cache DIR] [--out PATH]`` (needs the ``semantic`` extra). Every WordPiece token of the model's
vocabulary goes through the model alone (``[CLS] token [SEP]``, mean-pooled output, as model2vec distils), the
rows are centred and reduced by PCA to ``--dims``, and
the table is written as int8 rows (``tokens.i8``) with a scale each (``scales.f32``), with the vocabulary and
``model.json`` (its id) beside it. No token weighting in the table: the index weights each token by its IDF in
the corpus being indexed (``knowledge_agg.static``).

``--refine`` then fits the table tokenlearn-style (MinishLab's tokenlearn / model2vec "potion"): on texts of
this Python's docs (the local index's "title. start of the body" of every page, and the first sentences of
each page, so that short, query-like texts count too), it moves the rows so that a text's IDF-weighted sum
of rows points where MiniLM puts the whole text (its sentence vector on the same PCA axes): cosine loss,
full-batch Adam from the distilled rows; tokens the texts never use keep their distilled rows. Each text is
fitted twice: weighed by the IDF of the whole docs, and by the IDF of a random corpus of ``--small-corpus``
pages (8), so that the rows also fit texts weighed as a small corpus weighs them (fitted under the docs' IDF
alone, where a word of a thousand pages weighs little, the table lost the paraphrases of a five-note corpus,
``tests/test_static.py``; quality log, round eight, variant 77). A fifth of the pages (and their
sentences) is held out, and the table kept is the one of the step whose texts of OTHER corpora are closest to
MiniLM (XQuAD's paragraphs and questions, the annotated web articles and their sentences, each weighed by its
own corpus's IDF), so the step is chosen on what corpora other than the docs need. No question of the
pydocs-qa sets is used. ``--teacher-cache DIR`` keeps MiniLM's vectors of the texts between runs (computing them
takes minutes). Reproducible: the same model files and the same Python docs give the same table
(``model.json`` records the Python version whose docs refined it and the cosines at the step kept). The
shipped table is ``python -m benchmarks.distil_static --refine`` (80 steps at most; step 70 was kept): quality
log, "Round nine, the static table refined again".
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import re
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from knowledge_agg import semantic, static
from knowledge_agg.providers.local import LocalProvider

from .data import EXTRACTION, XQUAD_DEV

_BATCH = 512
_DEFAULT_OUT = Path(__file__).resolve().parents[1] / "src" / "knowledge_agg" / "static_model"
#: The sentences taken from each page for refinement: its first few, of a query's length.
_SENTENCES_PER_PAGE = 3
_SENTENCE_CHARS = (25, 200)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
#: The sentences taken from each annotated web article (to choose the step), and the characters of a document
#: an index embeds ("title. first 600 characters", as the local index's vectors).
_WEB_SENTENCES = 10
_TEXT_CHARS = 600
#: Share of the pages held out to choose the step, how often it is scored, and Adam's step size (times the
#: rows' RMS).
_HOLD_OUT = 0.2
_SCORE_EVERY = 10
_LEARNING_RATE = 0.02
#: Pages in each of the random small corpora whose IDF weighs the docs' texts a second time.
_SMALL_CORPUS = 8


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


def pca(matrix: Any, dims: int) -> tuple[Any, Any]:
    """The rows of ``matrix`` centred and projected on their ``dims`` first principal axes, and those axes."""
    import numpy as np

    centred = matrix - matrix.mean(axis=0)
    _, _, axes = np.linalg.svd(centred, full_matrices=False)
    return centred @ axes[:dims].T, axes[:dims]


def quantize(matrix: Any) -> tuple[Any, Any]:
    """int8 rows and one float32 scale per row (the largest magnitude of the row maps to 127)."""
    import numpy as np

    scales = np.abs(matrix).max(axis=1) / 127.0
    scales[scales == 0] = 1.0
    rows = np.round(matrix / scales[:, None]).astype(np.int8)
    return rows, scales.astype(np.float32)


def corpus_texts() -> tuple[list[str], list[str], list[int]]:
    """This Python's docs as the local index embeds them (one text a page), and their first sentences with
    the page each comes from."""
    with tempfile.TemporaryDirectory() as cache:
        pages = LocalProvider("pydocs", cache_dir=cache).document_texts()
    sentences, owners = [], []
    for page, text in enumerate(pages):
        found = first_sentences(text.split(". ", 1)[-1], _SENTENCES_PER_PAGE)
        sentences += found
        owners += [page] * len(found)
    return pages, sentences, owners


def first_sentences(text: str, count: int) -> list[str]:
    """The first ``count`` sentences of ``text`` of a query's length."""
    low, high = _SENTENCE_CHARS
    return [part.strip() for part in _SENTENCE_END.split(text) if low <= len(part.strip()) <= high][:count]


def foreign_texts() -> dict[str, tuple[list[str], list[str]]]:
    """Texts of corpora other than the Python docs, each with the documents of its corpus (whose IDF weighs it):
    XQuAD's paragraphs ("article. first 600 characters", as an index embeds a document) and its questions, the
    annotated article bodies of the extraction benchmark ("first line. first 600 characters") and their first
    sentences. They choose the step of the fit (what other corpora need), and never fit it."""
    xquad = json.loads(XQUAD_DEV.read_text(encoding="utf-8"))
    paragraphs = [
        (article["title"].replace("_", " "), paragraph) for article in xquad["data"] for paragraph in article["paragraphs"]
    ]
    contexts = [f"{title}. {paragraph['context'][:_TEXT_CHARS]}" for title, paragraph in paragraphs]
    truth = json.loads((EXTRACTION / "ground-truth.json").read_text(encoding="utf-8"))
    bodies = [body for body in (item.get("articleBody") or "" for item in truth.values()) if body.strip()]
    articles = [f"{body.strip().split(chr(10))[0][:120]}. {body[:_TEXT_CHARS]}" for body in bodies]
    return {
        "xquad paragraphs": (contexts, contexts),
        "xquad questions": ([qa["question"] for _, paragraph in paragraphs for qa in paragraph["qas"]], contexts),
        "web pages": (articles, articles),
        "web sentences": ([s for body in bodies for s in first_sentences(body, _WEB_SENTENCES)], articles),
    }


def teacher(texts: Sequence[str], cache: Path | None) -> Any:
    """MiniLM's unit vectors of ``texts``, kept in ``cache`` (a folder, by a digest of the texts) when given, so
    that trying the fit again does not run the model again (minutes for the Python docs)."""
    import numpy as np

    if cache is None:
        return semantic.embed(texts)
    digest = hashlib.sha256("\0".join([semantic.MODEL_ID, *texts]).encode()).hexdigest()[:16]
    stored = cache / f"teacher-{digest}.npy"
    if stored.exists():
        return np.load(stored)
    vectors = semantic.embed(texts)
    cache.mkdir(parents=True, exist_ok=True)
    np.save(stored, vectors)
    return vectors


class _Sums:
    """The weighted sums of token rows of many texts (each text with the token weights of its corpus), and the
    gradient back to the rows, in numpy alone (a sparse texts × tokens product done with ``reduceat``)."""

    def __init__(self, texts: Sequence[tuple[Any, Any]]) -> None:
        import numpy as np

        rows, cols, vals = [], [], []
        for i, (ids, weights) in enumerate(texts):
            unique, counts = np.unique(ids, return_counts=True)
            rows.append(np.full(len(unique), i))
            cols.append(unique)
            vals.append(counts * weights[unique])
        self.texts = len(texts)
        self.rows, self.cols = np.concatenate(rows), np.concatenate(cols)
        self.vals = np.concatenate(vals).astype(np.float32)
        self.row_starts = np.flatnonzero(np.r_[True, self.rows[1:] != self.rows[:-1]])
        self.order = np.argsort(self.cols, kind="stable")
        sorted_cols = self.cols[self.order]
        self.col_starts = np.flatnonzero(np.r_[True, sorted_cols[1:] != sorted_cols[:-1]])
        self.used = sorted_cols[self.col_starts]

    def forward(self, table: Any) -> Any:
        import numpy as np

        out = np.zeros((self.texts, table.shape[1]), dtype=np.float32)
        out[self.rows[self.row_starts]] = np.add.reduceat(self.vals[:, None] * table[self.cols], self.row_starts, axis=0)
        return out

    def backward(self, grad: Any) -> Any:
        """The gradient on the rows of the used tokens (``self.used``) from the gradient on the sums."""
        import numpy as np

        order = self.order
        return np.add.reduceat(self.vals[order, None] * grad[self.rows[order]], self.col_starts, axis=0)

    def cosines(self, table: Any, targets: Any) -> tuple[Any, Any]:
        """Each text's cosine to its unit target, and the gradient of the mean cosine loss on the sums."""
        import numpy as np

        sums = self.forward(table)
        norms = np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-12)
        units = sums / norms
        cosines = (units * targets).sum(axis=1)
        return cosines, -(targets - cosines[:, None] * units) / norms / len(targets)


def _unit_targets(vectors: Any, axes: Any) -> Any:
    import numpy as np

    targets = vectors @ axes.T
    return (targets / np.linalg.norm(targets, axis=1, keepdims=True)).astype(np.float32)


def refine(table: Any, axes: Any, steps: int, small: int, cache: Path | None) -> tuple[Any, dict[str, Any]]:
    """The table fitted to MiniLM's vectors of this Python's docs, and how the fit went (module docstring)."""
    import numpy as np

    tokenizer = static.load().tokenizer
    pages, sentences, owners = corpus_texts()
    texts = pages + sentences
    page_of = np.array(list(range(len(pages))) + owners)
    targets = _unit_targets(teacher(texts, cache), axes)
    token_ids = [np.asarray(tokenizer.ids(text), dtype=np.int64) for text in texts]
    whole = static.token_weights(token_ids[: len(pages)], len(table))  # as the index weighs them
    held = np.random.default_rng(0).random(len(pages)) < _HOLD_OUT
    keep = [i for i, ids in enumerate(token_ids) if len(ids)]
    train = [i for i in keep if not held[page_of[i]]]
    test = [i for i in keep if held[page_of[i]]]
    fitted_texts = [(token_ids[i], whole) for i in train]
    fitted_targets = [targets[train]]
    if small:  # the same texts again, each weighed as in a corpus of `small` pages (random groups)
        order = np.random.default_rng(1).permutation(len(pages))
        group_weights: dict[int, Any] = {}
        for first in range(0, len(order), small):
            members = order[first : first + small]
            weights = static.token_weights([token_ids[page] for page in members], len(table))
            group_weights.update(dict.fromkeys(members.tolist(), weights))
        fitted_texts += [(token_ids[i], group_weights[int(page_of[i])]) for i in train]
        fitted_targets.append(targets[train])
    fit = _Sums(fitted_texts)
    all_targets = np.concatenate(fitted_targets)
    check = _Sums([(token_ids[i], whole) for i in test])
    foreign = []
    for name, (measured, documents) in foreign_texts().items():
        weights = static.token_weights([np.asarray(tokenizer.ids(text), dtype=np.int64) for text in documents], len(table))
        ids = [np.asarray(tokenizer.ids(text), dtype=np.int64) for text in measured]
        foreign.append((name, _Sums([(i, weights) for i in ids]), _unit_targets(teacher(measured, cache), axes)))

    def scores(current: Any) -> dict[str, float]:
        found = {"python docs held out": float(check.cosines(current, targets[test])[0].mean())}
        found |= {name: float(sums.cosines(current, aimed)[0].mean()) for name, sums, aimed in foreign}
        return {name: round(value, 4) for name, value in found.items()}

    fitted = table.astype(np.float32)
    rows = fitted[fit.used]
    step_size = _LEARNING_RATE * float(np.sqrt((rows**2).mean()))
    m = np.zeros_like(rows)
    v = np.zeros_like(rows)
    start = scores(fitted)
    history: list[tuple[int, dict[str, float]]] = [(0, start)]
    best, best_step, best_rows = _foreign_mean(start), 0, rows.copy()
    for step in range(1, steps + 1):
        _, grad = fit.cosines(fitted, all_targets)
        g = fit.backward(grad)
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        rows -= step_size * (m / (1 - 0.9**step)) / (np.sqrt(v / (1 - 0.999**step)) + 1e-12)
        fitted[fit.used] = rows
        if step % _SCORE_EVERY == 0 or step == steps:
            now = scores(fitted)
            history.append((step, now))
            print(f"step {step}: cosine to MiniLM {now}", flush=True)
            if _foreign_mean(now) > best:
                best, best_step, best_rows = _foreign_mean(now), step, rows.copy()
    fitted[fit.used] = best_rows
    return fitted, {
        "pages": len(pages),
        "sentences": len(sentences),
        "held_out_texts": len(test),
        "small_corpus_pages": small,
        "tokens_fitted": len(fit.used),
        "step": best_step,
        "start_cosines": start,
        "cosines": dict(history)[best_step],
        "history": history,
    }


def _foreign_mean(scores: dict[str, float]) -> float:
    """What chooses the step: the mean cosine to MiniLM over the foreign text sets."""
    foreign = [value for name, value in scores.items() if name != "python docs held out"]
    return sum(foreign) / len(foreign)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dims", type=int, default=256)
    parser.add_argument("--refine", action="store_true", help="fit the table to MiniLM on this Python's docs")
    parser.add_argument("--steps", type=int, default=80, help="--refine's most gradient steps")
    parser.add_argument(
        "--small-corpus",
        type=int,
        default=_SMALL_CORPUS,
        help="--refine also weighs each text as in a corpus of this many pages (0: not)",
    )
    parser.add_argument("--teacher-cache", type=Path, help="a folder keeping MiniLM's vectors of the texts between runs")
    parser.add_argument("--out", type=Path, default=_DEFAULT_OUT)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    tokens, vectors = token_vectors()
    table, axes = pca(vectors, args.dims)
    method = "each token alone through the teacher ([CLS] token [SEP], mean-pooled), PCA, int8 rows"
    fit: dict[str, Any] = {}
    if args.refine:
        table, fit = refine(table, axes, args.steps, args.small_corpus, args.teacher_cache)
        method += (
            f"; refined tokenlearn-style on the Python {platform.python_version()} docs (cosine to the teacher's"
            " sentence vectors of pages and sentences, weighed by the docs' IDF"
            + (f" and by {args.small_corpus}-page corpora's" if args.small_corpus else "")
            + "; Adam; the step chosen on XQuAD's and web articles' texts)"
        )
    rows, scales = quantize(table)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "tokens.i8").write_bytes(rows.tobytes())  # row-major, one row of --dims int8 per token
    (args.out / "scales.f32").write_bytes(scales.astype("<f4").tobytes())
    (args.out / "vocab.txt").write_text("\n".join(tokens) + "\n", encoding="utf-8")
    digest = hashlib.sha256(rows.tobytes() + scales.tobytes()).hexdigest()[:10]
    kind = "refined" if args.refine else "int8"
    model = {
        "id": f"static-minilm-l6-v2-{args.dims}-{kind}-{digest}",
        "dims": args.dims,
        "tokens": len(tokens),
        "teacher": "sentence-transformers/all-MiniLM-L6-v2 (int8 ONNX export, Apache-2.0)",
        "method": method,
    }
    if fit:
        model["refined"] = {key: value for key, value in fit.items() if key != "history"}
    (args.out / "model.json").write_text(json.dumps(model, indent=1) + "\n", encoding="utf-8")
    print(
        json.dumps(
            {
                **model,
                "seconds": round(time.perf_counter() - started, 1),
                "mb": round((rows.nbytes + scales.nbytes) / 1e6, 2),
                "out": str(args.out),
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

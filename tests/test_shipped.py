"""The shipped MiniLM vectors of the Python docs: the table itself, and the local index taking them (real model)."""

from __future__ import annotations

import asyncio
import json
import random
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from knowledge_agg import semantic, shipped
from knowledge_agg.providers import local
from knowledge_agg.providers.local import LocalProvider
from tests.helpers.tools_corpus import TOOLS

ROOT = Path(__file__).resolve().parents[1]
ABSENT = 3


def _unit(rows: int, seed: int = 0) -> np.ndarray:
    values = np.random.default_rng(seed).normal(size=(rows, 384)).astype(np.float32)
    return values / np.linalg.norm(values, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def pydocs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """An index of this Python's docs (built once for the module) and the texts its vectors are made from."""
    cache = tmp_path_factory.mktemp("pydocs")
    provider = LocalProvider("pydocs", cache_dir=cache)
    texts = provider.document_texts()
    asyncio.run(provider.aclose())
    return provider.path, texts


@pytest.fixture(scope="module")
def passages(pydocs: tuple[Path, list[str]]) -> list[str]:
    """The texts of the later passages of the docs' long pages, which the index's vectors are also made from."""
    provider = LocalProvider("pydocs", cache_dir=pydocs[0].parent.parent)
    texts = provider.passage_texts()
    asyncio.run(provider.aclose())
    return texts


def _cache_with(index: Path, tmp_path: Path) -> Path:
    """A cache holding a copy of the pydocs index and nothing else (no vectors)."""
    cache = tmp_path / "cache"
    (cache / "index").mkdir(parents=True)
    shutil.copy(index, cache / "index" / index.name)
    return cache


def _stored(cache: Path) -> np.ndarray:
    with np.load(cache / "index" / f"pydocs.{semantic.MODEL_ID}.npz") as data:
        return data["matrix"].astype(np.float32)


def test_a_table_gives_back_its_vectors_and_says_which_texts_it_lacks(tmp_path: Path) -> None:
    texts = [f"doc {i}. text {i}" for i in range(50)]
    matrix = _unit(50)
    path = tmp_path / "table.bin"
    shipped.write(path, "model-a", texts, matrix)
    table = shipped.load("model-a", path)
    assert table is not None and path.stat().st_size < 50 * (384 + 12) + 300  # int8 and a scale per vector
    found, missing = table.vectors(["unknown", texts[7], texts[0], "doc 7. text 7 "])
    assert missing == [0, 3] and not found[missing].any()
    assert (np.sum(found[1:3] * matrix[[7, 0]], axis=1) > 0.999).all()
    assert np.allclose(np.linalg.norm(found[1:3], axis=1), 1.0, atol=1e-5)
    assert shipped.load("model-a", tmp_path / "none.bin") is None


@pytest.mark.parametrize("damage", ["truncated", "altered", "header", "other model"])
def test_a_damaged_table_is_refused_with_its_reason(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "table.bin"
    shipped.write(path, "model-a", ["a. b", "c. d"], _unit(2))
    data = bytearray(path.read_bytes())
    if damage == "truncated":
        path.write_bytes(data[:-5])
    elif damage == "altered":
        data[-1] ^= 0x40
        path.write_bytes(data)
    elif damage == "header":
        path.write_bytes(b"not json\n" + data)
    expected = {"truncated": "truncated or altered", "altered": "truncated or altered", "header": "header cannot be read",
                "other model": "of model 'model-a', not layout 1 of 'model-b'"}[damage]
    with pytest.raises(shipped.DamagedTable, match=expected):
        shipped.load("model-b" if damage == "other model" else "model-a", path)


def test_shipped_vectors_agree_with_freshly_embedded_ones(pydocs: tuple[Path, list[str]], passages: list[str]) -> None:
    table = shipped.load(semantic.MODEL_ID)
    assert table is not None, f"the package ships no vectors of the Python docs at {shipped.table_path(semantic.MODEL_ID)}"
    sample = random.Random(14).sample(pydocs[1], 48) + random.Random(14).sample(passages, 16)
    found, missing = table.vectors(sample)
    header = json.loads(shipped.table_path(semantic.MODEL_ID).read_bytes().split(b"\n", 1)[0])
    if header["python"] == ".".join(map(str, sys.version_info[:3])):
        assert missing == []  # made from these very docs
    kept = [i for i in range(len(sample)) if i not in missing]
    assert len(kept) > len(sample) // 2
    cosines = np.sum(found[kept] * semantic.embed([sample[i] for i in kept]), axis=1)
    assert cosines.min() >= 0.99, cosines.min()


def test_an_index_of_the_docs_has_its_vectors_at_build_without_loading_the_model(
    pydocs: tuple[Path, list[str]], passages: list[str], tmp_path: Path
) -> None:
    cache = _cache_with(pydocs[0], tmp_path)
    script = textwrap.dedent("""
        import asyncio, json, sys, time
        from knowledge_agg.providers.local import LocalProvider

        async def main():
            provider = LocalProvider("pydocs", cache_dir=sys.argv[1], meaning=True)
            started = time.perf_counter()
            await provider.build()
            built = time.perf_counter() - started
            loaded = "onnxruntime" in sys.modules
            notes = []
            hits = await provider.search("delete a directory and everything inside it", count=10, notify=notes.append)
            ranked = hits if hits.meaning is None else await asyncio.to_thread(hits.meaning)  # the sources' ranking
            await provider.aclose()
            print(json.dumps({"built_s": built, "model_loaded": loaded, "notes": notes, "titles": [h.title for h in ranked]}))

        asyncio.run(main())
    """)
    done = subprocess.run([sys.executable, "-c", script, str(cache)], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout)
    assert out["model_loaded"] is False and out["notes"] == []
    # by meaning: BM25 alone has it nowhere near the top ten (~39th; 6th fused, behind os.removedirs, whose name
    # spells out "directories")
    assert "shutil.rmtree" in out["titles"]
    assert _stored(cache).shape == (len(pydocs[1]), 384)
    with np.load(cache / "index" / f"pydocs.{semantic.MODEL_ID}.npz") as data:  # and its long pages' later passages'
        assert data["passages"].shape == (len(passages), 384) and len(passages) > 1000
        assert np.allclose(np.linalg.norm(data["passages"].astype(np.float32), axis=1), 1.0, atol=1e-2)


async def test_an_index_rebuilt_by_a_search_by_words_takes_the_shipped_vectors_again(
    pydocs: tuple[Path, list[str]], tmp_path: Path
) -> None:
    cache = _cache_with(pydocs[0], tmp_path)
    first = LocalProvider("pydocs", cache_dir=cache, meaning=True)
    await first.build()
    await first.aclose()
    words = LocalProvider("pydocs", cache_dir=cache)
    await words.build(force=True)  # as a run without the flag does when the docs changed: the vectors are stale
    await words.aclose()
    provider = LocalProvider("pydocs", cache_dir=cache, meaning=True)
    notes: list[str] = []
    try:
        hits = await provider.search("delete a directory and everything inside it", count=10, notify=notes.append)
        # the results are by words; the ranking the sources are chosen from takes the shipped table for this build
        assert hits.meaning is not None
        ranked = await asyncio.to_thread(hits.meaning)
    finally:
        await provider.aclose()
    assert notes == [] and ranked is not None and "shutil.rmtree" in [h.title for h in ranked]
    with np.load(cache / "index" / f"pydocs.{semantic.MODEL_ID}.npz") as data:
        built_at = str(data["stamp"]).rsplit(":", 1)[1]
    assert float(built_at) == (await words.status()).built_at


async def test_a_document_absent_from_the_table_is_embedded(
    pydocs: tuple[Path, list[str]], passages: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    texts = pydocs[1] + passages
    real = shipped.load(semantic.MODEL_ID)
    assert real is not None
    vectors, missing = real.vectors(texts)
    assert missing == []
    absent = random.Random(7).sample(range(len(pydocs[1])), ABSENT)
    kept = [i for i in range(len(texts)) if i not in absent]
    table = tmp_path / "partial.bin"
    shipped.write(table, semantic.MODEL_ID, [texts[i] for i in kept], vectors[kept])
    monkeypatch.setattr(shipped, "table_path", lambda model_id: table)
    # the search waits for the three documents however loaded the machine (its 10 s would say "by words alone")
    monkeypatch.setattr(local, "_VECTORS_WAIT_S", 300.0)
    cache = _cache_with(pydocs[0], tmp_path)
    provider = LocalProvider("pydocs", cache_dir=cache, meaning=True)
    notes: list[str] = []
    try:
        assert await provider.search("erase a folder and everything in it", count=5, notify=notes.append)
        assert provider.wait_for_vectors(timeout=120)
    finally:
        await provider.aclose()
    assert notes == [f"{len(texts) - ABSENT} of {len(texts)} documents and passages have shipped vectors: "
                     f"embedding the other {ABSENT}",
                     "embedding the documents of the local index (once per index build)"]
    stored = _stored(cache)
    fresh = semantic.embed([texts[i] for i in absent])
    assert (np.sum(stored[absent] * fresh, axis=1) > 0.999).all()
    kept = [i for i in kept if i < len(stored)]
    assert (np.sum(stored[kept] * vectors[kept], axis=1) > 0.999).all()


async def test_a_corpus_other_than_the_docs_never_takes_the_shipped_vectors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = tmp_path / "tools.jsonl"
    corpus.write_text("\n".join(json.dumps(d) for d in TOOLS), encoding="utf-8")
    provider = LocalProvider(corpus, cache_dir=tmp_path / "cache", meaning=True)
    texts = provider.document_texts()
    fresh = semantic.embed(texts)
    table = tmp_path / "opposite.bin"
    shipped.write(table, semantic.MODEL_ID, texts, -fresh)  # the pydocs corpus would take these
    monkeypatch.setattr(shipped, "table_path", lambda model_id: table)
    notes: list[str] = []
    try:
        assert (await provider.search("pause the program", count=3, notify=notes.append))[0].doc_id == "sleep"
    finally:
        await provider.aclose()
    assert notes == ["embedding the documents of the local index (once per index build)"]
    (stored,) = (tmp_path / "cache" / "index").glob("*.npz")
    with np.load(stored) as data:
        assert (np.sum(data["matrix"].astype(np.float32) * fresh, axis=1) > 0.999).all()


@pytest.mark.parametrize(("damage", "note"), [
    ("missing", f"the package ships no vectors of the Python docs for {semantic.MODEL_ID} ("),
    ("truncated", "the shipped vectors of the Python docs cannot be used ("),
])
def test_a_damaged_or_missing_table_falls_back_to_embedding(
    pydocs: tuple[Path, list[str]], tmp_path: Path, damage: str, note: str
) -> None:
    table = tmp_path / "table.bin"
    if damage == "truncated":
        table.write_bytes(shipped.table_path(semantic.MODEL_ID).read_bytes()[:100_000])
    cache = _cache_with(pydocs[0], tmp_path)
    # Embedding the docs takes minutes: the process ends (os._exit) once the search by words has answered.
    script = textwrap.dedent("""
        import asyncio, json, os, sys
        from pathlib import Path
        from knowledge_agg import shipped
        from knowledge_agg.providers import local

        shipped.table_path = lambda model_id: Path(sys.argv[2])
        local._VECTORS_WAIT_S = 0.0

        async def main():
            provider = local.LocalProvider("pydocs", cache_dir=sys.argv[1], meaning=True)
            notes = []
            hits = await provider.search("shutil rmtree", count=5, notify=notes.append)
            print(json.dumps({"notes": notes, "titles": [h.title for h in hits]}), flush=True)
            os._exit(0)

        asyncio.run(main())
    """)
    done = subprocess.run([sys.executable, "-c", script, str(cache), str(table)], capture_output=True, text=True,
                          timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout)
    assert out["notes"][0].startswith(note) and out["notes"][0].endswith("embedding every document")
    assert out["notes"][1:] == [
        "embedding the documents of the local index (once per index build)",
        "searching by words alone until the documents' vectors are made (in the background, once per index build)",
    ]
    assert "shutil.rmtree" in out["titles"]

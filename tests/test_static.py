"""The shipped static token table: search by meaning on by default, on a real index, for every corpus."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from knowledge_agg import KnowledgeAggregator, Settings, static
from knowledge_agg.analyze import key_terms
from knowledge_agg.errors import MissingDependency
from knowledge_agg.providers.local import LocalProvider
from tests.helpers.tools_corpus import TOOLS

ROOT = Path(__file__).resolve().parents[1]
#: Questions that share no word with the document that answers them, only with another one (BM25 alone
#: finds that other one); by meaning the answer joins the hits.
PARAPHRASES = {"pause the program before the next file": "time.sleep",
               "make the program wait before reading the file": "time.sleep",
               "stop the program for a while in place": "time.sleep"}


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "notes"
    folder.mkdir()
    for doc in TOOLS:
        (folder / f"{doc['id']}.md").write_text(f"# {doc['title']}\n\n{doc['text']}\n", encoding="utf-8")
    return folder


def _stored(cache: Path) -> list[Path]:
    return sorted((cache / "index").glob("*.bin"))


def _head(stored: Path) -> dict[str, object]:
    """The JSON line that starts a packed vectors file."""
    return dict(json.loads(stored.read_bytes().split(b"\n", 1)[0]))


def test_the_table_is_off_by_default() -> None:
    # Off by default: on pydocs-qa it widens the results but hardly the sources, and it costs the first result
    # ~35 ms and XQuAD's top 8 two questions (README, Configuration).
    assert not Settings().flags["static"]


async def test_a_folder_corpus_is_searched_by_meaning_with_the_flag(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    settings = Settings(corpus=str(folder), cache_dir=tmp_path / "cache", flags="static=on,semantic=off")
    assert settings.flags["static"] and not settings.flags["semantic"]
    provider = LocalProvider.from_settings(settings)
    try:
        status = await provider.build()
        # The vectors are made with the index, before any search.
        [stored] = _stored(tmp_path / "cache")
        assert stored.name == f"{status.path.stem}.{static.model_id()}.bin"
        # 5 documents x 256 dimensions, with the corpus's weight of each of the table's tokens and the
        # vocabulary sorted for queries
        tokens = len(static.load().scales)
        assert {k: v for k, v in _head(stored).items() if k != "stamp"} == {
            "layout": 2, "documents": 5, "dims": 256, "tokens": tokens, "vocab": tokens
        }
        words = LocalProvider(folder, cache_dir=tmp_path / "cache")
        for question, title in PARAPHRASES.items():
            text = next(d for d in TOOLS if d["title"] == title)["text"]
            assert not set(key_terms(question)) & set(key_terms(text)), question  # no content word shared
            found = [h.title for h in await provider.search(question, count=3)]
            assert title in found and title not in [h.title for h in await words.search(question, count=3)]
        await words.aclose()
        # Words still count: BM25's hit and the nearest in meaning are fused, not replaced.
        assert (await provider.search("rename a file", count=3))[0].title == "os.rename"
        # Meaning alone answers nothing: a question none of whose words is in the corpus finds nothing.
        assert await provider.search("pause the program", count=3) == []
    finally:
        await provider.aclose()


async def test_without_numpy_the_flag_fails_before_the_search_naming_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "numpy" else real(name, *a))
    with pytest.raises(MissingDependency, match=r"needs numpy: pip install 'knowledge-agg\[static\]'"):
        static.check()
    folder = _folder(tmp_path)
    settings = Settings(corpus=str(folder), cache_dir=tmp_path / "cache", provider="local")
    async with KnowledgeAggregator(settings) as agg:
        # the table is searched with semantic off (the sentence model's own vectors come first when it is on)
        run = await agg.run("pause the program before the next file", flags="static=on,semantic=off")
        plain = await agg.run("rename a file", flags="semantic=off")  # by words alone: no numpy needed
    errors = [e for e in run.events if e.type == "error"]
    assert [(e.stage, e.kind, e.recoverable) for e in errors] == [("analyzing", "missing_dependency", False)]
    assert "pip install 'knowledge-agg[static]'" in errors[0].message and not run.results
    assert not plain.partial and plain.results[0].title == "os.rename"
    # Used directly, the provider says the same when it comes to make the vectors.
    provider = LocalProvider(folder, cache_dir=tmp_path / "direct", static=True)
    try:
        with pytest.raises(MissingDependency, match=r"pip install 'knowledge-agg\[static\]'"):
            await provider.build()
    finally:
        await provider.aclose()


async def test_the_flag_off_gives_bm25_alone(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    off = LocalProvider.from_settings(Settings(corpus=str(folder), cache_dir=tmp_path / "cache", flags="static=off,semantic=off"))
    words = LocalProvider(folder, cache_dir=tmp_path / "cache")
    try:
        for question in [*PARAPHRASES, "rename a file", "decode json text"]:
            found = await off.search(question, count=5)
            assert found == await words.search(question, count=5)
        assert "time.sleep" not in [h.title for h in await off.search(next(iter(PARAPHRASES)), count=5)]
    finally:
        await off.aclose()
        await words.aclose()
    assert _stored(tmp_path / "cache") == []


async def test_the_vectors_are_remade_when_the_index_or_the_model_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = tmp_path / "tools.jsonl"
    corpus.write_text("\n".join(json.dumps(d) for d in TOOLS), encoding="utf-8")
    first = LocalProvider(corpus, cache_dir=tmp_path / "cache", static=True)
    try:
        await first.build()
    finally:
        await first.aclose()
    [stored] = _stored(tmp_path / "cache")
    # A rebuilt index (the corpus changed) gets vectors of its own, in the same file.
    corpus.write_text("\n".join(json.dumps(d) for d in TOOLS[:2]), encoding="utf-8")
    again = LocalProvider(corpus, cache_dir=tmp_path / "cache", static=True)
    try:
        assert [h.doc_id for h in await again.search("rename a file", count=5)] == ["rename"]
    finally:
        await again.aclose()
    assert _head(stored)["documents"] == 2
    # Another table (another id) never reads the old table's vectors: it makes its own file.
    stem = stored.name.removesuffix(f".{static.model_id()}.bin")
    monkeypatch.setattr(static, "model_id", lambda: "static-test-other")
    changed = LocalProvider(corpus, cache_dir=tmp_path / "cache", static=True)
    try:
        await changed.build()
    finally:
        await changed.aclose()
    assert [p.name for p in _stored(tmp_path / "cache")] == sorted([stored.name, f"{stem}.static-test-other.bin"])


async def test_the_pipeline_finds_a_paraphrase_with_the_flag_and_not_without(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    settings = Settings(corpus=str(folder), cache_dir=tmp_path / "cache", provider="local")
    async with KnowledgeAggregator(settings) as agg:
        run = await agg.run("pause the program before the next file", flags="static=on,semantic=off")
        plain = await agg.run("pause the program before the next file", flags="semantic=off")
    assert "time.sleep" in [r.title for r in run.results] and "time.sleep" in [s.title for s in run.sources]
    assert "time.sleep" not in [r.title for r in plain.results]


def test_a_text_vector_is_the_idf_weighted_sum_of_its_token_rows_at_unit_length() -> None:
    model = static.load()
    texts = ["Delay execution for a given number of seconds.", "Shuffle list x in place.", "seconds seconds"]
    matrix, context = model.documents(texts)
    weights = context.weights
    assert matrix.shape == (3, model.dims) and np.allclose(np.linalg.norm(matrix, axis=1), 1.0, atol=1e-5)
    seconds = model.tokenizer.ids("seconds")
    assert len(seconds) == 1 and weights[seconds[0]] == pytest.approx(np.log(4 / 3))  # in 2 of 3 texts
    table = np.frombuffer(model.rows, dtype=np.int8).reshape(-1, model.dims)
    row = table[seconds[0]].astype(np.float32) * model.scales[seconds[0]]
    assert np.allclose(matrix[2], row / np.linalg.norm(row), atol=1e-5)
    # A query is embedded in plain Python, the same vector as numpy's at index build, its words looked up in
    # the vocabulary sorted (the same ids as the dict's).
    assert np.allclose(model.query(texts[0], context), matrix[0], atol=1e-5)
    assert not any(model.query("", context))
    assert context.tokenizer.ids(texts[0]) == model.tokenizer.ids(texts[0])


def test_the_wordpiece_tokenizer_gives_the_models_own_token_ids() -> None:
    tokenizers = pytest.importorskip("tokenizers", reason="the reference tokenizer: pip install 'knowledge-agg[semantic]'")
    from knowledge_agg import semantic

    reference = tokenizers.Tokenizer.from_file(str(semantic._files()[0]))
    reference.no_padding()
    reference.no_truncation()
    ours = static.load().tokenizer
    assert ours.vocab == reference.get_vocab()
    texts = [
        "How do I delete a directory and everything inside it?",
        "FileExistsError: [Errno 17] File exists: '/tmp/x'",
        "os.makedirs(name, mode=0o777, exist_ok=False); __init__ -> None",
        "Café naïve 北京 résumé\u00a0tab\there\x01x\x1cy",
        "x" * 120,
        "",
    ]
    assert [ours.ids(t) for t in texts] == [e.ids[1:-1] for e in reference.encode_batch(texts)]


def test_the_table_ships_inside_the_wheel(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), str(ROOT)],
        check=True, capture_output=True, timeout=300,
    )
    [wheel] = tmp_path.glob("knowledge_agg-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    folder = "knowledge_agg/static_model/"
    assert {f"{folder}{n}" for n in ("tokens.i8", "scales.f32", "vocab.txt", "model.json", "NOTICE")} <= names
    with zipfile.ZipFile(wheel) as archive:
        model = json.loads(archive.read(f"{folder}model.json"))
    assert model["id"] == static.model_id() and "Apache-2.0" in model["teacher"]


async def test_a_search_reads_the_stored_vectors_without_numpy(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    provider = LocalProvider(folder, cache_dir=tmp_path / "cache", static=True)
    await provider.build()
    await provider.aclose()
    code = (
        "import asyncio, sys\n"
        "from knowledge_agg.providers.local import LocalProvider\n"
        f"p = LocalProvider({str(folder)!r}, cache_dir={str(tmp_path / 'cache')!r}, static=True)\n"
        "hits = asyncio.run(p.search('pause the program before the next file', count=3))\n"
        "print(*[h.title for h in hits], 'numpy' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert "time.sleep" in done.stdout.split() and done.stdout.split()[-1] == "False"


def test_the_sorted_vocabulary_finds_every_token_and_nothing_else() -> None:
    vocab = static.load().tokenizer.vocab
    assert isinstance(vocab, dict)
    found = static.SortedVocab.of(vocab)
    assert all(found.get(token) == index for token, index in vocab.items())
    assert [found.get(t) for t in ("", "##", "qwertyuiop", "résumé\u0301", "\x00")] == [None] * 5
    assert static.SortedVocab.of({}).get("a") is None
    with pytest.raises(ValueError, match="one end and one id per token"):
        static.SortedVocab(b"ab", found.ends[:1], found.ids[:2])


async def test_a_packed_file_of_an_older_layout_is_remade(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    provider = LocalProvider(folder, cache_dir=tmp_path / "cache", static=True)
    await provider.build()
    await provider.aclose()
    [stored] = _stored(tmp_path / "cache")
    head, body = stored.read_bytes().split(b"\n", 1)
    old = {k: v for k, v in json.loads(head).items() if k not in ("layout", "vocab")}  # as branch static wrote it
    stored.write_bytes(json.dumps(old).encode() + b"\n" + body)
    again = LocalProvider(folder, cache_dir=tmp_path / "cache", static=True)
    try:
        assert "time.sleep" in [h.title for h in await again.search(next(iter(PARAPHRASES)), count=3)]
    finally:
        await again.aclose()
    assert _head(stored)["layout"] == 2
